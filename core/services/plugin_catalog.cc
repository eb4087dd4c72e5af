#include "core/services/plugin_catalog.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

namespace domian::services {
namespace {

// Bound on files looked at per folder: a folder of thousands of files is
// a mistake, not a plugin collection.
constexpr size_t kMaxFilesPerDir = 512;

}  // namespace

PluginCatalog::PluginCatalog(std::vector<std::filesystem::path> dirs) : dirs_(std::move(dirs)) {}

std::vector<PluginCatalog::Change> PluginCatalog::Scan() {
  std::vector<Change> changes;
  // Folders in order; files sorted, so "which one wins" is stable.
  std::vector<std::filesystem::path> found;
  for (const std::filesystem::path& dir : dirs_) {
    std::error_code error;
    std::vector<std::filesystem::path> here;
    for (auto it = std::filesystem::directory_iterator(dir, error);
         !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
      if (it->path().extension() == ".so" && here.size() < kMaxFilesPerDir) {
        here.push_back(it->path());
      }
    }
    std::sort(here.begin(), here.end());
    found.insert(found.end(), here.begin(), here.end());
  }

  absl::MutexLock lock(&mu_);
  std::set<std::filesystem::path> present(found.begin(), found.end());
  // Files that went away.
  for (auto it = files_.begin(); it != files_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.entry.library) {
      const std::string service = it->second.entry.library->description().name;
      if (services_.contains(service) && services_[service] == it->first) {
        services_.erase(service);
        changes.push_back({Change::Kind::kRemoved, service,
                           it->first.string() + ": removed; running instances keep the code "
                                                "they loaded"});
      }
    }
    it = files_.erase(it);
  }

  std::map<std::string, std::filesystem::path> claimed;  // service -> first path this scan
  for (const std::filesystem::path& path : found) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    const FileVersion version{info.st_ino, info.st_size, info.st_mtim};
    auto known = files_.find(path);
    const bool unchanged = known != files_.end() && known->second.version == version;
    if (!unchanged) {
      auto loaded = PluginLibrary::Load(path);
      Seen seen{version, {path, nullptr, ""}};
      if (loaded.ok()) {
        seen.entry.library = *std::move(loaded);
      } else {
        seen.entry.refusal = StatusMessage(loaded.status());
        changes.push_back({Change::Kind::kRefused, "", seen.entry.refusal});
      }
      const bool replaced = known != files_.end() && known->second.entry.library;
      files_[path] = seen;
      known = files_.find(path);
      if (seen.entry.library) {
        const auto& d = seen.entry.library->description();
        changes.push_back({replaced ? Change::Kind::kReplaced : Change::Kind::kAdded, d.name,
                           path.string() + ": " + (replaced ? "replaced by " : "") + "plugin " +
                               d.name + " " + d.version + " (ABI " +
                               std::to_string(d.abi.major) + "." + std::to_string(d.abi.minor) +
                               ")"});
      }
    }
    Seen& seen = known->second;
    if (!seen.entry.library) continue;
    const std::string service = seen.entry.library->description().name;
    const auto [first, inserted] = claimed.emplace(service, path);
    if (!inserted) {
      const std::string refusal = path.string() + ": service " + service +
                                  " is already provided by " + first->second.string();
      if (seen.entry.refusal != refusal) {
        changes.push_back({Change::Kind::kRefused, "", refusal});
      }
      seen.entry.refusal = refusal;
      continue;
    }
    seen.entry.refusal.clear();
  }
  services_ = std::move(claimed);
  return changes;
}

std::shared_ptr<const PluginLibrary> PluginCatalog::Find(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  const auto it = services_.find(service);
  if (it == services_.end()) return nullptr;
  return files_.at(it->second).entry.library;
}

std::vector<CatalogEntry> PluginCatalog::Entries() const {
  absl::MutexLock lock(&mu_);
  std::vector<CatalogEntry> entries;
  for (const std::filesystem::path& dir : dirs_) {
    for (const auto& [path, seen] : files_) {
      if (path.parent_path() != dir) continue;
      CatalogEntry entry = seen.entry;
      // A library refused as a duplicate is not in use.
      if (!entry.refusal.empty()) entry.library = nullptr;
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

}  // namespace domian::services
