#include "core/placement/ranking.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace domian::placement {
namespace {

using ::testing::ElementsAre;

NodeView Node(const std::string& id, std::set<std::string> plugins = {"lights"}) {
  NodeView node;
  node.id = id;
  node.plugins = std::move(plugins);
  return node;
}

void Prefer(NodeView& node, const std::string& service, RunMode run, int64_t weight = 0) {
  node.preferences[service] = {run, weight, /*listed=*/true};
}

const ServiceSpec kLights{"lights", Kind::kSingleton, {}, {}};

std::string ReasonFor(const Decision& decision, const std::string& node) {
  for (const Verdict& verdict : decision.verdicts) {
    if (verdict.node == node) return verdict.reason;
  }
  return "(none)";
}

TEST(RankingTest, ASingletonGoesToTheBestCandidate) {
  NodeView a = Node("a"), b = Node("b"), c = Node("c");
  Prefer(a, "lights", RunMode::kAllow, 50);
  Prefer(b, "lights", RunMode::kPrefer, 1);
  Prefer(c, "lights", RunMode::kPrefer, 5);
  const Decision decision = Decide(kLights, {a, b, c}, {});
  EXPECT_EQ(decision.state, PlacementState::kPlaced);
  EXPECT_THAT(decision.owners, ElementsAre("c"));  // prefer beats allow, then weight
  EXPECT_EQ(ReasonFor(decision, "c"), "rank 1 (prefer, weight 5, running 0)");
  EXPECT_EQ(ReasonFor(decision, "a"), "lower rank 3 (allow, weight 50, running 0)");
}

TEST(RankingTest, AlwaysBeatsPreferAndTiesGoToTheLessBusyThenTheLowerId) {
  NodeView a = Node("a"), b = Node("b"), c = Node("c");
  Prefer(a, "lights", RunMode::kPrefer, 100);
  Prefer(b, "lights", RunMode::kAlways);
  EXPECT_THAT(Decide(kLights, {a, b, c}, {}).owners, ElementsAre("b"));
  NodeView d = Node("d"), e = Node("e"), f = Node("f");
  d.running = 3;
  e.running = 1;
  f.running = 1;
  EXPECT_THAT(Decide(kLights, {d, f, e}, {}).owners, ElementsAre("e"));
}

TEST(RankingTest, APluginPresentButNotListedCountsAsAllowWithWeightZero) {
  NodeView a = Node("a"), b = Node("b");
  Prefer(b, "lights", RunMode::kAllow, 1);
  EXPECT_THAT(Decide(kLights, {a, b}, {}).owners, ElementsAre("b"));
  EXPECT_EQ(ReasonFor(Decide(kLights, {a, b}, {}), "a"), "lower rank 2 (allow, weight 0, running 0)");
}

TEST(RankingTest, NodesThatCannotHostAreRefusedWithTheReason) {
  const ServiceSpec camera{"camera", Kind::kSingleton, {"camera"}, {}};
  NodeView no_plugin = Node("a", {});
  NodeView no_trait = Node("b", {"camera"});
  NodeView never = Node("c", {"camera"});
  never.traits = {"camera"};
  Prefer(never, "camera", RunMode::kNever);
  NodeView dead = Node("d", {"camera"});
  dead.traits = {"camera"};
  dead.alive = false;
  NodeView crashed = Node("e", {"camera"});
  crashed.traits = {"camera"};
  crashed.gave_up = {"camera"};
  const Decision decision = Decide(camera, {no_plugin, no_trait, never, dead, crashed}, {});
  EXPECT_EQ(decision.state, PlacementState::kUnplaced);
  EXPECT_TRUE(decision.owners.empty());
  EXPECT_EQ(ReasonFor(decision, "a"), "no plugin");
  EXPECT_EQ(ReasonFor(decision, "b"), "missing trait camera");
  EXPECT_EQ(ReasonFor(decision, "c"), "never");
  EXPECT_EQ(ReasonFor(decision, "d"), "not alive");
  EXPECT_EQ(ReasonFor(decision, "e"), "failed here recently");
}

TEST(RankingTest, APerNodeServiceRunsWhereverItIsListedAndCanRun) {
  const ServiceSpec speaker{"speaker", Kind::kPerNode, {"speaker"}, {}};
  NodeView a = Node("a", {"speaker"}), b = Node("b", {"speaker"}), c = Node("c", {"speaker"});
  for (NodeView* node : {&a, &b, &c}) node->traits = {"speaker"};
  Prefer(a, "speaker", RunMode::kAllow);
  Prefer(b, "speaker", RunMode::kPrefer);
  const Decision decision = Decide(speaker, {a, b, c}, {});
  EXPECT_THAT(decision.owners, ElementsAre("b", "a"));
  EXPECT_EQ(ReasonFor(decision, "c"), "not listed in its node.yaml");
}

TEST(RankingTest, AServiceWaitsForItsDependencies) {
  const ServiceSpec scenes{"scenes", Kind::kSingleton, {}, {"lights"}};
  NodeView a = Node("a", {"scenes", "lights"});
  const Decision waiting = Decide(scenes, {a}, {});
  EXPECT_EQ(waiting.state, PlacementState::kWaiting);
  EXPECT_EQ(waiting.detail, "waiting for lights");
  EXPECT_TRUE(waiting.owners.empty());
  EXPECT_THAT(Decide(scenes, {a}, {"lights"}).owners, ElementsAre("a"));
}

TEST(RankingTest, WantedIsWhatLiveNodesListPlusDependencies) {
  std::map<std::string, ServiceSpec> specs = {
      {"scenes", {"scenes", Kind::kSingleton, {}, {"lights"}}},
      {"lights", {"lights", Kind::kSingleton, {}, {"bridge"}}},
      {"bridge", {"bridge", Kind::kSingleton, {}, {}}},
      {"camera", {"camera", Kind::kPerNode, {}, {}}},
      {"speaker", {"speaker", Kind::kPerNode, {}, {}}},
  };
  NodeView a = Node("a"), b = Node("b"), c = Node("c");
  Prefer(a, "scenes", RunMode::kAllow);
  Prefer(b, "camera", RunMode::kNever);  // never is not a wish
  Prefer(c, "speaker", RunMode::kAlways);
  c.alive = false;  // a dead node's wishes do not count
  Prefer(a, "unknown", RunMode::kPrefer);  // no plugin anywhere describes it
  EXPECT_THAT(Wanted({a, b, c}, specs), ElementsAre("bridge", "lights", "scenes"));
}

TEST(RankingTest, EveryNodeComputesTheSameOwnerWhateverTheOrderOfItsView) {
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<NodeView> nodes;
    for (int i = 0; i < 6; ++i) {
      NodeView node = Node("n" + std::to_string(i));
      node.running = random() % 3;
      if (random() % 2) {
        Prefer(node, "lights", static_cast<RunMode>(random() % 4),
               static_cast<int64_t>(random() % 3));
      }
      nodes.push_back(node);
    }
    const auto expected = Decide(kLights, nodes, {}).owners;
    for (int shuffle = 0; shuffle < 5; ++shuffle) {
      std::shuffle(nodes.begin(), nodes.end(), random);
      EXPECT_EQ(Decide(kLights, nodes, {}).owners, expected);
    }
  }
}

}  // namespace
}  // namespace domian::placement
