// Placement across real domiand processes on 127.0.0.1, with the test
// plugins of tests/plugins (tally: a singleton counter whose
// state must travel; sensor: needs the trait w1-test; chain-a -> chain-b
// -> chain-c: a dependency chain). Nodes are killed, paused, restarted
// and made to flap; the cluster must keep exactly one owner and move the
// service back, with its state, only once a better node has stayed up.
//
// Waits are generous (a crash is declared dead in ~1.2-1.5 s, a move
// takes migrate_after, here 4 s); bench/ measures the real numbers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;

constexpr auto kConverge = 20s;
constexpr auto kFailover = 20s;  // generous: detection + start take ~1.5 s here
constexpr auto kMigrateAfter = 4s;
constexpr auto kMove = kMigrateAfter + 20s;

const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;

// `domianctl explain SERVICE --json` as `observer` answers it.
std::optional<nlohmann::json> Explain(const Daemon& observer, const std::string& service) {
  std::vector<std::string> args = CtlAccess(observer.address());
  args.insert(args.end(), {"explain", service, "--json"});
  const CommandResult result = RunCommand(DomianctlPath(), args);
  if (result.exit_code != 0) return std::nullopt;
  return nlohmann::json::parse(result.out, nullptr, false);
}

// The single owner every daemon in `observers` agrees on, or "".
std::string AgreedOwner(const std::vector<Daemon*>& observers, const std::string& service) {
  std::string agreed;
  for (const Daemon* observer : observers) {
    const auto owners = ServiceOwners(*observer, service);
    if (owners.size() != 1 || owners.begin()->first == kUnreachable) return "";
    if (!agreed.empty() && owners.begin()->first != agreed) return "";
    agreed = owners.begin()->first;
  }
  return agreed;
}

class Failover : public ::testing::Test {
 protected:
  void SetUp() override {
    LeaveSegvToTheKernel();  // tally crashes on purpose in one test
    plugin_dir_ = dir_.path() / "plugins";
    MakePluginFolder(plugin_dir_, kTestPlugins,
                     {"tally", "sensor", "chain-a", "chain-b", "chain-c"});
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << Logs();
  }

  // `services` is the YAML services: section of that node.
  Daemon& Add(const std::string& id, const std::string& services,
              std::vector<std::string> traits = {},
              std::map<std::string, std::string> env = {}) {
    Daemon::Options options{.id = id};
    options.extra_yaml = "plugins:\n  dirs: [" + plugin_dir_.string() +
                         "]\nplacement:\n  migrate_after: 4s\nservices:\n" + services;
    options.traits = std::move(traits);
    options.env = std::move(env);
    if (!daemons_.empty()) options.seeds = {daemons_.front()->address()};
    daemons_.push_back(std::make_unique<Daemon>(dir_.path(), options));
    daemons_.back()->Start();
    return *daemons_.back();
  }

  std::vector<Daemon*> All() {
    std::vector<Daemon*> all;
    for (auto& daemon : daemons_) all.push_back(daemon.get());
    return all;
  }

  std::vector<Daemon*> Except(const Daemon& gone) {
    std::vector<Daemon*> rest;
    for (Daemon* daemon : All()) {
      if (daemon != &gone) rest.push_back(daemon);
    }
    return rest;
  }

  CommandResult Call(const Daemon& asked, const std::string& service, const std::string& command) {
    return CallService(asked, service, command);
  }

  std::string Logs() {
    std::string out;
    for (Daemon* daemon : All()) out += "---- " + daemon->id() + " ----\n" + daemon->Log();
    return out;
  }

