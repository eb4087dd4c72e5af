// Tests for the node configuration loader as a whole: valid files and
// their defaults, syntax errors and documents, collecting every issue,
// the status a failure returns, and reading from disk.
#include "core/config/node_config.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/internal/test_util.h"

namespace domian::config {
namespace {

using std::chrono::minutes;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using test_util::LoadResult;
using test_util::Issues;
using test_util::kFile;
using test_util::Parse;
using test_util::ParseValid;

void ExpectDefaults(const NodeConfig& config) {
  EXPECT_EQ(config.source, kFile);
  EXPECT_FALSE(config.id.has_value());
  EXPECT_EQ(config.cluster, "home");
  EXPECT_EQ(config.listen, "[::]:7420");
  EXPECT_FALSE(config.advertise.has_value());
  EXPECT_THAT(config.traits, IsEmpty());
  EXPECT_EQ(config.state_dir, "/var/lib/domian");
  EXPECT_THAT(config.seeds, IsEmpty());
  EXPECT_TRUE(config.mdns);
  EXPECT_EQ(config.advertise_mode, AdvertiseMode::kAlways);
  EXPECT_EQ(config.membership.heartbeat_interval, Millis(200));
  EXPECT_EQ(config.membership.suspect_after, Millis(600));
  EXPECT_EQ(config.membership.dead_after, Millis(1200));
  EXPECT_EQ(config.membership.forget_after, minutes(10));
  EXPECT_EQ(config.membership.rpc_timeout, Millis(500));
  EXPECT_EQ(config.membership.seed_retry, Millis(1000));
  EXPECT_EQ(config.membership.reconnect_interval, Millis(1000));
  EXPECT_EQ(config.membership.leave_timeout, Millis(1000));
  EXPECT_EQ(config.membership.fanout, 3u);
  EXPECT_EQ(config.plugin_dirs, kDefaultPluginDirs);
  EXPECT_THAT(config.services, IsEmpty());
  EXPECT_EQ(config.placement.migrate_after, std::chrono::seconds(10));
  EXPECT_EQ(config.placement.settle, std::chrono::seconds(2));
  EXPECT_EQ(config.placement.failed_hold, minutes(10));
  EXPECT_TRUE(config.http.enabled);
  EXPECT_EQ(config.http.listen, kDefaultHttpListen);
  EXPECT_EQ(config.http.static_dir, kDefaultDashboardDir);
  EXPECT_THAT(config.http.allowed_hosts, IsEmpty());
  EXPECT_EQ(config.log_level, "info");
}

// ---------------------------------------------------------------------------
// Valid files.

class DefaultsTest : public testing::TestWithParam<std::string> {};

TEST_P(DefaultsTest, EmptyOrNullFileGivesDefaults) {
  ExpectDefaults(ParseValid(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(
    Files, DefaultsTest,
    testing::Values("", "\n\n", "# only a comment\n", "~\n", "null\n", "---\n",
                    "--- ~\n", "{}\n",
                    // Empty sections are the same as absent ones.
                    "node:\ndiscovery:\nmembership:\nlog:\n",
                    "node: {}\ndiscovery: {}\nmembership: {}\nlog: {}\n",
                    // Empty lists are empty.
                    "node:\n  traits: []\ndiscovery:\n  seeds: []\n",
                    "node:\n  traits:\ndiscovery:\n  seeds:\n",
                    // An empty id or advertise means unset.
                    "node:\n  id:\n  advertise: ~\n",
                    // Values equal to the defaults.
                    "membership:\n  heartbeat_interval: 200ms\n"
                    "  suspect_after: 600ms\n  dead_after: 1.2s\n"));

constexpr char kFullFile[] = R"(# A complete configuration.
node:
  id: kitchen-pi
  cluster: home-2
  listen: "[::]:7421"
  advertise: 192.168.1.20:7421
  traits: [speaker, camera]
  state_dir: ./state
discovery:
  seeds:
    - 192.168.1.10:7420
    - "[fd00::10]:7420"
    - hub.local:7420
  mdns: false
  advertise: lonely
membership:
  heartbeat_interval: 100ms
  suspect_after: 500ms
  dead_after: 2s
  forget_after: 1h
  rpc_timeout: 1.5s
  seed_retry: 2s
  reconnect_interval: 3s
  leave_timeout: 250ms
  fanout: 5
log:
  level: debug
)";

TEST(NodeConfigTest, ThePackagedFileIsValidAndListsTheDefaults) {
  std::ifstream in(DOMIAN_PACKAGED_NODE_YAML);
  ASSERT_TRUE(in) << DOMIAN_PACKAGED_NODE_YAML;
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  ExpectDefaults(ParseValid(text));
}

TEST(NodeConfigTest, FullFileFillsEveryField) {
  const NodeConfig config = ParseValid(kFullFile);
  EXPECT_EQ(config.source, kFile);
  EXPECT_EQ(config.id, "kitchen-pi");
  EXPECT_EQ(config.cluster, "home-2");
  EXPECT_EQ(config.listen, "[::]:7421");
  EXPECT_EQ(config.advertise, "192.168.1.20:7421");
  EXPECT_THAT(config.traits, ElementsAre("speaker", "camera"));
  EXPECT_EQ(config.state_dir, "./state");
  EXPECT_THAT(config.seeds, ElementsAre("192.168.1.10:7420", "[fd00::10]:7420",
                                        "hub.local:7420"));
  EXPECT_FALSE(config.mdns);
  EXPECT_EQ(config.advertise_mode, AdvertiseMode::kLonely);
  EXPECT_EQ(config.membership.heartbeat_interval, Millis(100));
  EXPECT_EQ(config.membership.suspect_after, Millis(500));
  EXPECT_EQ(config.membership.dead_after, Millis(2000));
  EXPECT_EQ(config.membership.forget_after, Millis(3600000));
  EXPECT_EQ(config.membership.rpc_timeout, Millis(1500));
  EXPECT_EQ(config.membership.seed_retry, Millis(2000));
  EXPECT_EQ(config.membership.reconnect_interval, Millis(3000));
  EXPECT_EQ(config.membership.leave_timeout, Millis(250));
  EXPECT_EQ(config.membership.fanout, 5u);
  EXPECT_EQ(config.log_level, "debug");
}

TEST(NodeConfigTest, FlowStyleIsAccepted) {
  const NodeConfig config = ParseValid(
      "{node: {id: a, traits: [x]}, membership: {fanout: 64}, "
      "log: {level: off}}\n");
  EXPECT_EQ(config.id, "a");
  EXPECT_THAT(config.traits, ElementsAre("x"));
  EXPECT_EQ(config.membership.fanout, 64u);
  EXPECT_EQ(config.log_level, "off");
}

TEST(NodeConfigTest, PartialFileKeepsOtherDefaults) {
  const NodeConfig config = ParseValid("node:\n  id: hall\n");
  EXPECT_EQ(config.id, "hall");
  EXPECT_EQ(config.cluster, "home");
  EXPECT_EQ(config.membership.dead_after, Millis(1200));
}

TEST(NodeConfigTest, NumericLookingScalarsAreStrings) {
  // YAML would call these an int and a bool; to us they are names.
  const NodeConfig config =
      ParseValid("node:\n  id: 42\n  cluster: '7'\n  traits: [yes]\n");
  EXPECT_EQ(config.id, "42");
  EXPECT_EQ(config.cluster, "7");
  EXPECT_THAT(config.traits, ElementsAre("yes"));
}

class LogLevelTest : public testing::TestWithParam<std::string> {};

TEST_P(LogLevelTest, AcceptsLevel) {
  EXPECT_EQ(ParseValid("log:\n  level: " + GetParam() + "\n").log_level,
            GetParam());
}

INSTANTIATE_TEST_SUITE_P(Levels, LogLevelTest,
                         testing::Values("trace", "debug", "info", "warn",
                                         "error", "critical", "off"));

TEST(NodeConfigTest, ListenMayUsePortZero) {
  EXPECT_EQ(ParseValid("node:\n  listen: 127.0.0.1:0\n").listen, "127.0.0.1:0");
}

// ---------------------------------------------------------------------------
// Syntax errors, duplicates, documents.

TEST(SyntaxErrorTest, BecomesOneIssueAtTheParserPosition) {
  const LoadResult result = Parse("node:\n  id: a\n  traits: [a, b\n");
  EXPECT_FALSE(result.ok());
  const std::vector<ConfigIssue> issues = ConfigIssues(result.status());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].file, kFile);
  EXPECT_EQ(issues[0].line, 4);
  EXPECT_GT(issues[0].column, 0);
  EXPECT_EQ(issues[0].key, "");
  EXPECT_THAT(issues[0].message,
              HasSubstr("YAML syntax error: end of sequence flow not found"));

  EXPECT_THAT(Issues("node:\n  id: a: b\n"),
              ElementsAre("node.yaml:2:8: YAML syntax error: illegal map "
                          "value"));
  EXPECT_THAT(Issues("node:\n  id: *missing\n"),
              ElementsAre(HasSubstr("node.yaml:2:")));
}

TEST(DocumentTest, SecondDocumentIsAnIssue) {
  EXPECT_THAT(Issues("node: {}\n---\nlog: {}\n"),
              ElementsAre("node.yaml:3:1: expected a single YAML document, "
                          "found another one here"));
  // A trailing separator alone is harmless.
  EXPECT_THAT(Issues("node: {}\n---\n"), IsEmpty());
}

// ---------------------------------------------------------------------------
// Collecting everything.

TEST(NodeConfigTest, CollectsAllIssuesSortedByLine) {
  const LoadResult result = Parse(R"(log:
  level: loud
membership:
  heartbeat_interval: 1s
  suspect_after: 500ms
  fanout: 100
node:
  id: a b
  id: c
  clustr: home
discovery:
  seeds: [nowhere]
)");
  EXPECT_FALSE(result.ok());
  std::vector<std::string> issues;
  for (const ConfigIssue& issue : ConfigIssues(result.status())) {
    issues.push_back(issue.ToString());
  }
  EXPECT_THAT(
      issues,
      ElementsAre(HasSubstr("node.yaml:2:3: log.level: invalid log level"),
                  HasSubstr("node.yaml:5:3: membership.suspect_after: "
                            "suspect_after (500ms) must be longer than"),
                  HasSubstr("node.yaml:6:3: membership.fanout: invalid "
                            "fanout '100'"),
                  HasSubstr("node.yaml:8:3: node.id: invalid node id"),
                  HasSubstr("node.yaml:9:3: node.id: duplicate key 'id'"),
                  HasSubstr("node.yaml:10:3: node.clustr: unknown key"),
                  HasSubstr("node.yaml:12:11: discovery.seeds[0]: invalid "
                            "seed address 'nowhere'")));
}

TEST(NodeConfigTest, ConfigIsUnsetWhenThereIsAnyIssue) {
  const LoadResult result = Parse("node:\n  id: ok\nlog:\n  level: x\n");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(ConfigIssues(result.status()).size(), 1u);
}

// ---------------------------------------------------------------------------
// The status a failed load returns.

TEST(StatusTest, TheMessageIsEveryIssueOneALine) {
  const LoadResult result = Parse("node:\n  idd: a\nlog:\n  level: x\n");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "node.yaml:2:3: node.idd: unknown key 'idd' (did you mean 'id'?)\n"
            "node.yaml:4:3: log.level: invalid log level 'x': expected one of "
            "trace, debug, info, warn, error, critical, off");
}

TEST(StatusTest, IssuesComeBackExactlyWhateverTheyHold) {
  // A file name with colons, a key with a line break and a byte that is
  // not UTF-8: none of them may blur where one field ends.
  const std::string file = "/etc/dom:ian/node.yaml";
  const LoadResult result = ParseNodeConfig("node:\n  \"a\\nb:\xff\": 1\n", file);
  ASSERT_FALSE(result.ok());
  const std::vector<ConfigIssue> issues = ConfigIssues(result.status());
  ASSERT_EQ(issues.size(), 1u);
  const ConfigIssue& issue = issues[0];
  EXPECT_EQ(std::make_tuple(issue.file, issue.line, issue.column, issue.key),
            std::make_tuple(file, 2, 3, std::string("node.a\nb:\xff")));
  EXPECT_EQ(issue.ToString(), result.status().message());
}

TEST(StatusTest, OnlyAConfigStatusCarriesIssues) {
  EXPECT_THAT(ConfigIssues(absl::OkStatus()), IsEmpty());
  EXPECT_THAT(ConfigIssues(absl::InvalidArgumentError("node.yaml:1:1: bad")), IsEmpty());
}

// ---------------------------------------------------------------------------
// ConfigIssue::ToString.

TEST(ConfigIssueTest, ToStringOmitsWhatIsUnknown) {
  ConfigIssue issue{"node.yaml", 12, 3, "membership.dead_after", "bad"};
  EXPECT_EQ(issue.ToString(), "node.yaml:12:3: membership.dead_after: bad");
  issue.column = 0;
  EXPECT_EQ(issue.ToString(), "node.yaml:12: membership.dead_after: bad");
  issue.line = 0;
  EXPECT_EQ(issue.ToString(), "node.yaml: membership.dead_after: bad");
  issue.key.clear();
  EXPECT_EQ(issue.ToString(), "node.yaml: bad");
  issue.line = 4;
  issue.column = 9;
  EXPECT_EQ(issue.ToString(), "node.yaml:4:9: bad");
}

// ---------------------------------------------------------------------------
// Loading from disk.

class LoadNodeConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    const testing::TestInfo* info =
        testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(testing::TempDir()) /
           (std::string("node_config_test_") + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path Write(const std::string& name,
                              const std::string& text) {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(LoadNodeConfigTest, ReadsAValidFile) {
  const std::filesystem::path path = Write("node.yaml", kFullFile);
  const LoadResult result = LoadNodeConfig(path);
  EXPECT_THAT(ConfigIssues(result.status()), IsEmpty());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, path);
  EXPECT_EQ(result->id, "kitchen-pi");
  EXPECT_EQ(result->membership.fanout, 5u);
}

TEST_F(LoadNodeConfigTest, EmptyFileGivesDefaults) {
  const std::filesystem::path path = Write("empty.yaml", "");
  const LoadResult result = LoadNodeConfig(path);
  EXPECT_THAT(ConfigIssues(result.status()), IsEmpty());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, path);
  EXPECT_EQ(result->cluster, "home");
}

TEST_F(LoadNodeConfigTest, IssuesNameTheFile) {
  const std::filesystem::path path = Write("bad.yaml", "node:\n  idd: a\n");
  const LoadResult result = LoadNodeConfig(path);
  EXPECT_FALSE(result.ok());
  const std::vector<ConfigIssue> issues = ConfigIssues(result.status());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(
      issues[0].ToString(),
      path.string() + ":2:3: node.idd: unknown key 'idd' (did you mean 'id'?)");
}

TEST_F(LoadNodeConfigTest, MissingFileIsOneIssueOnLineZero) {
  const std::filesystem::path path = dir_ / "absent.yaml";
  const LoadResult result = LoadNodeConfig(path);
  EXPECT_FALSE(result.ok());
  const std::vector<ConfigIssue> issues = ConfigIssues(result.status());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].file, path.string());
  EXPECT_EQ(issues[0].line, 0);
  EXPECT_EQ(issues[0].column, 0);
  EXPECT_EQ(issues[0].ToString(),
            path.string() + ": cannot read the file: " + std::strerror(ENOENT));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(result.status().message(), issues[0].ToString());
}

