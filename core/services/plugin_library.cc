#include "core/services/plugin_library.h"

#include <absl/synchronization/mutex.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <boost/dll/shared_library.hpp>
#include <cstring>
#include <set>

#include "core/common/utf8.h"
#include "core/model/values.h"
#include "core/services/plugin_output.h"
#include "core/services/plugin_status.h"

namespace domian::services {
namespace {

constexpr domian_abi_version kCoreAbi{DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR};

std::string Version(domian_abi_version abi) {
  return std::to_string(abi.major) + "." + std::to_string(abi.minor);
}

// Libraries stay mapped for the life of the process (see the header).
// Deliberately never freed: destroying them at exit would dlclose while
// plugin threads may still run.
void KeepLoaded(boost::dll::shared_library library) {
  ABSL_CONST_INIT static absl::Mutex mu(absl::kConstInit);
  static auto* loaded = new std::vector<boost::dll::shared_library>();
  absl::MutexLock lock(&mu);
  loaded->push_back(std::move(library));
}

// Copies a struct the plugin filled in: min(struct_size, sizeof) bytes.
template <typename T>
bool CopySized(const T* source, T& target, size_t minimum) {
  if (source == nullptr) return false;
  uint32_t size = 0;
  std::memcpy(&size, source, sizeof size);
  if (size < minimum) return false;
  target = T{};
  std::memcpy(&target, source, std::min<size_t>(size, sizeof(T)));
  return true;
}

// A C string from the plugin, bounded; nullopt when missing or too long.
std::optional<std::string> Text(const char* text) {
  if (text == nullptr) return std::nullopt;
  const size_t length = ::strnlen(text, kMaxStringBytes + 1);
  if (length > kMaxStringBytes) return std::nullopt;
  return std::string(text, length);
}

// A descriptor that cannot be taken, and why (without the file's name).
absl::Status Invalid(std::string why) { return absl::FailedPreconditionError(std::move(why)); }

absl::StatusOr<std::vector<std::string>> Names(const char* const* list, const char* what) {
  std::vector<std::string> names;
  if (list == nullptr) return names;
  for (size_t i = 0; list[i] != nullptr; ++i) {
    if (i >= kMaxListEntries) {
      return Invalid(std::string("more than ") + std::to_string(kMaxListEntries) + " " + what);
    }
    const auto name = Text(list[i]);
    if (!name || !IsValidNodeId(*name)) {
      return Invalid(std::string("invalid ") + what + " entry '" + (name ? *name : "?") + "'");
    }
    if (std::find(names.begin(), names.end(), *name) != names.end()) {
      return Invalid(std::string(what) + " lists '" + *name + "' twice");
    }
    names.push_back(*name);
  }
  return names;
}

// Checks everything in the descriptor before any other plugin code runs.
absl::Status Describe(const domian_plugin_descriptor& raw, const std::filesystem::path& path,
                      PluginDescription& out) {
  out.abi = raw.abi;
  if (raw.abi.major != kCoreAbi.major) {
    return Invalid("built for plugin ABI " + Version(raw.abi) + ", this domiand speaks " +
                   Version(kCoreAbi));
  }
  const auto name = Text(raw.name);
  if (!name || !IsValidServiceName(*name)) {
    return Invalid("invalid service name '" + name.value_or("") +
                   "': expected 1 to 63 of a-z, 0-9, '_' or '-'");
  }
  if (*name != path.stem().string()) {
    return Invalid("the plugin calls itself '" + *name + "' but the file is " +
                   path.filename().string() + "; a service's file is <name>.so");
  }
  out.name = *name;
  const auto version = Text(raw.version);
  if (!version || version->empty()) return Invalid("no version");
  out.version = *version;
  out.description = Text(raw.description).value_or("");
  if (raw.placement != DOMIAN_PLACEMENT_SINGLETON && raw.placement != DOMIAN_PLACEMENT_PER_NODE) {
    return Invalid("unknown placement " + std::to_string(raw.placement));
  }
  out.placement =
      raw.placement == DOMIAN_PLACEMENT_SINGLETON ? Placement::kSingleton : Placement::kPerNode;
  absl::StatusOr<std::vector<std::string>> traits = Names(raw.traits, "traits");
  if (!traits.ok()) return traits.status();
  out.traits = std::move(*traits);
  absl::StatusOr<std::vector<std::string>> depends = Names(raw.depends, "depends");
  if (!depends.ok()) return depends.status();
  out.depends = std::move(*depends);
  if (std::find(out.depends.begin(), out.depends.end(), out.name) != out.depends.end()) {
    return Invalid("depends on itself");
  }
  if (raw.command_count > kMaxCommands) {
    return Invalid(std::to_string(raw.command_count) + " commands, more than " +
                   std::to_string(kMaxCommands));
  }
  if (raw.command_count > 0 && raw.commands == nullptr) return Invalid("commands missing");
  std::set<std::string> seen;
  for (size_t i = 0; i < raw.command_count; ++i) {
    domian_command_info info{};
    if (!CopySized(&raw.commands[i], info, offsetof(domian_command_info, description) +
                                              sizeof(const char*))) {
      return Invalid("command " + std::to_string(i) + " has an invalid struct_size");
    }
    const auto command = Text(info.name);
    if (!command || !IsValidServiceName(*command)) {
      return Invalid("command " + std::to_string(i) + " has an invalid name");
    }
    if (!seen.insert(*command).second) return Invalid("command '" + *command + "' is listed twice");
    out.commands.push_back({*command, Text(info.arguments).value_or(""),
                            Text(info.description).value_or("")});
  }
  if (raw.create == nullptr) return Invalid("no create function");
  return absl::OkStatus();
}

// The host table make_safe gets: log, service_name and state_dir; the
// other functions refuse, as there is no instance to publish or emit for.
struct SafeStateHost {
  domian_host host{};
  std::string service_name;
  std::string state_dir;
  const PluginLogSink* log = nullptr;