  TempDir dir_{"domian-failover-test"};
  std::filesystem::path plugin_dir_;
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

TEST_F(Failover, AKilledOwnerIsReplacedAndGetsItBackWithItsStateOnceItStaysUp) {
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer}\n");
  Daemon& c = Add("node-c", "  tally: {run: allow}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kConverge));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Call(b, "tally", "inc").exit_code, 0);

  a.Signal(SIGKILL);
  a.WaitExit(kConverge);
  std::string owner;
  ASSERT_TRUE(Eventually(
      [&] {
        owner = AgreedOwner({&b, &c}, "tally");
        return !owner.empty() && owner != "node-a";
      },
      kFailover));
  EXPECT_THAT(owner, ::testing::AnyOf("node-b", "node-c"));
  EXPECT_EQ(ServiceOwners(b, "tally")[owner], 2u) << "the new ownership has a higher epoch";
  // Each acknowledged inc was copied to a peer before it was answered:
  // the new owner starts from the freshest copy, not from nothing.
  EXPECT_EQ(Call(c, "tally", "get").out, "{\"value\":3}\n") << "the count died with node-a";
  EXPECT_THAT(Logs(), HasSubstr("service tally: starting from the copy of its state from"));
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Call(c, "tally", "inc").exit_code, 0);

  a.Start();
  const auto restarted = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kMove));
  EXPECT_GE(std::chrono::steady_clock::now() - restarted, kMigrateAfter)
      << "moved back before a had been up for migrate_after";
  EXPECT_EQ(ServiceOwners(a, "tally")["node-a"], 3u);
  const CommandResult value = Call(b, "tally", "get");
  EXPECT_EQ(value.out, "{\"value\":5}\n") << "the state did not travel: " << value.err;
  EXPECT_THAT(Logs(), HasSubstr("took over service tally from " + owner + " under epoch 3"));
}

// Every acknowledged change is on every live node: `services NAME
// --state` shows each node's copy, the same version everywhere, and never
// the state itself.
TEST_F(Failover, EveryNodeHoldsTheLatestCopyAndServicesStateShowsIt) {
  Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer}\n");
  Add("node-c", "  tally: {run: allow}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kConverge));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Call(a, "tally", "inc").exit_code, 0);
  std::vector<std::string> args = CtlAccess(a.address());
  args.insert(args.end(), {"services", "tally", "--state", "--json"});
  nlohmann::json copies;
  // Each inc waited for one peer; the other's copy may land a moment later.
  ASSERT_TRUE(Eventually(
      [&] {
        const CommandResult result = RunCommand(DomianctlPath(), args);
        copies = nlohmann::json::parse(result.out, nullptr, false);
        if (result.exit_code != 0 || !copies.is_array() || copies.size() != 3) return false;
        for (const auto& copy : copies) {
          if (!copy.value("has_copy", false) || copy.value("seq", 0) != 3) return false;
        }
        return true;
      },
      kConverge))
      << copies.dump();
  EXPECT_EQ(copies[0]["node"], "node-a") << "the asked node first";
  for (const auto& copy : copies) {
    EXPECT_EQ(copy["writer"], "node-a") << copy.dump();
    EXPECT_EQ(copy["epoch"], 1) << copy.dump();
    EXPECT_EQ(copy["bytes"], 1) << "the state \"3\": its size only" << copy.dump();
    EXPECT_FALSE(copy.contains("state")) << copy.dump();
    EXPECT_EQ(copy["changed_at"], copies[0]["changed_at"]) << "one change, one version";
  }
  args.pop_back();  // the table
  const CommandResult table = RunCommand(DomianctlPath(), args);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("CHANGED AT (HLC)"));
  EXPECT_THAT(table.out, HasSubstr("node-c"));
}

