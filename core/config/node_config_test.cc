// Tests for the node configuration loader: the schema, and every kind of
// issue with its exact position and wording.
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

namespace domian::config {
namespace {

using std::chrono::minutes;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

constexpr char kFile[] = "node.yaml";

using ConfigResult = absl::StatusOr<NodeConfig>;

ConfigResult Parse(const std::string& yaml) {
  return ParseNodeConfig(yaml, kFile);
}

// The issues as a person would see them.
std::vector<std::string> Issues(const std::string& yaml) {
  std::vector<std::string> out;
  for (const ConfigIssue& issue : ConfigIssues(Parse(yaml).status())) {
    out.push_back(issue.ToString());
  }
  return out;
}

// Parses a file expected to be valid and returns its config.
NodeConfig ParseValid(const std::string& yaml) {
  ConfigResult result = Parse(yaml);
  for (const ConfigIssue& issue : ConfigIssues(result.status())) {
    ADD_FAILURE() << "unexpected issue: " << issue.ToString();
  }
  if (!result.ok()) {
    ADD_FAILURE() << "no config";
    return NodeConfig{};
  }
  return *result;
}

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
// Unknown keys.

TEST(UnknownKeyTest, SuggestsClosestKeyInEachSection) {
  EXPECT_THAT(Issues("nodes:\n  id: a\n"),
              ElementsAre("node.yaml:1:1: nodes: unknown key 'nodes' "
                          "(did you mean 'node'?)"));
  EXPECT_THAT(Issues("node:\n  id: a\n  clustr: home\n"),
              ElementsAre("node.yaml:3:3: node.clustr: unknown key 'clustr' "
                          "(did you mean 'cluster'?)"));
  EXPECT_THAT(Issues("discovery:\n  seed: []\n"),
              ElementsAre("node.yaml:2:3: discovery.seed: unknown key 'seed' "
                          "(did you mean 'seeds'?)"));
  // A transposition counts as one edit.
  EXPECT_THAT(Issues("log:\n  levle: info\n"),
              ElementsAre("node.yaml:2:3: log.levle: unknown key 'levle' "
                          "(did you mean 'level'?)"));
  EXPECT_THAT(Issues("membership:\n  fan_out: 3\n"),
              ElementsAre("node.yaml:2:3: membership.fan_out: unknown key "
                          "'fan_out' (did you mean 'fanout'?)"));
  EXPECT_THAT(Issues("membership:\n  dead_afterr: 2s\n"),
              ElementsAre("node.yaml:2:3: membership.dead_afterr: unknown key "
                          "'dead_afterr' (did you mean 'dead_after'?)"));
}

TEST(UnknownKeyTest, ListsKnownKeysWhenNothingIsClose) {
  EXPECT_THAT(Issues("node:\n  hostname: x\n"),
              ElementsAre("node.yaml:2:3: node.hostname: unknown key "
                          "'hostname' (expected one of id, cluster, listen, "
                          "advertise, traits, state_dir)"));
  EXPECT_THAT(Issues("extras:\n  x: 1\n"),
              ElementsAre("node.yaml:1:1: extras: unknown key 'extras' "
                          "(expected one of node, discovery, membership, "
                          "plugins, services, placement, log)"));
}

TEST(UnknownKeyTest, ThreeEditsAwayIsNotSuggested) {
  EXPECT_THAT(Issues("log:\n  loglevel: info\n"),
              ElementsAre("node.yaml:2:3: log.loglevel: unknown key 'loglevel' "
                          "(expected one of level)"));
}

TEST(UnknownKeyTest, KeysAreCaseSensitive) {
  EXPECT_THAT(Issues("Node:\n  id: a\n"),
              ElementsAre("node.yaml:1:1: Node: unknown key 'Node' "
                          "(did you mean 'node'?)"));
}

TEST(UnknownKeyTest, KeyThatIsNotAStringIsReported) {
  EXPECT_THAT(Issues("node:\n  ? [a, b]\n  : c\n"),
              ElementsAre("node.yaml:2:5: node: expected a key name, "
                          "found a list"));
}

// ---------------------------------------------------------------------------
// Wrong types.

TEST(WrongTypeTest, TopLevelMustBeAMap) {
  EXPECT_THAT(Issues("- node\n- log\n"),
              ElementsAre("node.yaml:1:1: expected a map with the sections "
                          "node, discovery, membership, plugins, services, placement and log, found a "
                          "list"));
  EXPECT_THAT(Issues("hello\n"),
              ElementsAre("node.yaml:1:1: expected a map with the sections "
                          "node, discovery, membership, plugins, services, placement and log, found the "
                          "value 'hello'"));
}

TEST(WrongTypeTest, SectionsMustBeMaps) {
  EXPECT_THAT(Issues("node: kitchen\n"),
              ElementsAre("node.yaml:1:1: node: expected a map of settings, "
                          "found the value 'kitchen'"));
  EXPECT_THAT(Issues("log:\n  - info\n"),
              ElementsAre("node.yaml:1:1: log: expected a map of settings, "
                          "found a list"));
}

TEST(WrongTypeTest, ScalarsMustBeScalars) {
  EXPECT_THAT(
      Issues("node:\n  id: [a]\n  cluster: {x: 1}\n  listen:\n"),
      ElementsAre(
          "node.yaml:2:3: node.id: expected a node id, found a list",
          "node.yaml:3:3: node.cluster: expected a cluster name, found a map",
          "node.yaml:4:3: node.listen: expected host:port, found an empty "
          "value"));
  EXPECT_THAT(Issues("membership:\n  fanout: [3]\n  dead_after: {}\n"),
              ElementsAre("node.yaml:2:3: membership.fanout: expected a whole "
                          "number from 1 to 64, found a list",
                          "node.yaml:3:3: membership.dead_after: expected a "
                          "duration like 1500ms or 1.5s, found a map"));
  EXPECT_THAT(Issues("log:\n  level:\n"),
              ElementsAre("node.yaml:2:3: log.level: expected a log level, "
                          "found an empty value"));
  EXPECT_THAT(Issues("node:\n  state_dir: [a]\n  advertise: [b]\n"),
              ElementsAre("node.yaml:2:3: node.state_dir: expected a "
                          "directory path, found a list",
                          "node.yaml:3:3: node.advertise: expected host:port, "
                          "found a list"));
}

TEST(WrongTypeTest, ListsMustBeLists) {
  EXPECT_THAT(Issues("node:\n  traits: speaker\n"),
              ElementsAre("node.yaml:2:3: node.traits: expected a list of "
                          "traits, found the value 'speaker'"));
  EXPECT_THAT(Issues("discovery:\n  seeds: {a: b}\n"),
              ElementsAre("node.yaml:2:3: discovery.seeds: expected a list of "
                          "seed addresses, found a map"));
}

TEST(WrongTypeTest, ListItemsMustBeScalars) {
  EXPECT_THAT(Issues("node:\n  traits:\n    - ok\n    - [x]\n    -\n"),
              ElementsAre("node.yaml:2:3: node.traits[2]: expected a trait, "
                          "found an empty value",
                          "node.yaml:4:7: node.traits[1]: expected a trait, "
                          "found a list"));
  EXPECT_THAT(Issues("discovery:\n  seeds: [{a: 1}]\n"),
              ElementsAre("node.yaml:2:11: discovery.seeds[0]: expected a "
                          "seed address, found a map"));
}

// ---------------------------------------------------------------------------
// Bad values.

TEST(BadValueTest, NodeId) {
  EXPECT_THAT(Issues("node:\n  id: kitchen pi\n"),
              ElementsAre("node.yaml:2:3: node.id: invalid node id 'kitchen "
                          "pi': expected 1 to 64 letters, digits, '.', '_' or "
                          "'-'"));
  EXPECT_THAT(Issues("node:\n  id: ''\n"),
              ElementsAre(HasSubstr("node.id: invalid node id ''")));
  EXPECT_THAT(Issues("node:\n  id: " + std::string(65, 'a') + "\n"),
              ElementsAre(HasSubstr("node.id: invalid node id")));
}

TEST(BadValueTest, ClusterName) {
  EXPECT_THAT(Issues("node:\n  cluster: Home\n"),
              ElementsAre("node.yaml:2:3: node.cluster: invalid cluster name "
                          "'Home': expected 1 to 63 lowercase letters, digits "
                          "or '-', not starting with '-'"));
  EXPECT_THAT(Issues("node:\n  cluster: -home\n"),
              ElementsAre(HasSubstr("invalid cluster name '-home'")));
}

TEST(BadValueTest, Listen) {
  EXPECT_THAT(Issues("node:\n  listen: 0.0.0.0\n"),
              ElementsAre("node.yaml:2:3: node.listen: invalid address "
                          "'0.0.0.0': expected host:port with a port from 0 "
                          "to 65535, like 0.0.0.0:7420 or [::]:7420"));
  EXPECT_THAT(Issues("node:\n  listen: 0.0.0.0:65536\n"),
              ElementsAre(HasSubstr("invalid address '0.0.0.0:65536'")));
}

TEST(BadValueTest, AdvertiseRejectsPortZeroAndUnspecifiedHosts) {
  EXPECT_THAT(Issues("node:\n  advertise: 192.168.1.20:0\n"),
              ElementsAre("node.yaml:2:3: node.advertise: invalid address "
                          "'192.168.1.20:0': peers cannot connect to port 0 "
                          "(it is only allowed in node.listen)"));
  EXPECT_THAT(Issues("node:\n  advertise: 0.0.0.0:7420\n"),
              ElementsAre("node.yaml:2:3: node.advertise: invalid address "
                          "'0.0.0.0:7420': peers cannot connect to an "
                          "unspecified address; give one this node is "
                          "reachable at"));
  EXPECT_THAT(Issues("node:\n  advertise: '[::]:7420'\n"),
              ElementsAre(HasSubstr("unspecified address")));
  EXPECT_THAT(Issues("node:\n  advertise: '[0:0::0]:7420'\n"),
              ElementsAre(HasSubstr("unspecified address")));
  EXPECT_THAT(Issues("node:\n  advertise: kitchen\n"),
              ElementsAre("node.yaml:2:3: node.advertise: invalid address "
                          "'kitchen': expected host:port, like "
                          "192.168.1.20:7420"));
}

TEST(BadValueTest, Traits) {
  EXPECT_THAT(Issues("node:\n  traits: [speaker, 'not ok', speaker]\n"),
              ElementsAre("node.yaml:2:21: node.traits[1]: invalid trait "
                          "'not ok': expected 1 to 64 letters, digits, '.', "
                          "'_' or '-'",
                          "node.yaml:2:31: node.traits[2]: duplicate trait "
                          "'speaker' (also node.traits[0])"));
}

TEST(BadValueTest, Seeds) {
  EXPECT_THAT(Issues("discovery:\n  seeds:\n    - 10.0.0.1:7420\n"
                     "    - 10.0.0.2\n    - 10.0.0.3:0\n"),
              ElementsAre("node.yaml:4:7: discovery.seeds[1]: invalid seed "
                          "address '10.0.0.2': expected host:port, like "
                          "192.168.1.10:7420 or [fd00::10]:7420",
                          "node.yaml:5:7: discovery.seeds[2]: invalid seed "
                          "address '10.0.0.3:0': port 0 cannot be connected "
                          "to; give the port the seed listens on"));
}

TEST(BadValueTest, Mdns) {
  EXPECT_THAT(Issues("discovery:\n  mdns: yes\n"),
              ElementsAre("node.yaml:2:3: discovery.mdns: invalid value 'yes': "
                          "expected true or false"));
  EXPECT_THAT(Issues("discovery:\n  mdns: [true]\n"),
              ElementsAre("node.yaml:2:3: discovery.mdns: expected true or "
                          "false, found a list"));
  EXPECT_TRUE(ParseValid("discovery:\n  mdns: True\n").mdns);
}

TEST(BadValueTest, Advertise) {
  EXPECT_THAT(Issues("discovery:\n  mdns: false\n  advertise: sometimes\n"),
              ElementsAre("node.yaml:3:3: discovery.advertise: invalid value "
                          "'sometimes': expected lonely (advertise only while "
                          "no peer is alive) or always"));
  EXPECT_THAT(Issues("discovery:\n  advertize: lonely\n"),
              ElementsAre("node.yaml:2:3: discovery.advertize: unknown key "
                          "'advertize' (did you mean 'advertise'?)"));
}

TEST(NodeConfigTest, ServicesCarryTheirIsolationAndConfigAsJson) {
  const NodeConfig config = ParseValid(R"(plugins:
  dirs: [/opt/plugins]
services:
  lights:
    config:
      bridge: 192.168.1.2
      port: 80
      ratio: 0.5
      secure: false
      quoted: "80"
      none: ~
      list: [1, two, "3"]
      nested: {a: {b: 'c"d'}}
  speaker:
    isolation: inline
  camera:
)");
  EXPECT_EQ(config.plugin_dirs, std::vector<std::filesystem::path>{"/opt/plugins"});
  ASSERT_EQ(config.services.size(), 3u);
  EXPECT_EQ(config.services[0].name, "lights");
  EXPECT_EQ(config.services[0].isolation, Isolation::kProcess);
  EXPECT_EQ(config.services[0].line, 4);
  EXPECT_EQ(config.services[0].config_json,
            R"({"bridge":"192.168.1.2","port":80,"ratio":0.5,"secure":false,"quoted":"80",)"
            R"("none":null,"list":[1,"two","3"],"nested":{"a":{"b":"c\"d"}}})");
  EXPECT_EQ(config.services[1].name, "speaker");
  EXPECT_EQ(config.services[1].isolation, Isolation::kInline);
  EXPECT_EQ(config.services[1].config_json, "{}");
  EXPECT_EQ(config.services[2].name, "camera");
}

