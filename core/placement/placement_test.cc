// Placement with several nodes wired together in memory on a FakeClock:
// each node's identity is what its Placement last published (a test may
// make a node lie about itself), liveness is set by the test, hand-overs
// go straight to the other node's Placement. Rounds run one node at a
// time, so every step is deterministic.
#include "core/placement/placement.h"

#include "core/common/utf8.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

namespace domian::placement {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A node's services: start and stop happen at once; `value` is the
// service's state as the plugin would save it.
class FakeServices final : public LocalServices {
 public:
  void Start(const std::string& service, const std::string& config_json, uint64_t epoch,
             const std::optional<std::string>& state) override {
    if (state) value[service] = *state;
    running[service] = {service, crash.contains(service) ? ServiceState::kFailed
                                                         : ServiceState::kRunning,
                        crash.contains(service) ? crash_detail[service] : "", ""};
    last_epoch[service] = epoch;
    configs[service] = config_json;
    ++starts;
  }
  std::optional<std::string> Stop(const std::string& service) override {
    running.erase(service);
    const auto it = value.find(service);
    return it == value.end() ? std::nullopt : std::optional(it->second);
  }
  std::vector<Status> Services() const override {
    std::vector<Status> out;
    for (const auto& [name, status] : running) out.push_back(status);
    return out;
  }
  std::vector<ServiceSpec> Plugins() const override { return specs; }
  uint64_t LastEpoch(const std::string& service) const override {
    const auto it = last_epoch.find(service);
    return it == last_epoch.end() ? 0 : it->second;
  }

  std::vector<ServiceSpec> specs;
  std::map<std::string, Status> running;
  std::map<std::string, std::string> value;
  std::map<std::string, uint64_t> last_epoch;
  std::map<std::string, std::string> configs;
  std::set<std::string> crash;  // services that fail to start here
  std::map<std::string, std::string> crash_detail;  // and what they say when they do
  int starts = 0;
};

class World;

// A hand-over's answer as the tests compare it: "" when taken, else the
// reason, with its gRPC code in `code`.
std::string Answer(Placement& placement, const HandOverRequest& request, int& code) {
  const absl::Status status = placement.AcceptHandOver(request);
  code = static_cast<int>(status.code());
  return std::string(status.message());
}

struct Node {
  std::string id;
  std::vector<std::string> traits;
  std::vector<config::ServiceConfig> yaml;
  uint64_t incarnation = 1;
  bool alive = true;
  FakeServices services;
  std::unique_ptr<ClusterSource> cluster;  // its view of the others
  std::unique_ptr<Placement> placement;
  Identity published;  // what peers see
  // A hostile or broken node: changes what it publishes about itself.
  std::function<void(Identity&)> lie;
  // Placement's `ready` calls in this life, and the service starts made
  // when the first came.
  int readies = 0;
  int starts_when_ready = -1;
};

// Hand-overs between nodes, straight into the receiver's Placement.
class World final : public HandOverTransport {
 public:
  static constexpr Millis kMigrateAfter{10000};
  static constexpr Millis kSettle{2000};

  Node& Add(const std::string& id, std::vector<config::ServiceConfig> yaml,
            std::vector<std::string> traits = {}) {
    auto node = std::make_unique<Node>();
    node->id = id;
    node->yaml = std::move(yaml);
    node->traits = std::move(traits);
    node->services.specs = specs;
    Node& added = *node;
    nodes_[id] = std::move(node);
    Boot(added);
    return added;
  }

  // A fresh process: new incarnation, nothing running, saved files kept.
  void Boot(Node& node) {
    node.placement.reset();
    node.services.running.clear();
    node.alive = true;
    ++node.incarnation;
    node.readies = 0;
    node.starts_when_ready = -1;
    node.cluster = std::make_unique<NodeCluster>(*this, node);
    node.placement = std::make_unique<Placement>(
        Placement::Options{.cluster = "home",
                           .services = node.yaml,
                           .timings = {.migrate_after = kMigrateAfter,
                                       .settle = kSettle,
                                       .failed_hold = 10min},
                           .ready =
                               [&node] {
                                 if (node.readies++ == 0) {
                                   node.starts_when_ready = node.services.starts;
                                 }
                               }},
        node.services, *this, *node.cluster, [this, &node] { Publish(node); }, clock);
    Publish(node);
  }

  // Publishes what `node` says of itself again (after changing its lie).
  void Republish(Node& node) { Publish(node); }

  void Kill(Node& node) {
    node.alive = false;
    node.services.running.clear();
  }

  // Every live node runs one round, in id order, `times` times.
  void Rounds(int times = 1) {
    for (int i = 0; i < times; ++i) {
      for (auto& [id, node] : nodes_) {
        if (node->alive) node->placement->RunOnce();
      }
    }
  }

  // Advances the clock in steps of `step`, with a round after each.
  void Pass(std::chrono::milliseconds total, std::chrono::milliseconds step = 500ms) {
    for (auto t = 0ms; t < total; t += step) {
      clock.Advance(step);
      Rounds();
    }
  }

  // Nodes whose services report `service` running, with their epochs.
  std::map<std::string, uint64_t> Owners(const std::string& service) {
    std::map<std::string, uint64_t> owners;
    for (auto& [id, node] : nodes_) {
      if (!node->alive || !node->services.running.contains(service)) continue;
      for (const ServiceRecord& record : node->placement->Records()) {
        if (record.name == service) owners[id] = record.epoch;
      }
    }
    return owners;
  }

