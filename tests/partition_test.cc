// Network partitions between real domiand processes: each node runs in a
// network namespace of its own on a bridge in the test's namespace
// (tests/support/net_lab.h), so routes can cut nodes off from each other
// while domianctl, run here, still reaches every one of them. Needs root;
// each test runs in a process of its own (CTest), so each gets fresh
// namespaces and fresh daemons.
//
// Timings are the membership defaults (200 ms heartbeats, dead after
// 1.2 s, one dead peer probed every second); the waits are deliberately
// generous so a loaded CI machine never flakes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/cluster.h"
#include "tests/support/net_lab.h"

namespace domian::testing {
namespace {

constexpr auto kConverge = 30s;  // generous: convergence takes ~1 s here
constexpr auto kDetect = 30s;    // generous: a cut-off peer is dead in ~1.5 s
constexpr auto kHeal = 30s;      // generous: dead peers are probed every second
constexpr auto kStop = 10s;

using Clock = std::chrono::steady_clock;

long long MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string ReadFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Partition : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NetLab::Problem().empty()) {
      GTEST_SKIP() << "no private network namespaces: " << NetLab::Problem();
    }
    lab_ = std::make_unique<NetLab>();
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& daemon : daemons_) {
      std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
    }
  }

  // A daemon in namespace `id`, listening on that namespace's address.
  Daemon& Node(const std::string& id, Daemon::Options options = {}) {
    options.id = id;
    options.host = lab_->AddNode(id);
    options.wrapper = NetLab::Wrapper(id);
    daemons_.push_back(std::make_unique<Daemon>(dir_.path(), options));
    return *daemons_.back();
  }

  // Every observer reports `id` in `state`.
  static bool AllReport(const std::vector<Daemon*>& observers, const std::string& id,
                        const std::string& state) {
    for (const Daemon* observer : observers) {
      if (PeerState(*observer, id) != state) return false;
    }
    return true;
  }

  TempDir dir_{"domian-partition-test"};
  std::unique_ptr<NetLab> lab_;  // before the daemons: they die first
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

TEST_F(Partition, CutOffNodeIsDeadOnBothSidesAndRejoinsWhenHealed) {
  Daemon& a = Node("node-a");
  Daemon& b = Node("node-b", {.seeds = {a.address()}});
  Daemon& c = Node("node-c", {.seeds = {a.address()}});
  a.Start();
  b.Start();
  c.Start();
  const std::vector<Daemon*> all = {&a, &b, &c};
  ASSERT_TRUE(AllSeeEachOtherAlive(all, kConverge));

  lab_->Partition({"node-a"}, {"node-b", "node-c"});
  const auto cut = Clock::now();
  // One moment where both sides agree on the split, and the majority side
  // is still whole.
  EXPECT_TRUE(Eventually(
      [&] {
        return AllReport({&b, &c}, "node-a", "dead") && PeerState(a, "node-b") == "dead" &&
               PeerState(a, "node-c") == "dead" && PeerState(b, "node-c") == "alive" &&
               PeerState(c, "node-b") == "alive";
      },
      kDetect));
  std::cout << "partition seen in " << MillisSince(cut) << " ms\n";
  EXPECT_NE(b.Log().find("peer node-a (" + a.address() + ") is dead"), std::string::npos);
  EXPECT_NE(a.Log().find("peer node-b (" + b.address() + ") is dead"), std::string::npos);

  lab_->Heal();
  const auto healed = Clock::now();
  EXPECT_TRUE(AllSeeEachOtherAlive(all, kHeal));
  std::cout << "healed in " << MillisSince(healed) << " ms\n";
}

