// The node's configuration (/etc/domian/node.yaml), validated on load.
//
// Every problem is reported with the file, the line and the dotted key it
// concerns, so a person can fix the file without guessing; a daemon with
// an invalid file refuses to start.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/duration.h"
#include "core/common/status.h"
#include "core/model/values.h"

namespace domian::config {

// Defaults, documented in docs/configuration.md and packaging/node.yaml.
inline constexpr char kDefaultCluster[] = "home";
inline constexpr uint16_t kDefaultPort = 7420;
// Every interface, IPv6 and IPv4 alike (a dual-stack socket; gRPC falls
// back to IPv4 where IPv6 is disabled), so a peer found at an IPv6
// address over mDNS can connect.
inline constexpr char kDefaultListen[] = "[::]:7420";
inline constexpr char kDefaultStateDir[] = "/var/lib/domian";
inline constexpr char kDefaultLogLevel[] = "info";

// Failure-detection timings. A peer whose heartbeat counter has not grown
// for suspect_after is suspect, for dead_after dead; 200 ms heartbeats with
// a 1.2 s dead timeout detect a crash in about 1.2-1.5 s on a LAN while
// tolerating several lost or late heartbeats in a row.
struct MembershipTimings {
  Millis heartbeat_interval{200};
  Millis suspect_after{600};
  Millis dead_after{1200};
  Millis forget_after{std::chrono::minutes(10)};  // dead peers leave the table
  Millis rpc_timeout{500};                         // deadline of one heartbeat RPC
  Millis seed_retry{1000};                         // how often to try unanswered seeds
  Millis reconnect_interval{1000};                 // how often to probe one dead peer
  Millis leave_timeout{1000};                      // how long goodbyes may take
  uint32_t fanout{3};                              // peers contacted per heartbeat
};

// When a domain advertises itself over mDNS. Every domain browses.
//  - always: every domain is findable. The default: a cluster split long
//    enough for its halves to forget each other (membership.forget_after)
//    merges again as soon as one side sees the other's record, and
//    `avahi-browse _domian._tcp` lists the whole household. The cost is
//    a few mDNS packets per record lifetime, answered by avahi-daemon.
//  - lonely: only a domain with no live peer advertises (the original
//    domian's behaviour); quieter, but two groups that each have live
//    peers never find each other over mDNS.
enum class AdvertiseMode { kLonely, kAlways };
std::optional<AdvertiseMode> ParseAdvertiseMode(std::string_view text);
std::string_view AdvertiseModeName(AdvertiseMode mode);

// Where a service's plugin runs on this node.
//  - process: in a domian-plugin-host process of its own (the default): a
//    plugin that crashes or hangs takes only itself down.
//  - inline: loaded into domiand (cheaper, for trusted plugins).
enum class Isolation { kProcess, kInline };

// Where something is written in the file: 1-based, 0 when unknown.
struct FilePosition {
  int line = 0;
  int column = 0;
};

// One entry of the services: section.
struct ServiceConfig {
  std::string name;
  RunMode run = RunMode::kPrefer;
  int64_t weight = 0;
  Isolation isolation = Isolation::kProcess;
  std::string config_json = "{}";  // the plugin's settings, as JSON
  int line = 0;                    // where it is configured, for messages
  // For the plugin's own check of its settings (--check-config): where
  // `config:` is written (the service's name when it is not), and each
  // setting inside it, by the path a
  // plugin names it with ("hysteresis_c", "sensors.0.id"; a list item by
  // its index): the position of its key, or of the item.
  FilePosition config_position;
  std::map<std::string, FilePosition, std::less<>> config_positions;
};

// How placement moves services (placement: section).
struct PlacementTimings {
  // A better node must have been alive this long (without restarting)
  // before a service moves to it, and a service moves at most once per
  // this period: a node that comes and goes does not drag services along.
  Millis migrate_after{std::chrono::seconds(10)};
  // After start-up, how long a node listens to the cluster before starting
  // singletons itself, so a restarted node does not start a second copy of
  // something a peer runs before it has heard of that peer.
  Millis settle{std::chrono::seconds(2)};
  // A node where a service kept crashing (its plugin host gave up) is not a
  // candidate for it for this long; the next candidate runs it meanwhile.
  Millis failed_hold{std::chrono::minutes(10)};
};

// Plugin folders searched in order; a service found in two is refused
// from the second. Packages install into the first; the second is for
// local plugins.
inline const std::vector<std::filesystem::path> kDefaultPluginDirs = {
    "/usr/lib/domian/plugins", "/usr/local/lib/domian/plugins"};

inline constexpr char kDefaultControlSocket[] = "/run/domian/domiand.sock";

// Home Assistant's own default: the prefix its MQTT integration listens
// on for discovery and announces itself under (<prefix>/status).
inline constexpr char kDefaultDiscoveryPrefix[] = "homeassistant";

// The mqtt: section: the bridge to a broker (and through it Home
// Assistant). Absent: no bridge.
struct MqttConfig {
  std::string broker;                    // host:port
  std::string username;                  // empty: connect anonymously
  std::filesystem::path password_file;   // empty: no password; read at start
  FilePosition password_file_position;   // for --check-config's word on the file
  // TLS to the broker, which is verified with ca_file, else with the
  // system's CA store (and its host name checked either way).
  bool tls = false;
  std::filesystem::path ca_file;
  FilePosition ca_file_position;
  std::string discovery_prefix = kDefaultDiscoveryPrefix;
};

// The HTTP server of the dashboard and /metrics (core/web). On by
// default, on this machine only: the dashboard is reached from elsewhere
// through an SSH tunnel until the owner opens it to the LAN (listen:
// 0.0.0.0:8380). Every page but /metrics needs a session from a one-time
// link (`domianctl dashboard`).
inline constexpr char kDefaultHttpListen[] = "127.0.0.1:8380";
// Where the package installs the dashboard's pages.
inline constexpr char kDefaultDashboardDir[] = "/usr/share/domian/dashboard";

// The http: section.
struct HttpConfig {
  bool enabled = true;
  std::string listen = kDefaultHttpListen;  // IPv4 host:port; port 0: any free port
  std::filesystem::path static_dir = kDefaultDashboardDir;
  FilePosition static_dir_position;  // for --check-config's word on the folder
  // Host names besides the always allowed ones (IP literals, localhost,
  // this machine's name and name.local) the dashboard is reached by, in
  // lowercase: a request naming any other host is refused (DNS rebinding).
  std::vector<std::string> allowed_hosts;
};

struct NodeConfig {
  std::filesystem::path source;  // the file it came from (for messages)