  absl::Status HandOver(const std::string& address, const HandOverRequest& request) override {
    ++handovers;
    Node& target = *nodes_.at(address);
    if (!target.alive || refuse_handovers) return absl::UnavailableError("unreachable");
    return target.placement->AcceptHandOver(request);
  }

  FakeClock clock;
  std::vector<ServiceSpec> specs = {{"lights", Kind::kSingleton, {}, {}},
                                    {"heating", Kind::kSingleton, {"w1"}, {}},
                                    {"scenes", Kind::kSingleton, {}, {"lights"}},
                                    {"speaker", Kind::kPerNode, {}, {}}};
  // Partitions: pairs of nodes that cannot see each other (each sees the
  // other dead), or that never heard of each other at all.
  std::set<std::pair<std::string, std::string>> cut;
  std::set<std::pair<std::string, std::string>> unknown;
  bool refuse_handovers = false;
  int handovers = 0;
  int confirms = 0;                 // ClusterSource::Confirm calls, by any node
  std::map<std::pair<std::string, std::string>, int> asked;  // (asker, asked) -> calls
  std::set<std::string> silent;     // nodes that never answer a Confirm

 private:
  // One node's view of the others; Confirm is one node asking another.
  class NodeCluster final : public ClusterSource {
   public:
    NodeCluster(World& world, Node& node) : world_(world), node_(node) {}
    ClusterView View() const override { return world_.ViewFrom(node_); }
    bool Confirm(const std::string& id, std::chrono::milliseconds /*timeout*/) override {
      ++world_.confirms;
      ++world_.asked[{node_.id, id}];
      const auto it = world_.nodes_.find(id);
      return it != world_.nodes_.end() && it->second->alive && !world_.silent.contains(id) &&
             !world_.Cut(id, node_.id) && !world_.unknown.contains({id, node_.id}) &&
             !world_.unknown.contains({node_.id, id});
    }

   private:
    World& world_;
    Node& node_;
  };

  void Publish(Node& node) {
    Identity identity;
    identity.id = node.id;
    identity.cluster = "home";
    identity.address = node.id;
    identity.traits = node.traits;
    identity.services = node.placement->Records();
    identity.offers = node.placement->Offers();
    if (node.lie) node.lie(identity);
    node.published = identity;
  }

  bool Cut(const std::string& a, const std::string& b) const {
    return cut.contains({a, b}) || cut.contains({b, a});
  }

  ClusterView ViewFrom(const Node& self) {
    ClusterView view;
    view.self = self.published;
    for (const auto& [id, node] : nodes_) {
      if (id == self.id || unknown.contains({id, self.id}) || unknown.contains({self.id, id})) {
        continue;
      }
      membership::PeerView peer;
      peer.identity = node->published;
      peer.state = node->alive && !Cut(id, self.id) ? PeerState::kAlive : PeerState::kDead;
      peer.counters.incarnation = node->incarnation;
      view.peers.push_back(peer);
    }
    return view;
  }

  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

config::ServiceConfig Wants(const std::string& service, RunMode run, int64_t weight = 0,
                            std::string config = "{}") {
  return {.name = service, .run = run, .weight = weight, .config_json = std::move(config)};
}

class PlacementTest : public ::testing::Test {
 protected:
  // a prefers lights (and configures it); b and c allow it. (A node that
  // only has the plugin does not keep the service wanted on its own.)
  void ThreeNodes() {
    a_ = &world_.Add("a", {Wants("lights", RunMode::kPrefer, 0, R"({"bridge":"10.0.0.2"})")});
    b_ = &world_.Add("b", {Wants("lights", RunMode::kAllow)});
    c_ = &world_.Add("c", {Wants("lights", RunMode::kAllow)});
    world_.Pass(World::kSettle + 500ms);
  }