TEST(NodeConfigTest, PluginSettingsKeepTheValueOfEveryNumber) {
  // Numbers reach the plugin as a JSON parser reads the digits written:
  // integers stay exact (up to 2^64 - 1), a fraction or an exponent makes
  // a double. What is not a JSON number stays text.
  const NodeConfig config = ParseValid(R"(services:
  lights:
    config: {thousand: 1e3, neg: -0.25, max: 18446744073709551615, huge: 1e300,
             octal: 007, hex: 0x10, yes: yes, bell: "a\bb", tiny: 1e-400}
)");
  ASSERT_EQ(config.services.size(), 1u);
  EXPECT_EQ(config.services[0].config_json,
            R"({"thousand":1000.0,"neg":-0.25,"max":18446744073709551615,"huge":1e+300,)"
            R"("octal":"007","hex":"0x10","yes":"yes","bell":"a\bb","tiny":0.0})");
}

TEST(BadValueTest, PluginSettingsJsonCannotCarry) {
  EXPECT_THAT(Issues("services:\n  lights:\n    config:\n      level: 1e400\n"),
              ElementsAre("node.yaml:4:14: services.lights.config.level: invalid number "
                          "'1e400': out of the range a plugin can read (a 64-bit double); "
                          "quote it to pass it as text"));
  EXPECT_THAT(Issues("services:\n  lights:\n    config:\n      rooms: [hall, 'k\xffz']\n"),
              ElementsAre("node.yaml:4:21: services.lights.config.rooms[1]: invalid UTF-8 in "
                          "'k\xef\xbf\xbdz': plugins receive their settings as UTF-8 JSON; "
                          "save the file as UTF-8"));
  EXPECT_THAT(Issues("services:\n  lights:\n    config: {\xfe: 1}\n"),
              ElementsAre(HasSubstr("node.yaml:3:14: services.lights.config.\xfe: invalid UTF-8")));
}

