#include "core/mqtt/home_assistant.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "core/common/utf8.h"

namespace domian::mqtt {
namespace {

// Discovery configs and availability: QoS 1, retained, so Home Assistant
// gets them whenever it subscribes. States too: retained, so a Home
// Assistant that restarts sees the last value at once.
constexpr int kQos = 1;
// How often the republisher looks at the clock while it waits: a test's
// clock moves without waking it.
constexpr Millis kRepublishTick{50};

}  // namespace

HomeAssistant::HomeAssistant(Options options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  MqttBridge::Options bridge = options_.bridge;
  bridge.home_assistant_online = [this] { HomeAssistantOnline(); };
  bridge.connected = [this] { Connected(); };
  bridge.message = [this](const std::string& topic, const std::string& payload, bool retained) {
    Message(topic, payload, retained);
  };
  bridge_ = std::make_unique<MqttBridge>(std::move(bridge), clock_);
}

HomeAssistant::~HomeAssistant() { Stop(); }

void HomeAssistant::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (running_ || stopping_) return;
    running_ = true;
  }
  // A failure (an unreadable password file) is the bridge's status; the
  // services go on without Home Assistant.
  [[maybe_unused]] const absl::Status started = bridge_->Start();
  {
    absl::MutexLock lock(&mu_);
    // Services described before the bridge ran: their subscriptions and
    // configs (queued until the connection is made).
    for (auto& [name, service] : services_) {
      if (!service.up) continue;
      bridge_->Subscribe(CommandFilter(service.owner));
      PublishService(service, /*force=*/true);
    }
    // A service that ran here when the daemon died (a crash, a power cut)
    // left a retained `online`: an entity still pointing at this node
    // would look available with nothing behind it.
    for (const std::string& name : options_.services) {
      auto found = services_.find(name);
      if (found != services_.end() && found->second.up) continue;
      bridge_->Publish("domian/" + options_.cluster + "/node/" + options_.node_id + "/service/" +
                           name + "/availability",
                       kOffline, true, kQos);
    }
  }
  for (int i = 0; i < kCommandWorkers; ++i) workers_.emplace_back(&HomeAssistant::Work, this);
  republisher_ = std::thread(&HomeAssistant::Republisher, this);
}

void HomeAssistant::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_ || stopping_) return;
    stopping_ = true;
    for (auto& [name, service] : services_) {
      if (!service.up) continue;
      bridge_->Publish(ServiceAvailabilityTopic(service.owner), kOffline, true, kQos);
    }
  }
  work_cv_.SignalAll();
  republish_cv_.SignalAll();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  if (republisher_.joinable()) republisher_.join();
  // Sends what is queued (the offlines above), then `offline` for the node.
  bridge_->Stop();
  absl::MutexLock lock(&mu_);
  running_ = false;
}

services::EntitySink HomeAssistant::Sink() {
  return services::EntitySink{
      .described = [this](const services::EntityDescription& description) {
        Described(description);
      },
      .state = [this](const std::string& service, const std::string& entity,
                      const std::string& state,
                      const std::string& data) { StateChanged(service, entity, state, data); },
      .gone = [this](const std::string& service) { Gone(service); }};
}

MqttStatus HomeAssistant::Status() const {
  MqttStatus status = bridge_->Status();
  absl::MutexLock lock(&mu_);
  for (const auto& [name, service] : services_) {
    if (!service.up) continue;
    ++status.services;
    status.entities += service.entities.size();
  }
  status.commands = commands_;
  status.commands_failed = commands_failed_;
  status.commands_dropped = commands_dropped_;
  return status;
}

// --- reports from ServiceHost ---

