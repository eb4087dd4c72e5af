// One-shot runs of domian-plugin-host, for what a plugin does with no
// instance (ABI 1.1 plugin extensions): checking a configuration
// (--validate-config) and making the hardware safe (--make-safe). The
// plugin runs in a process of its own, so one that crashes or hangs costs
// that process only: it is killed at the deadline, and either way the
// caller gets a message that says what happened.
//
// The command lines and exit codes are documented at the top of
// core/plugin_host/main.cc.
#pragma once

#include <absl/synchronization/mutex.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/common/status.h"

namespace domian::services {

// How long a configuration check may take before the plugin host is
// killed: validate touches no hardware, so this covers a slow start of
// the plugin host (an ASan build, a Pi Zero) with room to spare.
inline constexpr std::chrono::milliseconds kConfigCheckTimeout{5000};
// What is kept of a one-shot run's stdout and stderr each: problems and
// messages are bounded by the plugin host already (kMaxProblemsBytes);
// this bounds what a broken binary could make the caller hold.
inline constexpr size_t kMaxPluginHostOutputBytes = 256 * 1024;

// domian-plugin-host's exit codes in its one-shot modes (stable: callers
// and scripts depend on them).
inline constexpr int kHostExitOk = 0;          // valid; safe
inline constexpr int kHostExitNo = 1;          // invalid (problems on stdout); make_safe failed
inline constexpr int kHostExitError = 2;       // bad usage or input, no plugin, a crash
inline constexpr int kHostExitNotOffered = 3;  // no configuration check; no safe state

// Every spawn of a plugin host takes this lock around its fork (see
// isolated_service.cc: Boost.Process 1.74 leaks a pipe into a child
// forked by another thread at the wrong moment).
absl::Mutex& PluginHostSpawnMutex();

struct PluginHostRun {
  bool exited = false;     // exited on its own, with exit_code
  int exit_code = -1;
  int term_signal = 0;     // killed by this signal (timed_out: ours)
  bool timed_out = false;  // still running at the deadline: killed
  std::string out;
  std::string err;
  // "exited with status 2", "was killed by signal 6 (Aborted)", "did not
  // finish in time (killed)".
  std::string Describe() const;
};

// Runs `binary` with `args`, `input` on its stdin, until it exits or
// `timeout` has passed (then SIGKILL). An error only when it cannot be
// started at all.
absl::StatusOr<PluginHostRun> RunPluginHost(const std::filesystem::path& binary,
                                            const std::vector<std::string>& args,
                                            const std::string& input,
                                            std::chrono::milliseconds timeout);

// A configuration checked by its plugin in a plugin host process.
struct ConfigCheck {
  enum class Outcome {
    kValid,
    kInvalid,     // problems holds "<key>: <message>" lines
    kNotChecked,  // the plugin offers no check; message says why
    kFailed,      // no answer (the plugin did not load, crashed, hung); message says why
  };
  Outcome outcome = Outcome::kFailed;
  std::vector<std::string> problems;
  std::string message;
};
ConfigCheck CheckConfigInPluginHost(const std::filesystem::path& binary,
                                    const std::filesystem::path& plugin,
                                    const std::string& config_json,
                                    std::chrono::milliseconds timeout = kConfigCheckTimeout);

// make_safe in a plugin host process, with DOMIAN_SAFE_STATE_TIMEOUT_MS
// unless told otherwise. OK when the plugin says the hardware is safe;
// UNIMPLEMENTED when it has no safe state; otherwise why not (the
// plugin's message, a crash, a timeout), for a critical log line.
absl::Status MakeSafeInPluginHost(const std::filesystem::path& binary,
                                  const std::filesystem::path& plugin, const std::string& service,
                                  const std::filesystem::path& state_dir,
                                  const std::string& config_json,
                                  std::chrono::milliseconds timeout);

}  // namespace domian::services
