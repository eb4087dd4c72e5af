// Loading and validation of the node configuration file (node.yaml).
//
// yaml-cpp does the parsing; this file walks the resulting tree against a
// fixed schema and turns every deviation into a ConfigIssue that points at
// the offending key, so that one run of --check-config reports every
// problem in the file instead of one per attempt.
#include "core/config/node_config.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/common/net.h"
#include "core/config/internal/issues_status.h"

namespace domian::config {
namespace {

constexpr uint32_t kMinFanout = 1;
constexpr uint32_t kMaxFanout = 64;

// Below this, heartbeats from a few dozen nodes would keep the CPU and the
// Wi-Fi of small boards busy for no gain in detection time.
constexpr Millis kMinHeartbeatInterval{10};

// Unknown keys within this many edits of a known one are probably typos.
constexpr size_t kMaxSuggestionDistance = 2;

// Values quoted back in messages are cut here so that a pasted blob does
// not drown the message.
constexpr size_t kMaxQuotedLength = 60;

// The schema: the known keys of each mapping, in documentation order
// (which is also the order in which ties between suggestions are broken).
constexpr std::array<std::string_view, 7> kSectionKeys = {
    "node", "discovery", "membership", "plugins", "services", "placement", "log"};
constexpr std::array<std::string_view, 1> kPluginsKeys = {"dirs"};
constexpr std::array<std::string_view, 4> kServiceKeys = {"run", "weight", "isolation",
                                                          "config"};
struct PlacementKey {
  std::string_view name;
  Millis PlacementTimings::*field;
};
constexpr std::array<PlacementKey, 3> kPlacementKeys = {{
    {"migrate_after", &PlacementTimings::migrate_after},
    {"settle", &PlacementTimings::settle},
    {"failed_hold", &PlacementTimings::failed_hold},
}};
constexpr std::array<std::string_view, 3> kPlacementKeyNames = {"migrate_after", "settle",
                                                                "failed_hold"};
constexpr std::array<std::string_view, 6> kNodeKeys = {
    "id", "cluster", "listen", "advertise", "traits", "state_dir"};
constexpr std::array<std::string_view, 3> kDiscoveryKeys = {"seeds", "mdns",
                                                            "advertise"};
constexpr std::array<std::string_view, 1> kLogKeys = {"level"};
constexpr std::array<std::string_view, 7> kLogLevels = {
    "trace", "debug", "info", "warn", "error", "critical", "off"};

struct TimingKey {
  std::string_view name;
  Millis MembershipTimings::*field;
};
constexpr std::array<TimingKey, 8> kTimingKeys = {{
    {"heartbeat_interval", &MembershipTimings::heartbeat_interval},
    {"suspect_after", &MembershipTimings::suspect_after},
    {"dead_after", &MembershipTimings::dead_after},
    {"forget_after", &MembershipTimings::forget_after},
    {"rpc_timeout", &MembershipTimings::rpc_timeout},
    {"seed_retry", &MembershipTimings::seed_retry},
    {"reconnect_interval", &MembershipTimings::reconnect_interval},
    {"leave_timeout", &MembershipTimings::leave_timeout},
}};
constexpr std::string_view kFanoutKey = "fanout";
constexpr std::array<std::string_view, 9> kMembershipKeys = {
    "heartbeat_interval", "suspect_after", "dead_after",
    "forget_after",       "rpc_timeout",   "seed_retry",
    "reconnect_interval", "leave_timeout", kFanoutKey};

// What each value should look like, for messages.
constexpr char kNodeIdHelp[] = "1 to 64 letters, digits, '.', '_' or '-'";
constexpr char kClusterNameHelp[] =
    "1 to 63 lowercase letters, digits or '-', not starting with '-'";
constexpr char kDurationHelp[] =
    "a number with a unit ms, s, m or h, like 1500ms or 1.5s";

// Optimal string alignment distance: Levenshtein plus transposition of
// neighbours, the most common typing slip ("cluser" vs "clsuter").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The value between quotes, cut and with control characters escaped so a
// message always stays on one line.
std::string Quote(std::string_view value) {
  std::string out = "'";
  const bool cut = value.size() > kMaxQuotedLength;
  for (char c : value.substr(0, kMaxQuotedLength)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (cut) out += "...";
  out += "'";
  return out;
}

// "a list", "an empty value"...: what was found where something else was
// expected.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return "an empty value";
    case YAML::NodeType::Scalar:
      return "the value " + Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
  }
  return "an unknown kind of value";
}

std::string Join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

// A known key of a mapping and its value, with where it was written.
struct Field {
  std::string name;  // the key as written, e.g. "dead_after"
  std::string path;  // dotted, e.g. "membership.dead_after"
  YAML::Mark mark;   // of the key: the value's mark is unreliable for
                     // empty values, and the key is what people look for
  YAML::Node value;
};

// A membership timing as the cross-field checks see it.
struct Timing {
  std::string_view name;
  Millis value{0};
  bool in_file = false;  // false: the default is in effect
  bool valid = true;     // false: already reported, do not compare
  YAML::Mark mark;
};

// Walks one document and accumulates the config and the issues found.
class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {
    config_.source = file_;
  }