  SafeStateHost(std::string name, std::string dir, const PluginLogSink& sink)
      : service_name(std::move(name)), state_dir(std::move(dir)), log(&sink) {
    host.struct_size = sizeof(domian_host);
    host.abi = kCoreAbi;
    host.host_data = this;
    host.service_name = service_name.c_str();
    host.state_dir = state_dir.c_str();
    host.log = &SafeStateHost::Log;
    host.publish_endpoint = &SafeStateHost::Publish;
    host.emit_event = &SafeStateHost::Emit;
    host.get_extension = &SafeStateHost::Extension;
  }
  SafeStateHost(const SafeStateHost&) = delete;
  SafeStateHost& operator=(const SafeStateHost&) = delete;

  static void Log(const domian_host* host, domian_log_level level, const char* message) {
    const auto* self = static_cast<const SafeStateHost*>(host->host_data);
    if (message == nullptr || !*self->log) return;
    (*self->log)(level, ToValidUtf8(std::string(message, ::strnlen(message, kMaxMessageBytes))));
  }
  static domian_status Publish(const domian_host*, const char*, const char*) {
    return DOMIAN_ERR_UNAVAILABLE;
  }
  static domian_status Emit(const domian_host*, const char*, const char*) {
    return DOMIAN_ERR_UNAVAILABLE;
  }
  static const void* Extension(const domian_host*, const char*) { return nullptr; }
};

// A key path as plugins write them: "hysteresis_c", "sensors.0.id",
// "sensors[0].id".
bool IsKeyPath(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' ||
           c == '.' || c == '[' || c == ']';
  });
}

