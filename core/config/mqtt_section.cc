// The mqtt: section: the bridge to an MQTT broker, through which Home
// Assistant sees the household. Only paths are read here; the password
// file is read when the bridge starts (and by --check-config), so that
// the secret itself never sits in the configuration.
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/net.h"
#include "core/common/utf8.h"
#include "core/config/internal/sections.h"
#include "core/model/values.h"

namespace domian::config::internal {
namespace {

// In documentation order (which also breaks ties between suggestions for
// a mistyped key).
constexpr std::array<std::string_view, 6> kMqttKeys = {
    "broker", "username", "password_file", "tls", "ca_file", "discovery_prefix"};

// MQTT allows 65535 bytes for both; a user name or topic prefix that long
// is a mistake, and every topic the bridge builds carries the prefix.
constexpr size_t kMaxUsernameBytes = 256;
constexpr size_t kMaxPrefixBytes = 64;

// One level of an MQTT topic: no separator, no wildcard, not a broker's
// own `$` topic, printable UTF-8 (a control character in a topic would
// end up in logs and Home Assistant's UI).
bool IsValidTopicLevel(std::string_view level) {
  if (level.empty() || level.size() > kMaxPrefixBytes || level.front() == '$') return false;
  if (!IsValidUtf8(level)) return false;
  for (const char c : level) {
    if (c == '/' || c == '+' || c == '#' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

bool IsPrintableUtf8(std::string_view text) {
  if (!IsValidUtf8(text)) return false;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

void ReadBroker(YamlWalk& walk, const Field& field, MqttConfig& mqtt) {
  const auto broker = walk.Scalar(field, "host:port");
  if (!broker) return;
  const std::optional<ParsedAddress> address = ParseAddress(*broker);
  if (!address) {
    walk.AddIssue(field, "invalid address " + Quote(*broker) +
                             ": expected host:port, like 192.168.1.5:1883 (8883 for TLS)");
  } else if (address->port == 0) {
    walk.AddIssue(field, "invalid address " + Quote(*broker) +
                             ": port 0 cannot be connected to; give the broker's port "
                             "(1883, or 8883 for TLS)");
  } else if (IsWildcardHost(address->host)) {
    walk.AddIssue(field, "invalid address " + Quote(*broker) +
                             ": an unspecified address cannot be connected to; give the "
                             "broker's host");
  } else {
    mqtt.broker = *broker;
  }
}

void ReadUsername(YamlWalk& walk, const Field& field, MqttConfig& mqtt) {
  const auto username = walk.Scalar(field, "a user name");
  if (!username) return;
  if (username->empty() || username->size() > kMaxUsernameBytes ||
      !IsPrintableUtf8(*username)) {
    walk.AddIssue(field, "invalid user name " + Quote(*username) + ": expected 1 to " +
                             std::to_string(kMaxUsernameBytes) +
                             " bytes of printable UTF-8 text");
    return;
  }
  mqtt.username = *username;
}

// An absolute path, or nullopt after saying so: the daemon's working
// folder is no place to look for a secret or a CA.
std::optional<std::string> ReadAbsolutePath(YamlWalk& walk, const Field& field) {
  std::optional<std::string> path = walk.Scalar(field, "an absolute file path");
  if (!path) return std::nullopt;
  if (path->empty() || path->front() != '/') {
    walk.AddIssue(field, "invalid file " + Quote(*path) + ": expected an absolute path");
    return std::nullopt;
  }
  return path;
}

void ReadTls(YamlWalk& walk, const Field& field, MqttConfig& mqtt) {
  const auto text = walk.Scalar(field, "true or false");
  if (!text) return;
  if (const std::optional<bool> tls = ParseYamlBool(*text)) {
    mqtt.tls = *tls;
  } else {
    walk.AddIssue(field, "invalid value " + Quote(*text) + ": expected true or false");
  }
}

void ReadDiscoveryPrefix(YamlWalk& walk, const Field& field, MqttConfig& mqtt) {
  const auto prefix = walk.Scalar(field, "a topic level");
  if (!prefix) return;
  if (!IsValidTopicLevel(*prefix)) {
    walk.AddIssue(field, "invalid discovery prefix " + Quote(*prefix) +
                             ": expected one MQTT topic level of 1 to " +
                             std::to_string(kMaxPrefixBytes) +
                             " bytes, without '/', '+' or '#', not starting with '$' "
                             "(Home Assistant's default is homeassistant)");
    return;
  }
  mqtt.discovery_prefix = *prefix;
}

}  // namespace

void ParseMqttSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  MqttConfig mqtt;
  const Field* username = nullptr;
  const Field* password_file = nullptr;
  const Field* tls = nullptr;
  const Field* ca_file = nullptr;
  const std::vector<Field> fields = walk.Fields(section.value, section.path, kMqttKeys);
  for (const Field& field : fields) {
    if (field.name == "broker") {
      ReadBroker(walk, field, mqtt);
    } else if (field.name == "username") {
      username = &field;
      ReadUsername(walk, field, mqtt);
    } else if (field.name == "password_file") {
      password_file = &field;
      if (const auto path = ReadAbsolutePath(walk, field)) {
        mqtt.password_file = *path;
        mqtt.password_file_position = {field.mark.line + 1, field.mark.column + 1};
      }
    } else if (field.name == "tls") {
      tls = &field;
      ReadTls(walk, field, mqtt);
    } else if (field.name == "ca_file") {
      ca_file = &field;
      if (const auto path = ReadAbsolutePath(walk, field)) {
        mqtt.ca_file = *path;
        mqtt.ca_file_position = {field.mark.line + 1, field.mark.column + 1};
      }
    } else {  // discovery_prefix
      ReadDiscoveryPrefix(walk, field, mqtt);
    }
  }
  if (mqtt.broker.empty() &&
      std::none_of(fields.begin(), fields.end(),
                   [](const Field& field) { return field.name == "broker"; })) {
    walk.AddIssue(section.mark, JoinPath(section.path, "broker"),
                  "required: the broker's host:port, like 192.168.1.5:1883 (leave the mqtt "
                  "section out to turn the bridge off)");
  }
  if (ca_file != nullptr && tls != nullptr && !mqtt.tls) {
    walk.AddIssue(*ca_file, "ca_file is used only with tls: true");
  } else if (ca_file != nullptr && tls == nullptr) {
    walk.AddIssue(*ca_file, "ca_file is used only with tls: true (tls is false by default)");
  }
  if (password_file != nullptr && username == nullptr) {
    walk.AddIssue(*password_file,
                  "password_file needs a username (MQTT sends a password only with one)");
  }
  config.mqtt = std::move(mqtt);
}

}  // namespace domian::config::internal
