#include "core/daemon/config_check.h"

#include <algorithm>
#include <tuple>

#include "core/cli/printable.h"
#include "core/mqtt/password_file.h"
#include "core/services/plugin_library.h"

namespace domian::daemon {
namespace {

// Plugin text goes to a terminal: escaped, and bounded.
std::string Shown(const std::string& text) {
  return cli::Printable(text, cli::kMaxMessageChars);
}

std::string Folders(const config::NodeConfig& config) {
  std::string out;
  for (const std::filesystem::path& dir : config.plugin_dirs) {
    out += (out.empty() ? "" : ", ") + dir.string();
  }
  return out;
}

}  // namespace

std::filesystem::path FindPlugin(const config::NodeConfig& config, const std::string& service) {
  for (const std::filesystem::path& dir : config.plugin_dirs) {
    const std::filesystem::path file = dir / (service + ".so");
    std::error_code error;
    if (std::filesystem::is_regular_file(file, error)) return file;
  }
  return {};
}

PluginConfigReport CheckServiceConfigs(const config::NodeConfig& config,
                                       const std::filesystem::path& host_binary,
                                       std::chrono::milliseconds timeout) {
  PluginConfigReport report;
  for (const config::ServiceConfig& service : config.services) {
    const std::filesystem::path plugin = FindPlugin(config, service.name);
    if (plugin.empty()) {
      report.notes.push_back(config::ServiceConfigIssue(
          config, service, "",
          "not checked: no plugin " + service.name + ".so in the plugin folders (" +
              Folders(config) + ")"));
      continue;
    }
    const services::ConfigCheck check =
        services::CheckConfigInPluginHost(host_binary, plugin, service.config_json, timeout);
    switch (check.outcome) {
      case services::ConfigCheck::Outcome::kValid:
        break;
      case services::ConfigCheck::Outcome::kInvalid: {
        const size_t first = report.problems.size();
        for (const std::string& line : check.problems) {
          const services::ConfigProblem problem = services::ParseConfigProblem(line);
          report.problems.push_back(
              config::ServiceConfigIssue(config, service, problem.key, Shown(problem.message)));
        }
        // In the order of the file, as people read and fix it; a plugin
        // reports in its own order (often its keys', sorted).
        std::stable_sort(report.problems.begin() + static_cast<std::ptrdiff_t>(first),
                         report.problems.end(),
                         [](const config::ConfigIssue& a, const config::ConfigIssue& b) {
                           return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                         });
        break;
      }
      case services::ConfigCheck::Outcome::kNotChecked:
        report.notes.push_back(config::ServiceConfigIssue(
            config, service, "",
            Shown(check.message.empty() ? "not checked by its plugin" : check.message)));
        break;
      case services::ConfigCheck::Outcome::kFailed:
        report.problems.push_back(config::ServiceConfigIssue(
            config, service, "",
            "cannot be checked by its plugin " + plugin.string() + ": " + Shown(check.message)));
        break;
    }
  }
  return report;
}

PluginConfigReport CheckMqttFiles(const config::NodeConfig& config) {
  PluginConfigReport report;
  if (!config.mqtt) return report;
  auto issue = [&config](const config::FilePosition& at, const char* key, std::string message) {
    return config::ConfigIssue{.file = config.source.string(),
                               .line = at.line,
                               .column = at.column,
                               .key = key,
                               .message = std::move(message)};
  };
  const config::MqttConfig& mqtt = *config.mqtt;
  if (!mqtt.password_file.empty()) {
    const absl::StatusOr<std::string> password = mqtt::ReadPasswordFile(mqtt.password_file);
    if (absl::IsPermissionDenied(password.status())) {
      report.notes.push_back(issue(mqtt.password_file_position, "mqtt.password_file",
                                   mqtt.password_file.string() +
                                       " is not readable by this user: checked when the daemon "
                                       "starts"));
    } else if (!password.ok()) {
      report.problems.push_back(issue(mqtt.password_file_position, "mqtt.password_file",
                                      std::string(StatusMessage(password.status()))));
    }
  }
  if (!mqtt.ca_file.empty()) {
    std::error_code error;
    if (!std::filesystem::exists(mqtt.ca_file, error)) {
      report.problems.push_back(
          issue(mqtt.ca_file_position, "mqtt.ca_file", mqtt.ca_file.string() + " does not exist"));
    } else if (!std::filesystem::is_regular_file(mqtt.ca_file, error)) {
      report.problems.push_back(issue(mqtt.ca_file_position, "mqtt.ca_file",
                                      mqtt.ca_file.string() + " is not a regular file"));
    }
  }
  return report;
}

PluginConfigReport CheckHttpFiles(const config::NodeConfig& config) {
  PluginConfigReport report;
  const config::HttpConfig& http = config.http;
  if (!http.enabled) return report;
  const config::FilePosition& at = http.static_dir_position;
  auto note = [&](std::string message) {
    report.notes.push_back(config::ConfigIssue{.file = config.source.string(),
                                               .line = at.line,
                                               .column = at.column,
                                               .key = "http.static_dir",
                                               .message = std::move(message)});
  };
  std::error_code error;
  if (!std::filesystem::is_directory(http.static_dir, error)) {
    note(http.static_dir.string() +
         " is not a folder: the dashboard's pages answer 404 (the API and /metrics work)");
  } else if (!std::filesystem::is_regular_file(http.static_dir / "index.html", error)) {
    note(http.static_dir.string() + " has no index.html: the dashboard's first page answers 404");
  }
  return report;
}

std::string DescribeHttp(const config::NodeConfig& config) {
  const config::HttpConfig& http = config.http;
  if (!http.enabled) return "off (http.enabled: false)";
  // Validated with the configuration: an IPv4 address.
  const bool local = http.listen.rfind("127.", 0) == 0;
  return "dashboard and /metrics on http://" + http.listen +
         (local ? " (this machine only)" : " (reachable from the network)") +
         "; pages need a session from `domianctl dashboard`, /metrics none";
}

}  // namespace domian::daemon
