// ConfigIssue, and carrying a list of them in an absl::Status.
//
// The list rides in the status as a payload, so ConfigIssues() can give
// back each issue's file, line, column and key exactly as found. Its
// encoding is length-prefixed rather than JSON: keys and quoted values are
// copied from the file and need not be valid UTF-8.
#include <absl/strings/cord.h>
#include <absl/types/optional.h>

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/config/internal/issues_status.h"
#include "core/config/node_config.h"

namespace domian::config {
namespace {

// Private to this file: only IssuesStatus writes it and ConfigIssues
// reads it.
constexpr char kIssuesPayloadUrl[] = "domian.dev/config/issues";

// "<length>:<bytes>"
void PutField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

std::optional<std::string_view> TakeField(std::string_view& in) {
  size_t length = 0;
  const auto [end, error] = std::from_chars(in.data(), in.data() + in.size(), length);
  if (error != std::errc() || end == in.data() + in.size() || *end != ':') return std::nullopt;
  const size_t start = static_cast<size_t>(end - in.data()) + 1;
  if (in.size() - start < length) return std::nullopt;
  const std::string_view field = in.substr(start, length);
  in.remove_prefix(start + length);
  return field;
}

std::optional<int> TakeNumber(std::string_view& in) {
  const std::optional<std::string_view> text = TakeField(in);
  if (!text) return std::nullopt;
  int value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}

std::optional<ConfigIssue> TakeIssue(std::string_view& in) {
  const auto file = TakeField(in);
  const auto line = TakeNumber(in);
  const auto column = TakeNumber(in);
  const auto key = TakeField(in);
  const auto message = TakeField(in);
  if (!file || !line || !column || !key || !message) return std::nullopt;
  return ConfigIssue{std::string(*file), *line, *column, std::string(*key),
                     std::string(*message)};
}

}  // namespace

std::string ConfigIssue::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  if (!out.empty()) out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

ConfigIssue ServiceConfigIssue(const NodeConfig& config, const ServiceConfig& service,
                               std::string_view key, std::string message) {
  // "sensors[0].id" -> "sensors.0.id", the form positions are kept in.
  std::string path;
  for (const char c : key) {
    if (c == '[') {
      if (!path.empty()) path += '.';
    } else if (c != ']') {
      path += c;
    }
  }
  // No `config:` written: the service's own line.
  FilePosition position = service.config_position.line > 0 ? service.config_position
                                                            : FilePosition{service.line, 0};
  for (std::string_view look = path; !look.empty();) {
    if (const auto it = service.config_positions.find(look);
        it != service.config_positions.end()) {
      position = it->second;
      break;
    }
    const size_t dot = look.rfind('.');
    look = dot == std::string_view::npos ? std::string_view() : look.substr(0, dot);
  }
  ConfigIssue issue;
  issue.file = config.source.string();
  issue.line = position.line;
  issue.column = position.line > 0 ? position.column : 0;
  issue.key = "services." + service.name + ".config" + (path.empty() ? "" : "." + path);
  issue.message = std::move(message);
  return issue;
}

std::vector<ConfigIssue> ConfigIssues(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kIssuesPayloadUrl);
  if (!payload) return {};
  const std::string encoded(*payload);
  std::string_view in = encoded;
  std::vector<ConfigIssue> issues;
  while (!in.empty()) {
    std::optional<ConfigIssue> issue = TakeIssue(in);
    if (!issue) break;  // written by IssuesStatus only: cannot happen
    issues.push_back(std::move(*issue));
  }
  return issues;
}

namespace internal {

absl::Status IssuesStatus(absl::StatusCode code, const std::vector<ConfigIssue>& issues) {
  std::string message;
  std::string encoded;
  for (const ConfigIssue& issue : issues) {
    if (&issue != &issues.front()) message += '\n';
    message += issue.ToString();
    PutField(encoded, issue.file);
    PutField(encoded, std::to_string(issue.line));
    PutField(encoded, std::to_string(issue.column));
    PutField(encoded, issue.key);
    PutField(encoded, issue.message);
  }
  absl::Status status(code, message);
  status.SetPayload(kIssuesPayloadUrl, absl::Cord(encoded));
  return status;
}

}  // namespace internal
}  // namespace domian::config
