// Time as the core sees it: a monotonic clock that tests can drive by hand.
//
// Liveness is judged only on this node's own monotonic clock; another
// node's wall clock is never compared with ours.
#pragma once

#include <atomic>
#include <chrono>

namespace domian {

using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime Now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to: timing logic is tested in
// milliseconds of real time.
class FakeClock final : public Clock {
 public:
  MonoTime Now() const override { return MonoTime(std::chrono::nanoseconds(now_ns_.load())); }
  void Advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }

 private:
  // Starts well away from zero so "long ago" arithmetic never underflows.
  std::atomic<std::chrono::nanoseconds::rep> now_ns_{
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::hours(1000)).count()};
};

}  // namespace domian