// No acknowledged change is lost while owners die: three callers keep
// calling `tally inc` (through a, b and c, as domianctl does) while the
// owner is SIGKILLed every few seconds (and started again), until 1000
// were acknowledged and the kills are done. Each inc answered OK was
// stored on a peer before it was answered, so the final count is at
// least the number acknowledged. It can be more only by calls that failed
// after their change was kept (in flight when an owner died, or a peer's
// confirmation late under load): never more than the calls made.
TEST_F(Failover, AThousandAcknowledgedIncrementsSurviveOwnersKilledOverAndOver) {
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer}\n");
  Daemon& c = Add("node-c", "  tally: {run: allow}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kConverge));
  constexpr int kKills = 4;
  constexpr auto kBetweenKills = 4s;
  constexpr int kAcknowledged = 1000;
  constexpr auto kPauseAfterFailure = 50ms;  // a dead node refuses at once
  // Generous: 1000 calls take seconds here; a cluster that never recovers
  // must fail the test, not hang it.
  constexpr auto kCallers = 5min;
  std::atomic<bool> kills_done{false}, abandoned{false};
  std::atomic<int> acknowledged{0}, made{0}, failed{0};
  std::vector<std::thread> callers;
  // The callers end however the test does (an ASSERT returns early).
  struct Joined {
    std::atomic<bool>& done;
    std::vector<std::thread>& threads;
    ~Joined() {
      done = true;
      for (std::thread& thread : threads) {
        if (thread.joinable()) thread.join();
      }
    }
  } joined{abandoned, callers};
  const auto calls_until = std::chrono::steady_clock::now() + kCallers;
  const std::vector<Daemon*> nodes = {&a, &b, &c};
  for (Daemon* node : nodes) {
    callers.emplace_back([&, node] {
      auto client = ControlClientFor(node->address());
      while ((!kills_done || acknowledged < kAcknowledged) && !abandoned &&
             std::chrono::steady_clock::now() < calls_until) {
        ++made;
        if (client->Call("tally", "inc", "{}").ok()) {
          ++acknowledged;
        } else {
          ++failed;
          std::this_thread::sleep_for(kPauseAfterFailure);
        }
      }
    });
  }
  for (int kill = 0; kill < kKills; ++kill) {
    std::this_thread::sleep_for(kBetweenKills);
    std::string owner;
    ASSERT_TRUE(Eventually([&] { return !(owner = AgreedOwner(All(), "tally")).empty(); }, kConverge));
    Daemon& victim = owner == "node-a" ? a : owner == "node-b" ? b : c;
    victim.Signal(SIGKILL);
    ASSERT_TRUE(victim.WaitExit(kConverge));
    ASSERT_TRUE(Eventually(
        [&] {
          const std::string next = AgreedOwner(Except(victim), "tally");
          return !next.empty() && next != victim.id();
        },
        kFailover));
    victim.Start();
    ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  }
  kills_done = true;
  for (std::thread& caller : callers) caller.join();
  ASSERT_TRUE(Eventually([&] { return !AgreedOwner(All(), "tally").empty(); }, kConverge));
  CommandResult value;
  ASSERT_TRUE(Eventually([&] { return (value = Call(b, "tally", "get")).exit_code == 0; }, kConverge));
  const long count = nlohmann::json::parse(value.out).value("value", -1L);
  std::cerr << acknowledged << " of " << made << " inc calls acknowledged (" << failed
            << " failed) through " << kKills << " owner kills; final count " << count << "\n";
  EXPECT_GE(acknowledged, kAcknowledged);
  EXPECT_GE(count, acknowledged.load()) << "an acknowledged inc was lost";
  EXPECT_LE(count, made.load());
}

// A power cut: a went down first and missed the last changes, then the
// others went down too. a boots alone, runs tally from its old copy; once
// the others are back, their later copy replaces a's unchanged one.
TEST_F(Failover, AfterAPowerCutTheNodeThatBootedAloneTakesTheLaterState) {
  Daemon& b = Add("node-b", "  tally: {run: prefer}\n");
  Daemon& a = Add("node-a", "  tally: {run: allow}\n");
  Daemon& c = Add("node-c", "  tally: {run: allow}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-b"; }, kConverge));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Call(c, "tally", "inc").exit_code, 0);
  // a holds the copy of 3 (its replica file ends with the state).
  const std::filesystem::path copy_on_a = a.state_dir() / "replicas" / "tally";
  ASSERT_TRUE(Eventually(
      [&] {
        std::ifstream in(copy_on_a, std::ios::binary);
        const std::string text{std::istreambuf_iterator<char>(in), {}};
        return text.size() >= 2 && text.substr(text.size() - 2) == "\n3";
      },
      kConverge));
  a.Signal(SIGKILL);
  ASSERT_TRUE(a.WaitExit(kConverge));
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Call(c, "tally", "inc").exit_code, 0);  // 5, not on a
  b.Signal(SIGKILL);
  c.Signal(SIGKILL);
  ASSERT_TRUE(b.WaitExit(kConverge));
  ASSERT_TRUE(c.WaitExit(kConverge));

  a.Start();
  ASSERT_TRUE(Eventually([&] { return ServiceOwners(a, "tally").contains("node-a"); }, kFailover));
  EXPECT_EQ(Call(a, "tally", "get").out, "{\"value\":3}\n") << "alone, from its own copy";
  b.Start();
  c.Start();
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  // Wherever it runs (a, or b again after migrate_after), it counts from 5.
  ASSERT_TRUE(Eventually([&] { return Call(c, "tally", "get").out == "{\"value\":5}\n"; },
                         kMove));
  EXPECT_THAT(a.Log(), HasSubstr("service tally: a later change of its state was made on node-b"));
  EXPECT_THAT(Logs(), ::testing::Not(HasSubstr("changed on two sides apart")));
  ASSERT_EQ(Call(c, "tally", "inc").out, "{\"value\":6}\n");
}

