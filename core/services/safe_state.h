// SafeStateRunner: puts the hardware a service drives into its safe state
// when the service is not in control of it (plugin ABI 1.1,
// DOMIAN_PLUGIN_EXT_SAFE_STATE; the thermostat turns its relay OFF). It
// runs `domian-plugin-host --make-safe` for the service, in a process of
// its own, with the service's last good configuration on stdin, and
// kills it when it overruns kSafeStateDeadline.
//
// Threads: Run may be called on any thread and blocks it until the safe
// state has run (at most kSafeStateDeadline). Runs for one service take
// turns (a second waits for the first); runs for different services may
// overlap. The caller guarantees that no instance of the service runs on
// this node meanwhile (ServiceHost runs it after an instance ended, or
// before one starts; IsolatedService between a host's end and the next
// launch).
//
// Also here: the start-up pass over the running journal
// (running_journal.h). (The check of a configuration by its plugin is
// CheckConfigInPluginHost, plugin_host_command.h.)
#pragma once

#include <domian/plugin.h>

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/config/node_config.h"
#include "core/services/running_journal.h"

namespace domian::services {

// make_safe itself may take DOMIAN_SAFE_STATE_TIMEOUT_MS (the ABI's
// promise to plugins); the process around it must also start and load the
// plugin, which takes well under a second even in the sanitizer build on
// a loaded two-core machine: this much more before it is killed.
inline constexpr std::chrono::milliseconds kSafeStateStartAllowance{2000};
inline constexpr std::chrono::milliseconds kSafeStateDeadline =
    std::chrono::milliseconds(DOMIAN_SAFE_STATE_TIMEOUT_MS) + kSafeStateStartAllowance;


struct SafeStateRequest {
  std::string service;
  std::filesystem::path plugin;     // the .so
  std::string config_json;          // the last good configuration
  std::filesystem::path state_dir;  // the service's folder
  std::string why;                  // for the log: "its plugin host crashed"
};

struct SafeStateOutcome {
  enum class Kind {
    kSafe,         // make_safe returned OK
    kNoSafeState,  // the plugin has none (nothing to do)
    kNotSafe,      // it failed, overran, crashed, or could not run
  };
  Kind kind = Kind::kNotSafe;
  std::string message;  // the plugin's last words on success, else what went wrong
  // For a service's detail: "hardware set safe", "hardware may not be
  // safe: ...", or "" (no safe state).
  std::string Summary() const;
};

class SafeStateRunner {
 public:
  struct Options {
    std::filesystem::path host_binary;  // domian-plugin-host
  };
  explicit SafeStateRunner(Options options, const Clock& clock);
  SafeStateRunner(const SafeStateRunner&) = delete;
  SafeStateRunner& operator=(const SafeStateRunner&) = delete;

  // Runs the safe state and logs the outcome: info "<service>: safe state
  // set (<the plugin's message>)", critical "hardware of <service> may not
  // be safe: <why>", debug when the plugin has no safe state.
  SafeStateOutcome Run(const SafeStateRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Options options_;
  const Clock& clock_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::set<std::string> running_ ABSL_GUARDED_BY(mu_);  // services whose safe state runs now
};

// At start, before anything else: runs the safe state of every service
// the running journal (under `services_dir`) says was running when the
// last daemon ended, with its configuration and, when it differs, the last
// good one. A journal file whose plugin or configuration cannot be read is
// completed from `plugin_dirs` (<service>.so) and `configured` (node.yaml).
// A service whose hardware is safe afterwards has its journal file
// removed; the others keep theirs (the next start tries again). Returns,
// by service, the configuration each last started with (the last good),
// for ServiceHost::Options::recovered.
std::map<std::string, RunningEntry> MakeSafeAfterUncleanEnd(
    const std::filesystem::path& services_dir,
    const std::vector<std::filesystem::path>& plugin_dirs,
    const std::vector<config::ServiceConfig>& configured, SafeStateRunner& runner);

}  // namespace domian::services
