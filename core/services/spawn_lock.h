// The one lock every child process domiand starts is created under.
//
// Boost.Process 1.74 makes the pipe that reports a failed exec with pipe()
// and marks its write end close-on-exec only afterwards
// (detail/posix/executor.hpp). A fork from another thread in between hands
// that write end to the other child for good, and the launch that made the
// pipe waits for its end forever: a service stuck "starting" (seen when a
// node starts several at once). So plugin hosts, and the short commands of
// host_command.h, take turns at the fork.
#pragma once

#include <absl/synchronization/mutex.h>

namespace domian::services {

inline absl::Mutex& SpawnMutex() {
  // Never destroyed: a thread may still be spawning while the process exits.
  static absl::Mutex* const mu = new absl::Mutex;
  return *mu;
}

}  // namespace domian::services
