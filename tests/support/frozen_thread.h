// One thread of another process stopped while the rest of it runs on: a
// loop stuck inside a process that still answers (its health checks, its
// calls), which only a liveness deadline can find. For tests and benches.
//
// ptrace: PTRACE_SEIZE, then PTRACE_INTERRUPT. The caller needs the right
// to trace the thread (root, or an ancestor under Yama's ptrace_scope 1,
// as a test is of the plugin hosts of the daemons it starts).
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace domian::testing {

// The thread of process `pid` whose name (/proc/PID/task/TID/comm) is
// `name`, or -1.
int ThreadNamed(int pid, const std::string& name);

// Stops thread `tid` until destroyed. Every ptrace request must come from
// the tracing thread, so a thread of this object traces; it also waits
// for the traced thread's end, because the kernel reports that end to the
// tracer and the process it belongs to cannot be reaped by its parent
// (domiand) until the tracer has seen it. Destroyed while the thread is
// still there, it lets the thread run on.
class FrozenThread {
 public:
  explicit FrozenThread(int tid);
  ~FrozenThread();
  FrozenThread(const FrozenThread&) = delete;
  FrozenThread& operator=(const FrozenThread&) = delete;

  // Empty once the thread is stopped; else why it could not be.
  const std::string& error() const { return error_; }

 private:
  void Trace();

  const int tid_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> settled_{false};
  std::string error_;  // written by the tracer before settled_
  std::thread tracer_;
};

}  // namespace domian::testing