  World world_;
  Node* a_ = nullptr;
  Node* b_ = nullptr;
  Node* c_ = nullptr;
};

TEST_F(PlacementTest, ASingletonStartsOnlyOnItsBestNodeAfterSettling) {
  a_ = &world_.Add("a", {Wants("lights", RunMode::kPrefer)});
  b_ = &world_.Add("b", {});
  world_.Pass(1500ms);
  EXPECT_THAT(world_.Owners("lights"), IsEmpty()) << "started before the settle period";
  world_.Pass(1000ms);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  world_.Pass(30s);
  EXPECT_EQ(b_->services.starts, 0);
  EXPECT_EQ(world_.handovers, 0);
}

// Ready (the node's health check) is the end of `settle` plus the round
// that starts what belongs here: never earlier, once, and on every node,
// those with nothing to run too.
TEST_F(PlacementTest, ReadyComesOnceAfterSettlingWithTheSingletonsStarted) {
  a_ = &world_.Add("a", {Wants("lights", RunMode::kPrefer)});
  b_ = &world_.Add("b", {});
  world_.Pass(World::kSettle - 500ms);
  EXPECT_EQ(a_->readies, 0) << "ready before the settle period was over";
  EXPECT_EQ(b_->readies, 0);
  world_.Pass(1000ms);
  EXPECT_EQ(a_->readies, 1);
  EXPECT_EQ(a_->starts_when_ready, 1) << "ready before its singleton was started";
  EXPECT_EQ(b_->readies, 1);
  EXPECT_EQ(b_->starts_when_ready, 0);
  world_.Pass(30s);
  EXPECT_EQ(a_->readies, 1) << "ready is said once";
  EXPECT_EQ(b_->readies, 1);

  // A restart is a new start-up: not ready until it settled again.
  world_.Kill(*a_);
  world_.Boot(*a_);
  world_.Pass(World::kSettle - 500ms);
  EXPECT_EQ(a_->readies, 0);
  world_.Pass(1000ms);
  EXPECT_EQ(a_->readies, 1);
}

// A plugin's endpoint or health detail goes into this node's identity;
// one byte that is not UTF-8 there and every peer would refuse its lists.
TEST_F(PlacementTest, ThePluginTextARecordCarriesIsValidUtf8) {
  a_ = &world_.Add("a", {Wants("lights", RunMode::kPrefer)});
  world_.Pass(2500ms);
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  a_->services.running["lights"].endpoint = "http=10.0.0.1:80\xff";
  a_->services.running["lights"].detail = std::string(300, 'x') + "\xc3";
  const auto records = a_->placement->Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].endpoint, "http=10.0.0.1:80\xef\xbf\xbd");
  EXPECT_TRUE(IsValidUtf8(records[0].detail));
  EXPECT_LE(records[0].detail.size(), kMaxServiceDetailBytes);
}

TEST_F(PlacementTest, FailsOverWhenTheOwnerDiesAndComesBackWithItsState) {
  ThreeNodes();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  world_.Kill(*a_);
  world_.Rounds();
  // b ranks before c (same preference, same load, lower id).
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
  // The configuration travelled from a's YAML.
  EXPECT_EQ(b_->services.configs["lights"], R"({"bridge":"10.0.0.2"})");
  b_->services.value["lights"] = "41";

  world_.Boot(*a_);
  world_.Pass(World::kMigrateAfter - 1s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}))
      << "moved back before migrate_after";
  world_.Pass(2s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 3}}));
  EXPECT_EQ(a_->services.value["lights"], "41") << "the state did not travel";
  EXPECT_EQ(world_.handovers, 1);
  EXPECT_EQ((world_.asked[{"a", "b"}]), 1)
      << "a asked b whether it hands it over, once";
  // And b, once it moved, asked a for the record of the service running
  // there (calls keep reaching b for a while).
  EXPECT_EQ((world_.asked[{"b", "a"}]), 1);
  EXPECT_EQ(world_.confirms, 2);
}

TEST_F(PlacementTest, ACleanStopHandsSingletonsOverWithTheirState) {
  ThreeNodes();
  a_->services.value["lights"] = "7";
  a_->placement->HandOffAll(5s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
  EXPECT_EQ(b_->services.value["lights"], "7");
  EXPECT_EQ(b_->services.configs["lights"], R"({"bridge":"10.0.0.2"})");
  // Nobody to take it: it stays (to be stopped with the node).
  world_.Kill(*a_);
  world_.Kill(*c_);
  b_->placement->HandOffAll(5s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
}

// What node `node` says of `service` while it is moving it (or claims to).
void SaysHandingOver(World& world, Node& node, const std::string& service, const std::string& to,
                     uint64_t epoch) {
  node.lie = [=](Identity& identity) {
    for (ServiceRecord& record : identity.services) {
      if (record.name != service) continue;
      record.state = "handing-over";
      record.hand_over_to = to;
      record.hand_over_epoch = epoch;
    }
  };
  world.Republish(node);
}

// What a node says about itself, changed by `lie` (the service records
// of `service` get `epoch`, or a record is added when it has none).
void SaysItRuns(World& world, Node& node, const std::string& service, uint64_t epoch) {
  node.lie = [=](Identity& identity) {
    for (ServiceRecord& record : identity.services) {
      if (record.name == service) {
        record.epoch = epoch;
        return;
      }
    }
    identity.services.push_back({service, "running", "", epoch});
  };
  world.Republish(node);
}

// A HandOver is only a claim by whoever connected: it is taken when the
// sender, asked directly, says it is handing the service to this node
// under exactly that epoch, and never otherwise.
TEST_F(PlacementTest, AHandOverTheSenderDoesNotConfirmIsRefused) {
  ThreeNodes();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  a_->services.value["lights"] = "41";
  HandOverRequest request{.service = "lights", .epoch = 2, .from = "a", .cluster = "home",
                          .state = "garbage", .config_json = R"({"relay":"10.6.6.6"})"};
  int code = 0;
  // The owner, which is not moving it.
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "node a does not hand lights to this node under epoch 2: asked just now, it says "
            "running under epoch 1");
  EXPECT_EQ(code, 7);
  EXPECT_EQ(world_.confirms, 1);
  // A live node that does not run it.
  request.from = "c";
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "node c does not run lights (asked just now)");
  EXPECT_EQ(code, 7);
  // A stranger is refused before anyone is asked.
  request.from = "intruder";
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "'intruder' is not a live peer of this node");
  EXPECT_EQ(code, 7);
  EXPECT_EQ(world_.confirms, 2);
  // The owner moving it, but to another node, or under another epoch.
  request.from = "a";
  SaysHandingOver(world_, *a_, "lights", "c", 2);
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "node a does not hand lights to this node under epoch 2: asked just now, it says "
            "handing-over to 'c' under epoch 2");
  EXPECT_EQ(code, 7);
  SaysHandingOver(world_, *a_, "lights", "b", 3);
  EXPECT_THAT(Answer(*b_->placement, request, code),
              ::testing::HasSubstr("it says handing-over to 'b' under epoch 3"));
  EXPECT_EQ(code, 7);
  // The right record, but the sender does not answer when asked.
  SaysHandingOver(world_, *a_, "lights", "b", 2);
  world_.silent = {"a"};
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "node a did not confirm it: not a live peer, or no answer within 2000 ms");
  EXPECT_EQ(code, 7);

  // Nothing was started, and the owner's state is its own.
  EXPECT_EQ(b_->services.starts, 0);
  EXPECT_EQ(b_->services.value.count("lights"), 0u);
  world_.silent.clear();
  a_->lie = nullptr;
  world_.Republish(*a_);
  world_.Pass(30s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  EXPECT_EQ(a_->services.value["lights"], "41");
  EXPECT_EQ(a_->services.starts, 1);
}