TEST(BadValueTest, PluginsAndServices) {
  EXPECT_THAT(Issues("plugins:\n  dirs: [relative/path]\n"),
              ElementsAre("node.yaml:2:10: plugins.dirs[0]: invalid folder "
                          "'relative/path': expected an absolute path"));
  EXPECT_THAT(Issues("services:\n  Lights: {}\n"),
              ElementsAre("node.yaml:2:3: services.Lights: invalid service name "
                          "'Lights': expected 1 to 63 of a-z, 0-9, '_' or '-'"));
  EXPECT_THAT(Issues("services:\n  lights:\n    isolation: jail\n"),
              ElementsAre("node.yaml:3:5: services.lights.isolation: invalid "
                          "isolation 'jail': expected process (its own plugin host "
                          "process, the default) or inline (inside domiand)"));
  EXPECT_THAT(Issues("services:\n  lights:\n    config: [1]\n"),
              ElementsAre("node.yaml:3:5: services.lights.config: expected a map "
                          "of the plugin's settings, found a list"));
  EXPECT_THAT(Issues("services:\n  lights:\n    confg: {}\n"),
              ElementsAre("node.yaml:3:5: services.lights.confg: unknown key "
                          "'confg' (did you mean 'config'?)"));
}

TEST(NodeConfigTest, ServicesCarryTheirRunModeAndWeight) {
  const NodeConfig config = ParseValid(R"(services:
  lights: {run: always, weight: 10}
  speaker: {run: never}
  camera: {weight: -3}
placement:
  migrate_after: 30s
  settle: 0ms
  failed_hold: 5m
)");
  ASSERT_EQ(config.services.size(), 3u);
  EXPECT_EQ(config.services[0].run, RunMode::kAlways);
  EXPECT_EQ(config.services[0].weight, 10);
  EXPECT_EQ(config.services[1].run, RunMode::kNever);
  // Listing a service without a run mode says "here, please".
  EXPECT_EQ(config.services[2].run, RunMode::kPrefer);
  EXPECT_EQ(config.services[2].weight, -3);
  EXPECT_EQ(config.placement.migrate_after, std::chrono::seconds(30));
  EXPECT_EQ(config.placement.settle, Millis::zero());
  EXPECT_EQ(config.placement.failed_hold, std::chrono::minutes(5));
  // Defaults.
  const NodeConfig defaults = ParseValid("");
  EXPECT_EQ(defaults.placement.migrate_after, std::chrono::seconds(10));
  EXPECT_EQ(defaults.placement.settle, std::chrono::seconds(2));
  EXPECT_EQ(defaults.placement.failed_hold, std::chrono::minutes(10));
}