  void Load(const std::string& yaml_text) {
    try {
      const std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
      if (documents.empty()) return;  // empty file or only comments
      for (size_t i = 1; i < documents.size(); ++i) {
        if (documents[i].IsNull()) continue;  // a stray trailing "---"
        AddIssue(documents[i].Mark(), "",
                 "expected a single YAML document, found another one here");
      }
      LoadRoot(documents.front());
    } catch (const YAML::ParserException& e) {
      // Syntax errors arrive here before anything was walked; the mark is
      // where the parser gave up.
      AddIssue(e.mark, "", "YAML syntax error: " + e.msg);
    } catch (const YAML::Exception& e) {
      // Not expected from the accessors used here, but a daemon must
      // report a config problem rather than die on one.
      AddIssue(e.mark, "", "cannot interpret the YAML: " + e.msg);
    }
  }

  absl::StatusOr<NodeConfig> Finish() && {
    if (issues_.empty()) return std::move(config_);
    std::stable_sort(issues_.begin(), issues_.end(),
                     [](const ConfigIssue& a, const ConfigIssue& b) {
                       return std::pair(a.line, a.column) <
                              std::pair(b.line, b.column);
                     });
    return internal::IssuesStatus(absl::StatusCode::kInvalidArgument, issues_);
  }

 private:
  void AddIssue(const YAML::Mark& mark, std::string key, std::string message) {
    ConfigIssue issue;
    issue.file = file_;
    // yaml-cpp counts from 0 and uses -1 for "no position".
    issue.line = mark.line >= 0 ? mark.line + 1 : 0;
    issue.column = mark.line >= 0 && mark.column >= 0 ? mark.column + 1 : 0;
    issue.key = std::move(key);
    issue.message = std::move(message);
    issues_.push_back(std::move(issue));
  }

  void AddIssue(const Field& field, std::string message) {
    AddIssue(field.mark, field.path, std::move(message));
  }

