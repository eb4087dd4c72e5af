// The node:, discovery:, plugins:, security: and log: sections: who this node is,
// where it listens, how it finds its peers, where its plugins are and how
// much it logs.
#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/net.h"
#include "core/config/internal/sections.h"
#include "core/model/values.h"

namespace domian::config::internal {
namespace {

// The known keys of each section, in documentation order (which also
// breaks ties between suggestions for a mistyped key).
constexpr std::array<std::string_view, 6> kNodeKeys = {
    "id", "cluster", "listen", "advertise", "traits", "state_dir"};
constexpr std::array<std::string_view, 3> kDiscoveryKeys = {"seeds", "mdns", "advertise"};
constexpr std::array<std::string_view, 1> kPluginsKeys = {"dirs"};
constexpr std::array<std::string_view, 1> kLogKeys = {"level"};
constexpr std::array<std::string_view, 2> kSecurityKeys = {"plaintext", "control_socket"};
// sockaddr_un's sun_path, with its terminating NUL.
constexpr size_t kMaxSocketPathBytes = 107;
constexpr std::array<std::string_view, 7> kLogLevels = {
    "trace", "debug", "info", "warn", "error", "critical", "off"};

// What each value should look like, for messages.
constexpr char kNodeIdHelp[] = "1 to 64 letters, digits, '.', '_' or '-'";
constexpr char kClusterNameHelp[] =
    "1 to 63 lowercase letters, digits or '-', not starting with '-'";

void ReadAdvertise(YamlWalk& walk, const Field& field, NodeConfig& config) {
  const auto advertise = walk.Scalar(field, "host:port");
  if (!advertise) return;
  const std::optional<ParsedAddress> address = ParseAddress(*advertise);
  if (!address) {
    walk.AddIssue(field, "invalid address " + Quote(*advertise) +
                             ": expected host:port, like 192.168.1.20:7420");
  } else if (address->port == 0) {
    walk.AddIssue(field, "invalid address " + Quote(*advertise) +
                             ": peers cannot connect to port 0 (it is only "
                             "allowed in node.listen)");
  } else if (IsWildcardHost(address->host)) {
    walk.AddIssue(field, "invalid address " + Quote(*advertise) +
                             ": peers cannot connect to an unspecified "
                             "address; give one this node is reachable at");
  } else {
    config.advertise = *advertise;
  }
}

void ReadTraits(YamlWalk& walk, const Field& field, NodeConfig& config) {
  std::map<std::string, std::string, std::less<>> seen;  // trait -> path
  for (auto& [trait, item] : walk.Items(field, "a trait", "traits")) {
    if (!IsValidNodeId(trait)) {
      walk.AddIssue(item, "invalid trait " + Quote(trait) + ": expected " + kNodeIdHelp);
      continue;
    }
    const auto [previous, inserted] = seen.emplace(trait, item.path);
    if (!inserted) {
      walk.AddIssue(item, "duplicate trait " + Quote(trait) + " (also " + previous->second + ")");
      continue;
    }
    config.traits.push_back(trait);
  }
}

void ReadMdns(YamlWalk& walk, const Field& field, NodeConfig& config) {
  const auto text = walk.Scalar(field, "true or false");
  if (!text) return;
  if (const std::optional<bool> mdns = ParseYamlBool(*text)) {
    config.mdns = *mdns;
  } else {
    walk.AddIssue(field, "invalid value " + Quote(*text) + ": expected true or false");
  }
}

void ReadAdvertiseMode(YamlWalk& walk, const Field& field, NodeConfig& config) {
  const auto text = walk.Scalar(field, "lonely or always");
  if (!text) return;
  const std::optional<AdvertiseMode> mode = ParseAdvertiseMode(*text);
  if (!mode) {
    walk.AddIssue(field, "invalid value " + Quote(*text) +
                             ": expected lonely (advertise only while no peer "
                             "is alive) or always");
    return;
  }
  config.advertise_mode = *mode;
}

void ReadSeeds(YamlWalk& walk, const Field& field, NodeConfig& config) {
  for (auto& [seed, item] : walk.Items(field, "a seed address", "seed addresses")) {
    const std::optional<ParsedAddress> address = ParseAddress(seed);
    if (!address) {
      walk.AddIssue(item, "invalid seed address " + Quote(seed) +
                              ": expected host:port, like 192.168.1.10:7420 "
                              "or [fd00::10]:7420");
    } else if (address->port == 0) {
      walk.AddIssue(item, "invalid seed address " + Quote(seed) +
                              ": port 0 cannot be connected to; give the "
                              "port the seed listens on");
    } else {
      config.seeds.push_back(seed);
    }
  }
}

}  // namespace

void ParseNodeSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  for (const Field& field : walk.Fields(section.value, section.path, kNodeKeys)) {
    if (field.name == "id") {
      // Empty means unset, as in the absence of the key: the daemon then
      // uses the generated id kept in state_dir.
      if (field.value.IsNull()) continue;
      const auto id = walk.Scalar(field, "a node id");
      if (!id) continue;
      if (IsValidNodeId(*id)) {
        config.id = *id;
      } else {
        walk.AddIssue(field, "invalid node id " + Quote(*id) + ": expected " + kNodeIdHelp);
      }
    } else if (field.name == "cluster") {
      const auto cluster = walk.Scalar(field, "a cluster name");
      if (!cluster) continue;
      if (IsValidClusterName(*cluster)) {
        config.cluster = *cluster;
      } else {
        walk.AddIssue(field, "invalid cluster name " + Quote(*cluster) + ": expected " +
                                 kClusterNameHelp);
      }
    } else if (field.name == "listen") {
      const auto listen = walk.Scalar(field, "host:port");
      if (!listen) continue;
      if (IsValidHostPort(*listen)) {
        config.listen = *listen;
      } else {
        walk.AddIssue(field, "invalid address " + Quote(*listen) +
                                 ": expected host:port with a port from 0 to "
                                 "65535, like 0.0.0.0:7420 or [::]:7420");
      }
    } else if (field.name == "advertise") {
      if (field.value.IsNull()) continue;  // unset: derived at startup
      ReadAdvertise(walk, field, config);
    } else if (field.name == "traits") {
      ReadTraits(walk, field, config);
    } else if (field.name == "state_dir") {
      const auto dir = walk.Scalar(field, "a directory path");
      if (!dir) continue;
      if (dir->empty()) {
        walk.AddIssue(field, "expected a directory path, found an empty string");
      } else {
        config.state_dir = *dir;
      }
    }
  }
}

