// domian plugin SDK for C++ (header-only, C++20), on top of the C ABI in
// <domian/plugin.h>. It turns a plain C++ class into a plugin and makes
// sure no exception ever crosses the ABI: every call from the host is
// wrapped, and an exception becomes an error code plus its message.
//
// A service is any class with
//
//   MyService(domian::sdk::Host host, std::string_view config_json);
//   std::string Invoke(std::string_view command, std::string_view args_json);
//
// and, optionally, any of
//
//   void Start();                               // threads, devices, sockets
//   void Stop();                                // join every thread
//   std::string SaveState();                    // bytes of the service's own format
//   void LoadState(std::string_view state);     // after construction, before Start
//   std::optional<std::string> CheckHealth();   // nullopt = healthy, else the reason
//   std::string DescribeEntities();             // domian.entities/1 JSON (plugin.h)
//
// and, with no instance (ABI 1.1 plugin extensions), static members:
//
//   // Problems with a configuration, one "key: message" each ("" key: the
//   // whole object); empty when create would accept it. No hardware.
//   static std::vector<std::string> ValidateConfig(std::string_view config_json);
//   // Puts the hardware in its safe state from the last configuration the
//   // service started with; throws when it cannot (see plugin.h).
//   static void MakeSafe(domian::sdk::Host host, std::string_view config_json);
//
// Throw domian::sdk::Error(code, message) for a specific error code; any
// other std::exception is reported as DOMIAN_ERR_INTERNAL. Then, in one
// .cc file of the plugin:
//
//   DOMIAN_SDK_PLUGIN(MyService, (domian::sdk::PluginInfo{
//       .name = "lights", .version = "1.0.0", .description = "Philips Hue lights",
//       .placement = DOMIAN_PLACEMENT_SINGLETON,
//       .traits = {}, .depends = {},
//       .commands = {{"status", "{}", "bridge and pairing state"}}}))
//
// (Name every field: GCC's -Wextra warns about omitted ones.)
//
// The host calls one instance from one thread at a time (see plugin.h), so
// a service needs locks only for its own threads.
#ifndef DOMIAN_PLUGIN_HPP
#define DOMIAN_PLUGIN_HPP

#include <domian/plugin.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace domian::sdk {

// An error with a domian_status code, thrown by a service.
class Error : public std::runtime_error {
 public:
  Error(domian_status code, const std::string& message) : std::runtime_error(message), code_(code) {}
  domian_status code() const noexcept { return code_; }

 private:
  domian_status code_;
};

// The host's services for one instance; cheap to copy, valid until the
// instance is destroyed. Every function may be called from any thread.
class Host {
 public:
  explicit Host(const domian_host* host) : host_(host) {}

  std::string_view service_name() const { return host_->service_name; }
  std::string_view state_dir() const { return host_->state_dir; }
  domian_abi_version abi() const { return host_->abi; }

  void Log(domian_log_level level, const std::string& message) const {
    host_->log(host_, level, message.c_str());
  }
  void Debug(const std::string& message) const { Log(DOMIAN_LOG_DEBUG, message); }
  void Info(const std::string& message) const { Log(DOMIAN_LOG_INFO, message); }
  void Warn(const std::string& message) const { Log(DOMIAN_LOG_WARN, message); }
  void LogError(const std::string& message) const { Log(DOMIAN_LOG_ERROR, message); }

  // Publishes an endpoint (e.g. "http", "192.168.1.20:8080"); nullopt
  // withdraws it. False when the host refused it.
  bool PublishEndpoint(const std::string& name, const std::optional<std::string>& endpoint) const {
    return host_->publish_endpoint(host_, name.c_str(),
                                   endpoint ? endpoint->c_str() : nullptr) == DOMIAN_OK;
  }
  // False when the host refused it (e.g. the JSON does not parse).
  bool EmitEvent(const std::string& name, const std::string& json) const {
    return host_->emit_event(host_, name.c_str(), json.c_str()) == DOMIAN_OK;
  }
  const void* Extension(const char* id) const { return host_->get_extension(host_, id); }

