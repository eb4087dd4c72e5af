// PluginCatalog: the plugins this node has, from the folders in
// plugins.dirs. Each <service>.so is loaded and checked once per version
// of the file (inode, size, mtime); refusals are kept with their reason
// (and logged once), a service found again in a later folder is refused
// there, and a replaced file becomes a new library used for new
// instances. Rescanned whenever a folder changes (PluginWatcher).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <sys/types.h>

#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/services/plugin_library.h"

namespace domian::services {

// One file the catalog looked at.
struct CatalogEntry {
  std::filesystem::path path;
  std::shared_ptr<const PluginLibrary> library;  // null when refused
  std::string refusal;                           // why, when refused
};

class PluginCatalog {
 public:
  explicit PluginCatalog(std::vector<std::filesystem::path> dirs);

  // Looks at every *.so in the folders. Returns the messages worth
  // logging: new, replaced, gone and refused plugins (each refusal once
  // per version of the file).
  struct Change {
    enum class Kind { kAdded, kReplaced, kRemoved, kRefused } kind;
    std::string service;  // empty for a refused file
    std::string message;
  };
  std::vector<Change> Scan();

  // The current library of `service`, if it has one.
  std::shared_ptr<const PluginLibrary> Find(const std::string& service) const;
  // Every file looked at, loaded or refused, in folder then name order.
  std::vector<CatalogEntry> Entries() const;
  const std::vector<std::filesystem::path>& dirs() const { return dirs_; }

 private:
  // What identifies one version of a file.
  struct FileVersion {
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};
    bool operator==(const FileVersion& other) const {
      return inode == other.inode && size == other.size && mtime.tv_sec == other.mtime.tv_sec &&
             mtime.tv_nsec == other.mtime.tv_nsec;
    }
  };
  struct Seen {
    FileVersion version;
    CatalogEntry entry;
  };

  std::vector<std::filesystem::path> dirs_;
  mutable absl::Mutex mu_;
  std::map<std::filesystem::path, Seen> files_ ABSL_GUARDED_BY(mu_);  // by path
  // service -> path in use
  std::map<std::string, std::filesystem::path> services_ ABSL_GUARDED_BY(mu_);
};

}  // namespace domian::services