TEST_F(PlacementTest, AHandedOverEpochIsAboveEveryKnownOneAndNotFarAbove) {
  ThreeNodes();
  HandOverRequest request{.service = "lights", .epoch = kMaxEpoch, .from = "a",
                          .cluster = "home", .state = "1", .config_json = "{}"};
  int code = 0;
  auto hand_to_b = [&](uint64_t epoch) {
    SaysHandingOver(world_, *a_, "lights", "b", epoch);
    request.epoch = epoch;
    return Answer(*b_->placement, request, code);
  };
  // The one that split the cluster: the sender's own word, but 2^62.
  EXPECT_EQ(hand_to_b(kMaxEpoch), "epoch 4611686018427387904 is more than 16 above 1, the "
                                  "highest this node knows for lights");
  EXPECT_EQ(code, 11);
  EXPECT_THAT(hand_to_b(1 + kMaxHandOverEpochLead + 1), ::testing::HasSubstr("more than 16"));
  // Past the range altogether: refused before anyone is asked.
  const int confirms = world_.confirms;
  request.epoch = kMaxEpoch + 1;
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "epoch 4611686018427387905 is out of range (1 to 4611686018427387904)");
  EXPECT_EQ(code, 11);
  EXPECT_EQ(world_.confirms, confirms);
  // Not above what a dead node reported: it ran it under epoch 5.
  Node& d = world_.Add("d", {});
  SaysItRuns(world_, d, "lights", 5);
  world_.Kill(d);
  EXPECT_EQ(hand_to_b(3), "epoch 3 is not above 5, the highest this node knows for lights");
  EXPECT_EQ(code, 11);
  EXPECT_EQ(b_->services.starts, 0);
  // The largest lead is taken.
  EXPECT_EQ(hand_to_b(5 + kMaxHandOverEpochLead), "");
  a_->lie = nullptr;
  world_.Rounds();
  EXPECT_EQ(world_.Owners("lights"),
            (std::map<std::string, uint64_t>{{"b", 5 + kMaxHandOverEpochLead}}));
}

TEST_F(PlacementTest, AHandOverFromANodeThatIsNotTheNewestOwnerIsRefused) {
  ThreeNodes();
  HandOverRequest request{.service = "lights", .epoch = 2, .from = "a", .cluster = "home",
                          .state = "1", .config_json = "{}"};
  int code = 0;
  // c says it runs it too, under the same epoch as a.
  SaysItRuns(world_, *c_, "lights", 1);
  SaysHandingOver(world_, *a_, "lights", "b", 2);
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "node c runs lights under epoch 1, not below a's 1");
  EXPECT_EQ(code, 10);
  c_->lie = nullptr;
  world_.Republish(*c_);
  // A late one: a gave up on the move and runs it again under epoch 3.
  SaysItRuns(world_, *a_, "lights", 3);
  const int confirms = world_.confirms;
  EXPECT_EQ(Answer(*b_->placement, request, code), "node a runs lights under epoch 3");
  EXPECT_EQ(code, 10);
  EXPECT_EQ(world_.confirms, confirms) << "refused on what b knew already";
  EXPECT_EQ(b_->services.starts, 0);
}

TEST_F(PlacementTest, HandOversThatCannotBeTakenHereAreRefusedBeforeAskingTheSender) {
  ThreeNodes();
  SaysHandingOver(world_, *a_, "lights", "b", 2);
  HandOverRequest request{.service = "lights", .epoch = 2, .from = "a", .cluster = "home",
                          .state = std::string(kMaxHandOverStateBytes + 1, 'x'),
                          .config_json = "{}"};
  int code = 0;
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "its state is 1048577 bytes, over the limit of 1048576");
  EXPECT_EQ(code, 8);
  request.state = "1";
  // A per-node service is each node's own.
  request.service = "speaker";
  EXPECT_EQ(Answer(*b_->placement, request, code),
            "speaker is a per-node service: each node runs its own");
  EXPECT_EQ(code, 9);
  // Another cluster's.
  request.service = "lights";
  request.cluster = "next-door";
  EXPECT_EQ(Answer(*b_->placement, request, code), "cluster 'next-door' is not ours");
  EXPECT_EQ(code, 9);
  // A stopping node takes nothing.
  request.cluster = "home";
  b_->placement->Stop();
  EXPECT_EQ(Answer(*b_->placement, request, code), "this node is stopping");
  EXPECT_EQ(code, 14);
  EXPECT_EQ(world_.confirms, 0);
  // The same one, confirmed and within every limit, is taken.
  EXPECT_NE(Answer(*c_->placement, request, code), "") << "c is not the node a names";
  SaysHandingOver(world_, *a_, "lights", "c", 2);
  EXPECT_EQ(Answer(*c_->placement, request, code), "");
  EXPECT_EQ(c_->services.value["lights"], "1");
}

