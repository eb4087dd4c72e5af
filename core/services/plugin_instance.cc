#include "core/services/plugin_instance.h"

#include "core/model/values.h"
#include "core/services/entity_names.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <nlohmann/json.hpp>

namespace domian::services {
namespace {

using Output = PluginOutput;

// The instance whose invoke this thread is running, if any: save_now is
// taken only from there.
thread_local const PluginInstance* t_invoking = nullptr;

std::string Bounded(const char* text, size_t limit) {
  if (text == nullptr) return "";
  return std::string(text, ::strnlen(text, limit));
}

// A state call to a plugin without the state extension.
absl::Status NoState() {
  return StatusFromPlugin(DOMIAN_ERR_NOT_SUPPORTED, "the plugin keeps no state");
}

// The outcome of one plugin call that wrote `result` and `error`.
absl::StatusOr<std::string> Finish(domian_status status, Output& result, Output& error,
                                   const char* what) {
  if (status == DOMIAN_OK) {
    if (result.truncated) {
      return StatusFromPlugin(DOMIAN_ERR_INTERNAL, std::string(what) +
                                                       " is larger than the limit of " +
                                                       std::to_string(result.limit) + " bytes");
    }
    return std::move(result.data);
  }
  return StatusFromPlugin(status, error.data.empty() ? StatusName(status) : error.data);
}

}  // namespace

PluginInstance::PluginInstance(std::shared_ptr<const PluginLibrary> library,
                               HostCallbacks callbacks, const Clock& clock)
    : library_(std::move(library)), callbacks_(std::move(callbacks)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<PluginInstance>> PluginInstance::Create(
    std::shared_ptr<const PluginLibrary> library, const std::string& config_json,
    const std::filesystem::path& state_dir, HostCallbacks callbacks, const Clock& clock) {
  std::unique_ptr<PluginInstance> self(
      new PluginInstance(std::move(library), std::move(callbacks), clock));
  self->service_name_ = self->library_->description().name;
  self->state_dir_ = state_dir.string();
  domian_host& host = self->host_;
  host.struct_size = sizeof(domian_host);
  host.abi = {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR};
  host.host_data = self.get();
  host.service_name = self->service_name_.c_str();
  host.state_dir = self->state_dir_.c_str();
  host.log = &PluginInstance::Log;
  host.publish_endpoint = &PluginInstance::PublishEndpoint;
  host.emit_event = &PluginInstance::EmitEvent;
  host.get_extension = &PluginInstance::HostExtension;

  Output error(kMaxMessageBytes);
  domian_instance* instance = nullptr;
  const domian_status status =
      self->library_->descriptor().create(&host, config_json.c_str(), &instance, &error.out);
  if (status != DOMIAN_OK || instance == nullptr) {
    return StatusFromPlugin(DOMIAN_ERR_INVALID_ARGUMENT,
                            self->service_name_ + ": create failed (" +
                                std::string(StatusName(status)) + ")" +
                                (error.data.empty() ? "" : ": " + error.data));
  }
  self->instance_ = instance;
  // Extensions are looked up once; a plugin of an older minor may lack
  // fields, so copy what its struct_size covers.
  const domian_instance_api& api = self->library_->instance_api();
  if (api.get_extension != nullptr) {
    const auto* state =
        static_cast<const domian_state_ext*>(api.get_extension(instance, DOMIAN_EXT_STATE));
    if (state != nullptr && state->struct_size >= offsetof(domian_state_ext, reserved) &&
        state->save != nullptr && state->load != nullptr) {
      std::memcpy(&self->state_ext_, state, std::min<size_t>(state->struct_size, sizeof(domian_state_ext)));
    }
    const auto* health =
        static_cast<const domian_health_ext*>(api.get_extension(instance, DOMIAN_EXT_HEALTH));
    if (health != nullptr && health->struct_size >= offsetof(domian_health_ext, reserved) &&
        health->check != nullptr) {
      std::memcpy(&self->health_ext_, health, std::min<size_t>(health->struct_size, sizeof(domian_health_ext)));
    }
    const auto* entities =
        static_cast<const domian_entities_ext*>(api.get_extension(instance, DOMIAN_EXT_ENTITIES));
    if (entities != nullptr && entities->struct_size >= offsetof(domian_entities_ext, reserved) &&
        entities->describe != nullptr) {
      std::memcpy(&self->entities_ext_, entities,
                  std::min<size_t>(entities->struct_size, sizeof(domian_entities_ext)));
    }
  }
  return self;
}

PluginInstance::~PluginInstance() {
  Stop();
  absl::MutexLock lock(&call_mu_);
  if (instance_ != nullptr) library_->instance_api().destroy(instance_);
  instance_ = nullptr;
}

absl::Status PluginInstance::Start() {
  absl::MutexLock lock(&call_mu_);
  if (state_ == State::kStarted) return absl::OkStatus();
  if (state_ == State::kStopped) return NotStarted();
  Output none(0), error(kMaxMessageBytes);
  // States are taken from the call of start on: a plugin publishes its
  // first ones as it starts, from start or the threads start launches.
  started_.store(true);
  const domian_status status = library_->instance_api().start(instance_, &error.out);
  if (status == DOMIAN_OK) {
    state_ = State::kStarted;
  } else {
    started_.store(false);
  }
  return Finish(status, none, error, "start").status();
}

void PluginInstance::Stop() {
  absl::MutexLock lock(&call_mu_);
  if (state_ != State::kStarted) return;
  started_.store(false);
  library_->instance_api().stop(instance_);
  state_ = State::kStopped;
  // Its loop is gone with it: nothing left to watch.
  liveness_deadline_ms_.store(0);
}

absl::Status PluginInstance::NotStarted() const {
  return StatusFromPlugin(DOMIAN_ERR_UNAVAILABLE, state_ == State::kStopped
                                                      ? "the service is stopped"
                                                      : "the service is not started");
}

absl::StatusOr<std::string> PluginInstance::Invoke(const std::string& command,
                                                   const std::string& args_json,
                                                   std::optional<Saved>* to_store) {
  absl::MutexLock lock(&call_mu_);
  if (state_ != State::kStarted) return NotStarted();
  Output reply(kMaxReplyBytes), error(kMaxMessageBytes);
  save_after_invoke_ = false;
  t_invoking = this;
  const domian_status status = library_->instance_api().invoke(
      instance_, command.c_str(), args_json.c_str(), &reply.out, &error.out);
  t_invoking = nullptr;
  absl::StatusOr<std::string> answer = Finish(status, reply, error, "the reply");
  if (!save_after_invoke_) return answer;
  save_after_invoke_ = false;
  if (to_store == nullptr) {
    ++state_changes_;
    return answer;
  }
  absl::StatusOr<Saved> saved = SaveLocked();
  if (!saved.ok()) {
    ++state_changes_;  // tried again soon
    return StatusFromPlugin(DOMIAN_ERR_UNAVAILABLE,
                            "'" + command + "' changed the state, but it could not be saved: " +
                                StatusMessage(saved.status()));
  }
  *to_store = *std::move(saved);
  return answer;
}

absl::StatusOr<std::string> PluginInstance::SaveState() {
  absl::StatusOr<Saved> saved = Save();
  if (!saved.ok()) return saved.status();
  return std::move(saved->bytes);
}

absl::StatusOr<PluginInstance::Saved> PluginInstance::Save() {
  absl::MutexLock lock(&call_mu_);
  return SaveLocked();
}

absl::StatusOr<PluginInstance::Saved> PluginInstance::SaveLocked() {
  if (state_ext_.save == nullptr) return NoState();
  Output data(kMaxStateBytes), error(kMaxMessageBytes);
  const domian_status status = state_ext_.save(instance_, &data.out, &error.out);
  absl::StatusOr<std::string> bytes = Finish(status, data, error, "the saved state");
  if (!bytes.ok()) return bytes.status();
  return Saved{++saves_, *std::move(bytes)};
}

absl::Status PluginInstance::LoadState(const std::string& state) {
  absl::MutexLock lock(&call_mu_);
  if (state_ext_.load == nullptr) return NoState();
  Output none(0), error(kMaxMessageBytes);
  const domian_status status = state_ext_.load(
      instance_, reinterpret_cast<const uint8_t*>(state.data()), state.size(), &error.out);
  return Finish(status, none, error, "load").status();
}

absl::Status PluginInstance::CheckHealth() {
  // A check never waits behind a long call (a pairing waits 30 s for a
  // button): while one runs, the last result stands.
  if (call_mu_.TryLock()) {
    absl::Status checked = CheckHealthLocked();
    call_mu_.Unlock();
    absl::MutexLock health(&health_mu_);
    last_health_ = checked;
    return checked;
  }
  absl::MutexLock health(&health_mu_);
  return last_health_;
}

absl::Status PluginInstance::CheckHealthLocked() {
  if (state_ != State::kStarted) return NotStarted();
  if (health_ext_.check == nullptr) return absl::OkStatus();
  Output detail(kMaxMessageBytes);
  const domian_status status = health_ext_.check(instance_, &detail.out);
  return StatusFromPlugin(status, detail.data.empty() ? StatusName(status) : detail.data);
}

absl::StatusOr<std::string> PluginInstance::DescribeEntities() {
  absl::MutexLock lock(&call_mu_);
  if (entities_ext_.describe == nullptr) {
    return StatusFromPlugin(DOMIAN_ERR_NOT_SUPPORTED, "the plugin describes no entities");
  }
  if (state_ != State::kStarted) return NotStarted();
  Output description(DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES), error(kMaxMessageBytes);
  const domian_status status = entities_ext_.describe(instance_, &description.out, &error.out);
  return Finish(status, description, error, "the entities' description");
}

void PluginInstance::Log(const domian_host* host, domian_log_level level, const char* message) {
  const auto* self = static_cast<const PluginInstance*>(host->host_data);
  const std::string text = Bounded(message, kMaxMessageBytes);
  const auto spd = level <= DOMIAN_LOG_TRACE ? spdlog::level::trace
                   : level == DOMIAN_LOG_DEBUG ? spdlog::level::debug
                   : level == DOMIAN_LOG_INFO  ? spdlog::level::info
                   : level == DOMIAN_LOG_WARN  ? spdlog::level::warn
                                               : spdlog::level::err;
  spdlog::log(spd, "[{}] {}", self->service_name_, text);
}

domian_status PluginInstance::PublishEndpoint(const domian_host* host, const char* name,
                                              const char* endpoint) {
  const auto* self = static_cast<const PluginInstance*>(host->host_data);
  const std::string key = Bounded(name, kMaxStringBytes);
  if (!IsValidServiceName(key)) return DOMIAN_ERR_INVALID_ARGUMENT;
  std::optional<std::string> value;
  if (endpoint != nullptr) {
    value = Bounded(endpoint, kMaxStringBytes);
    if (value->empty()) return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  if (self->callbacks_.publish_endpoint) self->callbacks_.publish_endpoint(key, value);
  return DOMIAN_OK;
}

domian_status PluginInstance::EmitEvent(const domian_host* host, const char* name,
                                        const char* json) {
  const auto* self = static_cast<const PluginInstance*>(host->host_data);
  const std::string key = Bounded(name, kMaxStringBytes);
  const std::string body = Bounded(json, kMaxReplyBytes);
  if (!IsValidServiceName(key) || !nlohmann::json::accept(body)) {
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  if (self->callbacks_.emit_event) self->callbacks_.emit_event(key, body);
  return DOMIAN_OK;
}

absl::StatusOr<std::shared_ptr<PluginInstance>> StartInstance(
    std::shared_ptr<const PluginLibrary> library, const std::string& config_json,
    const std::filesystem::path& state_dir, HostCallbacks callbacks,
    const std::optional<std::string>& saved_state, const Clock& clock) {
  // The plugin's own check first (ABI 1.1): its problems, all of them,
  // are a better reason than whatever create stumbles on first.
  if (library->has_config_check()) {
    const absl::StatusOr<std::vector<std::string>> problems = library->Validate(config_json);
    if (!problems.ok()) {
      spdlog::warn("service {}: its configuration could not be checked: {}",
                   library->description().name, StatusMessage(problems.status()));
    } else if (!problems->empty()) {
      std::string joined;
      for (const std::string& problem : *problems) {
        const ConfigProblem parsed = ParseConfigProblem(problem);
        joined += (joined.empty() ? "" : "; ") +
                  (parsed.key.empty() ? parsed.message : parsed.key + ": " + parsed.message);
      }
      return StatusFromPlugin(DOMIAN_ERR_INVALID_ARGUMENT,
                              library->description().name + ": invalid configuration: " + joined);
    }
  }
  absl::StatusOr<std::unique_ptr<PluginInstance>> created = PluginInstance::Create(
      std::move(library), config_json, state_dir, std::move(callbacks), clock);
  if (!created.ok()) return created.status();
  std::shared_ptr<PluginInstance> instance = std::move(*created);
  if (saved_state && instance->has_state()) {
    const absl::Status loaded = instance->LoadState(*saved_state);
    if (!loaded.ok()) {
      spdlog::warn("service {}: saved state not restored: {}", instance->description().name,
                   StatusMessage(loaded));
    }
  }
  const absl::Status started = instance->Start();
  if (!started.ok()) {
    return StatusFromPlugin(PluginStatusOf(started), "start failed: " + StatusMessage(started));
  }
  return instance;
}

const void* PluginInstance::HostExtension(const domian_host* host, const char* id) {
  static const domian_host_liveness_ext kLiveness = {sizeof(domian_host_liveness_ext), 0,
                                                     &PluginInstance::SetLivenessDeadline,
                                                     &PluginInstance::Alive, {}};
  static const domian_host_state_ext kState = {sizeof(domian_host_state_ext), 0,
                                               &PluginInstance::MarkStateDirty,
                                               &PluginInstance::SaveStateNow, {}};
  static const domian_host_entities_ext kEntities = {sizeof(domian_host_entities_ext), 0,
                                                     &PluginInstance::PublishEntityState,
                                                     &PluginInstance::EntitiesChanged, {}};
  if (id != nullptr && std::strcmp(id, DOMIAN_HOST_EXT_LIVENESS) == 0) return &kLiveness;
  if (id != nullptr && std::strcmp(id, DOMIAN_HOST_EXT_STATE) == 0) return &kState;
  // Offered only where entities are published: a plugin that finds it
  // missing prepares no states (the camera takes no stills).
  if (id != nullptr && std::strcmp(id, DOMIAN_HOST_EXT_ENTITIES) == 0) {
    const auto* self = static_cast<const PluginInstance*>(host->host_data);
    return self->callbacks_.entity_state ? &kEntities : nullptr;
  }
  return nullptr;
}

// Checked here, for both isolation modes: what reaches the owner has
// names that can be parts of a topic and a size that can be published.
domian_status PluginInstance::PublishEntityState(const domian_host* host, const char* entity,
                                                 const char* state, const uint8_t* data,
                                                 size_t size) {
  const auto* self = static_cast<const PluginInstance*>(host->host_data);
  // Not started (or stopping): nobody is told of its entities now.
  if (!self->started_.load()) return DOMIAN_ERR_UNAVAILABLE;
  // Without a description its states have nowhere to go.
  if (self->entities_ext_.describe == nullptr) return DOMIAN_ERR_NOT_SUPPORTED;
  // One byte past each limit is enough to tell a name that is too long.
  const std::string entity_id = Bounded(entity, kMaxEntityIdBytes + 1);
  const std::string state_name = Bounded(state, kMaxEntityStateNameBytes + 1);
  if (!IsValidEntityId(entity_id) || !IsValidEntityStateName(state_name) ||
      size > DOMIAN_ENTITY_STATE_MAX_BYTES || (data == nullptr && size > 0)) {
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  if (!self->callbacks_.entity_state) return DOMIAN_OK;
  const std::string bytes =
      size == 0 ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
  return self->callbacks_.entity_state(entity_id, state_name, bytes) ? DOMIAN_OK
                                                                      : DOMIAN_ERR_INVALID_ARGUMENT;
}

void PluginInstance::EntitiesChanged(const domian_host* host) {
  const auto* self = static_cast<const PluginInstance*>(host->host_data);
  if (!self->started_.load() || self->entities_ext_.describe == nullptr) return;
  if (self->callbacks_.entities_changed) self->callbacks_.entities_changed();
}

void PluginInstance::MarkStateDirty(const domian_host* host) {
  ++static_cast<PluginInstance*>(host->host_data)->state_changes_;
}

// Only the thread running this instance's invoke may ask: that is how a
// reply is tied to the save it waits for.
domian_status PluginInstance::SaveStateNow(const domian_host* host) {
  auto* self = static_cast<PluginInstance*>(host->host_data);
  if (t_invoking != self) return DOMIAN_ERR_INVALID_ARGUMENT;
  self->save_after_invoke_ = true;
  return DOMIAN_OK;
}

domian_status PluginInstance::SetLivenessDeadline(const domian_host* host, uint32_t deadline_ms) {
  auto* self = static_cast<PluginInstance*>(host->host_data);
  if (deadline_ms != 0 &&
      (deadline_ms < DOMIAN_LIVENESS_MIN_MS || deadline_ms > DOMIAN_LIVENESS_MAX_MS)) {
    return DOMIAN_ERR_INVALID_ARGUMENT;
  }
  // Arming counts as a first alive: the time goes first (see the member).
  Alive(host);
  self->liveness_deadline_ms_.store(deadline_ms);
  return DOMIAN_OK;
}

void PluginInstance::Alive(const domian_host* host) {
  auto* self = static_cast<PluginInstance*>(host->host_data);
  self->last_alive_ns_.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(self->clock_.Now().time_since_epoch())
          .count());
}

Liveness PluginInstance::LivenessNow() const {
  Liveness liveness;
  liveness.deadline = std::chrono::milliseconds(liveness_deadline_ms_.load());
  if (liveness.deadline.count() == 0) return liveness;
  const MonoTime last{std::chrono::nanoseconds(last_alive_ns_.load())};
  const auto late = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - last) -
                    liveness.deadline;
  if (late.count() > 0) {
    liveness.missed_by = late;
  } else {
    liveness.left = -late;
  }
  return liveness;
}

}  // namespace domian::services
