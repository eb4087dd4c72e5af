// Placement benchmark: three real domiand processes running the placement
// test plugin `tally` (a singleton counter with state), membership at its
// default timings, placement.migrate_after 1 s (default 10 s) so that each
// trial's move back is short.
//
//   failover:  node-a (run: prefer) owns tally, node-b and node-c (run:
//              allow) stand by. SIGKILL node-a; time until node-b's
//              Services() shows tally running on another node. Then node-a
//              is restarted and tally moves back to it (a planned move,
//              once node-a has been up for migrate_after): every trial
//              also yields one migration sample.
//   migration: the same cycle, under its own name: a planned move needs a
//              better node that was away, so the move back after each
//              failover is the sample. The gap is what the old owner's
//              daemon logs for the move ("N ms from stop to running
//              there": stop begun -> the new owner answered that it runs
//              it, state restored), and what polling both nodes sees (the
//              window in which neither reports itself running).
//   state:     the cost of a change a caller is told of: node-a owns tally;
//              `inc` (the plugin asks save_now: the state is saved, synced
//              here, copied to both peers, and one confirmed before the
//              reply) beside `get` (no change), alternately, on node-a
//              itself; and the copies sent per change (node-a's status:
//              traffic.state_copies_sent, state_copy_bytes_sent).
//   heal:      the three nodes in network namespaces of their own
//              (tests/support/net_lab.h, needs root). Partition {a} from
//              {b, c}, wait until both sides run tally, heal; time until
//              every node reports exactly one running owner, the same one.
//
// Everything is observed with domian::cli::ControlClient (what domianctl
// uses) every 10 ms; the breakdowns come from the daemons' own log
// timestamps. The daemons speak mutual TLS, or with --plaintext none, to
// set beside it.
#include <signal.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "bench/command_line.h"
#include "bench/log_lines.h"
#include "bench/percentile.h"
#include "bench/transport.h"
#include "core/cli/control_client.h"
#include "tests/support/cluster.h"
#include "tests/support/net_lab.h"

namespace po = boost::program_options;
using namespace domian::testing;
using domian::bench::CountLines;
using domian::bench::FirstLine;
using domian::bench::Fixed;
using domian::bench::MsBetween;
using domian::bench::Summary;
using domian::bench::Percentile;
using domian::bench::kGoalTlsOverPlaintext;
using domian::bench::Plaintext;
using domian::bench::TlsCounterpart;
using domian::bench::TransportLabel;
using domian::cli::ControlClient;
using Steady = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;

namespace {

constexpr char kService[] = "tally";
constexpr char kMigrateAfterYaml[] = "1s";  // placement.migrate_after in every node.yaml
constexpr int kMigrateAfterMs = 1000;
constexpr auto kPoll = 10ms;             // between polling rounds
constexpr auto kRequest = 1000ms;        // deadline of each ControlClient request
constexpr auto kConverge = 60s;          // a fresh cluster agrees on everything
constexpr auto kFailoverDeadline = 30s;  // SIGKILL -> running elsewhere
constexpr auto kRestartDeadline = 30s;   // a restarted daemon answers
constexpr auto kMoveDeadline = 60s;      // restart -> moved back
constexpr auto kLogDeadline = 10s;       // a line we know is coming is in the log
constexpr auto kSplitDeadline = 30s;     // partition -> both sides run it
constexpr auto kHealDeadline = 60s;      // heal -> one owner (the goal is 5 s)
constexpr auto kSettle = 1s;             // after a trial, before the next
constexpr int kIncrements = 3;           // tally inc calls before each move back

// Daemon log lines (core/placement/placement.cc, core/services/isolated_service.cc).
const std::string kStarting = std::string("starting service ") + kService + " here";
const std::string kRunningLine = std::string("service ") + kService + " running (plugin host pid";

// Goals from the issue.
constexpr double kGoalFailoverP50Ms = 2500, kGoalMigrationMs = 300, kGoalHealMs = 5000;

// ---- logs ----


// ---- polling ----

struct Owner {
  std::string node;
  uint64_t epoch = 0;
  bool operator==(const Owner&) const = default;
};

// One Services(tally) request: when it was sent and answered, and the
// nodes the asked daemon reports running tally (nullopt: no answer).
struct Poll {
  Steady::time_point sent, received;
  std::optional<std::vector<Owner>> owners;

