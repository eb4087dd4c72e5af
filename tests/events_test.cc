// The event stream across real domiand processes: `domianctl events -f`
// as a person runs it sees a kill, the failover, the restart and the move
// back in the order they happened; plugins' events reach it from their
// plugin hosts; a watcher that stops reading loses old events (and is told
// so) without slowing the node's heartbeats or other watchers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/process.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/die_with_parent.h"

namespace domian::testing {
namespace {

namespace bp = boost::process;

constexpr auto kConverge = 20s;
constexpr auto kFailover = 20s;
constexpr auto kMove = 30s;  // migrate_after (4 s) plus room

const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;

// `domianctl events -f --json` running in the background, its lines
// parsed as they come.
class EventFollower {
 public:
  EventFollower(const Daemon& daemon, int last) {
    std::vector<std::string> args = CtlAccess(daemon.address());
    args.insert(args.end(), {"events", "-f", "--json", "--last", std::to_string(last)});
    child_ = bp::child(DomianctlPath(), bp::args(args), bp::std_out > out_, bp::std_err > err_,
                       bp::std_in < bp::null, DieWithParent{});
    reader_ = std::thread([this] {
      std::string line;
      while (std::getline(out_, line)) {
        nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
        std::lock_guard lock(mu_);
        if (event.is_discarded()) {
          bad_lines_.push_back(line);
        } else {
          events_.push_back(std::move(event));
        }
        changed_.notify_all();
      }
    });
    errors_ = std::thread([this] {
      std::stringstream s;
      s << err_.rdbuf();
      std::lock_guard lock(mu_);
      stderr_ = s.str();
    });
  }
  ~EventFollower() {
    if (child_.running()) child_.terminate();
    child_.wait();
    reader_.join();
    errors_.join();
  }

