// Loading and validation of the node configuration file (node.yaml).
//
// yaml-cpp does the parsing; the tree is then walked against a fixed
// schema, one parser per section (internal/sections.h), and every
// deviation becomes a ConfigIssue that points at the offending key, so
// that one run of --check-config reports every problem in the file instead
// of one per attempt.
#include "core/config/node_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/internal/issues_status.h"
#include "core/config/internal/sections.h"
#include "core/config/internal/yaml_walk.h"

namespace domian::config {
namespace {

using internal::Field;
using internal::YamlWalk;

struct Section {
  std::string_view name;
  void (*parse)(YamlWalk& walk, const Field& section, NodeConfig& config);
};
// In documentation order, which also breaks ties between suggestions for
// a mistyped section.
constexpr std::array<Section, 10> kSections = {{
    {"node", internal::ParseNodeSection},
    {"discovery", internal::ParseDiscoverySection},
    {"membership", internal::ParseMembershipSection},
    {"plugins", internal::ParsePluginsSection},
    {"services", internal::ParseServicesSection},
    {"placement", internal::ParsePlacementSection},
    {"security", internal::ParseSecuritySection},
    {"mqtt", internal::ParseMqttSection},
    {"http", internal::ParseHttpSection},
    {"log", internal::ParseLogSection},
}};
constexpr auto kSectionNames = internal::KeyNames(kSections);

constexpr size_t kReadChunkBytes = 8192;

void ParseRoot(YamlWalk& walk, const YAML::Node& root, NodeConfig& config) {
  if (root.IsNull()) return;  // "~" or a document of comments
  if (!root.IsMap()) {
    walk.AddIssue(root.Mark(), "",
                  "expected a map with the sections node, discovery, "
                  "membership, plugins, services, placement and log, found " +
                      internal::Describe(root));
    return;
  }
  for (const Field& section : walk.Fields(root, "", kSectionNames)) {
    if (!walk.IsSection(section)) continue;
    // Fields() passed only known names on.
    const auto known =
        std::find_if(kSections.begin(), kSections.end(),
                     [&](const Section& entry) { return entry.name == section.name; });
    known->parse(walk, section, config);
  }
}

void ParseDocuments(YamlWalk& walk, const std::string& yaml_text, NodeConfig& config) {
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
    if (documents.empty()) return;  // empty file or only comments
    for (size_t i = 1; i < documents.size(); ++i) {
      if (documents[i].IsNull()) continue;  // a stray trailing "---"
      walk.AddIssue(documents[i].Mark(), "",
                    "expected a single YAML document, found another one here");
    }
    ParseRoot(walk, documents.front(), config);
  } catch (const YAML::ParserException& e) {
    // Syntax errors arrive here before anything was walked; the mark is
    // where the parser gave up.
    walk.AddIssue(e.mark, "", "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    // Not expected from the accessors the walk uses, but a daemon must
    // report a config problem rather than die on one.
    walk.AddIssue(e.mark, "", "cannot interpret the YAML: " + e.msg);
  }
}

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
    char buffer[kReadChunkBytes];
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
  YamlWalk walk(file);
  NodeConfig config;
  config.source = file;
  ParseDocuments(walk, yaml_text, config);
  if (absl::Status status = std::move(walk).Finish(); !status.ok()) return status;
  return config;
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