TEST(BadValueTest, RunModeWeightAndPlacementTimings) {
  EXPECT_THAT(Issues("services:\n  lights:\n    run: sometimes\n"),
              ElementsAre("node.yaml:3:5: services.lights.run: invalid run mode "
                          "'sometimes': expected always, prefer, allow or never"));
  EXPECT_THAT(Issues("services:\n  lights:\n    weight: 1.5\n"),
              ElementsAre("node.yaml:3:5: services.lights.weight: invalid weight '1.5': "
                          "expected a whole number from -1000000 to 1000000"));
  EXPECT_THAT(Issues("services:\n  lights:\n    weight: 99999999\n"),
              ElementsAre("node.yaml:3:5: services.lights.weight: invalid weight "
                          "'99999999': expected a whole number from -1000000 to 1000000"));
  EXPECT_THAT(Issues("placement:\n  migrate_after: soon\n"),
              ElementsAre("node.yaml:2:3: placement.migrate_after: invalid duration 'soon': "
                          "expected a number with a unit ms, s, m or h, like 1500ms or 1.5s"));
  EXPECT_THAT(Issues("placement:\n  failed_hold: 0s\n"),
              ElementsAre("node.yaml:2:3: placement.failed_hold: failed_hold must be longer "
                          "than 0ms"));
  EXPECT_THAT(Issues("placement:\n  migrate_afer: 1s\n"),
              ElementsAre("node.yaml:2:3: placement.migrate_afer: unknown key "
                          "'migrate_afer' (did you mean 'migrate_after'?)"));
}