// A singleton preferred on a: during the partition each side runs it
// (there is no quorum in a home of two or three nodes); once healed, the
// newer ownership (the higher epoch) keeps it and the other owner stops
// within seconds, then it moves back to a once a has been back for
// migrate_after.
TEST_F(Partition, EachSideMayRunASingletonButAfterHealingOneOwnerRemains) {
  const std::filesystem::path plugins = dir_.path() / "plugins";
  MakePluginFolder(plugins, DOMIAN_TEST_PLUGIN_DIR, {"tally"});
  auto yaml = [&](const std::string& run) {
    return "plugins:\n  dirs: [" + plugins.string() +
           "]\nplacement:\n  migrate_after: 4s\nservices:\n  tally: {run: " + run + "}\n";
  };
  Daemon& a = Node("node-a", {.extra_yaml = yaml("prefer")});
  Daemon& b = Node("node-b", {.seeds = {a.address()}, .extra_yaml = yaml("allow")});
  Daemon& c = Node("node-c", {.seeds = {a.address()}, .extra_yaml = yaml("allow")});
  a.Start();
  b.Start();
  c.Start();
  const std::vector<Daemon*> all = {&a, &b, &c};
  ASSERT_TRUE(AllSeeEachOtherAlive(all, kConverge));
  ASSERT_TRUE(Eventually(
      [&] {
        for (const Daemon* observer : all) {
          if (ServiceOwners(*observer, "tally") != std::map<std::string, uint64_t>{{"node-a", 1}}) {
            return false;
          }
        }
        return true;
      },
      kConverge));

  lab_->Partition({"node-a"}, {"node-b", "node-c"});
  // Both sides run it: a under epoch 1, b or c (the same one for both)
  // under epoch 2.
  std::string other;
  ASSERT_TRUE(Eventually(
      [&] {
        const auto on_b = ServiceOwners(b, "tally");
        if (on_b.size() != 1 || on_b.begin()->second != 2 || ServiceOwners(c, "tally") != on_b) {
          return false;
        }
        other = on_b.begin()->first;
        return ServiceOwners(a, "tally") == std::map<std::string, uint64_t>{{"node-a", 1}};
      },
      kDetect));

  lab_->Heal();
  const auto healed = Clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        for (const Daemon* observer : all) {
          if (ServiceOwners(*observer, "tally") != std::map<std::string, uint64_t>{{other, 2}}) {
            return false;
          }
        }
        return true;
      },
      kHeal));
  std::cout << "one owner " << MillisSince(healed) << " ms after healing\n";
  EXPECT_NE(a.Log().find("also runs it, under epoch 2 (here 1), and keeps it"),
            std::string::npos);
  // And back to the preferred node, once.
  EXPECT_TRUE(Eventually(
      [&] {
        for (const Daemon* observer : all) {
          if (ServiceOwners(*observer, "tally") != std::map<std::string, uint64_t>{{"node-a", 3}}) {
            return false;
          }
        }
        return true;
      },
      kHeal));
}

// State through a partition (issue: a heal keeps the state people
// changed). tally is preferred on b; a is cut off alone, runs it under a
// higher epoch from the copy it held, and keeps it at the heal; the state
// it keeps must be the one clients changed.
class PartitionState : public Partition {
 protected:
  void SetUp() override {
    Partition::SetUp();
    if (IsSkipped()) return;
    const std::filesystem::path plugins = dir_.path() / "plugins";
    MakePluginFolder(plugins, DOMIAN_TEST_PLUGIN_DIR, {"tally"});
    auto yaml = [&](const std::string& run) {
      return "plugins:\n  dirs: [" + plugins.string() + "]\nservices:\n  tally: {run: " + run +
             "}\n";
    };
    a_ = &Node("node-a", {.extra_yaml = yaml("allow")});
    b_ = &Node("node-b", {.seeds = {a_->address()}, .extra_yaml = yaml("prefer")});
    c_ = &Node("node-c", {.seeds = {a_->address()}, .extra_yaml = yaml("allow")});
    for (Daemon* daemon : All()) daemon->Start();
    ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
    ASSERT_TRUE(Eventually(
        [&] { return ServiceOwners(*a_, "tally") == std::map<std::string, uint64_t>{{"node-b", 1}}; },
        kConverge));
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(Inc(*b_), i);
    // Every node holds the copy of 3 before the split.
    ASSERT_TRUE(Eventually([&] { return CopiesAgree() == 3; }, kConverge));

    lab_->Partition({"node-a"}, {"node-b", "node-c"});
    ASSERT_TRUE(Eventually(
        [&] {
          return ServiceOwners(*a_, "tally") ==
                     std::map<std::string, uint64_t>{{"node-a", 2}} &&
                 ServiceOwners(*c_, "tally") == std::map<std::string, uint64_t>{{"node-b", 1}};
        },
        kDetect));
    EXPECT_EQ(Get(*a_), 3) << "a started from the copy it held";
  }

