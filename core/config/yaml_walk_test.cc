// Tests for what the schema walk reports the same way in every section:
// unknown keys with their suggestions, values of the wrong kind, repeated
// keys, and how values are quoted back.
#include "core/config/node_config.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/internal/test_util.h"

namespace domian::config {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using test_util::Issues;

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
                          "plugins, services, placement, security, mqtt, http, log)"));
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
// Repeated keys, and values quoted back.

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

}  // namespace
}  // namespace domian::config