TEST_F(PlacementTest, AHandOverBelowTheReceiversOwnHistoryStartsAboveIt) {
  ThreeNodes();
  // b ran it long ago under epoch 40; nobody else can know.
  b_->services.last_epoch["lights"] = 40;
  a_->placement->HandOffAll(5s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 41}}));
}

TEST_F(PlacementTest, ANodeThatCannotStartAServiceItIsHandedIsNotAskedAgain) {
  ThreeNodes();
  world_.Kill(*a_);
  world_.Rounds();
  ASSERT_EQ(world_.Owners("lights").count("b"), 1u);
  a_->services.crash.insert("lights");
  world_.Boot(*a_);
  world_.Pass(World::kMigrateAfter + 1s);
  EXPECT_EQ(world_.handovers, 1);
  EXPECT_EQ(world_.Owners("lights").count("b"), 1u) << "b runs it again";
  world_.Pass(5min, 5s);
  EXPECT_EQ(world_.handovers, 1) << "a gave up on it: not a candidate for failed_hold";
}

TEST_F(PlacementTest, AFlappingNodeDoesNotDragTheServiceAlong) {
  ThreeNodes();
  world_.Kill(*a_);
  world_.Rounds();
  ASSERT_EQ(world_.Owners("lights").count("b"), 1u);
  // a restarts every 4 s for two minutes: never alive for migrate_after.
  for (int i = 0; i < 30; ++i) {
    world_.Boot(*a_);
    world_.Pass(4s);
    world_.Kill(*a_);
    world_.Rounds();
  }
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
  EXPECT_EQ(world_.handovers, 0);
  EXPECT_EQ(b_->services.starts, 1);
}

TEST_F(PlacementTest, AfterAPartitionHealsTheHigherEpochKeepsIt) {
  ThreeNodes();
  world_.cut = {{"a", "b"}, {"a", "c"}};
  world_.Rounds();
  // Each side runs it: a under epoch 1, b under epoch 2.
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}, {"b", 2}}));
  world_.Pass(5s);
  world_.cut.clear();
  world_.Rounds();
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
  // ...and then it moves to the preferred node, once.
  world_.Pass(World::kMigrateAfter + 1s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 3}}));
  world_.Pass(30s);
  EXPECT_EQ(world_.handovers, 1);
}

TEST_F(PlacementTest, EqualEpochsAreSettledByPreferenceThenId) {
  a_ = &world_.Add("a", {Wants("lights", RunMode::kAllow)});
  b_ = &world_.Add("b", {Wants("lights", RunMode::kAllow)});
  // Both sides were cut off from each other from the start.
  world_.unknown = {{"a", "b"}};
  world_.Pass(3s);
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}, {"b", 1}}));
  world_.unknown.clear();
  world_.Rounds(2);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
}