  std::vector<Daemon*> All() const { return {a_, b_, c_}; }

  static nlohmann::json Explain(const Daemon& asked) {
    std::vector<std::string> args = CtlAccess(asked.address());
    args.insert(args.end(), {"explain", "tally", "--json"});
    const CommandResult result = RunCommand(DomianctlPath(), args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  // `tally inc` asked of `node`: the new value, or -1 when it failed.
  static int Inc(const Daemon& node) { return Value(CallService(node, "tally", "inc")); }
  static int Get(const Daemon& node) { return Value(CallService(node, "tally", "get")); }
  static int Value(const CommandResult& result) {
    const nlohmann::json reply = nlohmann::json::parse(result.out, nullptr, false);
    if (result.exit_code != 0 || !reply.is_object()) return -1;
    return reply.value("value", -1);
  }

  // The state every node's copy holds when they all hold the same change
  // (`services tally --state` asked of a), else -1.
  int CopiesAgree() const {
    std::vector<std::string> args = CtlAccess(a_->address());
    args.insert(args.end(), {"services", "tally", "--state", "--json"});
    const CommandResult result = RunCommand(DomianctlPath(), args);
    const nlohmann::json copies = nlohmann::json::parse(result.out, nullptr, false);
    if (result.exit_code != 0 || !copies.is_array() || copies.size() != 3) return -1;
    for (const auto& copy : copies) {
      if (!copy.value("has_copy", false) || copy.value("changed_at", "") != copies[0]["changed_at"]) {
        return -1;
      }
    }
    // The same change everywhere; its value is what the owner answers.
    for (Daemon* node : All()) {
      const int value = Get(*node);
      if (value < 0 || (node != a_ && value != Get(*a_))) return -1;
    }
    return Get(*a_);
  }

  Daemon* a_ = nullptr;
  Daemon* b_ = nullptr;
  Daemon* c_ = nullptr;
};

// Only the majority's clients changed it: the heal brings that state to
// every node, though a, which changed nothing, keeps the service.
TEST_F(PartitionState, OnlyTheMajorityChangedItAndTheHealKeepsThatChange) {
  for (int i = 4; i <= 7; ++i) ASSERT_EQ(Inc(*c_), i) << "through c, run on b";
  EXPECT_EQ(Get(*a_), 3) << "a's side changed nothing";

  lab_->Heal();
  const auto healed = Clock::now();
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kHeal));
  ASSERT_TRUE(Eventually([&] { return CopiesAgree() == 7; }, kHeal))
      << "the majority's 7 on every node";
  std::cout << "every node on the majority's state " << MillisSince(healed)
            << " ms after healing\n";
  EXPECT_NE(a_->Log().find("service tally: a later change of its state was made on node-b"),
            std::string::npos);
  for (Daemon* node : All()) {
    EXPECT_EQ(node->Log().find("changed on two sides apart"), std::string::npos) << node->id();
  }
  // explain says what the owner's state began from.
  const nlohmann::json explained = Explain(*c_);
  ASSERT_EQ(explained["state_copies"]["owners"].size(), 1u) << explained.dump();
  EXPECT_FALSE(explained["state_copies"]["owners"][0].value("started_from", "").empty())
      << explained.dump();
  EXPECT_TRUE(explained["state_copies"]["set_aside"].empty()) << explained.dump();
  // Whoever runs it now counts on from 7.
  EXPECT_EQ(Inc(*c_), 8);
}