  // Liveness (ABI 1.1, DOMIAN_HOST_EXT_LIVENESS): arms the deadline, or
  // disarms it with 0. False when this host has no liveness extension (a
  // 1.0 host) or refused the value.
  bool SetLivenessDeadline(std::chrono::milliseconds deadline) const {
    const auto* liveness = Liveness();
    if (liveness == nullptr || deadline.count() < 0 || deadline.count() > static_cast<std::chrono::milliseconds::rep>(UINT32_MAX)) return false;
    return liveness->set_deadline(host_, static_cast<uint32_t>(deadline.count())) == DOMIAN_OK;
  }
  // The watched loop made progress (nothing on a host without liveness).
  void Alive() const {
    if (const auto* liveness = Liveness()) liveness->alive(host_);
  }

  // State (ABI 1.1, DOMIAN_HOST_EXT_STATE; the service needs SaveState):
  // the state changed, save it soon. Nothing on a 1.0 host, which saves
  // at stop only.
  void MarkStateDirty() const {
    if (const auto* state = State()) state->mark_dirty(host_);
  }
  // Inside Invoke, on its thread: the reply to this call waits until the
  // state is saved and stored. False outside an invoke (use
  // MarkStateDirty there), or on a host without the extension.
  bool SaveStateNow() const {
    const auto* state = State();
    return state != nullptr && state->save_now(host_) == DOMIAN_OK;
  }

  // Entities (ABI 1.1, DOMIAN_HOST_EXT_ENTITIES; the service has
  // DescribeEntities): the latest value of one state of an entity. False
  // when the host refused it (a bad name, too large) or has no entities
  // extension (a host that does not publish entities).
  bool PublishEntityState(std::string_view entity, std::string_view state,
                          std::string_view data) const {
    const auto* entities = Entities();
    if (entities == nullptr) return false;
    const std::string entity_name(entity);
    const std::string state_name(state);
    return entities->publish_state(host_, entity_name.c_str(), state_name.c_str(),
                                   reinterpret_cast<const uint8_t*>(data.data()),
                                   data.size()) == DOMIAN_OK;
  }
  // Whether this host publishes entities (a node without Home Assistant
  // does not): without it there is no need to prepare states.
  bool PublishesEntities() const { return Entities() != nullptr; }
  // The entities changed: the host calls DescribeEntities again soon.
  void EntitiesChanged() const {
    if (const auto* entities = Entities()) entities->changed(host_);
  }

  const domian_host* raw() const { return host_; }

 private:
  const domian_host_entities_ext* Entities() const {
    const auto* ext =
        static_cast<const domian_host_entities_ext*>(Extension(DOMIAN_HOST_EXT_ENTITIES));
    return ext != nullptr && ext->struct_size >= sizeof(domian_host_entities_ext) ? ext : nullptr;
  }
  const domian_host_liveness_ext* Liveness() const {
    const auto* ext =
        static_cast<const domian_host_liveness_ext*>(Extension(DOMIAN_HOST_EXT_LIVENESS));
    return ext != nullptr && ext->struct_size >= sizeof(domian_host_liveness_ext) ? ext : nullptr;
  }
  const domian_host_state_ext* State() const {
    const auto* ext = static_cast<const domian_host_state_ext*>(Extension(DOMIAN_HOST_EXT_STATE));
    return ext != nullptr && ext->struct_size >= sizeof(domian_host_state_ext) ? ext : nullptr;
  }

  const domian_host* host_;
};

struct Command {
  const char* name;
  const char* arguments;
  const char* description;
};

// What the plugin says about itself. Strings must be literals (or
// otherwise outlive the library).
struct PluginInfo {
  const char* name = nullptr;
  const char* version = nullptr;
  const char* description = "";
  domian_placement placement = DOMIAN_PLACEMENT_SINGLETON;
  std::vector<const char*> traits;
  std::vector<const char*> depends;
  std::vector<Command> commands;
};