TEST_F(Failover, ACleanStopHandsTheServiceOverWithItsState) {
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kConverge));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Call(b, "tally", "inc").exit_code, 0);
  a.Signal(SIGTERM);
  EXPECT_EQ(a.WaitExit(kConverge), 0);
  ASSERT_TRUE(Eventually([&] { return ServiceOwners(b, "tally").contains("node-b"); }, kFailover));
  EXPECT_EQ(Call(b, "tally", "get").out, "{\"value\":3}\n");
  EXPECT_THAT(a.Log(), HasSubstr("handing service tally to node-b before this node stops"));
}

TEST_F(Failover, AFlappingPreferredNodeDoesNotMakeTheServiceBounce) {
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kConverge));
  a.Signal(SIGKILL);
  a.WaitExit(kConverge);
  ASSERT_TRUE(Eventually([&] { return ServiceOwners(b, "tally").contains("node-b"); }, kFailover));
  const uint64_t epoch = ServiceOwners(b, "tally")["node-b"];
  // a comes and goes every 2 s, never up for migrate_after (4 s).
  for (int i = 0; i < 6; ++i) {
    a.Start();
    std::this_thread::sleep_for(2s);
    a.Signal(SIGKILL);
    a.WaitExit(kConverge);
    EXPECT_EQ(ServiceOwners(b, "tally"), (std::map<std::string, uint64_t>{{"node-b", epoch}}));
  }
  EXPECT_THAT(b.Log(), ::testing::Not(HasSubstr("moving service tally")));
}

TEST_F(Failover, APausedOwnerThatWakesUpLeavesExactlyOneOwner) {
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer}\n");
  Daemon& c = Add("node-c", "  tally: {run: allow}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kConverge));
  a.Signal(SIGSTOP);
  ASSERT_TRUE(Eventually(
      [&] {
        const std::string owner = AgreedOwner({&b, &c}, "tally");  // ask once per poll
        return !owner.empty() && owner != "node-a";
      },
      kFailover));
  a.Signal(SIGCONT);
  // a still thinks it owns it under epoch 1; the newer owner keeps it
  // until a has been back for migrate_after, then it moves to a once.
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return !AgreedOwner(All(), "tally").empty(); }, kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kMove));
  for (int i = 0; i < 10; ++i) {
    for (Daemon* observer : All()) EXPECT_EQ(ServiceOwners(*observer, "tally").size(), 1u);
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_THAT(a.Log(), HasSubstr("also runs it, under epoch 2 (here 1), and keeps it"));
}

TEST_F(Failover, ATwoNodeClusterFailsOverAndBack) {
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: always}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kConverge));
  a.Signal(SIGKILL);
  a.WaitExit(kConverge);
  ASSERT_TRUE(Eventually([&] { return ServiceOwners(b, "tally").contains("node-b"); }, kFailover));
  ASSERT_EQ(Call(b, "tally", "inc").exit_code, 0);
  a.Start();
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-a"; }, kMove));
  EXPECT_EQ(Call(b, "tally", "get").out, "{\"value\":1}\n");
}

