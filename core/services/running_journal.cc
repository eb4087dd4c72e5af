#include "core/services/running_journal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <system_error>

#include "core/common/durable_file.h"

namespace domian::services {
namespace {

// Only the daemon reads it: it may hold a plugin's settings.
constexpr mode_t kJournalMode = 0600;

// A string member of `object`, when it is one.
std::optional<std::string> StringMember(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// What `text` (the file `file`) yields for `entry`; problems noted.
void Parse(const std::string& text, const std::filesystem::path& file, RunningEntry& entry,
           std::vector<std::string>& problems) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    problems.push_back(file.string() + " is not a JSON object (cut short by a crash, or edited); "
                       "using what node.yaml and the plugin folders say of " + entry.service);
    return;
  }
  if (const auto plugin = StringMember(json, "plugin")) entry.plugin = *plugin;
  entry.config = StringMember(json, "config");
  entry.last_good = StringMember(json, "last_good");
  for (const char* key : {"plugin", "config"}) {
    if (!StringMember(json, key)) {
      problems.push_back(file.string() + ": '" + key + "' is missing or not a string; using " +
                         (std::string(key) == "plugin" ? "the plugin folders" : "node.yaml") +
                         " for it");
    }
  }
}

}  // namespace

absl::Status WriteRunningEntry(const std::filesystem::path& service_dir, const RunningEntry& entry) {
  nlohmann::json json = {{"plugin", entry.plugin.string()}};
  if (entry.config && entry.config->size() <= kMaxJournalConfigBytes) json["config"] = *entry.config;
  if (entry.last_good && entry.last_good != entry.config &&
      entry.last_good->size() <= kMaxJournalConfigBytes) {
    json["last_good"] = *entry.last_good;
  }
  // Plugin settings need not be UTF-8: replaced, never refused (a journal
  // that cannot be written protects nothing).
  const std::string text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return WriteDurable(service_dir / kRunningJournalFile, text, kJournalMode);
}

absl::Status RemoveRunningEntry(const std::filesystem::path& service_dir) {
  // Both copies: a previous copy left behind would be read as a journal
  // at the next start.
  return RemoveDurable(service_dir / kRunningJournalFile);
}

std::vector<RunningEntry> ReadRunningJournal(const std::filesystem::path& services_dir,
                                             std::vector<std::string>& problems) {
  std::vector<RunningEntry> entries;
  std::error_code error;
  for (std::filesystem::directory_iterator it(services_dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::filesystem::path file = it->path() / kRunningJournalFile;
    const absl::StatusOr<DurableRead> text = ReadDurable(file, kMaxJournalFileBytes);
    if (absl::IsNotFound(text.status())) continue;  // not running when domiand ended
    RunningEntry entry;
    entry.service = it->path().filename().string();
    if (text.ok()) {
      Parse(text->content, file, entry, problems);
    } else {
      problems.push_back(std::string(text.status().message()) + "; using what node.yaml and the "
                         "plugin folders say of " + entry.service);
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const RunningEntry& a, const RunningEntry& b) { return a.service < b.service; });
  return entries;
}

}  // namespace domian::services