namespace detail {

// The host truncates what exceeds its limit and says so in its own
// result, so a refused write needs no handling here.
inline void Write(domian_out* out, std::string_view text) noexcept {
  if (out != nullptr && !text.empty()) (void)out->write(out, text.data(), text.size());
}

// Runs `body`, turning any exception into a status and a message.
template <typename Body>
domian_status Guard(domian_out* error, Body&& body) noexcept {
  try {
    body();
    return DOMIAN_OK;
  } catch (const Error& e) {
    Write(error, e.what());
    return e.code();
  } catch (const std::exception& e) {
    Write(error, e.what());
    return DOMIAN_ERR_INTERNAL;
  } catch (...) {
    Write(error, "unknown exception");
    return DOMIAN_ERR_INTERNAL;
  }
}

template <typename S>
concept HasStart = requires(S& s) { s.Start(); };
template <typename S>
concept HasStop = requires(S& s) { s.Stop(); };
template <typename S>
concept HasState = requires(S& s, std::string_view v) {
  { s.SaveState() } -> std::convertible_to<std::string>;
  s.LoadState(v);
};
template <typename S>
concept HasHealth = requires(S& s) {
  { s.CheckHealth() } -> std::convertible_to<std::optional<std::string>>;
};

template <typename S>
concept HasEntities = requires(S& s) {
  { s.DescribeEntities() } -> std::convertible_to<std::string>;
};

template <typename S>
concept HasValidateConfig = requires(std::string_view config) {
  { S::ValidateConfig(config) } -> std::convertible_to<std::vector<std::string>>;
};
template <typename S>
concept HasMakeSafe = requires(Host host, std::string_view config) { S::MakeSafe(host, config); };

// The plugin extensions (no instance) of service class S.
template <typename S>
struct PluginExtensions {
  static domian_status Validate(const char* config_json, domian_out* problems) noexcept {
    bool any = false;
    const domian_status guarded = Guard(problems, [&] {
      if constexpr (HasValidateConfig<S>) {
        for (const std::string& problem : S::ValidateConfig(std::string_view(config_json))) {
          Write(problems, any ? "\n" + problem : problem);
          any = true;
        }
      }
    });
    if (guarded != DOMIAN_OK) return DOMIAN_ERR_INVALID_ARGUMENT;
    return any ? DOMIAN_ERR_INVALID_ARGUMENT : DOMIAN_OK;
  }
  static domian_status MakeSafe(const domian_host* host, const char* config_json,
                                domian_out* error) noexcept {
    return Guard(error, [&] {
      if constexpr (HasMakeSafe<S>) S::MakeSafe(Host(host), std::string_view(config_json));
    });
  }
  static const void* Get(const char* id) noexcept {
    if (id == nullptr) return nullptr;
    static const domian_config_ext config = {sizeof(domian_config_ext), 0, &Validate, {}};
    static const domian_safe_state_ext safe = {sizeof(domian_safe_state_ext), 0, &MakeSafe, {}};
    if constexpr (HasValidateConfig<S>) {
      if (std::strcmp(id, DOMIAN_PLUGIN_EXT_CONFIG) == 0) return &config;
    }
    if constexpr (HasMakeSafe<S>) {
      if (std::strcmp(id, DOMIAN_PLUGIN_EXT_SAFE_STATE) == 0) return &safe;
    }
    return nullptr;
  }
};

template <typename S>
struct Adapter {
  // What the host holds as domian_instance*.
  struct Instance {
    std::unique_ptr<S> service;
  };
  static S& Of(domian_instance* instance) {
    return *reinterpret_cast<Instance*>(instance)->service;
  }