// Both sides changed it: a (which keeps the service) first, the majority
// later. The later change wins everywhere; a's is set aside on disk and
// reported.
TEST_F(PartitionState, BothSidesChangedItAndTheLaterChangeWinsTheOtherIsReported) {
  ASSERT_EQ(Inc(*a_), 4);
  ASSERT_EQ(Inc(*a_), 5);
  std::this_thread::sleep_for(50ms);  // later by more than any clock step here
  for (int i = 4; i <= 6; ++i) ASSERT_EQ(Inc(*c_), i);

  lab_->Heal();
  const auto healed = Clock::now();
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kHeal));
  ASSERT_TRUE(Eventually([&] { return CopiesAgree() == 6; }, kHeal))
      << "the majority's later 6 on every node";
  std::cout << "every node on the later state " << MillisSince(healed) << " ms after healing\n";
  const std::string log = a_->Log();
  EXPECT_NE(log.find("service tally: its state was changed on two sides apart"),
            std::string::npos);
  EXPECT_NE(log.find("by node-a lost to the later"), std::string::npos);
  const std::filesystem::path aside = a_->state_dir() / "replicas" / "set-aside.d" / "tally";
  ASSERT_TRUE(std::filesystem::exists(aside));
  EXPECT_NE(ReadFile(aside).find("\n5"), std::string::npos) << "a's 5, kept";
  // Reported to people too: explain, asked of any node. b, which still
  // ran it when a's copy came, may have set it aside as well.
  const nlohmann::json explained = Explain(*b_);
  const nlohmann::json& set_aside = explained["state_copies"]["set_aside"];
  ASSERT_GE(set_aside.size(), 1u) << explained.dump();
  bool on_a = false;
  for (const nlohmann::json& entry : set_aside) {
    EXPECT_NE(entry.value("version", "").find("by node-a"), std::string::npos) << entry.dump();
    EXPECT_NE(entry.value("lost_to", "").find("by node-b"), std::string::npos) << entry.dump();
    on_a = on_a || (entry["node"] == "node-a" && entry["file"] == aside.string());
  }
  EXPECT_TRUE(on_a) << explained.dump();
  EXPECT_EQ(Inc(*b_), 7);
}

// Seven nodes split 3 | 4, ten times over. Peers a node cannot reach used
// to take every fanout slot (they are the ones heard from longest ago),
// so peers on its own side went 0.6-1.2 s without an exchange and were
// judged suspect, even dead, which started a second copy of a singleton
// on one side. Each side must stay whole: no same-side dead verdict, at
// most one owner of the singleton per side.
TEST_F(Partition, SevenNodesSplitThreeFourTenTimesKeepEachSideWhole) {
  const std::filesystem::path plugins = dir_.path() / "plugins";
  MakePluginFolder(plugins, DOMIAN_TEST_PLUGIN_DIR, {"tally"});
  const std::string yaml = "plugins:\n  dirs: [" + plugins.string() +
                           "]\nservices:\n  tally: {run: allow}\n";
  std::vector<std::string> ids;
  for (int i = 1; i <= 7; ++i) ids.push_back("node-" + std::to_string(i));
  // Info, not debug: seven daemons' logs are read after every round.
  Daemon& seed = Node(ids[0], {.log_level = "info", .extra_yaml = yaml});
  for (size_t i = 1; i < ids.size(); ++i) {
    Node(ids[i], {.seeds = {seed.address()}, .log_level = "info", .extra_yaml = yaml});
  }
  std::vector<Daemon*> all;
  for (auto& daemon : daemons_) {
    daemon->Start();
    all.push_back(daemon.get());
  }
  ASSERT_TRUE(AllSeeEachOtherAlive(all, kConverge));
  const std::vector<std::string> left(ids.begin(), ids.begin() + 3), right(ids.begin() + 3, ids.end());
  auto side_of = [&](const std::string& id) {
    return std::find(left.begin(), left.end(), id) != left.end() ? 0 : 1;
  };
  // How often `observer` logged a verdict `what` on `id` so far.
  auto verdicts = [](const Daemon& observer, const std::string& id, const std::string& what) {
    std::istringstream log(observer.Log());
    const std::string needle = "peer " + id + " (";
    size_t count = 0;
    for (std::string line; std::getline(log, line);) {
      const size_t at = line.find(needle);
      if (at != std::string::npos && line.find(what, at) != std::string::npos) ++count;
    }
    return count;
  };
  size_t same_side_suspects = 0;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    std::map<std::pair<std::string, std::string>, size_t> dead_before, suspect_before;
    for (Daemon* observer : all) {
      for (const std::string& id : ids) {
        if (id == observer->id()) continue;
        dead_before[{observer->id(), id}] = verdicts(*observer, id, ") is dead");
        suspect_before[{observer->id(), id}] = verdicts(*observer, id, ") is suspect");
      }
    }
    lab_->Partition(left, right);
    // Both sides see the other dead ...
    ASSERT_TRUE(Eventually(
        [&] {
          for (Daemon* observer : all) {
            for (const std::string& id : ids) {
              if (side_of(id) != side_of(observer->id()) && PeerState(*observer, id) != "dead") {
                return false;
              }
            }
          }
          return true;
        },
        kDetect))
        << "round " << round;
    // ... and, for a while longer, at most one owner of tally on each.
    for (int look = 0; look < 4; ++look) {
      for (Daemon* observer : all) {
        size_t owners_here = 0;
        for (const auto& [node, epoch] : ServiceOwners(*observer, "tally")) {
          if (node != kUnreachable && side_of(node) == side_of(observer->id())) ++owners_here;
        }
        EXPECT_LE(owners_here, 1u) << "round " << round << ", seen by " << observer->id();
      }
      std::this_thread::sleep_for(500ms);
    }
    for (Daemon* observer : all) {
      for (const std::string& id : ids) {
        if (id == observer->id() || side_of(id) != side_of(observer->id())) continue;
        const size_t dead_now = verdicts(*observer, id, ") is dead");
        EXPECT_EQ(dead_now, (dead_before[{observer->id(), id}]))
            << "round " << round << ": " << observer->id() << " declared " << id
            << ", on its own side, dead";
        same_side_suspects +=
            verdicts(*observer, id, ") is suspect") - suspect_before[{observer->id(), id}];
      }
    }
    lab_->Heal();
    ASSERT_TRUE(AllSeeEachOtherAlive(all, kHeal)) << "round " << round;
  }
  std::cout << same_side_suspects << " same-side suspect verdicts in " << kRounds
            << " partitions\n";
}