TEST_F(PlacementTest, TieBreakersNeverMoveARunningService) {
  a_ = &world_.Add("a", {Wants("lights", RunMode::kAllow)});
  world_.Pass(3s);
  ASSERT_EQ(world_.Owners("lights").count("a"), 1u);
  // A node that ranks first only by its lower id ("0" < "a") would be
  // chosen for a fresh start, but is no reason to move.
  world_.Add("0", {Wants("lights", RunMode::kAllow)});
  world_.Pass(60s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  EXPECT_EQ(world_.handovers, 0);
}

TEST_F(PlacementTest, AServiceThatKeepsFailingMovesToTheNextCandidate) {
  ThreeNodes();
  a_->services.crash.insert("lights");
  world_.Kill(*a_);
  world_.Boot(*a_);
  world_.Pass(3s);
  // a started it (it is the best), it failed there, b took it.
  const auto owners = world_.Owners("lights");
  EXPECT_EQ(owners.count("a"), 0u);
  EXPECT_EQ(owners.count("b"), 1u);
  bool gave_up = false;
  for (const Offer& offer : a_->placement->Offers()) {
    if (offer.service == "lights") gave_up = offer.gave_up;
  }
  EXPECT_TRUE(gave_up);
  const Explanation why = b_->placement->Explain("lights");
  for (const Verdict& verdict : why.verdicts) {
    if (verdict.node == "a") {
      EXPECT_EQ(verdict.reason, "failed here recently");
    }
  }
  // Not back to a within the hold, even though a is preferred.
  world_.Pass(2min, 5s);
  EXPECT_EQ(world_.Owners("lights").count("b"), 1u);
}

// Why it failed is the plugin's to say, and every node's explain shows it:
// the reason travels in a's offer. With no other candidate, the service's
// own detail says it too.
TEST_F(PlacementTest, WhyAServiceKeptFailingTravelsWithTheOffer) {
  ThreeNodes();
  const std::string why = "lights: invalid configuration: bridge: must be host:port";
  for (Node* node : {a_, b_, c_}) {
    node->services.crash.insert("lights");
    node->services.crash_detail["lights"] = why;
  }
  world_.Kill(*a_);
  world_.Boot(*a_);
  // a, then b, then c give up on it.
  world_.Pass(10s);
  for (const Offer& offer : a_->placement->Offers()) {
    if (offer.service == "lights") {
      EXPECT_TRUE(offer.gave_up);
      EXPECT_EQ(offer.gave_up_detail, why);
    }
  }
  const Explanation explained = b_->placement->Explain("lights");
  bool seen = false;
  for (const Verdict& verdict : explained.verdicts) {
    if (verdict.node == "a") {
      EXPECT_EQ(verdict.reason, "failed here recently: " + why);
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(explained.state, PlacementState::kUnplaced);
  EXPECT_THAT(explained.detail, ::testing::HasSubstr("no node can host it; "));
  EXPECT_THAT(explained.detail, ::testing::HasSubstr("a failed here recently: " + why));
}

TEST_F(PlacementTest, AFailedPerNodeServiceIsTriedAgainAfterTheHold) {
  a_ = &world_.Add("a", {Wants("speaker", RunMode::kPrefer)});
  a_->services.crash.insert("speaker");
  world_.Pass(1s);
  ASSERT_EQ(a_->services.starts, 1);
  world_.Pass(9min, 30s);
  EXPECT_EQ(a_->services.starts, 1) << "retried within failed_hold";
  a_->services.crash.clear();
  world_.Pass(2min, 30s);
  EXPECT_EQ(a_->services.starts, 2);
  EXPECT_EQ(world_.Owners("speaker"), (std::map<std::string, uint64_t>{{"a", 2}}));
}

TEST_F(PlacementTest, ARefusedMoveRunsItAgainHereAndIsNotRetriedAtOnce) {
  ThreeNodes();
  world_.Kill(*a_);
  world_.Rounds();
  world_.Boot(*a_);
  world_.refuse_handovers = true;
  world_.Pass(World::kMigrateAfter + 1s);
  EXPECT_EQ(world_.handovers, 1);
  // b runs it again, above the epoch it offered (3).
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 4}}));
  world_.Pass(5s);
  EXPECT_EQ(world_.handovers, 1);
  world_.refuse_handovers = false;
  world_.Pass(World::kMigrateAfter + 1s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 5}}));
}

TEST_F(PlacementTest, TraitBoundServiceIsUnplacedWithoutItsHostAndReturnsWithIt) {
  a_ = &world_.Add("a", {Wants("heating", RunMode::kPrefer)}, {"w1"});
  b_ = &world_.Add("b", {Wants("heating", RunMode::kAllow)});  // wants it, has no w1
  world_.Pass(3s);
  ASSERT_EQ(world_.Owners("heating").count("a"), 1u);
  world_.Kill(*a_);
  world_.Pass(3s);
  EXPECT_THAT(world_.Owners("heating"), IsEmpty());
  const Explanation why = b_->placement->Explain("heating");
  EXPECT_EQ(why.state, PlacementState::kUnplaced);
  EXPECT_THAT(why.verdicts,
              ElementsAre(::testing::Field(&Verdict::reason, "not alive"),
                          ::testing::Field(&Verdict::reason, "missing trait w1")));
  world_.Boot(*a_);
  world_.Pass(3s);
  EXPECT_EQ(world_.Owners("heating").count("a"), 1u);
}

TEST_F(PlacementTest, AWantedServiceWithNoHostIsReportedUnplaced) {
  a_ = &world_.Add("a", {Wants("heating", RunMode::kPrefer)});  // no w1 here
  world_.Pass(3s);
  EXPECT_THAT(world_.Owners("heating"), IsEmpty());
  const auto unrun = a_->placement->UnrunServices();
  ASSERT_EQ(unrun.size(), 1u);
  EXPECT_EQ(unrun[0].service, "heating");
  EXPECT_EQ(unrun[0].state, PlacementState::kUnplaced);
  const Explanation why = a_->placement->Explain("heating");
  ASSERT_EQ(why.verdicts.size(), 1u);
  EXPECT_EQ(why.verdicts[0].reason, "missing trait w1");
}

TEST_F(PlacementTest, DependenciesStartFirst) {
  a_ = &world_.Add("a", {Wants("scenes", RunMode::kPrefer)});
  world_.clock.Advance(3s);
  a_->placement->RunOnce();
  // lights is wanted because scenes depends on it; scenes starts once
  // lights runs, in the next round.
  EXPECT_EQ(world_.Owners("lights").count("a"), 1u);
  EXPECT_THAT(world_.Owners("scenes"), IsEmpty());
  a_->placement->RunOnce();
  EXPECT_EQ(world_.Owners("scenes").count("a"), 1u);
}