TEST(BadValueTest, StateDir) {
  EXPECT_THAT(Issues("node:\n  state_dir: ''\n"),
              ElementsAre("node.yaml:2:3: node.state_dir: expected a "
                          "directory path, found an empty string"));
}

TEST(BadValueTest, Durations) {
  EXPECT_THAT(
      Issues("membership:\n  heartbeat_interval: 200\n  rpc_timeout: -1s\n"
             "  seed_retry: 1 s\n"),
      ElementsAre("node.yaml:2:3: membership.heartbeat_interval: invalid "
                  "duration '200': expected a number with a unit ms, s, m "
                  "or h, like 1500ms or 1.5s",
                  HasSubstr("membership.rpc_timeout: invalid duration '-1s'"),
                  HasSubstr("membership.seed_retry: invalid duration '1 s'")));
}

TEST(BadValueTest, Fanout) {
  for (const char* bad : {"0", "65", "-1", "3.5", "three", "0x3", "3 "}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        Issues(std::string("membership:\n  fanout: '") + bad + "'\n"),
        ElementsAre("node.yaml:2:3: membership.fanout: invalid fanout '" +
                    std::string(bad) +
                    "': expected a whole number from 1 to 64"));
  }
}

TEST(BadValueTest, LogLevel) {
  EXPECT_THAT(Issues("log:\n  level: verbose\n"),
              ElementsAre("node.yaml:2:3: log.level: invalid log level "
                          "'verbose': expected one of trace, debug, info, "
                          "warn, error, critical, off"));
  EXPECT_THAT(Issues("log:\n  level: INFO\n"),
              ElementsAre(HasSubstr("invalid log level 'INFO'")));
}

