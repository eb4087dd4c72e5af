// HomeAssistant: the services running on this node, as Home Assistant
// entities through MQTT discovery, over this node's MqttBridge (which it
// owns).
//
// A service's plugin describes its entities and pushes their states
// (plugin ABI domian.entities/1); ServiceHost hands both here through
// Sink(). For each service running here this object publishes a retained
// discovery config per entity, the service's availability on this node,
// and every state's latest value (retained), and subscribes to the
// service's command topics: a command message becomes an invoke of the
// service, as its description maps it. When the service stops here
// (moved, failed, shutdown) its availability goes `offline` and its
// commands are no longer taken; when another node starts it, that node
// publishes the same entities (same unique ids, the service as the
// device) with its own availability, so Home Assistant keeps the entity
// and sees it unavailable only while the service moves. Everything is
// published again after each connection to the broker (it may have lost
// its retained messages) and, after a short random pause, when Home
// Assistant announces `online` (it forgets entities when it restarts).
//
// Threads: the sink's functions and the bridge's hooks run on their
// callers' threads (a plugin's, a plugin host reader's, the bridge's):
// they hold mu_ for a moment and publish, which never waits, so they never
// block. Commands are queued per service (bounded) and invoked by
// kCommandWorkers threads of this object, one command of a service at a
// time and in order, so a service stuck in a call holds one worker and
// delays only its own commands. A republisher thread waits out the pause
// after Home Assistant's `online`. Start() and Stop() on the owner's
// thread (the node's).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/mqtt/entities.h"
#include "core/mqtt/mqtt_bridge.h"
#include "core/mqtt/mqtt_status.h"
#include "core/services/entity_sink.h"

namespace domian::mqtt {

// Threads invoking commands: two, so one service stuck in a call (a
// command may wait up to 40 s) leaves the others' commands flowing.
inline constexpr int kCommandWorkers = 2;
// Commands waiting per service: Home Assistant sends a few per user action
// (a slider sends a burst); beyond this they are dropped and counted.
inline constexpr size_t kMaxQueuedCommands = 32;
// States kept per service: its described (entity, state) pairs, and those
// pushed before their entity was described.
inline constexpr size_t kMaxStatesPerService = 1024;
// After Home Assistant announces `online`, re-publishing waits a random
// pause in this range: HA subscribes first, and many daemons answering
// at the same instant would burst the broker.
inline constexpr Millis kRepublishPauseMin{500};
inline constexpr Millis kRepublishPauseMax{1500};
// Re-publishing everything costs every config and state (camera stills
// included): `online` announcements closer together than this (HA
// restarting twice, or anyone on the broker publishing it) share one.
inline constexpr Millis kMinRepublishInterval{10000};
// The bytes of state kept per service: a camera's still or two and every
// light's state, not 1024 stills.
inline constexpr size_t kMaxStateBytesPerService = size_t{8} << 20;
// One command's payload: HA's largest (a light's JSON) is a few hundred
// bytes.
inline constexpr size_t kMaxCommandPayloadBytes = 4096;

class HomeAssistant {
 public:
  using Invoke = std::function<absl::StatusOr<std::string>(
      const std::string& service, const std::string& command, const std::string& args_json)>;
  struct Options {
    // The bridge's settings; its hooks are this object's.
    MqttBridge::Options bridge;
    std::string cluster;
    std::string node_id;
    std::string domian_version;
    // Every service node.yaml lists: those not running here when this
    // object starts are said `offline` on this node (a crash left their
    // retained `online` behind).
    std::vector<std::string> services;
    // Runs a command on a service running here; may block (a worker's
    // thread calls it).
    Invoke invoke;
    Millis republish_pause_min = kRepublishPauseMin;
    Millis republish_pause_max = kRepublishPauseMax;
  };

  HomeAssistant(Options options, const Clock& clock);
  ~HomeAssistant();  // Stop()
  HomeAssistant(const HomeAssistant&) = delete;
  HomeAssistant& operator=(const HomeAssistant&) = delete;

  // Starts the bridge (a failure is its status: nothing else is affected)
  // and this object's threads.
  void Start();
  // Publishes `offline` for every service still up here, ends the
  // threads (a command in progress finishes first), then the bridge.
  void Stop();

  // Where ServiceHost reports this node's services' entities. Valid while
  // this object lives; before Start() and after Stop() reports are kept
  // but nothing is published.
  services::EntitySink Sink();

  MqttStatus Status() const;

 private:
  struct Service {
    uint64_t run = 0;  // which run of the service this is (a worker's command belongs to one)
    bool up = false;   // described, and not gone since
    EntityOwner owner;
    std::vector<Entity> entities;
    // Discovery configs as last published, by entity id (to publish a
    // config only when it changed, and to delete an entity this run
    // described and a later description dropped).
    std::map<std::string, std::pair<std::string, std::string>> published;  // id -> (topic, config)
    std::map<std::pair<std::string, std::string>, std::string> states;    // (entity, state) -> bytes
    size_t state_bytes = 0;  // of `states`, at most kMaxStateBytesPerService
    std::deque<std::pair<std::string, std::string>> commands;             // (command, args)
    bool busy = false;  // a worker is invoking one of its commands
  };

  void Described(const services::EntityDescription& description) ABSL_LOCKS_EXCLUDED(mu_);
  void StateChanged(const std::string& service, const std::string& entity,
                    const std::string& state, const std::string& data) ABSL_LOCKS_EXCLUDED(mu_);
  void Gone(const std::string& service) ABSL_LOCKS_EXCLUDED(mu_);
  // The bridge's hooks.
  void Connected() ABSL_LOCKS_EXCLUDED(mu_);
  void HomeAssistantOnline() ABSL_LOCKS_EXCLUDED(mu_);
  void Message(const std::string& topic, const std::string& payload, bool retained)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The configs (when changed, or all when `force`) and the availability;
  // then, with `states`, every state.
  void PublishService(Service& service, bool force, bool states = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishStates(const Service& service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishState(const Service& service, const std::string& entity, const std::string& state,
                    const std::string& data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Declares(const Service& service, const std::string& entity,
                const std::string& state) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RepublishAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Work();
  void Republisher();
  // Logs a repeated problem at most every kRepeatLogInterval.
  void Complain(const std::string& what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Options options_;
  const Clock& clock_;
  std::unique_ptr<MqttBridge> bridge_;

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;  // a command queued, or stopping
  absl::CondVar republish_cv_;  // a republish scheduled, or stopping
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t runs_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t connections_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Service> services_ ABSL_GUARDED_BY(mu_);
  std::optional<MonoTime> republish_at_ ABSL_GUARDED_BY(mu_);
  std::optional<MonoTime> republished_at_ ABSL_GUARDED_BY(mu_);
  std::string last_served_ ABSL_GUARDED_BY(mu_);  // the service a worker took a command of last
  uint64_t commands_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t commands_failed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t commands_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  MonoTime complained_at_ ABSL_GUARDED_BY(mu_){};
  uint64_t complaints_unlogged_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
  std::thread republisher_;
};

}  // namespace domian::mqtt
