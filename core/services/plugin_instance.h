// PluginInstance: one running service from a PluginLibrary, inside this
// process (isolation: inline; the plugin host process runs the same
// object). It owns the domian_host table the plugin sees, calls the
// plugin's functions one at a time as the ABI promises, and turns every
// output into host-owned strings with a size limit.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <domian/plugin.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/services/plugin_library.h"
#include "core/services/plugin_output.h"
#include "core/services/plugin_status.h"

namespace domian::services {

// What the plugin asks of the node, reported to its owner. Called on any
// thread (the plugin's own threads included); must not block for long.
struct HostCallbacks {
  // endpoint nullopt: withdrawn.
  std::function<void(const std::string& name, const std::optional<std::string>& endpoint)>
      publish_endpoint;
  std::function<void(const std::string& name, const std::string& json)> emit_event;
  // Entities (domian.host.entities/1), only from a started instance whose
  // plugin describes entities (domian.entities/1), with names and size
  // already checked. entity_state: the latest value of one state; false
  // refuses it (the owner keeps no more states), and the plugin's
  // publish_state fails. entities_changed: describe again soon, on a
  // thread of the owner's: never from inside this callback, which may
  // run inside a plugin call. Unset: taken and dropped.
  std::function<bool(const std::string& entity, const std::string& state,
                     const std::string& data)>
      entity_state;
  std::function<void()> entities_changed;
};

// The clock of an owner that passes none: the system's monotonic clock.
const Clock& DefaultServiceClock();

// What the liveness host extension (DOMIAN_HOST_EXT_LIVENESS) reports.
struct Liveness {
  std::chrono::milliseconds deadline{0};  // 0: not armed
  // How far past its deadline the watched loop is (time since the last
  // alive, less the deadline); 0 while it keeps up or is not armed. A
  // supervisor treats a miss like a hang.
  std::chrono::milliseconds missed_by{0};
  // How long until the deadline passes, while armed and kept: a
  // supervisor looks again then, so a hang is found at the deadline and
  // not up to a health interval later.
  std::chrono::milliseconds left{0};
  bool missed() const { return missed_by.count() > 0; }
  bool armed() const { return deadline.count() > 0; }
};

// A look at a watched loop's liveness this long after its deadline would
// pass: a miss is seen at once, and a loop that calls alive right at its
// deadline is not taken for hung.
inline constexpr std::chrono::milliseconds kLivenessRecheckGrace{20};

class PluginInstance {
 public:
  // Creates the instance (the plugin's create) with its configuration.
  // `state_dir` must exist. A refusal is INVALID_ARGUMENT, whatever the
  // plugin answered (a configuration it cannot take), and its message
  // names the service. The liveness deadline is timed on `clock`.
  static absl::StatusOr<std::unique_ptr<PluginInstance>> Create(
      std::shared_ptr<const PluginLibrary> library, const std::string& config_json,
      const std::filesystem::path& state_dir, HostCallbacks callbacks,
      const Clock& clock = DefaultServiceClock());
  ~PluginInstance();  // stops (if started) and destroys
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  // Every failure below is the plugin's answer (or one in its terms) as
  // StatusFromPlugin makes it: its message as the plugin wrote it, or the
  // status's name when it wrote none.
  //
  // An instance is started at most once: created, started, stopped. The
  // plugin is called only in the states the ABI allows (plugin.h), so a
  // call that still holds the instance after Stop is refused with
  // DOMIAN_ERR_UNAVAILABLE instead of reaching a stopped plugin.
  absl::Status Start();  // again after Stop: refused
  void Stop();

  // A saved state, numbered in the order this instance's saves were made
  // (from 1): whoever stores saves made on several threads keeps the
  // newest, whatever order they arrive in (StateKeeper).
  struct Saved {
    uint64_t number = 0;
    std::string bytes;
  };
  // The reply; when started. When the plugin asked during this call that
  // its state be kept before the reply (domian.host.state/1 save_now), the
  // state is saved after invoke returns and put in `to_store` (without
  // `to_store`, the call counts as a change to save soon); a save that
  // fails then fails the call, since its change would not be kept.
  absl::StatusOr<std::string> Invoke(const std::string& command, const std::string& args_json,
                                     std::optional<Saved>* to_store = nullptr);