  // The known entries of `map`, after reporting keys that are not
  // strings, repeated or unknown. Repeats are skipped: which one would win
  // is exactly the kind of guess the person should not have to make.
  template <size_t N>
  std::vector<Field> Fields(const YAML::Node& map, std::string_view path,
                            const std::array<std::string_view, N>& known) {
    std::vector<Field> fields;
    std::map<std::string, int, std::less<>> first_line;
    for (const auto& entry : map) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        AddIssue(key.IsNull() ? map.Mark() : key.Mark(), std::string(path),
                 "expected a key name, found " + Describe(key));
        continue;
      }
      Field field{key.Scalar(), Join(path, key.Scalar()), key.Mark(),
                  entry.second};
      const auto [seen, inserted] =
          first_line.emplace(field.name, field.mark.line + 1);
      if (!inserted) {
        AddIssue(field, "duplicate key " + Quote(field.name) +
                            " (first set on line " +
                            std::to_string(seen->second) + ")");
        continue;
      }
      if (std::find(known.begin(), known.end(), field.name) == known.end()) {
        AddIssue(field, UnknownKeyMessage(field.name, known));
        continue;
      }
      fields.push_back(std::move(field));
    }
    return fields;
  }

  template <size_t N>
  static std::string UnknownKeyMessage(
      std::string_view key, const std::array<std::string_view, N>& known) {
    std::string message = "unknown key " + Quote(key);
    std::string_view best;
    size_t best_distance = kMaxSuggestionDistance + 1;
    for (std::string_view candidate : known) {
      const size_t distance = EditDistance(key, candidate);
      if (distance < best_distance) {
        best = candidate;
        best_distance = distance;
      }
    }
    if (!best.empty()) {
      message += " (did you mean " + Quote(best) + "?)";
    } else {
      message += " (expected one of";
      for (size_t i = 0; i < N; ++i) {
        message += i == 0 ? " " : ", ";
        message += known[i];
      }
      message += ')';
    }
    return message;
  }

  // True when `field` holds a mapping to walk; an empty section is the
  // same as an absent one.
  bool IsSection(const Field& field) {
    if (field.value.IsMap()) return true;
    if (!field.value.IsNull()) {
      AddIssue(field,
               "expected a map of settings, found " + Describe(field.value));
    }
    return false;
  }

  // The text of a scalar, or nullopt after reporting what is there
  // instead. `expected` completes "expected ...".
  std::optional<std::string> Scalar(const Field& field,
                                    std::string_view expected) {
    if (field.value.IsScalar()) return field.value.Scalar();
    AddIssue(field, "expected " + std::string(expected) + ", found " +
                        Describe(field.value));
    return std::nullopt;
  }

  void LoadRoot(const YAML::Node& root) {
    if (root.IsNull()) return;  // "~" or a document of comments
    if (!root.IsMap()) {
      AddIssue(root.Mark(), "",
               "expected a map with the sections node, discovery, "
               "membership, plugins, services, placement and log, found " +
                   Describe(root));
      return;
    }
    for (const Field& section : Fields(root, "", kSectionKeys)) {
      if (!IsSection(section)) continue;
      if (section.name == "node") {
        LoadNode(section);
      } else if (section.name == "discovery") {
        LoadDiscovery(section);
      } else if (section.name == "membership") {
        LoadMembership(section);
      } else if (section.name == "plugins") {
        LoadPlugins(section);
      } else if (section.name == "services") {
        LoadServices(section);
      } else if (section.name == "placement") {
        LoadPlacement(section);
      } else if (section.name == "log") {
        LoadLog(section);
      }
    }
    CheckTimings();
  }

  void LoadNode(const Field& section) {
    for (const Field& field : Fields(section.value, section.path, kNodeKeys)) {
      if (field.name == "id") {
        // Empty means unset, as in the absence of the key: the daemon
        // then uses the generated id kept in state_dir.
        if (field.value.IsNull()) continue;
        const auto id = Scalar(field, "a node id");
        if (!id) continue;
        if (IsValidNodeId(*id)) {
          config_.id = *id;
        } else {
          AddIssue(field, "invalid node id " + Quote(*id) + ": expected " +
                              kNodeIdHelp);
        }
      } else if (field.name == "cluster") {
        const auto cluster = Scalar(field, "a cluster name");
        if (!cluster) continue;
        if (IsValidClusterName(*cluster)) {
          config_.cluster = *cluster;
        } else {
          AddIssue(field, "invalid cluster name " + Quote(*cluster) +
                              ": expected " + kClusterNameHelp);
        }
      } else if (field.name == "listen") {
        const auto listen = Scalar(field, "host:port");
        if (!listen) continue;
        if (IsValidHostPort(*listen)) {
          config_.listen = *listen;
        } else {
          AddIssue(field, "invalid address " + Quote(*listen) +
                              ": expected host:port with a port from 0 to "
                              "65535, like 0.0.0.0:7420 or [::]:7420");
        }
      } else if (field.name == "advertise") {
        if (field.value.IsNull()) continue;  // unset: derived at startup
        LoadAdvertise(field);
      } else if (field.name == "traits") {
        LoadTraits(field);
      } else if (field.name == "state_dir") {
        const auto dir = Scalar(field, "a directory path");
        if (!dir) continue;
        if (dir->empty()) {
          AddIssue(field, "expected a directory path, found an empty string");
        } else {
          config_.state_dir = *dir;
        }
      }
    }
  }

  void LoadAdvertise(const Field& field) {
    const auto advertise = Scalar(field, "host:port");
    if (!advertise) return;
    const std::optional<ParsedAddress> address = ParseAddress(*advertise);
    if (!address) {
      AddIssue(field, "invalid address " + Quote(*advertise) +
                          ": expected host:port, like 192.168.1.20:7420");
    } else if (address->port == 0) {
      AddIssue(field, "invalid address " + Quote(*advertise) +
                          ": peers cannot connect to port 0 (it is only "
                          "allowed in node.listen)");
    } else if (IsWildcardHost(address->host)) {
      AddIssue(field, "invalid address " + Quote(*advertise) +
                          ": peers cannot connect to an unspecified "
                          "address; give one this node is reachable at");
    } else {
      config_.advertise = *advertise;
    }
  }

  // The items of a list of scalars, each with its own position and path
  // ("node.traits[1]"); an empty value is an empty list. `one` and `many`
  // name the items in messages.
  std::vector<std::pair<std::string, Field>> Items(const Field& field,
                                                   std::string_view one,
                                                   std::string_view many) {
    std::vector<std::pair<std::string, Field>> items;
    if (field.value.IsNull()) return items;
    if (!field.value.IsSequence()) {
      AddIssue(field, "expected a list of " + std::string(many) + ", found " +
                          Describe(field.value));
      return items;
    }
    size_t index = 0;
    for (const YAML::Node& element : field.value) {
      // An empty item's mark points at whatever follows it, so the
      // list's own key is the better place to send the reader.
      Field item{field.name, field.path + "[" + std::to_string(index++) + "]",
                 element.IsNull() ? field.mark : element.Mark(), element};
      auto text = Scalar(item, one);
      if (text) items.emplace_back(std::move(*text), std::move(item));
    }
    return items;
  }

  void LoadTraits(const Field& field) {
    std::map<std::string, std::string, std::less<>> seen;  // trait -> path
    for (auto& [trait, item] : Items(field, "a trait", "traits")) {
      if (!IsValidNodeId(trait)) {
        AddIssue(item,
                 "invalid trait " + Quote(trait) + ": expected " + kNodeIdHelp);
        continue;
      }
      const auto [previous, inserted] = seen.emplace(trait, item.path);
      if (!inserted) {
        AddIssue(item, "duplicate trait " + Quote(trait) + " (also " +
                           previous->second + ")");
        continue;
      }
      config_.traits.push_back(trait);
    }
  }

  void LoadDiscovery(const Field& section) {
    for (const Field& field :
         Fields(section.value, section.path, kDiscoveryKeys)) {
      if (field.name == "mdns") {
        LoadMdns(field);
        continue;
      }
      if (field.name == "advertise") {
        LoadAdvertiseMode(field);
        continue;
      }
      for (auto& [seed, item] :
           Items(field, "a seed address", "seed addresses")) {
        const std::optional<ParsedAddress> address = ParseAddress(seed);
        if (!address) {
          AddIssue(item, "invalid seed address " + Quote(seed) +
                             ": expected host:port, like 192.168.1.10:7420 "
                             "or [fd00::10]:7420");
        } else if (address->port == 0) {
          AddIssue(item, "invalid seed address " + Quote(seed) +
                             ": port 0 cannot be connected to; give the "
                             "port the seed listens on");
        } else {
          config_.seeds.push_back(seed);
        }
      }
    }
  }

  void LoadPlugins(const Field& section) {
    for (const Field& field : Fields(section.value, section.path, kPluginsKeys)) {
      // "dirs" is the only key. Given: replaces the default list.
      config_.plugin_dirs.clear();
      for (auto& [dir, item] : Items(field, "a folder", "folders")) {
        if (dir.empty() || dir.front() != '/') {
          AddIssue(item, "invalid folder " + Quote(dir) + ": expected an absolute path");
          continue;
        }
        config_.plugin_dirs.emplace_back(dir);
      }
    }
  }

  void LoadServices(const Field& section) {
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : section.value) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        AddIssue(key.IsNull() ? section.mark : key.Mark(), section.path,
                 "expected a service name, found " + Describe(key));
        continue;
      }
      Field service{key.Scalar(), Join(section.path, key.Scalar()), key.Mark(), entry.second};
      if (!IsValidServiceName(service.name)) {
        AddIssue(service, "invalid service name " + Quote(service.name) +
                              ": expected 1 to 63 of a-z, 0-9, '_' or '-'");
        continue;
      }
      if (!seen.insert(service.name).second) {
        AddIssue(service, "duplicate service " + Quote(service.name));
        continue;
      }
      ServiceConfig parsed;
      parsed.name = service.name;
      parsed.line = service.mark.line + 1;
      if (!service.value.IsNull() && !IsSection(service)) continue;
      for (const Field& field : Fields(service.value, service.path, kServiceKeys)) {
        if (field.name == "run") {
          const auto text = Scalar(field, "always, prefer, allow or never");
          if (!text) continue;
          if (const auto mode = ParseRunMode(*text)) {
            parsed.run = *mode;
          } else {
            AddIssue(field, "invalid run mode " + Quote(*text) +
                                ": expected always, prefer, allow or never");
          }
        } else if (field.name == "weight") {
          const auto text = Scalar(field, "a whole number");
          if (!text) continue;
          int64_t weight = 0;
          const char* end = text->data() + text->size();
          const auto [ptr, ec] = std::from_chars(text->data(), end, weight);
          if (ec != std::errc() || ptr != end || weight < kMinWeight || weight > kMaxWeight) {
            AddIssue(field, "invalid weight " + Quote(*text) + ": expected a whole number from " +
                                std::to_string(kMinWeight) + " to " +
                                std::to_string(kMaxWeight));
            continue;
          }
          parsed.weight = weight;
        } else if (field.name == "isolation") {
          const auto text = Scalar(field, "process or inline");
          if (!text) continue;
          if (*text == "process") {
            parsed.isolation = Isolation::kProcess;
          } else if (*text == "inline") {
            parsed.isolation = Isolation::kInline;
          } else {
            AddIssue(field, "invalid isolation " + Quote(*text) +
                                ": expected process (its own plugin host process, the "
                                "default) or inline (inside domiand)");
          }
        } else {  // config
          if (!field.value.IsMap() && !field.value.IsNull()) {
            AddIssue(field, "expected a map of the plugin's settings, found " +
                                Describe(field.value));
            continue;
          }
          parsed.config_json = field.value.IsNull() ? "{}" : ToJson(field.value);
        }
      }
      config_.services.push_back(std::move(parsed));
    }
  }

  // YAML as JSON, for plugins: plain scalars read by the YAML 1.2 core
  // schema (null, true/false, integers, floats), quoted ones stay strings.
  static std::string ToJson(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        std::string out = "{";
        bool first = true;
        for (const auto& entry : node) {
          if (!first) out += ',';
          first = false;
          out += JsonString(entry.first.IsScalar() ? entry.first.Scalar() : "");
          out += ':';
          out += ToJson(entry.second);
        }
        return out + "}";
      }
      case YAML::NodeType::Sequence: {
        std::string out = "[";
        for (size_t i = 0; i < node.size(); ++i) {
          if (i > 0) out += ',';
          out += ToJson(node[i]);
        }
        return out + "]";
      }
      case YAML::NodeType::Scalar:
        return ScalarJson(node);
      default:
        return "null";
    }
  }

  static std::string ScalarJson(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (node.Tag() == "!") return JsonString(text);  // quoted: a string
    if (text == "~" || text == "null" || text == "Null" || text == "NULL") return "null";
    if (text == "true" || text == "True" || text == "TRUE") return "true";
    if (text == "false" || text == "False" || text == "FALSE") return "false";
    static const std::regex number(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
    if (std::regex_match(text, number)) return text;
    return JsonString(text);
  }

  static std::string JsonString(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
            out += escaped;
          } else {
            out += c;
          }
      }
    }
    return out + "\"";
  }

  void LoadMdns(const Field& field) {
    const auto text = Scalar(field, "true or false");
    if (!text) return;
    // YAML 1.2 core schema booleans; "yes"/"on" are YAML 1.1 and are
    // refused rather than guessed at.
    if (*text == "true" || *text == "True" || *text == "TRUE") {
      config_.mdns = true;
    } else if (*text == "false" || *text == "False" || *text == "FALSE") {
      config_.mdns = false;
    } else {
      AddIssue(field, "invalid value " + Quote(*text) + ": expected true or false");
    }
  }

  void LoadAdvertiseMode(const Field& field) {
    const auto text = Scalar(field, "lonely or always");
    if (!text) return;
    const std::optional<AdvertiseMode> mode = ParseAdvertiseMode(*text);
    if (!mode) {
      AddIssue(field, "invalid value " + Quote(*text) +
                          ": expected lonely (advertise only while no peer "
                          "is alive) or always");
      return;
    }
    config_.advertise_mode = *mode;
  }

  void LoadMembership(const Field& section) {
    for (const Field& field :
         Fields(section.value, section.path, kMembershipKeys)) {
      if (field.name == kFanoutKey) {
        LoadFanout(field);
        continue;
      }
      const auto key = std::find_if(
          kTimingKeys.begin(), kTimingKeys.end(),
          [&](const TimingKey& timing) { return timing.name == field.name; });
      Timing& timing = TimingState(key->name);
      timing.in_file = true;
      timing.mark = field.mark;
      timing.valid = false;
      const auto text = Scalar(field, "a duration like 1500ms or 1.5s");
      if (!text) continue;
      const std::optional<Millis> value = ParseDuration(*text);
      if (!value) {
        AddIssue(field, "invalid duration " + Quote(*text) + ": expected " +
                            kDurationHelp);
        continue;
      }
      config_.membership.*(key->field) = *value;
      timing.value = *value;
      timing.valid = true;
    }
  }

  void LoadFanout(const Field& field) {
    const auto text = Scalar(field, "a whole number from 1 to 64");
    if (!text) return;
    uint32_t fanout = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, fanout);
    if (ec != std::errc() || ptr != end || fanout < kMinFanout ||
        fanout > kMaxFanout) {
      AddIssue(field, "invalid fanout " + Quote(*text) +
                          ": expected a whole number from 1 to 64");
      return;
    }
    config_.membership.fanout = fanout;
  }

  void LoadPlacement(const Field& section) {
    for (const Field& field : Fields(section.value, section.path, kPlacementKeyNames)) {
      const auto key = std::find_if(kPlacementKeys.begin(), kPlacementKeys.end(),
                                    [&](const PlacementKey& k) { return k.name == field.name; });
      const auto text = Scalar(field, "a duration like 1500ms or 1.5s");
      if (!text) continue;
      const std::optional<Millis> value = ParseDuration(*text);
      if (!value) {
        AddIssue(field, "invalid duration " + Quote(*text) + ": expected " + kDurationHelp);
        continue;
      }
      if (*value <= Millis::zero() && field.name != "settle") {
        AddIssue(field, field.name + " must be longer than 0ms");
        continue;
      }
      config_.placement.*(key->field) = *value;
    }
  }

  void LoadLog(const Field& section) {
    for (const Field& field : Fields(section.value, section.path, kLogKeys)) {
      // "level" is the only key.
      const auto level = Scalar(field, "a log level");
      if (!level) continue;
      if (std::find(kLogLevels.begin(), kLogLevels.end(), *level) ==
          kLogLevels.end()) {
        AddIssue(field, "invalid log level " + Quote(*level) +
                            ": expected one of trace, debug, info, warn, "
                            "error, critical, off");
        continue;
      }
      config_.log_level = *level;
    }
  }

  Timing& TimingState(std::string_view name) {
    auto it = timings_.find(name);
    if (it == timings_.end()) {
      const auto key = std::find_if(
          kTimingKeys.begin(), kTimingKeys.end(),
          [&](const TimingKey& timing) { return timing.name == name; });
      Timing timing;
      timing.name = key->name;
      timing.value = config_.membership.*(key->field);
      it = timings_.emplace(std::string(name), timing).first;
    }
    return it->second;
  }

  // "dead_after (1.2s)", or "dead_after (1.2s, the default)" so that a
  // complaint about a key the person never wrote makes sense.
  static std::string Show(const Timing& timing) {
    return std::string(timing.name) + " (" + FormatDuration(timing.value) +
           (timing.in_file ? ")" : ", the default)");
  }

  void AddTimingIssue(const Timing& at, std::string message) {
    AddIssue(at.mark, Join("membership", at.name), std::move(message));
  }

  // Reports unless ok(subject, other) holds, as "<subject> must be
  // <relation> <other>". The issue goes on whichever of the two keys comes
  // later in the file, the one that contradicts what was already set;
  // two defaults are never in conflict.
  void CheckPair(std::string_view subject_name, std::string_view relation,
                 std::string_view other_name, bool (*ok)(Millis, Millis)) {
    const Timing& subject = TimingState(subject_name);
    const Timing& other = TimingState(other_name);
    if (!subject.valid || !other.valid) return;
    if (!subject.in_file && !other.in_file) return;
    if (ok(subject.value, other.value)) return;
    const bool at_subject =
        !other.in_file ||
        (subject.in_file && std::pair(subject.mark.line, subject.mark.column) >
                                std::pair(other.mark.line, other.mark.column));
    AddTimingIssue(at_subject ? subject : other, Show(subject) + " must be " +
                                                     std::string(relation) +
                                                     " " + Show(other));
  }

  void CheckPositive(std::string_view name) {
    const Timing& timing = TimingState(name);
    if (timing.valid && timing.in_file && timing.value <= Millis::zero()) {
      AddTimingIssue(timing, Show(timing) + " must be longer than 0ms");
    }
  }

  // Orderings without which failure detection cannot work: a peer must be
  // able to miss a few heartbeats before it is suspected, suspicion must
  // come before death, a heartbeat RPC must give up no later than its
  // target would be declared dead anyway, and a dead peer must stay in the
  // table at least until it could have been declared dead.
  void CheckTimings() {
    const Timing& heartbeat = TimingState("heartbeat_interval");
    if (heartbeat.valid && heartbeat.in_file &&
        heartbeat.value < kMinHeartbeatInterval) {
      AddTimingIssue(heartbeat, Show(heartbeat) + " must be at least " +
                                    FormatDuration(kMinHeartbeatInterval));
    }
    CheckPair("suspect_after", "longer than", "heartbeat_interval",
              [](Millis s, Millis o) { return s > o; });
    CheckPair("dead_after", "longer than", "suspect_after",
              [](Millis s, Millis o) { return s > o; });
    CheckPositive("rpc_timeout");
    CheckPair("rpc_timeout", "no longer than", "dead_after",
              [](Millis s, Millis o) { return s <= o; });
    CheckPair("forget_after", "at least as long as", "dead_after",
              [](Millis s, Millis o) { return s >= o; });
    // Zero periods would make these retry loops spin.
    CheckPositive("seed_retry");
    CheckPositive("reconnect_interval");
  }

  std::string file_;
  NodeConfig config_;
  std::vector<ConfigIssue> issues_;
  std::map<std::string, Timing, std::less<>> timings_;
};