// The wrapper execs domiand in the node's namespace: Pid() and Signal()
// address domiand itself, not an `ip` process in between.
TEST_F(Partition, WrappedDaemonKeepsItsPidAndNamespace) {
  Daemon& a = Node("node-a");
  a.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(a.address(), "status").has_value(); }, kConverge));
  const int pid = a.Pid();
  ASSERT_GT(pid, 0);
  const auto proc = std::filesystem::path("/proc") / std::to_string(pid);
  EXPECT_EQ(std::filesystem::canonical(proc / "exe"), std::filesystem::canonical(DomiandPath()));
  struct stat daemon_net {}, node_net {};
  ASSERT_EQ(::stat((proc / "ns/net").c_str(), &daemon_net), 0);
  ASSERT_EQ(::stat("/run/netns/node-a", &node_net), 0);
  EXPECT_EQ(daemon_net.st_ino, node_net.st_ino);
  a.Signal(SIGTERM);
  EXPECT_EQ(a.WaitExit(kStop), 0);
}

TEST_F(Partition, DaemonSeesItsExtraEnvironment) {
  Daemon& a = Node("node-a", {.env = {{"DOMIAN_TEST_MARKER", "net-lab 42"}}});
  a.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(a.address(), "status").has_value(); }, kConverge));
  const std::string environment = ReadFile("/proc/" + std::to_string(a.Pid()) + "/environ");
  // NUL-separated NAME=value entries; the inherited ones are still there.
  EXPECT_NE(environment.find(std::string("DOMIAN_TEST_MARKER=net-lab 42") + '\0'), std::string::npos);
  EXPECT_NE(environment.find("PATH="), std::string::npos);
}

}  // namespace
}  // namespace domian::testing

int main(int argc, char** argv) {
  // Before anything starts a thread: see NetLab::Enter().
  const std::string problem = domian::testing::NetLab::Enter();
  ::testing::InitGoogleTest(&argc, argv);
  if (!problem.empty()) std::cerr << "partition_test: " << problem << "\n";
  return RUN_ALL_TESTS();
}
