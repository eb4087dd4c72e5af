// HostCommand: one short run of domian-plugin-host (or any program) to
// completion, as domiand needs it outside a service's own plugin host: the
// safe state (--make-safe) and the check of a configuration
// (--validate-config). The input goes on the program's stdin, its stdout
// and stderr are read together (bounded), and it is killed when it
// overruns its deadline, which is measured on the clock it is given.
//
// Threads: RunHostCommand may be called on any thread, and blocks it
// until the program has ended (or been killed). The child dies with that
// thread when domian-plugin-host sets PR_SET_PDEATHSIG, so the calling
// thread must outlive the call (it does: the call blocks it).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/common/clock.h"

namespace domian::services {

// The most of a command's output kept (its first bytes): enough for a
// plugin's log lines and messages, and a runaway one cannot fill memory.
inline constexpr size_t kMaxHostCommandOutputBytes = 64 * 1024;
// How often a running command is looked at (its output, its end, the
// clock) while nothing arrives: a test's clock moves without waking poll.
inline constexpr std::chrono::milliseconds kHostCommandPoll{10};

struct HostCommandResult {
  // How it ended: an exit code, a signal, or neither (it never started,
  // or it overran and was killed: `timed_out`).
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool timed_out = false;
  std::string output;   // stdout and stderr together, at most kMaxHostCommandOutputBytes
  std::string error;    // why it could not be started, when it was not
};

// Runs `argv` (argv[0] the program's path) with `input` on its stdin and
// waits until it ends or `deadline` passes on `clock` (then SIGKILL). The
// child gets an empty signal mask (domiand blocks its stop signals).
HostCommandResult RunHostCommand(const std::vector<std::string>& argv, const std::string& input,
                                 std::chrono::milliseconds deadline, const Clock& clock);

// "exited with status 1", "killed by SIGSEGV (Segmentation fault)": for
// a wait status as waitpid gives it.
std::string DescribeWaitStatus(int status);
// "SIGSEGV (Segmentation fault)".
std::string SignalName(int signal_number);

}  // namespace domian::services
