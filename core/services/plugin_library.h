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
#include <memory>
#include <string>
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

 private:
  PluginLibrary() = default;
  PluginDescription description_;
  // Copies of min(struct_size, sizeof) bytes, zero-filled beyond: fields
  // a plugin built against an older minor lacks read as NULL.
  domian_plugin_descriptor descriptor_{};
  domian_instance_api instance_api_{};
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
