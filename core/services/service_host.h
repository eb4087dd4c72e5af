// ServiceHost: the owner of this node's plugins and the services it runs
// from them. It keeps the PluginCatalog current (rescanning when a plugin
// folder changes, through inotify), starts and stops services when
// placement says so, saves each service's state when it stops and
// restores it when it starts again, and answers calls for the services
// running here.
//
// A service runs in a domian-plugin-host process of its own
// (isolation: process, the default; see IsolatedService) or inline, in
// this process (isolation: inline).
//
// Fail-safe (plugin ABI 1.1 safe state, see safe_state.h): whenever a
// service is not in control of its hardware, its safe state runs in a
// fresh plugin host with the service's last good configuration (the one
// of its last successful start here; the current one when it never
// started here):
//  - after its plugin host ended (crash, hang, missed liveness deadline,
//    failed start), before a restart or giving up (IsolatedService);
//  - after it stopped (moved away, removed, the daemon's shutdown);
//  - when its new configuration is invalid: its plugin's check
//    (--validate-config) refuses it before anything starts, or its
//    create refuses it (INVALID_ARGUMENT);
//  - inline, when it fails to start or misses its liveness deadline.
// Entities (plugin ABI domian.entities/1): for each service running here
// whose plugin has them, in either isolation mode, Options::entities hears
// the description after every start of its instance and after the plugin
// says they changed, the latest value of each state, and `gone` when the
// instance ends here for any reason (stopped, moved away, failed, hung,
// restarted from a later state: then described again). Inline, the
// describer thread asks for descriptions, one at a time, never inside a
// plugin's call; isolated, IsolatedService does it all.
//
// The running journal (running_journal.h) holds, while a service may be
// driving hardware, what its safe state needs; domiand's start makes safe
// what it finds there (MakeSafeAfterUncleanEnd) and hands the result here
// (Options::recovered).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/common/clock.h"
#include "core/common/write_debouncer.h"
#include "core/config/node_config.h"
#include "core/model/service_state.h"
#include "core/services/entity_sink.h"
#include "core/services/isolated_service.h"
#include "core/services/plugin_catalog.h"
#include "core/services/plugin_instance.h"
#include "core/services/running_journal.h"
#include "core/services/safe_state.h"
#include "core/services/state_keeper.h"

namespace domian::services {

// One service of this node, as `domianctl services` shows it.
struct ServiceStatus {
  std::string name;
  // kStarting, kRunning, kRestarting (isolated), kFailed or kStopped.
  ServiceState state = ServiceState::kStopped;
  std::string detail;   // why it failed
  uint64_t epoch = 0;   // the ownership epoch placement started it under
  std::map<std::string, std::string> endpoints;  // published by the plugin
  std::string plugin_version;
  // The plugin's liveness deadline (ABI 1.1) and whether its loop missed
  // it: asked of an inline instance now, of an isolated one at its last
  // health check. A miss is a hang, whatever the health check says.
  Liveness liveness;
};

class ServiceHost {
 public:
  struct Options {
    std::vector<std::filesystem::path> dirs;
    std::vector<config::ServiceConfig> services;  // for each one's isolation
    std::filesystem::path state_dir;  // services' folders: state_dir/services/<name>
    std::filesystem::path host_binary;  // domian-plugin-host
    // What the running journal held at start (MakeSafeAfterUncleanEnd):
    // by service, the configuration it last started with.
    std::map<std::string, RunningEntry> recovered;
    // Each state a singleton stores here, handed on (the node copies it
    // to its peers; a per-node service's state is its node's alone);
    // unset: kept on this node only.
    StateStored on_state_stored;
    // Where running services' entities go (see above); a member unset:
    // that news is dropped.
    EntitySink entities;
    // Each event a service's plugin emits (emit_event), inline or in its
    // plugin host (those come with the host's health answers, up to a
    // second late), and how many a host had to drop. Any thread; must not
    // block. Unset: only logged.
    std::function<void(const std::string& service, const std::string& event,
                       const std::string& json)>
        plugin_event;
    std::function<void(const std::string& service, uint64_t dropped)> plugin_events_dropped;
  };