void HomeAssistant::Described(const services::EntityDescription& description) {
  absl::StatusOr<std::vector<Entity>> entities = ParseEntities(description.json);
  absl::MutexLock lock(&mu_);
  Service& service = services_[description.service];
  service.owner = EntityOwner{.cluster = options_.cluster,
                              .node_id = options_.node_id,
                              .service = description.service,
                              .plugin = description.plugin,
                              .plugin_version = description.plugin_version,
                              .domian_version = options_.domian_version,
                              .discovery_prefix = options_.bridge.discovery_prefix,
                              .per_node = description.per_node};
  if (!service.up) {
    service.up = true;
    service.run = ++runs_;
    service.published.clear();
    if (running_ && !stopping_) bridge_->Subscribe(CommandFilter(service.owner));
  }
  if (!entities.ok()) {
    // The service runs on; it has no entities until it describes them
    // well (what this run published before stays).
    spdlog::error("[{}] entities refused: {}", description.service,
                  StatusMessage(entities.status()));
    return;
  }
  service.entities = *std::move(entities);
  spdlog::info("[{}] {} Home Assistant entit{}", description.service, service.entities.size(),
               service.entities.size() == 1 ? "y" : "ies");
  if (running_ && !stopping_) PublishService(service, /*force=*/false);
}

void HomeAssistant::StateChanged(const std::string& service_name, const std::string& entity,
                                 const std::string& state, const std::string& data) {
  if (data.size() > kMaxEntityStateBytes || !IsEntityId(entity) || !IsStateName(state)) return;
  absl::MutexLock lock(&mu_);
  Service& service = services_[service_name];
  const auto key = std::make_pair(entity, state);
  auto found = service.states.find(key);
  const size_t old_size = found == service.states.end() ? 0 : found->second.size();
  if (found != service.states.end() && found->second == data) return;  // nothing new to say
  if ((found == service.states.end() && service.states.size() >= kMaxStatesPerService) ||
      service.state_bytes - old_size + data.size() > kMaxStateBytesPerService) {
    Complain("[" + service_name + "] more than " + std::to_string(kMaxStatesPerService) +
             " entity states or " + std::to_string(kMaxStateBytesPerService) +
             " bytes of them; dropped " + entity + "/" + state);
    return;
  }
  if (found == service.states.end()) found = service.states.emplace(key, std::string()).first;
  service.state_bytes = service.state_bytes - old_size + data.size();
  found->second = data;
  if (running_ && !stopping_ && service.up && Declares(service, entity, state)) {
    PublishState(service, entity, state, data);
  }
}

void HomeAssistant::Gone(const std::string& service_name) {
  absl::MutexLock lock(&mu_);
  auto found = services_.find(service_name);
  if (found == services_.end()) return;
  if (found->second.up && running_ && !stopping_) {
    // What this node still had queued for the service (the broker away)
    // must not reach it after the next owner's newer configs and states.
    const std::string base = ServiceTopicBase(found->second.owner) + "/";
    std::set<std::string> configs;
    for (const auto& [id, published] : found->second.published) configs.insert(published.first);
    bridge_->DropQueued([&](const std::string& topic) {
      return topic.compare(0, base.size(), base) == 0 || configs.contains(topic);
    });
    bridge_->Publish(ServiceAvailabilityTopic(found->second.owner), kOffline, true, kQos);
    bridge_->Unsubscribe(CommandFilter(found->second.owner));
  }
  // Its queued commands go with it; one in progress finishes (its worker
  // finds the service gone, or a later run of it, and leaves it alone).
  services_.erase(found);
}

// --- the bridge's hooks ---

void HomeAssistant::Connected() {
  // The first connection sends what was queued for it, in order; after
  // that, or if the queue overflowed first, the broker may lack anything.
  const bool dropped = bridge_->Status().dropped > 0;
  absl::MutexLock lock(&mu_);
  if (!running_ || stopping_) return;
  if (++connections_ == 1 && !dropped) return;
  // Everything is published again: what waited in the queue (perhaps the
  // oldest of a long outage, the newest dropped) is stale, and would crowd
  // out the configs.
  bridge_->DropQueued([](const std::string&) { return true; });
  RepublishAll();
}

void HomeAssistant::HomeAssistantOnline() {
  absl::MutexLock lock(&mu_);
  if (!running_ || stopping_) return;
  thread_local std::mt19937 random{std::random_device{}()};
  const Millis::rep low = options_.republish_pause_min.count();
  const Millis::rep high = std::max(low, options_.republish_pause_max.count());
  const Millis pause{std::uniform_int_distribution<Millis::rep>(low, high)(random)};
  MonoTime at = clock_.Now() + pause;
  if (republished_at_ && at < *republished_at_ + kMinRepublishInterval) {
    at = *republished_at_ + kMinRepublishInterval;
  }
  // Several announcements close together make one republish.
  if (!republish_at_ || at < *republish_at_) republish_at_ = at;
  republish_cv_.Signal();
}