TEST(BadValueTest, LongValuesAreCutAndStayOnOneLine) {
  const std::vector<std::string> issues =
      Issues("node:\n  id: \"" + std::string(100, 'x') + "\\nmore\"\n");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_THAT(issues[0],
              HasSubstr("invalid node id '" + std::string(60, 'x') + "...'"));
  EXPECT_EQ(issues[0].find('\n'), std::string::npos);

  EXPECT_THAT(Issues("node:\n  id: \"a\\nb\\tc\\x01\"\n"),
              ElementsAre(HasSubstr("invalid node id 'a\\nb\\tc?'")));
}

// ---------------------------------------------------------------------------
// Cross-field checks.

TEST(CrossFieldTest, HeartbeatAtLeastTenMilliseconds) {
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 5ms\n"
                     "  suspect_after: 20ms\n  dead_after: 40ms\n"
                     "  rpc_timeout: 10ms\n"),
              ElementsAre("node.yaml:2:3: membership.heartbeat_interval: "
                          "heartbeat_interval (5ms) must be at least 10ms"));
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 10ms\n"
                     "  suspect_after: 20ms\n  dead_after: 40ms\n"
                     "  rpc_timeout: 10ms\n"),
              IsEmpty());
}

TEST(CrossFieldTest, SuspectAfterLongerThanHeartbeat) {
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 500ms\n"
                     "  suspect_after: 500ms\n"),
              ElementsAre("node.yaml:3:3: membership.suspect_after: "
                          "suspect_after (500ms) must be longer than "
                          "heartbeat_interval (500ms)"));
}

TEST(CrossFieldTest, DeadAfterLongerThanSuspectAfter) {
  EXPECT_THAT(Issues("membership:\n  suspect_after: 1s\n  dead_after: 1s\n"
                     "  rpc_timeout: 200ms\n"),
              ElementsAre("node.yaml:3:3: membership.dead_after: dead_after "
                          "(1s) must be longer than suspect_after (1s)"));
}

TEST(CrossFieldTest, RpcTimeoutPositiveAndWithinDeadAfter) {
  EXPECT_THAT(Issues("membership:\n  rpc_timeout: 0ms\n"),
              ElementsAre("node.yaml:2:3: membership.rpc_timeout: "
                          "rpc_timeout (0ms) must be longer than 0ms"));
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  rpc_timeout: 2.5s\n"),
              ElementsAre("node.yaml:3:3: membership.rpc_timeout: "
                          "rpc_timeout (2.5s) must be no longer than "
                          "dead_after (2s)"));
  // Equal is fine.
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  rpc_timeout: 2s\n"),
              IsEmpty());
}

TEST(CrossFieldTest, ForgetAfterAtLeastDeadAfter) {
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  forget_after: 1s\n"),
              ElementsAre("node.yaml:3:3: membership.forget_after: "
                          "forget_after (1s) must be at least as long as "
                          "dead_after (2s)"));
  EXPECT_THAT(Issues("membership:\n  dead_after: 2s\n  forget_after: 2s\n"),
              IsEmpty());
}

TEST(CrossFieldTest, RetryPeriodsMustBePositive) {
  EXPECT_THAT(Issues("membership:\n  seed_retry: 0s\n"
                     "  reconnect_interval: 0ms\n  leave_timeout: 0ms\n"),
              ElementsAre("node.yaml:2:3: membership.seed_retry: seed_retry "
                          "(0ms) must be longer than 0ms",
                          "node.yaml:3:3: membership.reconnect_interval: "
                          "reconnect_interval (0ms) must be longer than 0ms"));
}

TEST(CrossFieldTest, ReportedOnTheKeyThatComesLaterInTheFile) {
  // Written in the reverse order: heartbeat_interval is the later key.
  EXPECT_THAT(Issues("membership:\n  suspect_after: 300ms\n"
                     "  heartbeat_interval: 400ms\n"),
              ElementsAre("node.yaml:3:3: membership.heartbeat_interval: "
                          "suspect_after (300ms) must be longer than "
                          "heartbeat_interval (400ms)"));
}

TEST(CrossFieldTest, DefaultOnOneSideIsNamedAndTheWrittenKeyIsBlamed) {
  // suspect_after is not written: its default conflicts with the
  // heartbeat the person set, so the heartbeat's line is reported.
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 1s\n"),
              ElementsAre("node.yaml:2:3: membership.heartbeat_interval: "
                          "suspect_after (600ms, the default) must be longer "
                          "than heartbeat_interval (1s)"));
  EXPECT_THAT(Issues("membership:\n  rpc_timeout: 5s\n"),
              ElementsAre("node.yaml:2:3: membership.rpc_timeout: rpc_timeout "
                          "(5s) must be no longer than dead_after (1.2s, the "
                          "default)"));
}

