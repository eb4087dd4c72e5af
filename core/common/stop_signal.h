// StopSignal: what a thread that wakes on a period waits on. Stop() ends
// every wait at once, and every wait after it, so a stopping daemon never
// waits out a watchdog or trim interval.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>

namespace domian {

class StopSignal {
 public:
  // Waits up to `period`; true when stopped (at once if it already was).
  bool WaitFor(std::chrono::nanoseconds period) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&stopped_), absl::FromChrono(period));
  }
  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  // For an owner that starts its thread again after joining it.
  void Reset() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    stopped_ = false;
  }
  bool stopped() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

 private:
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace domian