  // The index of the first event at or after `from` that `match` accepts,
  // waiting up to `wait`.
  std::optional<size_t> WaitFor(const std::function<bool(const nlohmann::json&)>& match,
                                std::chrono::milliseconds wait, size_t from = 0) {
    std::unique_lock lock(mu_);
    std::optional<size_t> found;
    changed_.wait_for(lock, wait, [&] {
      for (size_t i = from; i < events_.size(); ++i) {
        if (match(events_[i])) {
          found = i;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::vector<nlohmann::json> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::string Dump() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& event : events_) out += event.dump() + "\n";
    for (const auto& line : bad_lines_) out += "(not JSON) " + line + "\n";
    return out + stderr_;
  }
  bool running() { return child_.running(); }

 private:
  bp::ipstream out_, err_;
  bp::child child_;
  std::thread reader_, errors_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<nlohmann::json> events_;
  std::vector<std::string> bad_lines_;
  std::string stderr_;
};

auto Is(const std::string& kind, const std::string& what, const std::string& node = "",
        const std::string& service = "") {
  return [=](const nlohmann::json& event) {
    return event.value("kind", "") == kind && event.value("what", "") == what &&
           (node.empty() || event.value("node", "") == node) &&
           (service.empty() || event.value("service", "") == service);
  };
}

class Events : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_dir_ = dir_.path() / "plugins";
    MakePluginFolder(plugin_dir_, kTestPlugins, {"tally", "echo-c"});
  }
  void TearDown() override {
    if (HasFailure()) {
      for (auto& daemon : daemons_) std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
    }
  }

  Daemon& Add(const std::string& id, const std::string& services,
              std::vector<std::string> traits = {}) {
    Daemon::Options options{.id = id};
    options.extra_yaml = "plugins:\n  dirs: [" + plugin_dir_.string() +
                         "]\nplacement:\n  migrate_after: 4s\nservices:\n" + services;
    options.traits = std::move(traits);
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

  TempDir dir_{"domian-events-test"};
  std::filesystem::path plugin_dir_;
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

TEST_F(Events, FollowSeesAKillTheFailoverTheRestartAndTheMoveBackInOrder) {
  Daemon& b = Add("node-b", "  tally: {run: allow}\n");
  Daemon& a = Add("node-a", "  tally: {run: prefer}\n");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually(
      [&] {
        const auto owners = ServiceOwners(b, "tally");
        return owners.size() == 1 && owners.begin()->first == "node-a";
      },
      kConverge));

  EventFollower follower(b, 0);
  // The stream is open once the backlog (none asked) is through: a call
  // that emits nothing cannot show it, so wait for the child to connect
  // by giving it a moment and checking it still runs.
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(follower.running()) << follower.Dump();

  a.Signal(SIGKILL);
  a.WaitExit(kConverge);
  const auto dead = follower.WaitFor(Is("member", "dead", "node-a"), kFailover);
  ASSERT_TRUE(dead) << follower.Dump();
  const auto started = follower.WaitFor(Is("placement", "started", "node-b", "tally"), kFailover,
                                        *dead);
  ASSERT_TRUE(started) << follower.Dump();
  const auto running = follower.WaitFor(Is("health", "running", "node-b", "tally"), kFailover,
                                        *started);
  ASSERT_TRUE(running) << follower.Dump();

  a.Start();
  const auto back = follower.WaitFor(Is("member", "alive", "node-a"), kConverge, *running);
  ASSERT_TRUE(back) << follower.Dump();
  const auto moving = follower.WaitFor(Is("placement", "moving", "node-a", "tally"), kMove, *back);
  ASSERT_TRUE(moving) << follower.Dump();
  const auto moved = follower.WaitFor(Is("placement", "moved", "node-a", "tally"), kMove, *moving);
  ASSERT_TRUE(moved) << follower.Dump();

  const std::vector<nlohmann::json> events = follower.Events();
  // Numbered by the node, in order, none lost.
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(events[i]["seq"].get<uint64_t>(), events[i - 1]["seq"].get<uint64_t>());
  }
  EXPECT_EQ(follower.WaitFor(Is("lost", "lost"), 0ms), std::nullopt) << follower.Dump();
  // What each one measured and why.
  const nlohmann::json& death = events[*dead];
  ASSERT_TRUE(death["seconds"].is_number()) << death.dump();
  EXPECT_GT(death["seconds"].get<double>(), 0.1) << "silent before declared dead";
  EXPECT_LT(death["seconds"].get<double>(), 20.0);
  EXPECT_THAT(events[*started]["detail"].get<std::string>(),
              ::testing::HasSubstr("failover: node-a"));
  EXPECT_TRUE(events[*started]["seconds"].is_number()) << events[*started].dump();
  EXPECT_TRUE(events[*moved]["seconds"].is_number()) << events[*moved].dump();
  EXPECT_GT(events[*back]["unix_ms"].get<int64_t>(), events[*dead]["unix_ms"].get<int64_t>());
}

TEST_F(Events, APluginsEventsReachTheStreamFromItsPluginHost) {
  Daemon& a = Add("node-a", "  echo-c: {isolation: process}\n", {"test"});
  ASSERT_TRUE(Eventually(
      [&] {
        const auto owners = ServiceOwners(a, "echo-c");
        return owners.size() == 1 && owners.begin()->first == "node-a";
      },
      kConverge));
  EventFollower follower(a, 10);
  ASSERT_EQ(CallService(a, "echo-c", "event", R"({"temperature":21.5})").exit_code, 0);
  const auto ping = follower.WaitFor(Is("plugin", "ping", "node-a", "echo-c"), 10s);
  ASSERT_TRUE(ping) << follower.Dump();
  EXPECT_EQ(follower.Events()[*ping]["data"], nlohmann::json::parse(R"({"temperature":21.5})"));

  // Without -f: the recent events, then the end.
  std::vector<std::string> args = CtlAccess(a.address());
  args.insert(args.end(), {"events", "--last", "5"});
  const CommandResult table = RunCommand(DomianctlPath(), args);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, ::testing::HasSubstr("ping"));
  EXPECT_THAT(table.out, ::testing::HasSubstr("21.5"));
  args.back() = "600";
  const CommandResult refused = RunCommand(DomianctlPath(), args);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, ::testing::HasSubstr("--last"));
}

// A watcher that never reads: the node's write to it stalls (HTTP/2 flow
// control), its queue overflows and drops the oldest, and nothing else
// notices: heartbeats go on, the peers stay alive, another watcher gets
// every event. When it reads again it is told how many it lost.
TEST_F(Events, AStalledWatcherLosesOldEventsWithAMarkerAndSlowsNothing) {
  Daemon& a = Add("node-a", "  echo-c: {isolation: inline}\n", {"test"});
  Daemon& b = Add("node-b", "");
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kConverge));
  ASSERT_TRUE(Eventually([&] { return ServiceOwners(a, "echo-c").contains("node-a"); }, kConverge));

  // The stalled one: a raw stream whose messages nobody reads, on a
  // connection with a small receive window (as a phone on a poor link;
  // gRPC would otherwise grow it to megabytes and buffer for the reader).
  grpc::ChannelArguments small_window;
  small_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  small_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  auto channel = grpc::CreateCustomChannel(
      a.address(), TestCredentials("test", "tester", "operator"), small_window);
  auto stub = v1::Domain::NewStub(channel);
  grpc::ClientContext stalled_context;
  v1::WatchEventsRequest request;
  request.set_follow(true);
  std::unique_ptr<grpc::ClientReader<v1::NodeEvent>> stalled =
      stub->WatchEvents(&stalled_context, request);
  // ...and a follower that keeps up.
  EventFollower follower(a, 0);
  std::this_thread::sleep_for(1s);

  const auto lists_before = Ctl(a.address(), "status").value()["traffic"]["lists_received"];
  // 1500 events of ~3 KiB: far more than the stalled stream's window and
  // its queue of 1024 events.
  const std::string pad(3000, 'x');
  auto client = ControlClientFor(a.address(), 10s);
  for (int i = 0; i < 1500; ++i) {
    const auto reply =
        client->Call("echo-c", "event", R"({"i":)" + std::to_string(i) + R"(,"pad":")" + pad + "\"}");
    ASSERT_TRUE(reply.ok()) << StatusMessage(reply.status());
  }
  const auto last = follower.WaitFor(
      [](const nlohmann::json& event) {
        return event.value("what", "") == "ping" && event["data"].is_object() &&
               event["data"].value("i", -1) == 1499;
      },
      60s);
  ASSERT_TRUE(last) << "the watcher that keeps up did not get everything";
  size_t pings = 0;
  for (const auto& event : follower.Events()) {
    EXPECT_NE(event.value("kind", ""), "lost");
    if (event.value("what", "") == "ping") ++pings;
  }
  EXPECT_EQ(pings, 1500u);

  // Heartbeats went on meanwhile, both ways.
  EXPECT_EQ(PeerState(a, "node-b"), "alive");
  EXPECT_EQ(PeerState(b, "node-a"), "alive");
  const auto lists_after = Ctl(a.address(), "status").value()["traffic"]["lists_received"];
  EXPECT_GT(lists_after.get<uint64_t>(), lists_before.get<uint64_t>());

  // The stalled watcher reads at last: a marker first where its gap is,
  // then the latest events in order.
  v1::NodeEvent event;
  bool saw_lost = false;
  int64_t last_i = -1;
  uint64_t last_seq = 0;
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (last_i < 1499 && std::chrono::steady_clock::now() < until && stalled->Read(&event)) {
    ASSERT_GT(event.seq(), last_seq);
    last_seq = event.seq();
    if (event.kind() == "lost") {
      saw_lost = true;
      EXPECT_GT(event.count(), 0u);
      continue;
    }
    if (event.what() == "ping") {
      last_i = nlohmann::json::parse(event.data_json()).value("i", -1);
    }
  }
  EXPECT_TRUE(saw_lost) << "1500 events of 3 KiB cannot all have waited for a reader";
  EXPECT_EQ(last_i, 1499) << "the newest events are kept, the oldest dropped";
  stalled_context.TryCancel();
}

}  // namespace
}  // namespace domian::testing
