#include "core/replica/hlc.h"

#include <algorithm>

namespace domian::replica {

std::string Hlc::ToString() const {
  return std::to_string(wall_ms) + "." + std::to_string(logical);
}

HybridClock::HybridClock(WallClock wall) : wall_(std::move(wall)) {}

HybridClock::HybridClock()
    : HybridClock([] {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
      }) {}

Hlc HybridClock::Now() {
  const uint64_t wall = wall_();
  if (wall > last_.wall_ms) {
    last_ = {wall, 0};
  } else if (last_.logical < kMaxHlcLogical) {
    ++last_.logical;
  } else {
    last_ = {last_.wall_ms + 1, 0};  // the counter is spent: a millisecond early
  }
  return last_;
}

bool HybridClock::Acceptable(const Hlc& remote) const {
  const uint64_t wall = wall_();
  return remote.wall_ms <= wall + static_cast<uint64_t>(kMaxHlcLead.count()) &&
         remote.logical <= kMaxHlcLogical;
}

bool HybridClock::Observe(const Hlc& remote) {
  if (!Acceptable(remote)) return false;
  last_ = std::max(last_, remote);
  return true;
}

}  // namespace domian::replica