  static domian_status Create(const domian_host* host, const char* config_json,
                              domian_instance** out, domian_out* error) noexcept {
    return Guard(error, [&] {
      auto instance = std::make_unique<Instance>();
      instance->service = std::make_unique<S>(Host(host), std::string_view(config_json));
      *out = reinterpret_cast<domian_instance*>(instance.release());
    });
  }
  static domian_status Start(domian_instance* instance, domian_out* error) noexcept {
    return Guard(error, [&] {
      if constexpr (HasStart<S>) Of(instance).Start();
    });
  }
  static void Stop(domian_instance* instance) noexcept {
    // Stop cannot report; a throwing Stop is a bug, swallowed here so the
    // host goes on to destroy.
    Guard(nullptr, [&] {
      if constexpr (HasStop<S>) Of(instance).Stop();
    });
  }
  static void Destroy(domian_instance* instance) noexcept {
    Guard(nullptr, [&] { delete reinterpret_cast<Instance*>(instance); });
  }
  static domian_status Invoke(domian_instance* instance, const char* command,
                              const char* args_json, domian_out* reply,
                              domian_out* error) noexcept {
    return Guard(error, [&] {
      const std::string answer = Of(instance).Invoke(command, args_json);
      Write(reply, answer);
    });
  }
  static domian_status Save(domian_instance* instance, domian_out* data,
                            domian_out* error) noexcept {
    return Guard(error, [&] {
      if constexpr (HasState<S>) Write(data, Of(instance).SaveState());
    });
  }
  static domian_status Load(domian_instance* instance, const uint8_t* data, size_t size,
                            domian_out* error) noexcept {
    return Guard(error, [&] {
      if constexpr (HasState<S>) {
        Of(instance).LoadState(std::string_view(reinterpret_cast<const char*>(data), size));
      }
    });
  }
  static domian_status Health(domian_instance* instance, domian_out* detail) noexcept {
    domian_status status = DOMIAN_OK;
    const domian_status guarded = Guard(detail, [&] {
      if constexpr (HasHealth<S>) {
        if (const std::optional<std::string> problem = Of(instance).CheckHealth()) {
          Write(detail, *problem);
          status = DOMIAN_ERR_FAILED;
        }
      }
    });
    return guarded != DOMIAN_OK ? guarded : status;
  }
  static domian_status Describe(domian_instance* instance, domian_out* out,
                                domian_out* error) noexcept {
    return Guard(error, [&] {
      if constexpr (HasEntities<S>) Write(out, Of(instance).DescribeEntities());
    });
  }
  static const void* Extension(domian_instance* /*instance*/, const char* id) noexcept {
    if (id == nullptr) return nullptr;
    static const domian_state_ext state = {sizeof(domian_state_ext), 0, &Save, &Load, {}};
    static const domian_health_ext health = {sizeof(domian_health_ext), 0, &Health, {}};
    static const domian_entities_ext entities = {sizeof(domian_entities_ext), 0, &Describe, {}};
    if constexpr (HasState<S>) {
      if (std::strcmp(id, DOMIAN_EXT_STATE) == 0) return &state;
    }
    if constexpr (HasHealth<S>) {
      if (std::strcmp(id, DOMIAN_EXT_HEALTH) == 0) return &health;
    }
    if constexpr (HasEntities<S>) {
      if (std::strcmp(id, DOMIAN_EXT_ENTITIES) == 0) return &entities;
    }
    return nullptr;
  }
};

// The descriptor and the arrays it points to, built once.
template <typename S>
class Descriptor {
 public:
  explicit Descriptor(PluginInfo info) : info_(std::move(info)) {
    traits_ = info_.traits;
    traits_.push_back(nullptr);
    depends_ = info_.depends;
    depends_.push_back(nullptr);
    for (const Command& command : info_.commands) {
      commands_.push_back(domian_command_info{sizeof(domian_command_info), 0, command.name,
                                              command.arguments, command.description, {}});
    }
    api_ = domian_instance_api{sizeof(domian_instance_api), 0,
                               &Adapter<S>::Start,          &Adapter<S>::Stop,
                               &Adapter<S>::Destroy,        &Adapter<S>::Invoke,
                               &Adapter<S>::Extension,      {}};
    descriptor_ = domian_plugin_descriptor{
        sizeof(domian_plugin_descriptor),
        {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR},
        0,
        0,
        0,
        info_.name,
        info_.version,
        info_.description,
        info_.placement,
        0,
        traits_.data(),
        depends_.data(),
        commands_.data(),
        commands_.size(),
        &Adapter<S>::Create,
        &api_,
        &PluginExtensions<S>::Get,
        {}};
  }
  const domian_plugin_descriptor* get() const { return &descriptor_; }

 private:
  PluginInfo info_;
  std::vector<const char*> traits_;
  std::vector<const char*> depends_;
  std::vector<domian_command_info> commands_;
  domian_instance_api api_{};
  domian_plugin_descriptor descriptor_{};
};

template <typename S>
const domian_plugin_descriptor* Describe(PluginInfo (*info)(), domian_abi_version /*host*/) noexcept {
  try {
    // The host checks the versions and names both if they differ.
    static const Descriptor<S> descriptor(info());
    return descriptor.get();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace detail
}  // namespace domian::sdk

// Defines the plugin's entry symbol for service class SERVICE, described
// by the PluginInfo expression INFO (in parentheses).
#define DOMIAN_SDK_PLUGIN(SERVICE, INFO)                                                  \
  static ::domian::sdk::PluginInfo domian_sdk_plugin_info() { return INFO; }              \
  extern "C" DOMIAN_PLUGIN_EXPORT const domian_plugin_descriptor* domian_plugin_entry(   \
      domian_abi_version host_abi) {                                                      \
    return ::domian::sdk::detail::Describe<SERVICE>(&domian_sdk_plugin_info, host_abi);  \
  }

#endif  // DOMIAN_PLUGIN_HPP
