// IsolatedService: one service whose plugin runs in a domian-plugin-host
// process of its own (isolation: process), supervised from here.
// A plugin that armed a liveness deadline (ABI 1.1) and missed it, as its
// host's health answer says, is treated like a host that stopped
// answering: killed, made safe, restarted.
//
// The process is started with Boost.Process and spoken to over gRPC on a
// Unix socket in the service's folder. A process that exits, crashes or
// stops answering its health check (twice in a row) is killed if needed
// and started again after a pause (RestartBackoff: 100 ms doubling up to
// 10 s, back to 100 ms once it ran healthy for 30 s); a service that
// crashes 5 times within a minute is marked failed on this node and left
// alone. Exit codes and signals are logged. The host process dies with
// domiand (PR_SET_PDEATHSIG), so none is ever orphaned.
//
// Fail-safe: after every end of a plugin host (a crash, a hang, a failed
// start), before the pause and the next launch or the giving up, the
// owner's make_safe runs (ServiceHost runs the plugin's safe state in a
// fresh process): the hardware is never left as a dead instance left it,
// and a service given up on stays safe. The failed service's detail says
// why and what became of the hardware ("failed 5 times in 60 s; last:
// the plugin host was killed by SIGSEGV (Segmentation fault); hardware
// set safe").
//
// Entities (plugin ABI domian.entities/1): when the plugin of a launched
// host has them, the host pushes their description and states
// (PluginHostProcess.WatchEntities) and a reader forwards them to the
// owner's EntitySink; once that host ended (stopped, crashed, killed,
// restarted) the sink hears `gone`, and the next host describes them
// again.
//
// Threads: Start, Stop, Invoke and Status on the owner's threads (Invoke
// from several at once). One supervising thread per service launches,
// watches, ends and restarts its plugin hosts; make_safe, on_running and
// the sink's `gone` run there. For each launched host whose plugin has
// entities, one reader thread, started by the supervising thread after
// the plugin started and joined by it when the host ends, before `gone`:
// the sink's `described` and `state` run there, never after that host's
// `gone`. Stop joins the supervising thread, so no thread outlives the
// object.
//
// Every pause and deadline of its own (restarts, health checks, spawning,
// stopping) is measured on the clock it is given.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "core/common/clock.h"
#include "core/model/service_state.h"
#include "core/services/entity_sink.h"
#include "core/services/plugin_instance.h"
#include "core/services/restart_backoff.h"
#include "core/services/state_keeper.h"

namespace domian::services {

inline constexpr std::chrono::milliseconds kHealthInterval{1000};
inline constexpr std::chrono::milliseconds kHealthDeadline{2000};
inline constexpr int kMaxMissedHealthChecks = 2;
inline constexpr std::chrono::seconds kSpawnDeadline{10};   // start to serving
// Longest plugin call: a command may wait up to 30 s for a person.
inline constexpr std::chrono::seconds kCallDeadline{40};
inline constexpr std::chrono::seconds kStopDeadline{5};
// Longest wait without looking at the clock again: a test's clock moves
// without waking anyone. As long as a health check's pause, so on the
// real clock that pause is one wait.
inline constexpr std::chrono::milliseconds kClockRecheck = kHealthInterval;

class IsolatedService {
 public:
  struct Options {
    std::string service;
    std::filesystem::path plugin;       // the .so
    std::filesystem::path state_dir;    // the service's folder
    std::filesystem::path host_binary;  // domian-plugin-host
    std::string config_json = "{}";
    // The epoch it runs under, and what is done with each state stored
    // (StateKeeper): copied to peers by the node.
    uint64_t epoch = 0;
    StateStored on_state_stored;
    // After each end of a plugin host (`end`: why; INVALID_ARGUMENT when
    // the plugin refused the configuration), on the supervising thread,
    // with no host running: puts the hardware in its safe state and says
    // how that went, for the detail ("hardware set safe"; "" for nothing
    // to say). Unset: nothing runs.
    std::function<std::string(const absl::Status& end)> make_safe;
    // Each time the plugin has started (the configuration is good), on
    // the supervising thread. Unset: nothing.
    std::function<void()> on_running;
    // The plugin's events (emit_event), as its host hands them over with
    // each health answer, in order; `dropped`: how many its host had to
    // drop before these. On the supervising thread. Unset: dropped here.
    std::function<void(const std::string& event, const std::string& json)> on_event;
    std::function<void(uint64_t dropped)> on_events_dropped;
    // Where the plugin's entities go (see the top of this file), and the
    // plugin's name and version for their description. A sink with no
    // member set: no watch, no reader.
    EntitySink entities;
    std::string plugin_name;
    std::string plugin_version;
  };
  struct Snapshot {
    // kStarting, kRunning, kRestarting, kFailed or kStopped.
    ServiceState state = ServiceState::kStarting;
    std::string detail;
    std::map<std::string, std::string> endpoints;
    // The plugin's liveness deadline as its last health answer gave it
    // (PluginHealth.liveness_*); a miss means its loop hangs.
    Liveness liveness;
  };

  // `on_change` runs (without locks held) when the snapshot changes.
  IsolatedService(Options options, std::function<void()> on_change,
                  const Clock& clock = DefaultServiceClock());
  ~IsolatedService();  // Stop()
  IsolatedService(const IsolatedService&) = delete;
  IsolatedService& operator=(const IsolatedService&) = delete;

  void Start();
  // Saves the state (unless `save` is false: a later state replaces it),
  // stops the plugin and the process (killed if it does not exit in time).
  void Stop(bool save = true);
  // The reply; FAILED_PRECONDITION when the service is not running (or
  // its host did not answer), else the plugin's answer (StatusFromPlugin).
  absl::StatusOr<std::string> Invoke(const std::string& command, const std::string& args_json);
  Snapshot Status() const;

 private:
  struct Process;
  void Supervise();
  void Run();       // launches and restarts until stopping or failed
  void Shutdown();  // graceful end of the current host
  // Spawns a host, connects, starts the plugin: OK once it runs, else
  // why not (the message is the service's detail).
  absl::Status Launch();
  void Watch();                       // health checks until the process is gone
  // Asks the host for the plugin's state and stores it; logs a failure
  // ("<what> not saved: ...").
  void SaveState(Process& process, const char* what);
  void Reap(bool kill);
  // The reader of `process`'s entities, for a plugin that has them.
  void WatchEntities(Process& process);
  void ReadEntities(Process& process);
  // After the host ended: the reader cancelled and joined, then `gone`.
  void EndEntities(Process& process);
  void SetState(ServiceState state, const std::string& detail);
  // Waits until `until` on clock_; false when stopping.
  bool SleepUntil(MonoTime until) ABSL_LOCKS_EXCLUDED(mu_);

  Options options_;
  std::function<void()> on_change_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // stopping
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool save_on_stop_ ABSL_GUARDED_BY(mu_) = true;
  Snapshot snapshot_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Process> process_ ABSL_GUARDED_BY(mu_);  // the current one, if any
  std::thread supervisor_;
};

}  // namespace domian::services