  bool has_state() const { return state_ext_.save != nullptr; }
  bool has_health() const { return health_ext_.check != nullptr; }
  // Whether the plugin describes entities (domian.entities/1).
  bool has_entities() const { return entities_ext_.describe != nullptr; }
  // The saved state; without the extension DOMIAN_ERR_NOT_SUPPORTED.
  absl::StatusOr<std::string> SaveState();
  absl::StatusOr<Saved> Save();
  // How many times the plugin said its state changed (mark_dirty, and
  // save_now without anyone to store it): a supervisor saves again when
  // this moved since its last save. Never waits.
  uint64_t state_changes() const { return state_changes_.load(); }
  absl::Status LoadState(const std::string& state);  // before Start
  // Without the extension: healthy; not started (or stopped):
  // DOMIAN_ERR_UNAVAILABLE. Never waits: while another call runs (one that
  // may wait for a person, like a Hue pairing) the plugin cannot be asked,
  // and the last answer stands.
  absl::Status CheckHealth();
  // The entities' description (JSON as the plugin wrote it, at most
  // DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES), when started; without the
  // extension DOMIAN_ERR_NOT_SUPPORTED. Waits for a call in progress, like
  // every plugin call: ask on a thread that may wait, never from a
  // callback of this instance.
  absl::StatusOr<std::string> DescribeEntities();

  // The plugin's liveness deadline and whether it is missed, now. Never
  // waits, never calls the plugin (it reads two atomics), so a
  // supervisor may ask while the plugin is stuck in a call. A stopped
  // instance is not armed.
  Liveness LivenessNow() const;

  const PluginDescription& description() const { return library_->description(); }

 private:
  enum class State { kCreated, kStarted, kStopped };

  PluginInstance(std::shared_ptr<const PluginLibrary> library, HostCallbacks callbacks,
                 const Clock& clock);

  absl::Status CheckHealthLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(call_mu_);
  absl::Status NotStarted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(call_mu_);

  static void Log(const domian_host* host, domian_log_level level, const char* message);
  static domian_status PublishEndpoint(const domian_host* host, const char* name,
                                       const char* endpoint);
  static domian_status EmitEvent(const domian_host* host, const char* name, const char* json);
  static const void* HostExtension(const domian_host* host, const char* id);
  static domian_status SetLivenessDeadline(const domian_host* host, uint32_t deadline_ms);
  static void Alive(const domian_host* host);
  static void MarkStateDirty(const domian_host* host);
  static domian_status SaveStateNow(const domian_host* host);
  static domian_status PublishEntityState(const domian_host* host, const char* entity,
                                          const char* state, const uint8_t* data, size_t size);
  static void EntitiesChanged(const domian_host* host);
  absl::StatusOr<Saved> SaveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(call_mu_);

  std::shared_ptr<const PluginLibrary> library_;
  HostCallbacks callbacks_;
  std::string service_name_;
  std::string state_dir_;
  domian_host host_{};  // the plugin holds a pointer to it: this object never moves
  domian_instance* instance_ = nullptr;
  domian_state_ext state_ext_{};
  domian_health_ext health_ext_{};
  domian_entities_ext entities_ext_{};
  mutable absl::Mutex call_mu_;  // one plugin call at a time per instance
  // The last health result, read while a call holds call_mu_; never
  // held together with call_mu_.
  absl::Mutex health_mu_;
  absl::Status last_health_ ABSL_GUARDED_BY(health_mu_);
  State state_ ABSL_GUARDED_BY(call_mu_) = State::kCreated;
  // state_ == kStarted, for the plugin's calls from any thread (they may
  // come while a call holds call_mu_): set once start returned, cleared
  // before stop is called, so nothing published during stop reaches the
  // owner after it was told the instance ended.
  std::atomic<bool> started_{false};
  // Liveness, written from any thread of the plugin: the deadline (0:
  // disarmed) and the clock_ time of the last alive, in nanoseconds since
  // the clock's epoch. Arming stores the time first, so a reader that
  // sees a new deadline sees its first alive too.
  const Clock& clock_;
  std::atomic<uint32_t> liveness_deadline_ms_{0};
  std::atomic<int64_t> last_alive_ns_{0};
  std::atomic<uint64_t> state_changes_{0};
  uint64_t saves_ ABSL_GUARDED_BY(call_mu_) = 0;
  // Set by save_now, on the thread of the invoke in progress (which holds
  // call_mu_; the plugin's call back cannot be shown to the analysis).
  bool save_after_invoke_ = false;
};

// The one way a service's instance comes up, inline (ServiceHost) and in
// a plugin host process: `config_json` checked by the plugin when it
// offers a check (ABI 1.1), created with it, given `saved_state` when
// there is one and the plugin keeps state (a state the plugin refuses is
// logged, and the service starts without it), started. On failure, why:
// "<service>: invalid configuration: <key>: <message>; ..." with every
// problem the check found, Create's refusal, or start's status with
// "start failed: <its message>".
absl::StatusOr<std::shared_ptr<PluginInstance>> StartInstance(
    std::shared_ptr<const PluginLibrary> library, const std::string& config_json,
    const std::filesystem::path& state_dir, HostCallbacks callbacks,
    const std::optional<std::string>& saved_state, const Clock& clock = DefaultServiceClock());

}  // namespace domian::services