TEST_F(PlacementTest, AServiceWhoseDependencyRunsNowhereWaits) {
  world_.specs = {{"lights", Kind::kSingleton, {"hue"}, {}},
                  {"scenes", Kind::kSingleton, {}, {"lights"}}};
  a_ = &world_.Add("a", {Wants("scenes", RunMode::kPrefer)});  // no "hue" trait
  world_.Pass(3s);
  EXPECT_THAT(world_.Owners("scenes"), IsEmpty());
  const auto unrun = a_->placement->UnrunServices();
  ASSERT_EQ(unrun.size(), 2u);
  EXPECT_EQ(unrun[0].service, "lights");
  EXPECT_EQ(unrun[0].state, PlacementState::kUnplaced);
  EXPECT_EQ(unrun[1].service, "scenes");
  EXPECT_EQ(unrun[1].state, PlacementState::kWaiting);
  EXPECT_EQ(unrun[1].detail, "waiting for lights");
}

TEST_F(PlacementTest, NeverIsObeyedAndPerNodeServicesRunWhereListed) {
  a_ = &world_.Add("a", {Wants("lights", RunMode::kNever), Wants("speaker", RunMode::kPrefer)});
  b_ = &world_.Add("b", {Wants("lights", RunMode::kAllow)});
  c_ = &world_.Add("c", {Wants("speaker", RunMode::kAllow), Wants("lights", RunMode::kAllow)});
  world_.Pass(3s);
  // b and c rank alike for lights, but c already runs a service.
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 1}}));
  EXPECT_EQ(world_.Owners("speaker"), (std::map<std::string, uint64_t>{{"a", 1}, {"c", 1}}));
  world_.Kill(*b_);
  world_.Pass(3s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"c", 2}}))
      << "never must keep it off a";
  EXPECT_THAT(a_->placement->Explain("lights").verdicts,
              ::testing::Contains(::testing::Field(&Verdict::reason, "never")));
}

// A member that is dead (or was only ever seen dead) has no say: its
// offers neither make a service wanted, nor rank it, nor configure it.
TEST_F(PlacementTest, ADeadMembersOffersCountForNothing) {
  ThreeNodes();
  world_.specs.push_back({"garage", Kind::kSingleton, {}, {"lights"}});
  Node& m = world_.Add("m", {Wants("lights", RunMode::kAlways, 1000000, R"({"relay":"10.6.6.6"})"),
                             Wants("scenes", RunMode::kAlways), Wants("garage", RunMode::kAlways)});
  world_.Kill(m);
  b_->yaml.push_back(Wants("garage", RunMode::kAllow));  // b wants it, has no plugin for it
  world_.Boot(*b_);
  world_.Pass(World::kSettle + 1s);
  EXPECT_FALSE(b_->placement->Explain("scenes").wanted) << "wanted by a dead node";
  const Explanation garage = b_->placement->Explain("garage");
  EXPECT_EQ(garage.placement, "") << "the dead node's plugin still described it";
  EXPECT_EQ(garage.detail, "no live node has a plugin for it");
  world_.Kill(*a_);
  world_.Rounds();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
  EXPECT_EQ(b_->services.configs["lights"], R"({"bridge":"10.0.0.2"})")
      << "started with the configuration of a node that was dead all along";
  for (const Verdict& verdict : b_->placement->Explain("lights").verdicts) {
    if (verdict.node == "m") {
      EXPECT_EQ(verdict.reason, "not alive");
    }
  }
}

// The configuration comes from live nodes, and is remembered: a failover
// after the node that configured the service died still uses it, for as
// long as no live node says otherwise.
TEST_F(PlacementTest, AFailoverLongAfterTheConfiguringNodeDiedKeepsItsConfiguration) {
  ThreeNodes();
  world_.Kill(*a_);
  world_.Rounds();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
  // Dead rows leave peer tables after a while: a is forgotten.
  world_.Pass(15min, 30s);
  world_.unknown = {{"a", "b"}, {"a", "c"}};
  world_.Rounds();
  world_.Kill(*b_);
  world_.Rounds();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"c", 3}}));
  EXPECT_EQ(c_->services.configs["lights"], R"({"bridge":"10.0.0.2"})");
}

TEST_F(PlacementTest, AConfigurationTakenAwayByItsNodeIsForgotten) {
  ThreeNodes();
  world_.Kill(*a_);
  world_.Rounds();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", 2}}));
  // a comes back without a configuration for it (and will not run it).
  a_->yaml = {Wants("lights", RunMode::kNever)};
  world_.Boot(*a_);
  world_.Rounds();
  world_.Kill(*b_);
  world_.Rounds();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"c", 3}}));
  EXPECT_EQ(c_->services.configs["lights"], "{}");
}

// Another node's offer is no reason to restart a running singleton: its
// configuration is the one it started (or was handed) with.
TEST_F(PlacementTest, ARunningOwnerIgnoresOtherNodesChangingTheirOffers) {
  ThreeNodes();
  ASSERT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  Node& m = world_.Add("m", {Wants("lights", RunMode::kAlways, 1000000, R"({"relay":"1"})")});
  m.services.specs.clear();  // it cannot run it, only list it
  world_.Republish(m);
  world_.Pass(30s);
  for (int i = 2; i < 10; ++i) {
    m.lie = [i](Identity& identity) {
      for (Offer& offer : identity.offers) {
        offer.config_json = R"({"relay":")" + std::to_string(i) + R"("})";
      }
    };
    world_.Republish(m);
    world_.Pass(5s);
  }
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", 1}}));
  EXPECT_EQ(a_->services.starts, 1);
  EXPECT_EQ(a_->services.configs["lights"], R"({"bridge":"10.0.0.2"})");
  EXPECT_EQ(world_.handovers, 0);
}