// The lines of a check's output, bounded (see Validate).
std::vector<std::string> ProblemLines(const PluginOutput& output) {
  std::vector<std::string> lines;
  size_t left_out = 0;
  size_t start = 0;
  while (start < output.data.size()) {
    size_t end = output.data.find('\n', start);
    if (end == std::string::npos) end = output.data.size();
    std::string line = output.data.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (lines.size() < kMaxProblems) {
      lines.push_back(ToValidUtf8(std::move(line)));
    } else {
      ++left_out;
    }
  }
  if (lines.empty()) lines.push_back(": the plugin refused the configuration without saying why");
  if (left_out > 0) {
    lines.push_back(": " + std::to_string(left_out) + " more problem(s) not shown (at most " +
                    std::to_string(kMaxProblems) + " are taken)");
  } else if (output.truncated) {
    lines.push_back(": the plugin's list of problems was cut at " +
                    std::to_string(kMaxProblemsBytes) + " bytes");
  }
  return lines;
}

}  // namespace

ConfigProblem ParseConfigProblem(std::string_view line) {
  const size_t colon = line.find(": ");
  if (colon == 0) return {"", std::string(line.substr(2))};
  if (colon != std::string_view::npos && IsKeyPath(line.substr(0, colon))) {
    return {std::string(line.substr(0, colon)), std::string(line.substr(colon + 2))};
  }
  return {"", std::string(line)};
}

void PluginLibrary::ReadPluginExtensions() {
  // In a 1.0 descriptor the slot is reserved room: never called.
  if (descriptor_.abi.minor < 1 ||
      descriptor_.struct_size < offsetof(domian_plugin_descriptor, get_plugin_extension) +
                                    sizeof(descriptor_.get_plugin_extension) ||
      descriptor_.get_plugin_extension == nullptr) {
    return;
  }
  const auto* config = static_cast<const domian_config_ext*>(
      descriptor_.get_plugin_extension(DOMIAN_PLUGIN_EXT_CONFIG));
  if (!CopySized(config, config_ext_, offsetof(domian_config_ext, validate) + sizeof(void*))) {
    config_ext_ = {};
  }
  const auto* safe = static_cast<const domian_safe_state_ext*>(
      descriptor_.get_plugin_extension(DOMIAN_PLUGIN_EXT_SAFE_STATE));
  if (!CopySized(safe, safe_state_ext_,
                 offsetof(domian_safe_state_ext, make_safe) + sizeof(void*))) {
    safe_state_ext_ = {};
  }
}

absl::StatusOr<std::vector<std::string>> PluginLibrary::Validate(
    const std::string& config_json) const {
  if (!has_config_check()) {
    return StatusFromPlugin(DOMIAN_ERR_NOT_SUPPORTED,
                            description_.name + ": the plugin does not check its configuration "
                                                "(plugin ABI " + Version(description_.abi) + ")");
  }
  PluginOutput problems(kMaxProblemsBytes);
  const domian_status status = config_ext_.validate(config_json.c_str(), &problems.out);
  if (status == DOMIAN_OK) return std::vector<std::string>{};
  if (status != DOMIAN_ERR_INVALID_ARGUMENT) {
    return StatusFromPlugin(
        status, description_.name + ": the configuration check failed (" +
                    std::string(StatusName(status)) + ")" +
                    (problems.data.empty() ? "" : ": " + ToValidUtf8(problems.data.substr(
                                                             0, kMaxMessageBytes))));
  }
  return ProblemLines(problems);
}

absl::Status PluginLibrary::MakeSafe(const std::string& config_json,
                                     const std::filesystem::path& state_dir,
                                     const PluginLogSink& log) const {
  if (!has_safe_state()) {
    return StatusFromPlugin(DOMIAN_ERR_NOT_SUPPORTED,
                            description_.name + ": the plugin has no safe state (plugin ABI " +
                                Version(description_.abi) + ")");
  }
  SafeStateHost host(description_.name, state_dir.string(), log);
  PluginOutput error(kMaxMessageBytes);
  const domian_status status =
      safe_state_ext_.make_safe(&host.host, config_json.c_str(), &error.out);
  if (status == DOMIAN_OK) return absl::OkStatus();
  return StatusFromPlugin(status, error.data.empty() ? std::string(StatusName(status))
                                                     : ToValidUtf8(error.data));
}