  // `on_change` runs whenever the services or the plugins change, so the
  // node can update its identity: on any thread, possibly while a start
  // or stop is under way here (a plugin publishing an endpoint as it
  // starts), so it must only take note (the node pokes placement), never
  // call StartService or StopService.
  // Restart pauses and health checks are timed on `clock`.
  ServiceHost(Options options, std::function<void()> on_change,
              const Clock& clock = DefaultServiceClock());
  ~ServiceHost();  // Stop()
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  // Scans and watches the folders.
  void Start();
  // Stops every service (saving its state) and the watcher.
  void Stop();

  // Starts `service` here under `epoch` with `config_json`, after
  // replacing its saved state with `state` when set. A service already
  // running here is left alone. A missing plugin or a failed start shows
  // as ServiceState::kFailed.
  void StartService(const std::string& service, const std::string& config_json, uint64_t epoch,
                    const std::optional<std::string>& state);
  // Stops it (saving its state) and forgets it; the state as saved.
  std::optional<std::string> StopService(const std::string& service);
  // What the owner of a replacement is asked, on the host's thread.
  struct ReplaceHooks {
    // Just before the restart: false calls it off (the running instance
    // changed the state since it was asked for). Unset: true.
    std::function<bool()> still_wanted;
    // Once it runs from the new state.
    std::function<void()> done;
  };
  // A later change made elsewhere replaces the state of `service`,
  // running here under `epoch`: it is stopped without saving (its hardware
  // made safe, as at any stop) and started again from `state` in its
  // place (shown starting meanwhile), on a thread of the host's own;
  // returns at once. Nothing happens when by then it no longer runs here
  // under that epoch, failed, or `hooks.still_wanted` says no.
  void ReplaceState(const std::string& service, uint64_t epoch, std::string state,
                    ReplaceHooks hooks = {}) ABSL_LOCKS_EXCLUDED(replace_mu_);
  // Its state as saved on this node ("" when none).
  std::string SavedState(const std::string& service) const;
  // Whether its plugin makes it a singleton, whose state is copied to
  // peers (false when no plugin of that name loaded).
  bool Replicated(const std::string& service) const;
  // The epoch it last ran under here (0: never).
  uint64_t LastEpoch(const std::string& service) const;
  // Looks at the folders again (the watcher calls it; tests may).
  void Rescan();

  std::vector<ServiceStatus> Services() const;
  std::vector<CatalogEntry> Plugins() const { return catalog_.Entries(); }
  // Names of the plugins that loaded (what this node could host).
  std::vector<std::string> Hostable() const;

  // Runs `command` on `service`: its reply, or its failure with the
  // plugin's message (StatusFromPlugin). NOT_FOUND, a code no plugin
  // answer becomes, when the service does not run here.
  absl::StatusOr<std::string> Invoke(const std::string& service, const std::string& command,
                                     const std::string& args_json);

 private:
  class InlineEntities;
  struct Service {
    config::ServiceConfig config;
    ServiceStatus status;
    // Shared with calls in flight, so stopping never frees an instance
    // under a running call (PluginInstance serialises the two).
    std::shared_ptr<PluginInstance> instance;
    // Inline: where the instance's saves are stored (closed at stop).
    std::shared_ptr<StateKeeper> keeper;
    // Inline: the plugin's count of marked changes when last looked at.
    uint64_t seen_state_changes = 0;
    // Inline, a plugin with entities: where they go until the instance ends.
    std::shared_ptr<InlineEntities> entities;
    std::shared_ptr<IsolatedService> isolated;  // isolation: process
    std::filesystem::path plugin;  // the .so it runs from
    bool offers_safe_state = false;
    // Its safe state ran after the last end of its plugin host and no
    // instance started since: a stop need not run it again.
    bool left_safe = false;
  };

