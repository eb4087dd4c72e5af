#include "core/services/restart_backoff.h"

#include <algorithm>

namespace domian::services {

void RestartBackoff::Launched() { launched_at_ = clock_.Now(); }

std::optional<std::chrono::milliseconds> RestartBackoff::Ended() {
  const MonoTime now = clock_.Now();
  if (now - launched_at_ >= kHealthyPeriod) {
    next_delay_ = kFirstRestartDelay;
    ends_.clear();
  }
  ends_.push_back(now);
  while (!ends_.empty() && now - ends_.front() > kCrashWindow) ends_.pop_front();
  if (ends_.size() >= kMaxCrashesInWindow) return std::nullopt;
  const std::chrono::milliseconds delay = next_delay_;
  next_delay_ = std::min(next_delay_ * 2, kMaxRestartDelay);
  return delay;
}

}  // namespace domian::services