absl::Status UnsafePermissions(const std::filesystem::path& path) {
  return ::geteuid() == 0 ? PermissionProblem(path, 0) : absl::OkStatus();
}

absl::Status PermissionProblem(const std::filesystem::path& path, uid_t owner) {
  for (const std::filesystem::path& item : {path, path.parent_path()}) {
    struct stat info {};
    if (::stat(item.c_str(), &info) != 0) {
      return absl::PermissionDeniedError("cannot stat " + item.string());
    }
    if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      return absl::PermissionDeniedError(
          item.string() + " is writable by " +
          ((info.st_mode & S_IWOTH) != 0 ? "others" : "its group") + " (mode " + [&] {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", info.st_mode & 07777);
            return std::string(mode);
          }() + "); domiand runs as root and loads only files that only their owner can change");
    }
    if (info.st_uid != 0 && info.st_uid != owner) {
      return absl::PermissionDeniedError(item.string() + " is owned by uid " +
                                         std::to_string(info.st_uid) + ", not by root");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const PluginLibrary>> PluginLibrary::Load(
    const std::filesystem::path& path) {
  // Every refusal names the file first.
  auto refuse = [&path](std::string_view why) {
    return absl::FailedPreconditionError(path.string() + ": " + std::string(why));
  };
  if (const absl::Status unsafe = UnsafePermissions(path); !unsafe.ok()) {
    return refuse(StatusMessage(unsafe));
  }
  boost::dll::shared_library library;
  try {
    // RTLD_NOW: a missing symbol is a refusal now, not a crash later.
    // RTLD_LOCAL: plugins cannot see (or clash with) each other's symbols.
    library.load(boost::dll::fs::path(path.string()),
                 boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& error) {
    return refuse(std::string("not a loadable shared object (") + error.what() + ")");
  }
  if (!library.has(DOMIAN_PLUGIN_ENTRY_NAME)) {
    KeepLoaded(std::move(library));  // its constructors ran: keep it mapped
    return refuse("no " DOMIAN_PLUGIN_ENTRY_NAME " symbol; not a domian plugin");
  }
  const auto entry =
      &library.get<const domian_plugin_descriptor*(domian_abi_version)>(DOMIAN_PLUGIN_ENTRY_NAME);
  std::shared_ptr<PluginLibrary> loaded(new PluginLibrary());
  const domian_plugin_descriptor* raw = entry(kCoreAbi);
  KeepLoaded(std::move(library));
  if (raw == nullptr) {
    return refuse("the plugin declined this domiand's plugin ABI " + Version(kCoreAbi));
  }
  if (!CopySized(raw, loaded->descriptor_, offsetof(domian_plugin_descriptor, instance_api) +
                                               sizeof(const domian_instance_api*))) {
    return refuse("invalid descriptor (struct_size too small)");
  }
  loaded->description_.path = path;
  if (const absl::Status problem = Describe(loaded->descriptor_, path, loaded->description_);
      !problem.ok()) {
    return refuse(StatusMessage(problem));
  }
  if (!CopySized(loaded->descriptor_.instance_api, loaded->instance_api_,
                 offsetof(domian_instance_api, get_extension) + sizeof(void*))) {
    return refuse("invalid instance functions (missing or struct_size too small)");
  }
  const domian_instance_api& api = loaded->instance_api_;
  if (api.start == nullptr || api.stop == nullptr || api.destroy == nullptr ||
      api.invoke == nullptr) {
    return refuse("instance functions start, stop, destroy and invoke are required");
  }
  loaded->ReadPluginExtensions();
  return std::shared_ptr<const PluginLibrary>(std::move(loaded));
}

}  // namespace domian::services