void HomeAssistant::Message(const std::string& topic, const std::string& payload,
                            bool retained) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  // A command is what someone asks now: one retained on the broker would
  // be carried out again at every subscription (each failover, each
  // reconnection), undoing whatever came after it. An empty one is
  // someone clearing such a retained message.
  if (retained || payload.empty() || payload.size() > kMaxCommandPayloadBytes) {
    ++commands_dropped_;
    Complain(std::string(retained          ? "a retained command"
                         : payload.empty() ? "an empty command"
                                           : "a command of " + std::to_string(payload.size()) +
                                                 " bytes") +
             " on '" + BoundedText(topic, 200) + "' was ignored");
    return;
  }
  // Only a service running here: a message that was on its way when it
  // stopped is not for this node any more. (A handful of services: each
  // is asked.)
  std::string name;
  Service* found = nullptr;
  std::optional<CommandTarget> target;
  for (auto& [candidate_name, candidate] : services_) {
    if (!candidate.up) continue;
    target = ParseCommandTopic(candidate.owner, topic);
    if (target) {
      name = candidate_name;
      found = &candidate;
      break;
    }
  }
  if (found == nullptr) {
    ++commands_dropped_;
    Complain("no service here takes '" + BoundedText(topic, 200) + "'");
    return;
  }
  Service& service = *found;
  const Entity* entity = nullptr;
  if (target) {
    for (const Entity& candidate : service.entities) {
      if (candidate.id == target->entity) entity = &candidate;
    }
  }
  const EntityCommand* command = nullptr;
  if (entity != nullptr) {
    auto mapped = entity->commands.find(target->key);
    if (mapped != entity->commands.end()) command = &mapped->second;
  }
  if (command == nullptr) {
    ++commands_dropped_;
    Complain("[" + name + "] no command at '" + BoundedText(topic, 200) + "'");
    return;
  }
  absl::StatusOr<std::string> args = CommandArgs(*command, payload);
  if (!args.ok()) {
    ++commands_failed_;
    Complain("[" + name + "] " + command->command + " on " + target->entity + ": " +
             std::string(StatusMessage(args.status())));
    return;
  }
  if (service.commands.size() >= kMaxQueuedCommands) {
    ++commands_dropped_;
    Complain("[" + name + "] " + std::to_string(kMaxQueuedCommands) +
             " commands wait already; dropped " + command->command + " on " + target->entity);
    return;
  }
  ++commands_;
  service.commands.emplace_back(command->command, *std::move(args));
  work_cv_.Signal();
}

// --- publishing ---

bool HomeAssistant::Declares(const Service& service, const std::string& entity,
                             const std::string& state) const {
  for (const Entity& candidate : service.entities) {
    if (candidate.id != entity) continue;
    for (const auto& [key, name] : candidate.states) {
      if (name == state) return true;
    }
  }
  return false;
}

void HomeAssistant::PublishState(const Service& service, const std::string& entity,
                                 const std::string& state, const std::string& data) {
  bridge_->Publish(StateTopic(service.owner, entity, state), data, true, kQos);
}