TEST(EpochAfterTest, SaturatesAtTheTopOfTheRange) {
  EXPECT_EQ(EpochAfter(0), 1u);
  EXPECT_EQ(EpochAfter(5, 2), 7u);
  EXPECT_EQ(EpochAfter(kMaxEpoch - 2), kMaxEpoch - 1);
  EXPECT_EQ(EpochAfter(kMaxEpoch - 1, 2), kMaxEpoch);
  EXPECT_EQ(EpochAfter(kMaxEpoch), kMaxEpoch);
  EXPECT_EQ(EpochAfter(UINT64_MAX), kMaxEpoch);
  EXPECT_EQ(EpochAfter(UINT64_MAX - 1, 2), kMaxEpoch);
}

TEST_F(PlacementTest, EpochsStopAtTheTopOfTheRangeInsteadOfWrapping) {
  a_ = &world_.Add("a", {Wants("lights", RunMode::kPrefer), Wants("speaker", RunMode::kPrefer)});
  b_ = &world_.Add("b", {Wants("lights", RunMode::kAllow)});
  a_->services.last_epoch["lights"] = kMaxEpoch - 1;
  a_->services.last_epoch["speaker"] = UINT64_MAX;  // as if read from a poisoned file
  world_.Pass(3s);
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"a", kMaxEpoch}}));
  EXPECT_EQ(world_.Owners("speaker"), (std::map<std::string, uint64_t>{{"a", kMaxEpoch}}));
  world_.Kill(*a_);
  world_.Rounds();
  EXPECT_EQ(world_.Owners("lights"), (std::map<std::string, uint64_t>{{"b", kMaxEpoch}}))
      << "one above the dead owner's epoch wrapped";
}

// The loop thread on its own: a placement that reads the cluster view
// from a counter, its generation from a number the test sets. The fake
// clock moves only when told, so which rounds are due is deterministic;
// only the waits for the loop to get there are real time.
class PlacementLoopTest : public ::testing::Test {
 protected:
  static constexpr Millis kSettle{2000};

  void Make(bool watch_generation) {
    Placement::Options options{.cluster = "home", .timings = {.settle = kSettle}};
    if (watch_generation) options.view_generation = [this] { return generation_.load(); };
    placement_ = std::make_unique<Placement>(std::move(options), services_, handovers_, cluster_,
                                             [] {}, clock_);
    placement_->Start();
  }

  // Waits (real time, generously) until the loop has read the view more
  // often than `count` times.
  bool RoundAfter(int count) {
    for (int i = 0; i < 500; ++i) {
      if (views_ > count) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // The view count once the loop has had time for several rounds.
  int Quiet() {
    std::this_thread::sleep_for(10 * kRoundInterval);
    return views_;
  }

  class NoHandOvers final : public HandOverTransport {
    absl::Status HandOver(const std::string&, const HandOverRequest&) override {
      return absl::UnavailableError("none");
    }
  };
  // A node alone, counting how often its view is read.
  class CountingCluster final : public ClusterSource {
   public:
    explicit CountingCluster(std::atomic<int>& views) : views_(views) {}
    ClusterView View() const override {
      ++views_;
      ClusterView view;
      view.self.id = "a";
      return view;
    }
    bool Confirm(const std::string&, std::chrono::milliseconds) override { return false; }

   private:
    std::atomic<int>& views_;
  };

  FakeClock clock_;
  FakeServices services_;
  NoHandOvers handovers_;
  std::atomic<int> views_{0};
  CountingCluster cluster_{views_};
  std::atomic<uint64_t> generation_{7};
  std::unique_ptr<Placement> placement_;
};

TEST_F(PlacementLoopTest, AnUnchangedViewIsReadOncePerQuietIntervalAfterStartUp) {
  Make(/*watch_generation=*/true);
  // During `settle` every round runs: its end is a timer.
  ASSERT_TRUE(RoundAfter(2));
  clock_.Advance(kSettle + kQuietRoundInterval);
  const int settled = Quiet();
  std::this_thread::sleep_for(10 * kRoundInterval);
  EXPECT_EQ(views_, settled) << "nothing changed and no interval passed, yet the view was read";

  ++generation_;
  EXPECT_TRUE(RoundAfter(settled)) << "a changed view was not read";
  const int after_change = Quiet();
  EXPECT_EQ(after_change, settled + 1) << "one change, one round";

  placement_->Poke();
  EXPECT_TRUE(RoundAfter(after_change)) << "a poke was not answered with a round";
  const int after_poke = Quiet();

  clock_.Advance(kQuietRoundInterval);
  EXPECT_TRUE(RoundAfter(after_poke)) << "the quiet interval passed without a round";
  EXPECT_EQ(Quiet(), after_poke + 1);
  placement_->Stop();
}

TEST_F(PlacementLoopTest, WithoutAGenerationEveryRoundRuns) {
  Make(/*watch_generation=*/false);
  clock_.Advance(kSettle + kQuietRoundInterval);
  const int before = views_;
  EXPECT_TRUE(RoundAfter(before + 3)) << "rounds stopped with nothing to tell them apart";
  placement_->Stop();
}

}  // namespace
}  // namespace domian::placement