  // node:
  std::optional<std::string> id;  // unset: a UUID kept in state_dir
  std::string cluster = kDefaultCluster;
  std::string listen = kDefaultListen;      // host:port
  std::optional<std::string> advertise;     // host:port; unset: derived
  std::vector<std::string> traits;
  std::filesystem::path state_dir = kDefaultStateDir;

  // discovery:
  std::vector<std::string> seeds;  // host:port
  bool mdns = true;                // discover peers through avahi-daemon
  AdvertiseMode advertise_mode = AdvertiseMode::kAlways;  // discovery.advertise

  // membership:
  MembershipTimings membership;

  // plugins:
  std::vector<std::filesystem::path> plugin_dirs = kDefaultPluginDirs;

  // services: this node's preferences; placement decides what runs here.
  std::vector<ServiceConfig> services;

  // placement:
  PlacementTimings placement;

  // security:
  // Plaintext gRPC on node.listen: for development only (anyone on the
  // network could then call every service). The default is mutual TLS
  // with the cluster's certificates in <state_dir>/tls.
  bool plaintext = false;
  // The operators' Unix socket (no certificate needed: file permissions,
  // root and group domian, guard it). Empty: none.
  std::filesystem::path control_socket = kDefaultControlSocket;

  // mqtt: unset, the bridge is off.
  std::optional<MqttConfig> mqtt;

  // http:
  HttpConfig http;

  // log:
  std::string log_level = kDefaultLogLevel;  // trace|debug|info|warn|error|critical|off
};

// One problem found in a configuration file.
struct ConfigIssue {
  std::string file;
  int line = 0;       // 1-based; 0 when the problem is the whole file
  int column = 0;     // 1-based; 0 when unknown
  std::string key;    // dotted path, e.g. "membership.dead_after"
  std::string message;

  // "node.yaml:12:3: membership.dead_after: expected a duration like 1500ms"
  std::string ToString() const;
};

// A problem a service's plugin found with its settings, as a ConfigIssue
// of `config`'s file: key "services.<name>.config.<key>", at the setting
// `key` names ("sensors.0.id" or "sensors[0].id"), else at the nearest
// setting above it that is written ("sensors"), else at `config:` (a
// setting that is missing, or `key` empty for the whole configuration).
ConfigIssue ServiceConfigIssue(const NodeConfig& config, const ServiceConfig& service,
                               std::string_view key, std::string message);

// Reads and validates a YAML file. Collects all problems rather than
// stopping at the first, so one run of --check-config shows them all.
//
// On failure the status message is every problem, one ConfigIssue a line
// in file order, ready to print as it is; ConfigIssues() hands them back
// one by one. The code is INVALID_ARGUMENT for a file with problems, and
// NOT_FOUND, PERMISSION_DENIED or FAILED_PRECONDITION for one that cannot
// be read.
absl::StatusOr<NodeConfig> LoadNodeConfig(const std::filesystem::path& file);

// Same, from text (tests, and `file` names the source in messages).
absl::StatusOr<NodeConfig> ParseNodeConfig(const std::string& yaml_text,
                                           const std::string& file);

// The problems behind a status from LoadNodeConfig or ParseNodeConfig, in
// file order; empty for OK and for any other status.
std::vector<ConfigIssue> ConfigIssues(const absl::Status& status);

}  // namespace domian::config