TEST_F(Failover, NeverTraitsAndDependenciesAreObeyedAndExplained) {
  // b may not run tally; only a has the w1-test trait for sensor; chain-a
  // needs chain-b needs chain-c.
  Daemon& b = Add("node-b", "  tally: {run: never}\n  sensor: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: allow}\n  sensor: {run: prefer}\n  chain-a: {}\n",
                  {"w1-test"});
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually(
      [&] {
        return AgreedOwner(All(), "tally") == "node-a" &&
               AgreedOwner(All(), "sensor") == "node-a" &&
               AgreedOwner(All(), "chain-a") == "node-a";
      },
      kConverge));
  // The chain started in order, each after the one it depends on ran
  // (wherever each one runs: dependencies need not share a node).
  auto started_at = [&](const std::string& service) {
    for (Daemon* daemon : All()) {
      const std::string log = daemon->Log();
      const size_t at = log.find(service + " started with value");
      if (at == std::string::npos) continue;
      const size_t line = log.rfind('\n', at);
      return log.substr(line == std::string::npos ? 0 : line + 1, 23);  // the timestamp
    }
    return std::string("(never)");
  };
  EXPECT_LT(started_at("chain-c"), started_at("chain-b"));
  EXPECT_LT(started_at("chain-b"), started_at("chain-a"));
  EXPECT_NE(started_at("chain-a"), "(never)");

  const auto why = Explain(b, "tally");
  ASSERT_TRUE(why) << "explain failed";
  std::map<std::string, std::string> reasons;
  for (const auto& verdict : (*why)["verdicts"]) {
    reasons[verdict["node"].get<std::string>()] = verdict["reason"].get<std::string>();
  }
  EXPECT_EQ(reasons["node-b"], "never");
  EXPECT_THAT(reasons["node-a"], HasSubstr("rank 1"));
  const auto sensor = Explain(b, "sensor");
  ASSERT_TRUE(sensor);
  EXPECT_EQ((*sensor)["state"], "placed");
  EXPECT_EQ((*sensor)["chosen"], nlohmann::json::array({"node-a"}));

  // a dies: tally has no other candidate (never on b), sensor no other
  // host (no trait): both unplaced, and back when a returns.
  a.Signal(SIGKILL);
  a.WaitExit(kConverge);
  ASSERT_TRUE(Eventually(
      [&] {
        const auto services = Ctl(b.address(), "services");
        if (!services) return false;
        std::map<std::string, std::string> states;
        for (const auto& entry : *services) {
          states[entry["name"].get<std::string>()] = entry["state"].get<std::string>();
        }
        return states["sensor"] == "unplaced";
      },
      kFailover));
  const auto unplaced = Explain(b, "sensor");
  ASSERT_TRUE(unplaced);
  EXPECT_EQ((*unplaced)["state"], "unplaced");
  for (const auto& verdict : (*unplaced)["verdicts"]) {
    if (verdict["node"] == "node-b") {
      EXPECT_EQ(verdict["reason"], "missing trait w1-test");
    }
  }
  a.Start();
  EXPECT_TRUE(Eventually([&] { return AgreedOwner(All(), "sensor") == "node-a"; }, kConverge));
}

TEST_F(Failover, AServiceThatKeepsCrashingOnOneNodeMovesToTheNext) {
  // tally crashes on start on a only (its plugin host inherits the
  // variable); a is preferred, so it gets it first and gives it up.
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer, isolation: process}\n", {},
                  {{"DOMIAN_TEST_CRASH_START", "tally"}});
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return AgreedOwner(All(), "tally") == "node-b"; }, 60s));
  EXPECT_THAT(a.Log(), HasSubstr("giving up on this node"));
  EXPECT_TRUE(a.Running());
  const auto why = Explain(b, "tally");
  ASSERT_TRUE(why);
  // a's reason comes with it: the supervisor's summary and the plugin
  // host's last failure.
  bool explained = false;
  for (const auto& verdict : (*why)["verdicts"]) {
    if (verdict["node"] == "node-a") {
      const std::string reason = verdict["reason"];
      explained = reason.starts_with("failed here recently: ") &&
                  reason.find("giving up on this node") != std::string::npos;
    }
  }
  EXPECT_TRUE(explained) << why->dump();
  EXPECT_EQ(Call(a, "tally", "inc").exit_code, 0);
}

}  // namespace
}  // namespace domian::testing