TEST(CrossFieldTest, InvalidValuesAreNotComparedAgain) {
  // The bad suspect_after is reported once, not also as out of order.
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 1s\n"
                     "  suspect_after: soon\n  dead_after: 3s\n"),
              ElementsAre(HasSubstr("membership.suspect_after: invalid "
                                    "duration 'soon'")));
}

TEST(CrossFieldTest, SeveralViolationsAreAllReported) {
  EXPECT_THAT(Issues("membership:\n  heartbeat_interval: 1s\n"
                     "  suspect_after: 900ms\n  dead_after: 800ms\n"
                     "  forget_after: 700ms\n"),
              ElementsAre(HasSubstr(":3:3: membership.suspect_after:"),
                          HasSubstr(":4:3: membership.dead_after:"),
                          HasSubstr(":5:3: membership.forget_after:")));
}

// ---------------------------------------------------------------------------
// Syntax errors, duplicates, documents.

TEST(SyntaxErrorTest, BecomesOneIssueAtTheParserPosition) {
  const ConfigResult result = Parse("node:\n  id: a\n  traits: [a, b\n");
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

TEST(DuplicateKeyTest, ReportedAtTheRepeat) {
  EXPECT_THAT(Issues("node:\n  id: a\n  id: b\n"),
              ElementsAre("node.yaml:3:3: node.id: duplicate key 'id' (first "
                          "set on line 2)"));
  EXPECT_THAT(Issues("log:\n  level: info\nnode: {}\nlog:\n  level: debug\n"),
              ElementsAre("node.yaml:4:1: log: duplicate key 'log' (first set "
                          "on line 1)"));
  EXPECT_THAT(Issues("membership: {fanout: 2, fanout: 3}\n"),
              ElementsAre("node.yaml:1:25: membership.fanout: duplicate key "
                          "'fanout' (first set on line 1)"));
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
  const ConfigResult result = Parse(R"(log:
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
  const ConfigResult result = Parse("node:\n  id: ok\nlog:\n  level: x\n");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(ConfigIssues(result.status()).size(), 1u);
}

// ---------------------------------------------------------------------------
// The status a failed load returns.

TEST(StatusTest, TheMessageIsEveryIssueOneALine) {
  const ConfigResult result = Parse("node:\n  idd: a\nlog:\n  level: x\n");
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
  const ConfigResult result = ParseNodeConfig("node:\n  \"a\\nb:\xff\": 1\n", file);
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
  const ConfigResult result = LoadNodeConfig(path);
  EXPECT_THAT(ConfigIssues(result.status()), IsEmpty());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, path);
  EXPECT_EQ(result->id, "kitchen-pi");
  EXPECT_EQ(result->membership.fanout, 5u);
}

TEST_F(LoadNodeConfigTest, EmptyFileGivesDefaults) {
  const std::filesystem::path path = Write("empty.yaml", "");
  const ConfigResult result = LoadNodeConfig(path);
  EXPECT_THAT(ConfigIssues(result.status()), IsEmpty());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, path);
  EXPECT_EQ(result->cluster, "home");
}

TEST_F(LoadNodeConfigTest, IssuesNameTheFile) {
  const std::filesystem::path path = Write("bad.yaml", "node:\n  idd: a\n");
  const ConfigResult result = LoadNodeConfig(path);
  EXPECT_FALSE(result.ok());
  const std::vector<ConfigIssue> issues = ConfigIssues(result.status());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(
      issues[0].ToString(),
      path.string() + ":2:3: node.idd: unknown key 'idd' (did you mean 'id'?)");
}

TEST_F(LoadNodeConfigTest, MissingFileIsOneIssueOnLineZero) {
  const std::filesystem::path path = dir_ / "absent.yaml";
  const ConfigResult result = LoadNodeConfig(path);
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
  const ConfigResult result = LoadNodeConfig(dir_);
  EXPECT_FALSE(result.ok());
  const std::vector<ConfigIssue> issues = ConfigIssues(result.status());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 0);
  EXPECT_EQ(issues[0].message,
            std::string("cannot read the file: ") + std::strerror(EISDIR));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace domian::config
