#include "core/services/safe_state.h"

#include <spdlog/spdlog.h>

#include <absl/strings/ascii.h>
#include <absl/strings/str_split.h>

#include "core/common/utf8.h"
#include "core/services/host_command.h"
#include "core/services/plugin_host_command.h"

namespace domian::services {
namespace {

// The longest piece of a plugin's output quoted in a log line or a detail.
constexpr size_t kMaxQuotedBytes = 512;

// The lines of `output`, trimmed, empty ones left out.
std::vector<std::string> Lines(const std::string& output) {
  std::vector<std::string> lines;
  for (const absl::string_view line : absl::StrSplit(output, '\n')) {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (!trimmed.empty()) lines.emplace_back(trimmed);
  }
  return lines;
}

// A log line without the "2026-12-07 09:30:00.000 [info] [thermostat] "
// the plugin host's logger puts first (core/common/logging.cc; no time
// under journald): what the plugin itself said.
std::string Message(std::string line) {
  if (!line.empty() && absl::ascii_isdigit(static_cast<unsigned char>(line.front()))) {
    if (const size_t level = line.find(" ["); level != std::string::npos) line.erase(0, level + 1);
  }
  while (!line.empty() && line.front() == '[') {
    const size_t close = line.find("] ");
    if (close == std::string::npos) break;
    line.erase(0, close + 2);
  }
  if (line.size() > kMaxQuotedBytes) line = line.substr(0, kMaxQuotedBytes) + "...";
  return ToValidUtf8(line);
}

// The last thing the process said, or `otherwise`.
std::string LastMessage(const std::string& output, const std::string& otherwise) {
  const std::vector<std::string> lines = Lines(output);
  return lines.empty() ? otherwise : Message(lines.back());
}

// `text` from just after `marker` when it holds it ("domian-plugin-host:
// thermostat: make_safe failed: <the plugin's message>"), else all of it.
std::string After(const std::string& text, const std::string& marker) {
  const size_t at = text.find(marker);
  return at == std::string::npos ? text : text.substr(at + marker.size());
}

SafeStateOutcome NotSafe(std::string message) {
  return {SafeStateOutcome::Kind::kNotSafe, std::move(message)};
}

// What domian-plugin-host --make-safe's end means.
SafeStateOutcome Interpret(const HostCommandResult& result) {
  if (!result.error.empty()) return NotSafe(result.error);
  if (result.timed_out) {
    return NotSafe("the safe state ran past " + std::to_string(kSafeStateDeadline.count()) +
                   " ms and was killed (" + LastMessage(result.output, "it said nothing") + ")");
  }
  if (result.signal) {
    return NotSafe("domian-plugin-host --make-safe was killed by " + SignalName(*result.signal) +
                   " (" + LastMessage(result.output, "it said nothing") + ")");
  }
  switch (result.exit_code.value_or(-1)) {
    case kHostExitOk:
      return {SafeStateOutcome::Kind::kSafe, LastMessage(result.output, "make_safe returned OK")};
    case kHostExitNotOffered:
      return {SafeStateOutcome::Kind::kNoSafeState,
              LastMessage(result.output, "the plugin has no safe state")};
    case kHostExitNo:
      return NotSafe("make_safe failed: " +
                     After(LastMessage(result.output, "no message"), "make_safe failed: "));
    default:
      return NotSafe("domian-plugin-host --make-safe exited with status " +
                     std::to_string(result.exit_code.value_or(-1)) + ": " +
                     After(LastMessage(result.output, "no message"), "domian-plugin-host: "));
  }
}

std::optional<std::filesystem::path> FindPlugin(const std::vector<std::filesystem::path>& dirs,
                                                const std::string& service) {
  for (const std::filesystem::path& dir : dirs) {
    std::error_code error;
    const std::filesystem::path candidate = dir / (service + ".so");
    if (std::filesystem::exists(candidate, error)) return candidate;
  }
  return std::nullopt;
}

// Whether `plugin` is <service>.so in one of the plugin folders: only
// those are loaded, whatever a journal file says.
bool InPluginFolders(const std::vector<std::filesystem::path>& dirs, const std::string& service,
                     const std::filesystem::path& plugin) {
  if (plugin.filename() != service + ".so") return false;
  const std::filesystem::path folder = plugin.parent_path().lexically_normal();
  for (const std::filesystem::path& dir : dirs) {
    if (dir.lexically_normal() == folder) return true;
  }
  return false;
}

}  // namespace

std::string SafeStateOutcome::Summary() const {
  switch (kind) {
    case Kind::kSafe: return "hardware set safe";
    case Kind::kNoSafeState: return "";
    case Kind::kNotSafe: return "hardware may not be safe: " + message;
  }
  return "";
}

SafeStateRunner::SafeStateRunner(Options options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

SafeStateOutcome SafeStateRunner::Run(const SafeStateRequest& request) {
  {
    absl::MutexLock lock(&mu_);
    while (running_.contains(request.service)) cv_.Wait(&mu_);
    running_.insert(request.service);
  }
  std::error_code ignored;
  std::filesystem::create_directories(request.state_dir, ignored);
  const HostCommandResult result = RunHostCommand(
      {options_.host_binary.string(), "--make-safe", "--plugin", request.plugin.string(),
       "--service", request.service, "--state-dir", request.state_dir.string()},
      request.config_json, kSafeStateDeadline, clock_);
  const SafeStateOutcome outcome = Interpret(result);
  switch (outcome.kind) {
    case SafeStateOutcome::Kind::kSafe:
      spdlog::info("{}: safe state set ({}); {}", request.service, outcome.message, request.why);
      break;
    case SafeStateOutcome::Kind::kNoSafeState:
      spdlog::debug("{}: its plugin has no safe state; nothing to do ({})", request.service,
                    request.why);
      break;
    case SafeStateOutcome::Kind::kNotSafe:
      spdlog::critical("hardware of {} may not be safe: {} ({}; plugin {})", request.service,
                       outcome.message, request.why, request.plugin.string());
      break;
  }
  {
    absl::MutexLock lock(&mu_);
    running_.erase(request.service);
  }
  cv_.SignalAll();
  return outcome;
}

std::map<std::string, RunningEntry> MakeSafeAfterUncleanEnd(
    const std::filesystem::path& services_dir,
    const std::vector<std::filesystem::path>& plugin_dirs,
    const std::vector<config::ServiceConfig>& configured, SafeStateRunner& runner) {
  std::vector<std::string> problems;
  std::vector<RunningEntry> entries = ReadRunningJournal(services_dir, problems);
  for (const std::string& problem : problems) spdlog::error("running journal: {}", problem);
  std::map<std::string, RunningEntry> recovered;
  for (RunningEntry& entry : entries) {
    const std::filesystem::path dir = services_dir / entry.service;
    if (!entry.plugin.empty() && !InPluginFolders(plugin_dirs, entry.service, entry.plugin)) {
      spdlog::warn("running journal {}: plugin {} is not {}.so in a plugin folder; looking for "
                   "it there instead",
                   (dir / kRunningJournalFile).string(), entry.plugin.string(), entry.service);
      entry.plugin.clear();
    }
    if (entry.plugin.empty()) {
      if (const auto found = FindPlugin(plugin_dirs, entry.service)) entry.plugin = *found;
    }
    if (!entry.config) {
      for (const config::ServiceConfig& service : configured) {
        if (service.name == entry.service) entry.config = service.config_json;
      }
    }
    if (entry.plugin.empty()) {
      spdlog::critical("hardware of {} may not be safe: it was running when domiand last ended, "
                       "and its plugin is in neither {} nor the plugin folders",
                       entry.service, (dir / kRunningJournalFile).string());
      continue;
    }
    // The configuration it ran with, then the one before it when that
    // differs (a start that never got going may have touched either).
    std::vector<std::string> configs = {entry.config.value_or("{}")};
    if (entry.last_good && *entry.last_good != configs.front()) configs.push_back(*entry.last_good);
    bool safe = true;
    for (const std::string& config : configs) {
      const SafeStateOutcome outcome = runner.Run(
          {.service = entry.service,
           .plugin = entry.plugin,
           .config_json = config,
           .state_dir = dir,
           .why = "it was running when domiand last ended without stopping it"});
      safe = safe && outcome.kind != SafeStateOutcome::Kind::kNotSafe;
    }
    if (safe) {
      if (const absl::Status removed = RemoveRunningEntry(dir); !removed.ok()) {
        spdlog::warn("{}", StatusMessage(removed));
      }
    }
    // A start that succeeded left no last_good of its own: its config is.
    RunningEntry last_good = entry;
    if (!last_good.last_good) last_good.last_good = entry.config;
    recovered[entry.service] = std::move(last_good);
  }
  return recovered;
}

}  // namespace domian::services
