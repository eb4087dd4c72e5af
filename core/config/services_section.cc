// The services: section: which services this node wants to run, how much,
// how isolated, and with which settings for the plugin.
#include <array>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "core/config/internal/sections.h"
#include "core/config/internal/service_json.h"
#include "core/model/values.h"

namespace domian::config::internal {
namespace {

// In documentation order (which also breaks ties between suggestions for a
// mistyped key).
constexpr std::array<std::string_view, 4> kServiceKeys = {"run", "weight", "isolation",
                                                          "config"};

constexpr char kEmptyJsonObject[] = "{}";

void ParseRun(YamlWalk& walk, const Field& field, ServiceConfig& service) {
  const auto text = walk.Scalar(field, "always, prefer, allow or never");
  if (!text) return;
  if (const auto mode = ParseRunMode(*text)) {
    service.run = *mode;
  } else {
    walk.AddIssue(field, "invalid run mode " + Quote(*text) +
                             ": expected always, prefer, allow or never");
  }
}

void ParseWeight(YamlWalk& walk, const Field& field, ServiceConfig& service) {
  const auto text = walk.Scalar(field, "a whole number");
  if (!text) return;
  const std::optional<int64_t> weight = ParseWholeNumber(*text, kMinWeight, kMaxWeight);
  if (!weight) {
    walk.AddIssue(field, "invalid weight " + Quote(*text) + ": expected a whole number from " +
                             std::to_string(kMinWeight) + " to " + std::to_string(kMaxWeight));
    return;
  }
  service.weight = *weight;
}

void ParseIsolation(YamlWalk& walk, const Field& field, ServiceConfig& service) {
  const auto text = walk.Scalar(field, "process or inline");
  if (!text) return;
  if (*text == "process") {
    service.isolation = Isolation::kProcess;
  } else if (*text == "inline") {
    service.isolation = Isolation::kInline;
  } else {
    walk.AddIssue(field, "invalid isolation " + Quote(*text) +
                             ": expected process (its own plugin host process, the "
                             "default) or inline (inside domiand)");
  }
}

// yaml-cpp counts from 0 and uses -1 for "no position".
FilePosition PositionOf(const YAML::Mark& mark) {
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column >= 0 ? mark.column + 1 : 0};
}

// Bounds the positions kept for one service's settings: far more than any
// plugin's configuration has, so that a file with a huge list under
// config: does not make --check-config, or the daemon, hold a map entry
// per item.
constexpr size_t kMaxConfigPositions = 4096;

// Where each setting under `node` is written, by the path plugins use
// ("sensors.0.id").
void RecordPositions(const YAML::Node& node, const std::string& path,
                     std::map<std::string, FilePosition, std::less<>>& positions) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (positions.size() >= kMaxConfigPositions) return;
      if (!entry.first.IsScalar()) continue;
      const std::string& name = entry.first.Scalar();
      const std::string key = path.empty() ? name : path + "." + name;
      positions.emplace(key, PositionOf(entry.first.Mark()));
      RecordPositions(entry.second, key, positions);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      if (positions.size() >= kMaxConfigPositions) return;
      const std::string key = path.empty() ? std::to_string(i) : path + "." + std::to_string(i);
      positions.emplace(key, PositionOf(node[i].Mark()));
      RecordPositions(node[i], key, positions);
    }
  }
}

void ParsePluginConfig(YamlWalk& walk, const Field& field, ServiceConfig& service) {
  service.config_position = PositionOf(field.mark);
  if (field.value.IsNull()) {
    service.config_json = kEmptyJsonObject;
    return;
  }
  if (!field.value.IsMap()) {
    walk.AddIssue(field, "expected a map of the plugin's settings, found " +
                             Describe(field.value));
    return;
  }
  if (std::optional<std::string> json = ServiceConfigJson(walk, field)) {
    service.config_json = std::move(*json);
    RecordPositions(field.value, "", service.config_positions);
  }
}

}  // namespace

void ParseServicesSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  std::set<std::string, std::less<>> seen;
  for (const auto& entry : section.value) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      walk.AddIssue(key.IsNull() ? section.mark : key.Mark(), section.path,
                    "expected a service name, found " + Describe(key));
      continue;
    }
    Field service{key.Scalar(), JoinPath(section.path, key.Scalar()), key.Mark(), entry.second};
    if (!IsValidServiceName(service.name)) {
      walk.AddIssue(service, "invalid service name " + Quote(service.name) +
                                 ": expected 1 to 63 of a-z, 0-9, '_' or '-'");
      continue;
    }
    if (!seen.insert(service.name).second) {
      walk.AddIssue(service, "duplicate service " + Quote(service.name));
      continue;
    }
    ServiceConfig parsed;
    parsed.name = service.name;
    parsed.line = service.mark.line + 1;
    // Until a config: key says otherwise, a problem with the settings is
    // shown at the service's name.
    parsed.config_position = PositionOf(service.mark);
    if (!service.value.IsNull() && !walk.IsSection(service)) continue;
    for (const Field& field : walk.Fields(service.value, service.path, kServiceKeys)) {
      if (field.name == "run") {
        ParseRun(walk, field, parsed);
      } else if (field.name == "weight") {
        ParseWeight(walk, field, parsed);
      } else if (field.name == "isolation") {
        ParseIsolation(walk, field, parsed);
      } else {  // config
        ParsePluginConfig(walk, field, parsed);
      }
    }
    config.services.push_back(std::move(parsed));
  }
}

}  // namespace domian::config::internal