  // The daemon read its state somewhere in between; on loopback the two
  // are well under a millisecond apart.
  Steady::time_point Mid() const { return sent + (received - sent) / 2; }
  bool Reports(const std::string& node) const {
    return owners && std::any_of(owners->begin(), owners->end(),
                                 [&](const Owner& o) { return o.node == node; });
  }
};

Poll Ask(ControlClient& client) {
  Poll poll;
  poll.sent = Steady::now();
  const auto reply = client.Services(kService);
  poll.received = Steady::now();
  if (reply.ok()) {
    const nlohmann::json* rows = &*reply;
    poll.owners.emplace();
    for (const auto& row : *rows) {
      if (row.value("name", "") == kService && row.value("state", "") == "running") {
        poll.owners->push_back({row.value("node", ""), row.value("epoch", uint64_t{0})});
      }
    }
    std::sort(poll.owners->begin(), poll.owners->end(),
              [](const Owner& x, const Owner& y) { return x.node < y.node; });
  }
  return poll;
}

// Calls `round` every kPoll until it returns true; false once `deadline`
// has passed.
bool PollUntil(Steady::time_point deadline, const std::function<bool()>& round) {
  while (true) {
    if (round()) return true;
    if (Steady::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

// The one running owner every client agrees on, or "".
std::string AgreedOwner(const std::vector<ControlClient*>& clients) {
  std::string agreed;
  for (ControlClient* client : clients) {
    const Poll poll = Ask(*client);
    if (!poll.owners || poll.owners->size() != 1) return "";
    if (!agreed.empty() && poll.owners->front().node != agreed) return "";
    agreed = poll.owners->front().node;
  }
  return agreed;
}

void WaitForOwner(const std::vector<ControlClient*>& clients, const std::string& node,
                  std::chrono::milliseconds timeout, const std::string& what) {
  if (!PollUntil(Steady::now() + timeout, [&] { return AgreedOwner(clients) == node; })) {
    throw std::runtime_error(what + ": the nodes did not agree that " + node + " runs " +
                             kService + " within " + std::to_string(timeout.count()) + " ms");
  }
}

// tally's value through `client` (routed to wherever it runs).
std::optional<long> TallyCall(ControlClient& client, const std::string& command) {
  const auto reply = client.Call(kService, command, "{}");
  if (reply.ok()) {
    const nlohmann::json* value = &*reply;
    if (value->contains("value")) return (*value)["value"].get<long>();
  }
  return std::nullopt;
}

std::optional<long> TallyCallRetrying(ControlClient& client, const std::string& command) {
  std::optional<long> value;
  PollUntil(Steady::now() + kLogDeadline, [&] { return (value = TallyCall(client, command)).has_value(); });
  return value;
}

// ---- setup ----

// tally.so alone in a folder domiand accepts (0755, the file 0644).
std::filesystem::path PluginFolder(const std::filesystem::path& root) {
  const auto folder = root / "plugins";
  std::filesystem::create_directories(folder);
  std::filesystem::permissions(folder, std::filesystem::perms(0755));
  const auto target = folder / (std::string(kService) + ".so");
  std::filesystem::copy_file(std::filesystem::path(DOMIAN_TEST_PLUGIN_DIR) / target.filename(),
                             target);
  std::filesystem::permissions(target, std::filesystem::perms(0644));
  return folder;
}

std::string Yaml(const std::filesystem::path& plugins, const std::string& run) {
  return "plugins:\n  dirs: [" + plugins.string() + "]\nplacement:\n  migrate_after: " +
         kMigrateAfterYaml + "\nservices:\n  " + kService + ": {run: " + run + "}\n";
}

// Where --logs asked the daemons' logs to be copied ("" for nowhere).
std::filesystem::path g_logs_dir;

// Copies every daemon's log to g_logs_dir when it goes out of scope (a
// failed trial included); declare it after the daemons.
class KeepLogs {
 public:
  explicit KeepLogs(std::vector<const Daemon*> daemons) : daemons_(std::move(daemons)) {}
  ~KeepLogs() {
    if (g_logs_dir.empty()) return;
    std::error_code ignored;
    std::filesystem::create_directories(g_logs_dir, ignored);
    for (const Daemon* daemon : daemons_) {
      std::ofstream(g_logs_dir / (daemon->id() + ".log")) << daemon->Log();
    }
  }
  KeepLogs(const KeepLogs&) = delete;
  KeepLogs& operator=(const KeepLogs&) = delete;

 private:
  std::vector<const Daemon*> daemons_;
};

// ---- failover and migration ----

// The three nodes of the failover, migration and state scenarios, all
// seen alive: node-a (run: prefer) and node-b and node-c (run: allow);
// node-b is the seed, so that it never goes away.
struct Trio {
  explicit Trio(const std::string& name)
      : dir(name),
        plugins(PluginFolder(dir.path())),
        b(dir.path(), {.id = "node-b", .log_level = "info", .extra_yaml = Yaml(plugins, "allow")}),
        a(dir.path(), {.id = "node-a", .seeds = {b.address()}, .log_level = "info",
                       .extra_yaml = Yaml(plugins, "prefer")}),
        c(dir.path(), {.id = "node-c", .seeds = {b.address()}, .log_level = "info",
                       .extra_yaml = Yaml(plugins, "allow")}),
        keep({&a, &b, &c}) {
    b.Start();
    a.Start();
    c.Start();
    if (!AllSeeEachOtherAlive({&a, &b, &c}, kConverge)) throw std::runtime_error("no cluster");
  }
  TempDir dir;
  std::filesystem::path plugins;
  Daemon b, a, c;
  KeepLogs keep;
};


nlohmann::json Cycle(const std::string& scenario, int trials) {
  Trio trio("domian-placement-bench");
  Daemon &a = trio.a, &b = trio.b, &c = trio.c;
  auto owned_b = domian::testing::ControlClientFor(b.address(), kRequest);
  auto owned_c = domian::testing::ControlClientFor(c.address(), kRequest);
  ControlClient& on_b = *owned_b;
  ControlClient& on_c = *owned_c;
  auto on_a = domian::testing::ControlClientFor(a.address(), kRequest);
  WaitForOwner({on_a.get(), &on_b, &on_c}, "node-a", kConverge, "start");

  std::vector<double> failover_ms, owner_running_ms, owner_detect_ms, owner_start_ms;
  std::vector<double> detect_to_start_ms, start_to_running_ms;
  std::vector<double> gap_daemon_ms, gap_polled_ms, moved_back_ms, move_stop_ms, move_spawn_ms;
  std::map<std::string, int> new_owners;
  int state_restored = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const std::string label = scenario + " trial " + std::to_string(trial + 1);
    // -- failover --
    const auto killed_wall = Wall::now();
    const auto killed = Steady::now();
    a.Signal(SIGKILL);
    std::string owner;
    std::optional<double> seen_by_b, seen_by_owner;
    const bool failed_over = PollUntil(killed + kFailoverDeadline, [&] {
      // c first, then b: a new owner's report of itself comes before b's
      // view of it in the same round.
      for (auto [client, id] : {std::pair{&on_c, "node-c"}, std::pair{&on_b, "node-b"}}) {
        const Poll poll = Ask(*client);
        if (!seen_by_owner && poll.Reports(id)) seen_by_owner = MsBetween(killed, poll.received);
        if (client == &on_b && poll.owners) {
          for (const Owner& o : *poll.owners) {
            if (o.node != "node-a") {
              owner = o.node;
              seen_by_b = MsBetween(killed, poll.received);
            }
          }
        }
      }
      return seen_by_b.has_value();
    });
    if (!failed_over) throw std::runtime_error(label + ": no failover within 30 s");
    a.WaitExit(5s);
    ++new_owners[owner];
    Daemon& old = owner == "node-b" ? b : c;
    ControlClient& on_old = owner == "node-b" ? on_b : on_c;
    failover_ms.push_back(*seen_by_b);
    if (seen_by_owner) owner_running_ms.push_back(*seen_by_owner);
    // Breakdown from the new owner's log: when it declared a dead, when
    // it decided to start tally, when its plugin host ran it.
    const std::string log = old.Log();
    const auto dead = FirstLine(log, killed_wall, {"peer node-a (", ") is dead"});
    const auto start = FirstLine(log, killed_wall, {kStarting});
    const auto running = FirstLine(log, killed_wall, {kRunningLine});
    if (dead) owner_detect_ms.push_back(MsBetween(killed_wall, dead->at));
    if (start) owner_start_ms.push_back(MsBetween(killed_wall, start->at));
    if (dead && start) detect_to_start_ms.push_back(MsBetween(dead->at, start->at));
    if (start && running) start_to_running_ms.push_back(MsBetween(start->at, running->at));

    // State that must travel with the move back.
    const auto before = TallyCallRetrying(on_b, "get");
    if (!before) throw std::runtime_error(label + ": tally get failed after the failover");
    for (int i = 0; i < kIncrements; ++i) {
      if (!TallyCallRetrying(on_b, "inc")) throw std::runtime_error(label + ": tally inc failed");
    }

    // -- move back --
    const auto restarted_wall = Wall::now();
    const auto restarted = Steady::now();
    a.Start();
    // A fresh channel per attempt until a answers, so gRPC's reconnect
    // back-off cannot delay what we see of a later.
    if (!PollUntil(restarted + kRestartDeadline, [&] {
          on_a = domian::testing::ControlClientFor(a.address(), kRequest);
          return on_a->Status().ok();
        })) {
      throw std::runtime_error(label + ": restarted node-a does not answer");
    }
    // Each node's report of itself: the last poll where the old owner
    // still ran it, the first where a runs it.
    std::optional<Steady::time_point> old_last_running, a_first_running;
    const bool moved = PollUntil(restarted + kMoveDeadline, [&] {
      const Poll from = Ask(on_old);
      if (from.Reports(owner)) old_last_running = from.Mid();
      const Poll to = Ask(*on_a);
      if (to.Reports("node-a")) a_first_running = to.Mid();
      return a_first_running.has_value();
    });
    if (!moved) throw std::runtime_error(label + ": tally did not move back to node-a");
    moved_back_ms.push_back(MsBetween(restarted, *a_first_running));
    if (old_last_running) gap_polled_ms.push_back(MsBetween(*old_last_running, *a_first_running));

    static const std::regex kMoved(std::string("service ") + kService +
                                   " moved to node-a under epoch [0-9]+ \\(([0-9]+) ms from stop");
    std::optional<double> logged;
    PollUntil(Steady::now() + kLogDeadline, [&] {
      const auto line = FirstLine(old.Log(), restarted_wall,
                                  {std::string("service ") + kService + " moved to node-a"});
      std::smatch match;
      if (line && std::regex_search(line->text, match, kMoved)) logged = std::stod(match[1]);
      return logged.has_value();
    });
    if (!logged) throw std::runtime_error(label + ": " + owner + " logged no move to node-a");
    gap_daemon_ms.push_back(*logged);
    // Where the gap goes, from the logs: the old owner decides to move ->
    // node-a starts it (stop, save, HandOver call); node-a starts it ->
    // its plugin host runs it.
    const auto moving = FirstLine(old.Log(), restarted_wall,
                                  {std::string("moving service ") + kService + " to node-a"});
    const std::string a_log = a.Log();
    const auto a_start = FirstLine(a_log, restarted_wall, {kStarting});
    const auto a_running = FirstLine(a_log, restarted_wall, {kRunningLine});
    if (moving && a_start) move_stop_ms.push_back(MsBetween(moving->at, a_start->at));
    if (a_start && a_running) move_spawn_ms.push_back(MsBetween(a_start->at, a_running->at));

    const auto after = TallyCallRetrying(on_b, "get");
    if (after && *after == *before + kIncrements) ++state_restored;
    WaitForOwner({on_a.get(), &on_b, &on_c}, "node-a", kConverge, label);
    std::cerr << "  " << label << "/" << trials << ": failover " << static_cast<int>(*seen_by_b)
              << " ms (to " << owner << "), move back gap " << static_cast<int>(*logged)
              << " ms (daemon), "
              << (old_last_running ? std::to_string(static_cast<int>(gap_polled_ms.back())) : "?")
              << " ms (polled), state " << (after && *after == *before + kIncrements ? "ok" : "LOST")
              << "\n";
    std::this_thread::sleep_for(kSettle);
  }
  const std::string logs = a.Log() + b.Log() + c.Log();
  return {
      {"scenario", scenario},
      {"nodes", 3},
      {"trials", trials},
      {"migrate_after_ms", kMigrateAfterMs},
      {"isolation", "process"},
      // SIGKILL -> node-b lists tally running on another node.
      {"failover_ms", Summary(failover_ms)},
      // SIGKILL -> the new owner lists itself running it.
      {"failover_owner_running_ms", Summary(owner_running_ms)},
      // SIGKILL -> the new owner's log: node-a dead; starting tally.
      {"owner_detect_ms", Summary(owner_detect_ms)},
      {"owner_start_ms", Summary(owner_start_ms)},
      // Its log: node-a dead -> starting tally; starting -> running.
      {"owner_detect_to_start_ms", Summary(detect_to_start_ms)},
      {"owner_start_to_running_ms", Summary(start_to_running_ms)},
      {"new_owners", new_owners},
      // Move back to node-a: the old owner's own figure (stop begun -> a
      // answered that it runs it, state restored).
      {"migration_gap_ms", Summary(gap_daemon_ms)},
      // The same move, polled: last poll of the old owner still running it
      // -> first poll of node-a running it (an upper bound, +-10 ms).
      {"migration_gap_polled_ms", Summary(gap_polled_ms)},
      // The logs: old owner "moving" -> node-a "starting" (stop, save,
      // HandOver); node-a "starting" -> its plugin host runs it.
      {"move_stop_handover_ms", Summary(move_stop_ms)},
      {"move_spawn_ms", Summary(move_spawn_ms)},
      // Restart of node-a -> it runs tally (includes migrate_after).
      {"moved_back_after_restart_ms", Summary(moved_back_ms)},
      {"state_restored", state_restored},
      {"refused_moves", CountLines(logs, "did not take it")},
  };
}

// ---- state ----

// Calls before the measured ones (channels made, caches warm).
constexpr int kStateWarmUp = 20;

nlohmann::json State(int calls) {
  Trio trio("domian-placement-bench-state");
  Daemon &a = trio.a, &b = trio.b, &c = trio.c;
  auto on_a = domian::testing::ControlClientFor(a.address(), kRequest);
  auto on_b = domian::testing::ControlClientFor(b.address(), kRequest);
  auto on_c = domian::testing::ControlClientFor(c.address(), kRequest);
  WaitForOwner({on_a.get(), on_b.get(), on_c.get()}, "node-a", kConverge, "start");
  const auto timed = [&](const std::string& command) {
    const Steady::time_point sent = Steady::now();
    if (!TallyCall(*on_a, command)) throw std::runtime_error("tally " + command + " failed");
    return MsBetween(sent, Steady::now());
  };
  for (int i = 0; i < kStateWarmUp; ++i) {
    timed("inc");
    timed("get");
  }
  const auto traffic = [&] {
    const auto status = on_a->Status();
    if (!status.ok()) throw std::runtime_error("no status from node-a");
    return (*status)["traffic"];
  };
  const nlohmann::json before = traffic();
  std::vector<double> inc_ms, get_ms;
  for (int i = 0; i < calls; ++i) {
    inc_ms.push_back(timed("inc"));
    get_ms.push_back(timed("get"));
  }
  const nlohmann::json after = traffic();
  const auto delta = [&](const char* key) {
    return after[key].get<double>() - before[key].get<double>();
  };
  const double copies = delta("state_copies_sent"), bytes = delta("state_copy_bytes_sent");
  const std::optional<long> value = TallyCall(*on_b, "get");
  return {
      {"scenario", "state"},
      {"calls", calls},
      {"inc_ms", Summary(inc_ms)},  // a change: saved, synced, copied, confirmed
      {"get_ms", Summary(get_ms)},  // no change
      {"copies_per_change", copies / calls},
      {"copy_bytes_per_change", bytes / calls},
      {"value_seen_via_node_b", value ? *value : -1},
  };
}

// ---- heal ----

nlohmann::json Heal(int trials) {
  TempDir dir("domian-placement-bench-heal");
  const auto plugins = PluginFolder(dir.path());
  NetLab lab;  // before the daemons: they die first
  auto options = [&](const std::string& id, const std::string& run,
                     std::vector<std::string> seeds) {
    Daemon::Options o{.id = id, .seeds = std::move(seeds), .log_level = "info",
                      .extra_yaml = Yaml(plugins, run)};
    o.host = lab.AddNode(id);
    o.wrapper = NetLab::Wrapper(id);
    return o;
  };
  Daemon a(dir.path(), options("node-a", "prefer", {}));
  Daemon b(dir.path(), options("node-b", "allow", {a.address()}));
  Daemon c(dir.path(), options("node-c", "allow", {a.address()}));
  KeepLogs keep({&a, &b, &c});
  a.Start();
  b.Start();
  c.Start();
  if (!AllSeeEachOtherAlive({&a, &b, &c}, kConverge)) throw std::runtime_error("no cluster");
  auto on_a = domian::testing::ControlClientFor(a.address(), kRequest);
  auto on_b = domian::testing::ControlClientFor(b.address(), kRequest);
  auto on_c = domian::testing::ControlClientFor(c.address(), kRequest);
  const std::vector<ControlClient*> all = {on_a.get(), on_b.get(), on_c.get()};
  WaitForOwner(all, "node-a", kConverge, "start");

  std::vector<double> one_owner_ms, split_ms, heal_call_ms, back_ms;
  std::map<std::string, int> winners;
  for (int trial = 0; trial < trials; ++trial) {
    const std::string label = "heal trial " + std::to_string(trial + 1);
    const Poll before = Ask(*on_a);
    if (!before.owners || before.owners->size() != 1 || before.owners->front().node != "node-a") {
      throw std::runtime_error(label + ": node-a does not run tally alone");
    }
    const uint64_t epoch_a = before.owners->front().epoch;
    const auto cut = Steady::now();
    lab.Partition({"node-a"}, {"node-b", "node-c"});
    // Both sides run it: a still under its epoch, b or c (the same for
    // both) under a higher one.
    const bool split = PollUntil(cut + kSplitDeadline, [&] {
      const Poll pa = Ask(*on_a), pb = Ask(*on_b), pc = Ask(*on_c);
      if (!pa.owners || *pa.owners != std::vector<Owner>{{"node-a", epoch_a}}) return false;
      if (!pb.owners || pb.owners->size() != 1 || pb.owners->front().epoch <= epoch_a) return false;
      return pc.owners && *pc.owners == *pb.owners;
    });
    if (!split) throw std::runtime_error(label + ": the two sides did not both run tally");
    split_ms.push_back(MsBetween(cut, Steady::now()));

    const auto heal_began = Steady::now();
    lab.Heal();
    heal_call_ms.push_back(MsBetween(heal_began, Steady::now()));
    std::string winner;
    const bool healed = PollUntil(heal_began + kHealDeadline, [&] {
      std::optional<std::vector<Owner>> agreed;
      for (ControlClient* client : all) {
        const Poll poll = Ask(*client);
        if (!poll.owners || poll.owners->size() != 1) return false;
        if (agreed && *agreed != *poll.owners) return false;
        agreed = poll.owners;
      }
      winner = agreed->front().node;
      return true;
    });
    if (!healed) throw std::runtime_error(label + ": still not one owner 60 s after healing");
    // Measured from the start of Heal() (its `ip route` commands included).
    one_owner_ms.push_back(MsBetween(heal_began, Steady::now()));
    ++winners[winner];
    // Back to a once it has been back for migrate_after, before the next cut.
    const auto back_from = Steady::now();
    WaitForOwner(all, "node-a", kMoveDeadline, label);
    back_ms.push_back(MsBetween(back_from, Steady::now()));
    std::cerr << "  " << label << "/" << trials << ": split seen in "
              << static_cast<int>(split_ms.back()) << " ms, one owner (" << winner << ") "
              << static_cast<int>(one_owner_ms.back()) << " ms after healing\n";
    std::this_thread::sleep_for(kSettle);
  }
  const std::string logs = a.Log() + b.Log() + c.Log();
  return {
      {"scenario", "heal"},
      {"nodes", 3},
      {"trials", trials},
      {"migrate_after_ms", kMigrateAfterMs},
      // Heal() begun -> every node reports exactly one running owner, the same.
      {"one_owner_ms", Summary(one_owner_ms)},
      {"heal_call_ms", Summary(heal_call_ms)},
      // Partition() begun -> both sides run it.
      {"split_ms", Summary(split_ms)},
      // one owner -> all agree node-a runs it again.
      {"back_to_a_ms", Summary(back_ms)},
      {"winners", winners},
      {"refused_moves", CountLines(logs, "did not take it")},
  };
}

// ---- report ----

// A plaintext result's mutual TLS counterpart: the same scenario.
bool SameScenario(const nlohmann::json& a, const nlohmann::json& b) {
  return a.value("scenario", "") == b.value("scenario", "");
}

// The rows of a plaintext result: each figure beside the mutual TLS one
// of the same scenario (the row before it, when bench/run ran the pair),
// as TLS / plaintext of the p50s, failover held to the 10% goal.
void ReportPlaintext(const nlohmann::json& results, size_t at,
                     const std::function<void(const std::string&, const std::string&,
                                              const std::string&, const std::string&,
                                              const std::string&)>& row,
                     const std::function<std::string(const nlohmann::json&)>& measured) {
  const nlohmann::json& r = results[at];
  const nlohmann::json* tls = TlsCounterpart(results, at, SameScenario);
  const bool compared = tls != nullptr && !tls->contains("error") && !tls->contains("skipped");
  const std::string beside =
      tls == nullptr ? "no mtls run" : !compared ? "mtls run failed or skipped" : "";
  const std::string goal = "TLS/plain<=x" + Fixed(kGoalTlsOverPlaintext, 2);
  // key: the figure; judged: held to the goal (else reported).
  auto figure = [&](const std::string& what, const char* key, bool judged) {
    if (!compared) {
      row(what + TransportLabel(r), judged ? goal : "(reported)", measured(r[key]), beside, "");
      return;
    }
    const double over_tls = (*tls)[key]["p50"], plain = r[key]["p50"];
    const std::string verdict = over_tls <= kGoalTlsOverPlaintext * plain ? "met" : "MISSED";
    row(what + TransportLabel(r), judged ? goal : "(reported)", measured(r[key]),
        plain > 0 ? "TLS/plain x" + Fixed(over_tls / plain, 2) : "", judged ? verdict : "");
  };
  const std::string scenario = r.value("scenario", "");
  const std::string trials =
      r.contains("trials") ? " (" + std::to_string(r["trials"].get<int>()) + ")" : "";
  if (scenario == "failover" || scenario == "migration") {
    figure("SIGKILL owner -> running elsewhere" + trials, "failover_ms", true);
    figure("move back: stop -> running (daemon)" + trials, "migration_gap_ms", false);
    row("move back: state restored" + TransportLabel(r), "every move",
        std::to_string(r["state_restored"].get<int>()) + " of " +
            std::to_string(r["trials"].get<int>()),
        "", r["state_restored"] == r["trials"] ? "met" : "MISSED");
  } else if (scenario == "heal") {
    if (r.contains("skipped")) {
      row("partition healed -> one owner" + TransportLabel(r), "(reported)",
          "skipped: " + r["skipped"].get<std::string>(), "", "-");
      return;
    }
    figure("partition healed -> one owner" + trials, "one_owner_ms", false);
  } else if (scenario == "state") {
    figure("tally inc (a change, copied) on the owner", "inc_ms", false);
    figure("tally get (no change) on the owner", "get_ms", false);
  }
}

// Prints the placement rows of a results file written by bench/run.
int Report(const std::string& file) {
  std::ifstream in(file);
  const nlohmann::json doc = nlohmann::json::parse(in);
  auto row = [](const std::string& scenario, const std::string& goal, const std::string& measured,
                const std::string& ratio, const std::string& verdict) {
    std::cout << std::left << std::setw(56) << scenario << std::setw(18) << goal << std::setw(40)
              << measured << std::setw(27) << ratio << verdict << "\n";
  };
  auto measured = [](const nlohmann::json& s) {
    return "p50 " + Fixed(s["p50"], 0) + " p99 " + Fixed(s["p99"], 0) + " max " +
           Fixed(s["max"], 0) + " ms";
  };
  auto ratio = [](const nlohmann::json& s, double goal) {
    return "x" + Fixed(s["p50"].get<double>() / goal, 2) + " / x" +
           Fixed(s["p99"].get<double>() / goal, 2);
  };
  row("placement scenario", "goal", "measured", "p50/p99 to goal", "verdict");
  const nlohmann::json& results = doc["results"];
  for (size_t at = 0; at < results.size(); ++at) {
    const nlohmann::json& r = results[at];
    const std::string scenario = r.value("scenario", "");
    if (Plaintext(r)) {
      ReportPlaintext(results, at, row, measured);
      continue;
    }
    if (scenario == "failover" || scenario == "migration") {
      const std::string kills = " (" + std::to_string(r["trials"].get<int>()) + ")";
      const auto& f = r["failover_ms"];
      row("SIGKILL owner -> running elsewhere" + kills, "p50<=2500ms", measured(f),
          ratio(f, kGoalFailoverP50Ms), f["p50"] <= kGoalFailoverP50Ms ? "met" : "MISSED");
      const auto& m = r["migration_gap_ms"];
      row("move back: stop -> running (daemon)" + kills, "<=300ms (p99)", measured(m),
          ratio(m, kGoalMigrationMs), m["p99"] <= kGoalMigrationMs ? "met" : "MISSED");
      const auto& p = r["migration_gap_polled_ms"];
      row("move back: no owner running (polled)", "(reported)", measured(p),
          ratio(p, kGoalMigrationMs), "");
      row("move back: state restored", "every move",
          std::to_string(r["state_restored"].get<int>()) + " of " +
              std::to_string(r["trials"].get<int>()),
          "", r["state_restored"] == r["trials"] ? "met" : "MISSED");
    } else if (scenario == "state") {
      const std::string n = " (" + std::to_string(r["calls"].get<int>()) + ")";
      row("tally inc: saved, synced, copied, confirmed" + n, "(reported)", measured(r["inc_ms"]),
          "", "");
      row("tally get: no change" + n, "(reported)", measured(r["get_ms"]), "", "");
      row("added by an acknowledged change (p50, p99)", "(reported)",
          Fixed(r["inc_ms"]["p50"].get<double>() - r["get_ms"]["p50"].get<double>(), 2) + " / " +
              Fixed(r["inc_ms"]["p99"].get<double>() - r["get_ms"]["p99"].get<double>(), 2) +
              " ms",
          "", "");
      row("copies sent per change (protobuf bytes)", "(reported)",
          Fixed(r["copies_per_change"], 2) + " copies, " + Fixed(r["copy_bytes_per_change"], 0) +
              " bytes",
          "", "");
    } else if (scenario == "heal") {
      if (r.contains("skipped")) {
        row("partition healed -> one owner", "<=5000ms (max)",
            "skipped: " + r["skipped"].get<std::string>(), "", "-");
        continue;
      }
      const auto& h = r["one_owner_ms"];
      row("partition healed -> one owner (" + std::to_string(r["trials"].get<int>()) + ")",
          "<=5000ms (max)", measured(h), ratio(h, kGoalHealMs),
          h["max"] <= kGoalHealMs ? "met" : "MISSED");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("placement_bench");
  options.add_options()
      ("scenario", po::value<std::string>(), "failover | migration | heal | state")
      ("trials", po::value<int>(), "kills (failover, migration; default 20), partitions "
                                   "(heal; default 10) or calls of each kind (state; default 500)")
      ("report", po::value<std::string>(), "print the placement rows of a results file and exit")
      ("logs", po::value<std::string>(), "copy the daemons' logs into this folder at the end")
      ("plaintext", po::bool_switch(), "the daemons without TLS (security.plaintext)")
      ("help,h", "this help");
  po::variables_map args;
  if (const auto stop = domian::bench::ParseCommandLine(argc, argv, options, args)) return *stop;
  if (args.count("report")) return Report(args["report"].as<std::string>());
  if (!args.count("scenario")) {
    std::cerr << "--scenario or --report is required\n" << options;
    return 2;
  }
  const std::string scenario = args["scenario"].as<std::string>();
  if (scenario != "failover" && scenario != "migration" && scenario != "heal" &&
      scenario != "state") {
    std::cerr << "unknown scenario " << scenario << "\n";
    return 2;
  }
  const int trials = args.count("trials")   ? args["trials"].as<int>()
                     : scenario == "heal"  ? 10
                     : scenario == "state" ? 500
                                           : 20;
  if (trials < 1) {
    std::cerr << "--trials must be at least 1\n";
    return 2;
  }
  if (args.count("logs")) g_logs_dir = args["logs"].as<std::string>();
  // Before the first Daemon is made: each takes the transport in force.
  UsePlaintextDaemons(args["plaintext"].as<bool>());
  if (scenario == "heal") {
    // Before any thread exists (gRPC starts some): see NetLab::Enter().
    const std::string problem = NetLab::Enter();
    if (!problem.empty()) {
      std::cout << nlohmann::json{{"scenario", "heal"},
                                  {"transport", DaemonTransport()},
                                  {"skipped", problem}}.dump()
                << "\n";
      return 0;
    }
  }
  try {
    nlohmann::json result = scenario == "heal"    ? Heal(trials)
                            : scenario == "state" ? State(trials)
                                                  : Cycle(scenario, trials);
    // So that the report can set plaintext beside mutual TLS.
    result["transport"] = DaemonTransport();
    std::cout << result.dump() << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "placement_bench: " << error.what() << "\n";
    return 1;
  }
}