void HomeAssistant::PublishService(Service& service, bool force, bool states) {
  // Entities this run described and this description dropped: an empty
  // retained config deletes them in Home Assistant. (A new run starts with
  // none: a service that describes nothing yet, such as lights before the
  // bridge answered, deletes nothing that moved here with it.)
  std::set<std::string> current;
  for (const Entity& entity : service.entities) current.insert(entity.id);
  for (auto it = service.published.begin(); it != service.published.end();) {
    if (current.contains(it->first)) {
      ++it;
      continue;
    }
    bridge_->Publish(it->second.first, "", true, kQos);
    it = service.published.erase(it);
  }
  for (const Entity& entity : service.entities) {
    std::string topic = DiscoveryTopic(service.owner, entity);
    std::string config = DiscoveryConfig(service.owner, entity);
    auto& published = service.published[entity.id];
    if (!force && published.first == topic && published.second == config) continue;
    if (!published.first.empty() && published.first != topic) {
      bridge_->Publish(published.first, "", true, kQos);  // its platform changed
    }
    bridge_->Publish(topic, config, true, kQos);
    published = {std::move(topic), std::move(config)};
  }
  // After the configs: Home Assistant subscribes to an entity's topics when
  // it reads its config, and the retained values below reach it then.
  bridge_->Publish(ServiceAvailabilityTopic(service.owner), kOnline, true, kQos);
  if (states) PublishStates(service);
}

void HomeAssistant::PublishStates(const Service& service) {
  for (const auto& [key, data] : service.states) {
    if (Declares(service, key.first, key.second)) {
      PublishState(service, key.first, key.second, data);
    }
  }
}

void HomeAssistant::RepublishAll() {
  republished_at_ = clock_.Now();
  // Every service's configs first: with the queue short of room, states
  // (a camera's stills) are what waits for the next change.
  for (auto& [name, service] : services_) {
    if (service.up) PublishService(service, /*force=*/true, /*states=*/false);
  }
  for (auto& [name, service] : services_) {
    if (service.up) PublishStates(service);
  }
}

// --- threads ---

void HomeAssistant::Work() {
  for (;;) {
    std::string name;
    uint64_t run = 0;
    std::pair<std::string, std::string> command;  // (command, args)
    {
      absl::MutexLock lock(&mu_);
      Service* next = nullptr;
      while (!stopping_ && next == nullptr) {
        // Round robin, from the service after the one served last: one
        // flooded with commands does not starve the others.
        auto ready = [](const Service& candidate) {
          return candidate.up && !candidate.busy && !candidate.commands.empty();
        };
        auto it = services_.upper_bound(last_served_);
        for (size_t i = 0; i < services_.size() && next == nullptr; ++i, ++it) {
          if (it == services_.end()) it = services_.begin();
          if (ready(it->second)) {
            next = &it->second;
            name = it->first;
          }
        }
        if (next == nullptr) work_cv_.Wait(&mu_);
      }
      last_served_ = name;
      if (stopping_) return;
      run = next->run;
      command = std::move(next->commands.front());
      next->commands.pop_front();
      next->busy = true;
    }
    const absl::StatusOr<std::string> answer =
        options_.invoke ? options_.invoke(name, command.first, command.second)
                        : absl::UnavailableError("no service host");
    absl::MutexLock lock(&mu_);
    auto found = services_.find(name);
    if (found != services_.end() && found->second.run == run) {
      found->second.busy = false;
      // Another worker may be waiting for this service's next command.
      if (!found->second.commands.empty()) work_cv_.Signal();
    }
    if (!answer.ok()) {
      ++commands_failed_;
      Complain("[" + name + "] " + command.first + " " + BoundedText(command.second, 200) + ": " +
               std::string(StatusMessage(answer.status())));
    }
  }
}

void HomeAssistant::Republisher() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (!republish_at_) {
      republish_cv_.Wait(&mu_);
      continue;
    }
    if (clock_.Now() < *republish_at_) {
      republish_cv_.WaitWithTimeout(&mu_, absl::FromChrono(kRepublishTick));
      continue;
    }
    republish_at_.reset();
    spdlog::info("MQTT: Home Assistant is back; publishing every entity and state again");
    RepublishAll();
  }
}

void HomeAssistant::Complain(const std::string& what) {
  const MonoTime now = clock_.Now();
  ++complaints_unlogged_;
  if (complained_at_ != MonoTime{} && now - complained_at_ < kRepeatLogInterval) return;
  spdlog::warn("MQTT: {}{}", what,
               complaints_unlogged_ > 1
                   ? " (and " + std::to_string(complaints_unlogged_ - 1) + " more since)"
                   : "");
  complained_at_ = now;
  complaints_unlogged_ = 0;
}

}  // namespace domian::mqtt