TEST_F(LoadNodeConfigTest, DirectoryIsOneIssue) {
  const LoadResult result = LoadNodeConfig(dir_);
  EXPECT_FALSE(result.ok());
  const std::vector<ConfigIssue> issues = ConfigIssues(result.status());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 0);
  EXPECT_EQ(issues[0].message,
            std::string("cannot read the file: ") + std::strerror(EISDIR));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
}

// A plugin's problem with a setting lands on the line and column where
// the setting is written, or as near as the file allows.
TEST(NodeConfigTest, APluginsProblemIsPlacedAtItsSetting) {
  const NodeConfig config = ParseValid(
      "services:\n"                   // 1
      "  heating:\n"                  // 2
      "    config:\n"                 // 3
      "      target_c: 21\n"          // 4
      "      sensors:\n"              // 5
      "        - id: 28-a\n"          // 6
      "        - {id: 28-b}\n"        // 7
      "  lamp:\n"                     // 8
      "    run: allow\n");            // 9
  ASSERT_EQ(config.services.size(), 2u);
  const ServiceConfig& heating = config.services[0];
  const ServiceConfig& lamp = config.services[1];
  auto at = [&](const ServiceConfig& service, std::string_view key) {
    return ServiceConfigIssue(config, service, key, "why").ToString();
  };
  const std::string f = kFile;
  EXPECT_EQ(at(heating, "target_c"), f + ":4:7: services.heating.config.target_c: why");
  EXPECT_EQ(at(heating, "sensors.1.id"), f + ":7:12: services.heating.config.sensors.1.id: why");
  EXPECT_EQ(at(heating, "sensors[0].id"), f + ":6:11: services.heating.config.sensors.0.id: why");
  EXPECT_EQ(at(heating, "sensors.1"), f + ":7:11: services.heating.config.sensors.1: why");
  // Not written: the nearest setting above it, else config: itself.
  EXPECT_EQ(at(heating, "sensors.5.id"), f + ":5:7: services.heating.config.sensors.5.id: why");
  EXPECT_EQ(at(heating, "hysteresis_c"), f + ":3:5: services.heating.config.hysteresis_c: why");
  EXPECT_EQ(at(heating, ""), f + ":3:5: services.heating.config: why");
  // No config: at all: the service's name.
  EXPECT_EQ(at(lamp, "on"), f + ":8:3: services.lamp.config.on: why");
}

}  // namespace
}  // namespace domian::config