void ParseDiscoverySection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  for (const Field& field : walk.Fields(section.value, section.path, kDiscoveryKeys)) {
    if (field.name == "mdns") {
      ReadMdns(walk, field, config);
    } else if (field.name == "advertise") {
      ReadAdvertiseMode(walk, field, config);
    } else {  // seeds
      ReadSeeds(walk, field, config);
    }
  }
}

void ParsePluginsSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  for (const Field& field : walk.Fields(section.value, section.path, kPluginsKeys)) {
    // "dirs" is the only key. Given: replaces the default list.
    config.plugin_dirs.clear();
    for (auto& [dir, item] : walk.Items(field, "a folder", "folders")) {
      if (dir.empty() || dir.front() != '/') {
        walk.AddIssue(item, "invalid folder " + Quote(dir) + ": expected an absolute path");
        continue;
      }
      config.plugin_dirs.emplace_back(dir);
    }
  }
}

void ParseLogSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  for (const Field& field : walk.Fields(section.value, section.path, kLogKeys)) {
    // "level" is the only key.
    const auto level = walk.Scalar(field, "a log level");
    if (!level) continue;
    if (std::find(kLogLevels.begin(), kLogLevels.end(), *level) == kLogLevels.end()) {
      walk.AddIssue(field, "invalid log level " + Quote(*level) +
                               ": expected one of trace, debug, info, warn, "
                               "error, critical, off");
      continue;
    }
    config.log_level = *level;
  }
}


void ParseSecuritySection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  for (const Field& field : walk.Fields(section.value, section.path, kSecurityKeys)) {
    if (field.name == "plaintext") {
      const auto text = walk.Scalar(field, "true or false");
      if (!text) continue;
      if (const std::optional<bool> plaintext = ParseYamlBool(*text)) {
        config.plaintext = *plaintext;
      } else {
        walk.AddIssue(field, "invalid value " + Quote(*text) + ": expected true or false");
      }
    } else {  // control_socket
      if (field.value.IsNull()) {
        config.control_socket.clear();
        continue;
      }
      const auto path = walk.Scalar(field, "a socket path");
      if (!path) continue;
      if (path->empty()) {
        config.control_socket.clear();
      } else if (path->front() != '/') {
        walk.AddIssue(field, "invalid socket path " + Quote(*path) + ": expected an absolute path");
      } else if (path->size() > kMaxSocketPathBytes) {
        walk.AddIssue(field, "socket path of " + std::to_string(path->size()) +
                                 " bytes: a Unix socket's path has at most " +
                                 std::to_string(kMaxSocketPathBytes));
      } else {
        config.control_socket = *path;
      }
    }
  }
}

}  // namespace domian::config::internal