struct FileCloser {
  void operator()(std::FILE* stream) const { std::fclose(stream); }
};

// Only what tells a person where to look: the file is missing, or they
// may not read it, or something else is in the way (a directory, a
// failing disk).
absl::StatusCode ReadErrorCode(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::StatusCode::kNotFound;
    case EACCES:
    case EPERM:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kFailedPrecondition;
  }
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& file) {
  // C stdio rather than iostreams: errno after fopen/fread is what
  // strerror needs, and reading a directory fails here with EISDIR.
  std::string text;
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> stream(std::fopen(file.c_str(), "rb"));
  int error = stream ? 0 : (errno != 0 ? errno : EIO);
  if (stream) {
    errno = 0;
    char buffer[8192];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), stream.get())) > 0) {
      text.append(buffer, n);
    }
    if (std::ferror(stream.get())) error = errno != 0 ? errno : EIO;
  }
  if (error != 0) {
    return absl::Status(ReadErrorCode(error),
                        std::string("cannot read the file: ") + std::strerror(error));
  }
  return text;
}

}  // namespace

absl::StatusOr<NodeConfig> LoadNodeConfig(const std::filesystem::path& file) {
  absl::StatusOr<std::string> text = ReadFile(file);
  if (!text.ok()) {
    ConfigIssue issue;
    issue.file = file.string();
    issue.message = StatusMessage(text.status());
    return internal::IssuesStatus(text.status().code(), {std::move(issue)});
  }
  absl::StatusOr<NodeConfig> config = ParseNodeConfig(*text, file.string());
  if (config.ok()) config->source = file;
  return config;
}

absl::StatusOr<NodeConfig> ParseNodeConfig(const std::string& yaml_text,
                                           const std::string& file) {
  Loader loader(file);
  loader.Load(yaml_text);
  return std::move(loader).Finish();
}

std::optional<AdvertiseMode> ParseAdvertiseMode(std::string_view text) {
  if (text == "lonely") return AdvertiseMode::kLonely;
  if (text == "always") return AdvertiseMode::kAlways;
  return std::nullopt;
}

std::string_view AdvertiseModeName(AdvertiseMode mode) {
  return mode == AdvertiseMode::kLonely ? "lonely" : "always";
}

}  // namespace domian::config
