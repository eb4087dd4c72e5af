// The http: section: where the dashboard and /metrics are served
// (core/web), and by which names the dashboard may be reached.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/internal/sections.h"
#include "core/model/values.h"

namespace domian::config::internal {
namespace {

// In documentation order (which also breaks ties between suggestions for
// a mistyped key).
constexpr std::array<std::string_view, 4> kHttpKeys = {"enabled", "listen", "static_dir",
                                                       "allowed_hosts"};

// A DNS name's limits (RFC 1035): 253 characters in all, 63 a label.
constexpr size_t kMaxHostNameBytes = 253;
constexpr size_t kMaxLabelBytes = 63;
// Names a browser may put in a Host header for this node; more is a
// mistake (and each is compared on every request).
constexpr size_t kMaxAllowedHosts = 32;

constexpr char kListenHelp[] =
    "expected an IPv4 address and port, like 127.0.0.1:8380 (this machine only) or "
    "0.0.0.0:8380 (every interface); port 0 picks any free port. Debian 12's CivetWeb has no "
    "IPv6";

// A host name as a browser sends it: labels of letters, digits and '-'
// (not at either end) joined by dots; an IP address passes too, and is
// allowed anyway.
bool IsHostName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostNameBytes) return false;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t dot = std::min(name.find('.', start), name.size());
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > kMaxLabelBytes || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (const char c : label) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') return false;
    }
    start = dot + 1;
  }
  return true;
}

void ReadEnabled(YamlWalk& walk, const Field& field, HttpConfig& http) {
  const auto text = walk.Scalar(field, "true or false");
  if (!text) return;
  if (const std::optional<bool> enabled = ParseYamlBool(*text)) {
    http.enabled = *enabled;
  } else {
    walk.AddIssue(field, "invalid value " + Quote(*text) + ": expected true or false");
  }
}

void ReadListen(YamlWalk& walk, const Field& field, HttpConfig& http) {
  const auto listen = walk.Scalar(field, "host:port");
  if (!listen) return;
  const std::optional<ParsedAddress> address = ParseAddress(*listen);
  in_addr ipv4{};
  if (!address || address->is_ipv6 || ::inet_pton(AF_INET, address->host.c_str(), &ipv4) != 1) {
    walk.AddIssue(field, "invalid address " + Quote(*listen) + ": " + kListenHelp);
    return;
  }
  http.listen = *listen;
}

void ReadStaticDir(YamlWalk& walk, const Field& field, HttpConfig& http) {
  const auto dir = walk.Scalar(field, "an absolute folder path");
  if (!dir) return;
  if (dir->empty() || dir->front() != '/') {
    walk.AddIssue(field, "invalid folder " + Quote(*dir) + ": expected an absolute path");
    return;
  }
  http.static_dir = *dir;
  http.static_dir_position = {field.mark.line + 1, field.mark.column + 1};
}

void ReadAllowedHosts(YamlWalk& walk, const Field& field, HttpConfig& http) {
  std::map<std::string, std::string, std::less<>> seen;  // name -> path
  for (auto& [name, item] : walk.Items(field, "a host name", "host names")) {
    if (!IsHostName(name)) {
      walk.AddIssue(item, "invalid host name " + Quote(name) +
                              ": expected a name the dashboard is reached by, like pi1.local "
                              "or dashboard.home.arpa (no port, no wildcard)");
      continue;
    }
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto [previous, inserted] = seen.emplace(lower, item.path);
    if (!inserted) {
      walk.AddIssue(item, "duplicate host name " + Quote(name) + " (also " + previous->second +
                              ")");
      continue;
    }
    if (http.allowed_hosts.size() == kMaxAllowedHosts) {
      walk.AddIssue(item, "more than " + std::to_string(kMaxAllowedHosts) + " host names");
      continue;
    }
    http.allowed_hosts.push_back(std::move(lower));
  }
}

}  // namespace

void ParseHttpSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  for (const Field& field : walk.Fields(section.value, section.path, kHttpKeys)) {
    if (field.name == "enabled") {
      ReadEnabled(walk, field, config.http);
    } else if (field.name == "listen") {
      ReadListen(walk, field, config.http);
    } else if (field.name == "static_dir") {
      ReadStaticDir(walk, field, config.http);
    } else {  // allowed_hosts
      ReadAllowedHosts(walk, field, config.http);
    }
  }
}

}  // namespace domian::config::internal