  void StartLocked(const std::string& service, const std::string& config_json, uint64_t epoch,
                   const std::optional<std::string>& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  void Launch(Service& service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Stops it, saving its state first unless `save` is false.
  void Shutdown(Service& service, bool save = true) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lifecycle_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // ReplaceState's thread: one replacement at a time, until Stop.
  void Replace() ABSL_LOCKS_EXCLUDED(replace_mu_);
  std::filesystem::path ServiceDir(const std::string& name) const;
  // Runs the safe state of `name` (no instance of it runs) with its last
  // good configuration, or `config_json` when it has none; logs why.
  SafeStateOutcome MakeSafe(const std::string& name, const std::filesystem::path& plugin,
                            bool offers_safe_state, const std::string& config_json,
                            const std::string& why) ABSL_LOCKS_EXCLUDED(mu_);
  // `config_json` started `name` here: its last good configuration now,
  // and so in the journal.
  void NoteGood(const std::string& name, const std::filesystem::path& plugin,
                const std::string& config_json) ABSL_LOCKS_EXCLUDED(mu_);
  // The service's hardware is safe (or was never driven): forgets its
  // journal entry.
  void Unjournal(const std::string& name);
  // Folder changes, and inline services' health checks from `first_health`
  // on, one per kHealthInterval, sooner when a watched loop's liveness
  // deadline would pass before.
  void Watch(MonoTime first_health);
  // Returns when to look again: kHealthInterval, or sooner for a liveness
  // deadline.
  std::chrono::milliseconds CheckInlineHealth();
  using Running = std::vector<std::pair<std::shared_ptr<Service>, std::shared_ptr<PluginInstance>>>;
  // Saves the marked changes of `running` that are due; returns when the
  // next one falls due (at most kHealthInterval).
  std::chrono::milliseconds SaveMarkedStates(const Running& running) ABSL_LOCKS_EXCLUDED(mu_);
  // An inline instance missed its liveness deadline (see the .cc).
  void AbandonHung(Service& service, const std::shared_ptr<PluginInstance>& instance,
                   const Liveness& liveness) ABSL_LOCKS_EXCLUDED(mu_);
  void Changed();
  // Inline entities: `name`'s are to be described (again) on the
  // describer thread; merged with any request not served yet.
  void RequestDescribe(const std::string& name) ABSL_LOCKS_EXCLUDED(describe_mu_);
  void Describe() ABSL_LOCKS_EXCLUDED(describe_mu_, mu_);  // the describer's loop, until Stop
  // The end of an inline instance with entities: `gone`, and nothing after.
  void EndEntities(Service& service) ABSL_LOCKS_EXCLUDED(mu_);

  Options options_;
  std::function<void()> on_change_;
  const Clock& clock_;
  PluginCatalog catalog_;

  absl::Mutex lifecycle_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // one start or stop at a time
  mutable absl::Mutex mu_;  // guards services_ and what they hold
  std::map<std::string, std::shared_ptr<Service>> services_ ABSL_GUARDED_BY(mu_);  // by name
  // When inline services' marked changes are saved, by service name.
  WriteDebouncer state_saves_ ABSL_GUARDED_BY(mu_){clock_};
  // By service: the plugin and configuration (last_good) of its last
  // successful start here, in this daemon's life or the last one's.
  std::map<std::string, RunningEntry> last_good_ ABSL_GUARDED_BY(mu_);
  SafeStateRunner safe_state_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  struct Replacement {
    uint64_t epoch = 0;
    std::string state;
    ReplaceHooks hooks;
  };
  absl::Mutex replace_mu_ ABSL_ACQUIRED_AFTER(lifecycle_mu_);
  // The latest replacement of each service not made yet.
  std::map<std::string, Replacement> replacements_ ABSL_GUARDED_BY(replace_mu_);
  bool replacing_stopped_ ABSL_GUARDED_BY(replace_mu_) = false;
  std::thread replacer_;

  // Inline services whose entities are to be described, by name: taken by
  // the describer thread (started when Options::entities wants
  // descriptions, joined at Stop).
  absl::Mutex describe_mu_;
  std::set<std::string> to_describe_ ABSL_GUARDED_BY(describe_mu_);
  bool describing_stopped_ ABSL_GUARDED_BY(describe_mu_) = false;
  std::thread describer_;

  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  std::thread watcher_;
};

}  // namespace domian::services
