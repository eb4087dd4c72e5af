// PluginLibrary: one plugin shared object, loaded with Boost.DLL and
// checked against the C ABI (plugin_api/domian/plugin.h) before anything
// else in it runs.
//
// A library, once loaded, is never unloaded: code of a plugin may still
// run (a thread it forgot to join, a callback in flight) after its last
// instance is gone, and dlclose would pull the code out from under it. A
// replaced .so file is loaded again as a new library (or, isolated, in a
// fresh plugin host process); the old mapping stays.
#pragma once

#include <domian/plugin.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace domian::services {

// Bounds on what a descriptor may claim, so a broken plugin cannot make
// the core walk megabytes of garbage.
inline constexpr size_t kMaxCommands = 256;
inline constexpr size_t kMaxListEntries = 64;   // traits, depends
inline constexpr size_t kMaxStringBytes = 1024; // any descriptor string

enum class Placement { kSingleton, kPerNode };

struct CommandDescription {
  std::string name;
  std::string arguments;
  std::string description;
};

// What a plugin says about itself, copied out of the library.
struct PluginDescription {
  std::string name;  // the service name, equal to the file's base name
  std::string version;
  std::string description;
  Placement placement = Placement::kSingleton;
  std::vector<std::string> traits;
  std::vector<std::string> depends;
  std::vector<CommandDescription> commands;
  domian_abi_version abi{};  // what it was built against
  std::filesystem::path path;
};

// One problem a plugin's configuration check found: "<key>: <message>"
// split at the first ": " when what comes before is a key path
// ("hysteresis_c", "sensors.0.id"); otherwise key is empty and message is
// the whole line (the problem is about the whole configuration).
struct ConfigProblem {
  std::string key;
  std::string message;
};
ConfigProblem ParseConfigProblem(std::string_view line);

// Where a plugin's log lines go while it runs with no instance (make_safe).
using PluginLogSink = std::function<void(domian_log_level level, const std::string& message)>;

class PluginLibrary {
 public:
  // Loads and validates `path`. A refusal is FAILED_PRECONDITION, its
  // message names the file and the reason ("/usr/lib/domian/plugins/x.so:
  // built for plugin ABI 2.0, this domiand speaks 1.0").
  static absl::StatusOr<std::shared_ptr<const PluginLibrary>> Load(
      const std::filesystem::path& path);

  const PluginDescription& description() const { return description_; }
  // The plugin's own descriptor and instance functions (valid forever:
  // the library stays loaded).
  const domian_plugin_descriptor& descriptor() const { return descriptor_; }
  const domian_instance_api& instance_api() const { return instance_api_; }

  // ABI 1.1 plugin extensions (no instance). Only a plugin of minor 1 or
  // later whose descriptor covers get_plugin_extension is asked; an
  // extension counts when its struct_size covers its function and the
  // function is set.
  bool has_config_check() const { return config_ext_.validate != nullptr; }
  bool has_safe_state() const { return safe_state_ext_.make_safe != nullptr; }

  // The plugin's problems with `config_json` (a JSON object), one
  // "<key>: <message>" each, as UTF-8; empty when it is valid. At most
  // kMaxProblems lines from at most kMaxProblemsBytes of output; a last
  // line says when more were cut. UNIMPLEMENTED (DOMIAN_ERR_NOT_SUPPORTED)
  // without the extension; the plugin's status (StatusFromPlugin) when it
  // could not check at all.
  absl::StatusOr<std::vector<std::string>> Validate(const std::string& config_json) const;

  // Runs make_safe for service `service_name` with `config_json`, the
  // last configuration the service started with. The plugin sees a host
  // table that offers log (to `log`), service_name and state_dir, and
  // refuses everything else. OK when the plugin says the hardware is
  // safe; UNIMPLEMENTED (DOMIAN_ERR_NOT_SUPPORTED) without the extension;
  // else the plugin's status and message (StatusFromPlugin).
  absl::Status MakeSafe(const std::string& config_json, const std::filesystem::path& state_dir,
                        const PluginLogSink& log) const;

 private:
  PluginLibrary() = default;
  // Reads the 1.1 plugin extensions, when the plugin has them.
  void ReadPluginExtensions();
  PluginDescription description_;
  // Copies of min(struct_size, sizeof) bytes, zero-filled beyond: fields
  // a plugin built against an older minor lacks read as NULL.
  domian_plugin_descriptor descriptor_{};
  domian_instance_api instance_api_{};
  // Copies like the above; all NULL when the plugin offers none.
  domian_config_ext config_ext_{};
  domian_safe_state_ext safe_state_ext_{};
};

// PERMISSION_DENIED and why the file may not be loaded, when the daemon
// runs as root and `path` or its folder is writable by group or others
// (anyone who can write it could run code as root, as sshd's StrictModes
// guards against); OK when it is fine.
absl::Status UnsafePermissions(const std::filesystem::path& path);
// The check itself, for any daemon user: `path` and its folder must be
// writable by their owner only, and owned by root or by `owner`.
absl::Status PermissionProblem(const std::filesystem::path& path, uid_t owner);

}  // namespace domian::services
