// RestartBackoff: when a plugin host that ended is started again, and
// when to stop trying. The pause starts at kFirstRestartDelay and doubles
// up to kMaxRestartDelay; a run that lasted kHealthyPeriod forgives
// earlier trouble (the pause starts over, earlier ends are forgotten);
// kMaxCrashesInWindow ends within kCrashWindow give up on the service on
// this node. Time comes only from the clock it is given, so the policy is
// tested in milliseconds.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

#include "core/common/clock.h"

namespace domian::services {

inline constexpr std::chrono::milliseconds kFirstRestartDelay{100};
inline constexpr std::chrono::milliseconds kMaxRestartDelay{10000};
inline constexpr std::chrono::seconds kHealthyPeriod{30};  // resets the restart delay
inline constexpr std::chrono::seconds kCrashWindow{60};
inline constexpr size_t kMaxCrashesInWindow = 5;

class RestartBackoff {
 public:
  explicit RestartBackoff(const Clock& clock) : clock_(clock) {}

  // A run (or an attempt at one) begins now.
  void Launched();
  // The run begun at the last Launched() ended now. The pause before the
  // next one, or nullopt: give up.
  std::optional<std::chrono::milliseconds> Ended();
  // Ends within kCrashWindow, counting the last one.
  size_t recent_ends() const { return ends_.size(); }

 private:
  const Clock& clock_;
  MonoTime launched_at_{};
  std::chrono::milliseconds next_delay_ = kFirstRestartDelay;
  std::deque<MonoTime> ends_;  // oldest first
};

}  // namespace domian::services
