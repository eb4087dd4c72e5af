// Membership benchmark: real domiand processes on 127.0.0.1 at default
// timings.
//
//   detect: SIGKILL one node, time until every survivor has logged it dead
//           (each trial then restarts the victim and waits for it to be
//           back before the next). With --junk N, a stranger sends every
//           node N fake peer rows each second, before and during the
//           trials (issue 23, item 6).
//   idle:   a cluster left alone: false "dead" verdicts (must be 0),
//           "suspect" verdicts, CPU share and RSS of each daemon.
//   discover: N-1 nodes with no seeds found each other over mDNS; a new
//           lonely node is started, time until every one of them has
//           logged learning of it (private avahi-daemon on a loopback-only
//           network namespace, as in the tests; needs root).
//
// Times come from the daemons' own log timestamps (milliseconds, same
// machine clock as the kill), so polling does not blur them.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <boost/program_options.hpp>
#include <ctime>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/command_line.h"
#include "bench/junk_sender.h"
#include "bench/log_lines.h"
#include "bench/percentile.h"
#include "bench/serf_agent.h"
#include "bench/transport.h"
#include "tests/support/cluster.h"
#include "tests/support/private_mdns.h"

namespace po = boost::program_options;
using namespace domian::testing;
using Clock = std::chrono::system_clock;

namespace {

using domian::bench::CountLines;
using domian::bench::FirstLine;
using domian::bench::Fixed;
using domian::bench::JunkSender;
using domian::bench::kGoalTlsOverPlaintext;
using domian::bench::NthLine;
using domian::bench::Percentile;
using domian::bench::Plaintext;
using domian::bench::SerfAgent;
using domian::bench::TlsCounterpart;
using domian::bench::TransportLabel;

constexpr auto kConvergeTimeout = 60s;
// Starting N processes on two cores takes longer as N grows.
std::chrono::milliseconds ConvergeTimeout(size_t nodes) {
  return std::max<std::chrono::milliseconds>(kConvergeTimeout, 1s * nodes);
}
constexpr auto kDetectTimeout = 30s;
// detect --junk: today's pacing stretches the death timeout with the
// number of members it believes in (1.2 s x 117 with 1000 junk rows), so
// a trial gets a longer limit, and no trial starts once the run's budget
// is spent (one always runs), so that bench/run still ends.
constexpr auto kJunkDetectTimeout = 300s;
constexpr int kDefaultJunkBudgetSeconds = 300;
// The junk flows this long before the first kill: every node has had it
// a few times and gossiped it on.
constexpr auto kJunkLead = 5s;
constexpr auto kPollInterval = 50ms;
constexpr auto kSettle = 1s;  // after a victim is back, before the next kill
// `serf members` is a process of its own, which can miss its deadline
// while the machine is loaded (domian's N=100 runs beside it).
constexpr int kSerfMembersAttempts = 3;
// A soak cluster that has not converged by then is measured as it is.
constexpr std::chrono::milliseconds kSoakConvergeTimeout = 90s;
// Before a traffic or footprint window: joins and their gossip die down.
constexpr auto kWarmUp = 5s;
// A Serf cluster that did not converge names this many of the agents that
// lack joins, and this many of the joins each lacks: enough to see a
// pattern (one member nobody saw, one agent that saw nobody) while the
// error stays one line at N=100.
constexpr size_t kSerfLackingAgentsShown = 3;
constexpr size_t kSerfMissingNamesShown = 5;


struct Cluster {
  TempDir dir{"domian-bench"};
  std::vector<std::unique_ptr<Daemon>> nodes;
  // Just before the first daemon was started (configs and credentials
  // are written before it).
  Clock::time_point started;

  Cluster(int size, const std::string& extra_yaml) {
    std::vector<std::string> ids;
    for (int i = 0; i < size; ++i) ids.push_back("n" + std::to_string(i));
    nodes = SeededDaemons(dir.path(), ids, "info", extra_yaml);
    started = Clock::now();
    for (auto& node : nodes) node->Start();
  }

  // All at once: killed one after another, the survivors of a 200-node
  // cluster spend minutes declaring each one dead and calling it back,
  // and the machine with them.
  ~Cluster() {
    for (auto& node : nodes) node->Signal(SIGKILL);
  }

  // From the logs: every node learned of every other one. Asking N
  // daemons through domianctl costs a process start each, which at N=100
  // or more is itself a load on two cores.
  bool Converged(std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
    return Eventually(
        [&] {
          for (auto& node : nodes) {
            if (CountLines(node->Log(), "learned of peer ") + 1 < nodes.size()) return false;
          }
          return true;
        },
        timeout.value_or(ConvergeTimeout(nodes.size())));
  }

  // Why Converged() failed: how far the members got, so that a cluster
  // that is slow to converge (mutual TLS at N=50 on a loaded machine, say)
  // can be told from one where a member never learned of anybody.
  std::string NotConverged() const {
    size_t complete = 0, fewest = nodes.size();
    for (const auto& node : nodes) {
      const size_t known = CountLines(node->Log(), "learned of peer ");
      if (known + 1 >= nodes.size()) ++complete;
      fewest = std::min(fewest, known);
    }
    const auto limit =
        std::chrono::duration_cast<std::chrono::seconds>(ConvergeTimeout(nodes.size()));
    return "cluster did not converge within " + std::to_string(limit.count()) + " s: " +
           std::to_string(complete) + " of " + std::to_string(nodes.size()) +
           " members knew every peer, the least informed " + std::to_string(fewest) + " of " +
           std::to_string(nodes.size() - 1);
  }
};

// Serf agents s0..sN-1, each joining s0 at start.
struct SerfCluster {
  std::vector<std::unique_ptr<SerfAgent>> agents;

  explicit SerfCluster(int size) {
    agents.push_back(std::make_unique<SerfAgent>("s0", ""));
    agents.back()->Start();
    for (int i = 1; i < size; ++i) {
      agents.push_back(std::make_unique<SerfAgent>("s" + std::to_string(i), agents[0]->bind()));
    }
    // Joining a seed that does not listen yet fails the agent.
    if (!Eventually([&] { return agents[0]->AliveMembers() == 1; }, kConvergeTimeout)) {
      throw std::runtime_error("serf agent s0 did not start");
    }
    for (size_t i = 1; i < agents.size(); ++i) agents[i]->Start();
  }

  // Every agent logged every member joining (itself included).
  bool Converged() {
    return Eventually(
        [&] {
          for (auto& agent : agents) {
            if (agent->CountLogged("EventMemberJoin: ") < agents.size()) return false;
          }
          return true;
        },
        ConvergeTimeout(agents.size()));
  }

  // Why Converged() failed: which agents have not logged whose joins, so
  // that a run which fails at one N says where the gossip stopped.
  std::string NotConverged() const {
    std::vector<std::pair<size_t, std::string>> lacking;  // joins missing, description
    for (const auto& agent : agents) {
      std::vector<std::string> missing;
      for (const auto& member : agents) {
        if (agent->CountLogged("EventMemberJoin: " + member->name() + " ") == 0) {
          missing.push_back(member->name());
        }
      }
      if (missing.empty()) continue;
      std::string text = "agent " + agent->name() + (agent->Pid() < 0 ? " (not running)" : "") +
                         " has seen " + std::to_string(agents.size() - missing.size()) + "/" +
                         std::to_string(agents.size()) + " joins; missing ";
      for (size_t i = 0; i < std::min(missing.size(), kSerfMissingNamesShown); ++i) {
        text += (i == 0 ? "" : ", ") + missing[i];
      }
      if (missing.size() > kSerfMissingNamesShown) {
        text += " and " + std::to_string(missing.size() - kSerfMissingNamesShown) + " more";
      }
      lacking.emplace_back(missing.size(), std::move(text));
    }
    // Those that lack the most first: an agent cut off from all the others
    // says more than many that each miss one late join.
    std::stable_sort(lacking.begin(), lacking.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    const auto limit = std::chrono::duration_cast<std::chrono::seconds>(ConvergeTimeout(agents.size()));
    // The last joins can arrive between the last check and this one.
    if (lacking.empty()) {
      return "serf cluster converged only after its limit of " + std::to_string(limit.count()) + " s";
    }
    std::string message = "serf cluster did not converge within " + std::to_string(limit.count()) +
                          " s: " + std::to_string(lacking.size()) + " of " +
                          std::to_string(agents.size()) + " agents lack joins";
    for (size_t i = 0; i < std::min(lacking.size(), kSerfLackingAgentsShown); ++i) {
      message += "; " + lacking[i].second;
    }
    if (lacking.size() > kSerfLackingAgentsShown) {
      message += "; and " + std::to_string(lacking.size() - kSerfLackingAgentsShown) + " more";
    }
    return message;
  }
};

// utime + stime in clock ticks (of every thread the process ever had).
long CpuTicks(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

// A process's CPU time, to the nanosecond where the kernel allows it.
//
// utime + stime come in clock ticks of 10 ms: over a 2 s window one tick
// is 0.5% of a core, more than an idle daemon uses, so a quick run showed
// 0.00% beside Serf's 0.50%. Each thread's /proc/PID/task/TID/schedstat
// counts its time on a CPU in nanoseconds instead; a thread that ended
// within the window takes its time with it, so the ticks, which keep it,
// are the floor.
struct CpuSample {
  std::map<long, uint64_t> thread_ns;  // by thread id
  long ticks = 0;
};

CpuSample SampleCpu(int pid) {
  CpuSample sample;
  sample.ticks = CpuTicks(pid);
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(tasks, error)) {
    std::ifstream schedstat(entry.path() / "schedstat");
    uint64_t on_cpu_ns = 0;
    if (!(schedstat >> on_cpu_ns)) continue;  // the thread ended meanwhile
    const std::string name = entry.path().filename().string();
    sample.thread_ns[std::stol(name)] = on_cpu_ns;
  }
  return sample;
}

// CPU seconds used between two samples of one process.
double CpuSecondsBetween(const CpuSample& before, const CpuSample& after) {
  uint64_t ns = 0;
  for (const auto& [tid, end] : after.thread_ns) {
    auto start = before.thread_ns.find(tid);
    const uint64_t begun = start == before.thread_ns.end() ? 0 : start->second;
    if (end > begun) ns += end - begun;
  }
  const double precise = static_cast<double>(ns) / 1e9;
  const double ticks = static_cast<double>(after.ticks - before.ticks) /
                       static_cast<double>(::sysconf(_SC_CLK_TCK));
  // Ticks are sampled, so they may lag the precise figure by up to one
  // tick per thread; more than two ticks above it means a thread that
  // ended took time the per-thread sum cannot see.
  const double tick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return ticks > precise + 2 * tick ? ticks : precise;
}

long RssKiB(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// detect's junk variant: how many rows each message carries (0: none,
// the clean figure) and how long trials may go on starting.
struct Junk {
  size_t rows = 0;
  std::chrono::seconds budget{kDefaultJunkBudgetSeconds};
};

nlohmann::json Detect(int size, int trials, const std::string& extra_yaml, const Junk& junk) {
  Cluster cluster(size, extra_yaml);
  if (!cluster.Converged()) throw std::runtime_error(cluster.NotConverged());
  std::unique_ptr<JunkSender> stranger;
  if (junk.rows > 0) {
    std::vector<std::string> targets;
    for (auto& node : cluster.nodes) targets.push_back(node->address());
    stranger = std::make_unique<JunkSender>(targets, JunkSender::Options{.rows = junk.rows});
    stranger->Start();
    std::this_thread::sleep_for(kJunkLead);
  }
  const auto detect_timeout = junk.rows > 0 ? kJunkDetectTimeout : kDetectTimeout;
  const auto began = std::chrono::steady_clock::now();
  std::vector<double> all_dead_ms, each_dead_ms;
  int trial = 0;
  for (; trial < trials; ++trial) {
    if (junk.rows > 0 && trial > 0 && std::chrono::steady_clock::now() - began > junk.budget) {
      std::cerr << "  detect N=" << size << " with junk: budget of " << junk.budget.count()
                << " s spent after " << trial << " trials\n";
      break;
    }
    // Rotate victims among non-seed nodes.
    Daemon& victim = *cluster.nodes[1 + static_cast<size_t>(trial) % (cluster.nodes.size() - 1)];
    const std::string needle = "peer " + victim.id() + " (";
    const auto killed = Clock::now();
    victim.Signal(SIGKILL);
    victim.WaitExit(5s);
    std::vector<double> seen;
    const bool detected = Eventually(
        [&] {
          seen.clear();
          for (auto& node : cluster.nodes) {
            if (node.get() == &victim) continue;
            const auto at = FirstLine(node->Log(), killed, {needle, ") is dead"});
            if (!at) return false;
            seen.push_back(std::chrono::duration<double, std::milli>(at->at - killed).count());
          }
          return true;
        },
        detect_timeout);
    if (!detected) throw std::runtime_error("trial " + std::to_string(trial) + ": not detected");
    all_dead_ms.push_back(*std::max_element(seen.begin(), seen.end()));
    each_dead_ms.insert(each_dead_ms.end(), seen.begin(), seen.end());

    const auto restarted = Clock::now();
    victim.Start();
    const bool back = Eventually(
        [&] {
          for (auto& node : cluster.nodes) {
            if (node.get() == &victim) continue;
            if (!FirstLine(node->Log(), restarted, {needle, "alive again"})) return false;
          }
          return true;
        },
        detect_timeout);
    if (!back) throw std::runtime_error("trial " + std::to_string(trial) + ": victim not back");
    std::this_thread::sleep_for(kSettle);
    std::cerr << "  detect N=" << size << (junk.rows > 0 ? " with junk" : "") << " trial "
              << trial + 1 << "/" << trials << ": " << static_cast<int>(all_dead_ms.back())
              << " ms\n";
  }
  nlohmann::json result = {
      {"scenario", "detect"},
      {"nodes", size},
      {"trials", trial},
      {"all_dead_ms", {{"p50", Percentile(all_dead_ms, 50)},
                       {"p99", Percentile(all_dead_ms, 99)},
                       {"max", Percentile(all_dead_ms, 100)}}},
      {"each_dead_ms", {{"p50", Percentile(each_dead_ms, 50)},
                        {"p99", Percentile(each_dead_ms, 99)}}},
  };
  if (stranger) {
    stranger->Stop();
    const JunkSender::Counts counts = stranger->counts();
    result["junk_rows"] = junk.rows;
    result["trials_planned"] = trials;
    result["budget_s"] = junk.budget.count();
    result["junk_messages"] = {
        {"sent", counts.sent}, {"accepted", counts.accepted}, {"refused", counts.refused}};
  }
  return result;
}

// `scenario` is "idle", or "soak" for a large cluster, where the daemons'
// own traffic counters are not read: asking each of 200 daemons through
// domianctl right before the window would load the machine in it.
nlohmann::json Idle(const std::string& scenario, int size, int seconds,
                    const std::string& extra_yaml) {
  const bool counters = scenario == "idle";
  Cluster cluster(size, extra_yaml);
  const auto starting = std::chrono::steady_clock::now();
  // A soak that never converges is a result, not a harness failure.
  const bool converged = cluster.Converged(counters ? ConvergeTimeout(cluster.nodes.size())
                                                    : std::min(ConvergeTimeout(cluster.nodes.size()),
                                                               kSoakConvergeTimeout));
  if (!converged && counters) throw std::runtime_error(cluster.NotConverged());
  const double converge_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - starting).count();
  std::this_thread::sleep_for(kWarmUp);
  std::vector<std::pair<int, CpuSample>> start;
  for (auto& node : cluster.nodes) start.emplace_back(node->Pid(), SampleCpu(node->Pid()));
  auto traffic = [&](const char* key) {
    std::vector<double> values;
    if (!counters) return values;
    for (auto& node : cluster.nodes) {
      const auto status = Ctl(node->address(), "status");
      values.push_back(status ? (*status)["traffic"][key].get<double>() : 0.0);
    }
    return values;
  };
  const auto sent_before = traffic("lists_sent");
  const auto bytes_before = traffic("bytes_sent");
  size_t dead_before = 0, suspect_before = 0;
  for (auto& node : cluster.nodes) {
    dead_before += CountLines(node->Log(), ") is dead");
    suspect_before += CountLines(node->Log(), ") is suspect");
  }
  const auto began = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::vector<double> cpu_percent, rss_mib;
  for (const auto& [pid, sample] : start) {
    cpu_percent.push_back(100.0 * CpuSecondsBetween(sample, SampleCpu(pid)) / wall);
    rss_mib.push_back(static_cast<double>(RssKiB(pid)) / 1024.0);
  }
  const auto sent_after = traffic("lists_sent");
  const auto bytes_after = traffic("bytes_sent");
  std::vector<double> lists_per_s, bytes_per_s;
  for (size_t i = 0; i < sent_after.size(); ++i) {
    lists_per_s.push_back((sent_after[i] - sent_before[i]) / wall);
    bytes_per_s.push_back((bytes_after[i] - bytes_before[i]) / wall);
  }
  size_t dead = 0, suspect = 0;
  for (auto& node : cluster.nodes) {
    dead += CountLines(node->Log(), ") is dead");
    suspect += CountLines(node->Log(), ") is suspect");
  }
  nlohmann::json result = {
      {"scenario", scenario},
      {"nodes", size},
      {"seconds", seconds},
      {"converged", converged},
      {"converge_s", converge_s},
      {"false_dead", dead - dead_before},
      {"suspect", suspect - suspect_before},
      {"cpu_percent_per_daemon", {{"p50", Percentile(cpu_percent, 50)},
                                  {"max", Percentile(cpu_percent, 100)}}},
      {"rss_mib_per_daemon", {{"p50", Percentile(rss_mib, 50)}, {"max", Percentile(rss_mib, 100)}}},
  };
  if (counters) {
    result["lists_sent_per_s_per_daemon"] = {{"p50", Percentile(lists_per_s, 50)},
                                             {"max", Percentile(lists_per_s, 100)}};
    result["bytes_sent_per_s_per_daemon"] = {{"p50", Percentile(bytes_per_s, 50)},
                                             {"max", Percentile(bytes_per_s, 100)}};
  }
  return result;
}

nlohmann::json Discover(int size, int trials, const std::string& advertise,
                        const std::string& extra_yaml) {
  TempDir dir("domian-bench-discover");
  PrivateMdns mdns(dir.path());
  mdns.Start();
  std::vector<std::unique_ptr<Daemon>> nodes;
  std::vector<Daemon*> all;
  for (int i = 0; i + 1 < size; ++i) {
    nodes.push_back(std::make_unique<Daemon>(
        dir.path(), Daemon::Options{.id = "n" + std::to_string(i), .log_level = "info",
                                    .extra_yaml = extra_yaml, .mdns = true,
                                    .advertise = advertise}));
    nodes.back()->Start();
    all.push_back(nodes.back().get());
  }
  if (!AllSeeEachOtherAlive(all, kConvergeTimeout)) {
    throw std::runtime_error("the cluster did not converge over mDNS");
  }
  // With `advertise: lonely` the members withdraw their records once they
  // have peers; measure only after caches dropped them (1 s after the
  // goodbye), so the newcomer cannot find them instead of being found.
  const bool withdrawn = Eventually(
      [&] {
        for (Daemon* node : all) {
          const auto status = Ctl(node->address(), "status");
          if (!status) return false;
          const bool advertising = (*status)["discovery"]["advertising"].get<bool>();
          if (advertising != (advertise == "always")) return false;
        }
        return true;
      },
      kConvergeTimeout);
  if (!withdrawn) throw std::runtime_error("advertisements did not settle");
  std::this_thread::sleep_for(2 * kSettle);
  std::vector<double> known_by_all_ms;
  for (int trial = 0; trial < trials; ++trial) {
    Daemon newcomer(dir.path(), {.id = "late-" + std::to_string(trial), .log_level = "info",
                                 .extra_yaml = extra_yaml, .mdns = true,
                                 .advertise = advertise});
    const std::string needle = "learned of peer " + newcomer.id() + " ";
    const auto started = Clock::now();
    newcomer.Start();
    std::vector<double> seen;
    const bool known = Eventually(
        [&] {
          seen.clear();
          for (Daemon* node : all) {
            const auto at = FirstLine(node->Log(), started, {needle});
            if (!at) return false;
            seen.push_back(std::chrono::duration<double, std::milli>(at->at - started).count());
          }
          return true;
        },
        kDetectTimeout);
    if (!known) throw std::runtime_error("trial " + std::to_string(trial) + ": not found");
    known_by_all_ms.push_back(*std::max_element(seen.begin(), seen.end()));
    std::cerr << "  discover N=" << size << " trial " << trial + 1 << "/" << trials << ": "
              << static_cast<int>(known_by_all_ms.back()) << " ms\n";
    newcomer.Signal(SIGTERM);  // leaves, and withdraws its record
    newcomer.WaitExit(10s);
    std::this_thread::sleep_for(kSettle);
  }
  return {
      {"scenario", "discover"},
      {"nodes", size},
      {"advertise", advertise},
      {"trials", trials},
      {"known_by_all_ms", {{"p50", Percentile(known_by_all_ms, 50)},
                           {"p99", Percentile(known_by_all_ms, 99)},
                           {"max", Percentile(known_by_all_ms, 100)}}},
  };
}

double MillisSince(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The same kills as Detect, of Serf agents: the time until every survivor
// logged the victim failed, which is when `serf members` there says so
// (checked on one survivor after each kill).
nlohmann::json DetectSerf(int size, int trials) {
  SerfCluster cluster(size);
  if (!cluster.Converged()) throw std::runtime_error(cluster.NotConverged());
  std::vector<double> all_dead_ms, each_dead_ms;
  for (int trial = 0; trial < trials; ++trial) {
    SerfAgent& victim = *cluster.agents[1 + static_cast<size_t>(trial) % (cluster.agents.size() - 1)];
    const auto killed = Clock::now();
    victim.Kill();
    std::vector<double> seen;
    const bool detected = Eventually(
        [&] {
          seen.clear();
          for (auto& agent : cluster.agents) {
            if (agent.get() == &victim) continue;
            const auto at = agent->LoggedAt({"EventMemberFailed: " + victim.name() + " "}, killed);
            if (!at) return false;
            seen.push_back(MillisSince(killed, *at));
          }
          return true;
        },
        kDetectTimeout);
    if (!detected) throw std::runtime_error("serf trial " + std::to_string(trial) + ": not detected");
    std::optional<std::string> status;
    for (int attempt = 0; attempt < kSerfMembersAttempts && !status; ++attempt) {
      status = cluster.agents[0]->MemberStatus(victim.name());
    }
    if (!status) {
      throw std::runtime_error("serf trial " + std::to_string(trial) + ": serf members failed " +
                               std::to_string(kSerfMembersAttempts) + " times");
    }
    if (*status != "failed") {
      throw std::runtime_error("serf trial " + std::to_string(trial) + ": serf members says " +
                               victim.name() + " is '" + *status + "', not failed");
    }
    all_dead_ms.push_back(*std::max_element(seen.begin(), seen.end()));
    each_dead_ms.insert(each_dead_ms.end(), seen.begin(), seen.end());

    const auto restarted = Clock::now();
    victim.Start();
    const bool back = Eventually(
        [&] {
          for (auto& agent : cluster.agents) {
            if (agent.get() == &victim) continue;
            if (!agent->LoggedAt({"EventMemberJoin: " + victim.name() + " "}, restarted)) return false;
          }
          return true;
        },
        kDetectTimeout);
    if (!back) throw std::runtime_error("serf trial " + std::to_string(trial) + ": victim not back");
    std::this_thread::sleep_for(kSettle);
    std::cerr << "  serf detect N=" << size << " trial " << trial + 1 << "/" << trials << ": "
              << static_cast<int>(all_dead_ms.back()) << " ms\n";
  }
  return {
      {"scenario", "detect"},
      {"system", "serf"},
      {"nodes", size},
      {"trials", trials},
      {"all_dead_ms", {{"p50", Percentile(all_dead_ms, 50)},
                       {"p99", Percentile(all_dead_ms, 99)},
                       {"max", Percentile(all_dead_ms, 100)}}},
      {"each_dead_ms", {{"p50", Percentile(each_dead_ms, 50)},
                        {"p99", Percentile(each_dead_ms, 99)}}},
  };
}

nlohmann::json JoinResult(const std::string& system, int size, int trials,
                          const std::vector<double>& known_by_all_ms) {
  return {
      {"scenario", "join"},
      {"system", system},
      {"nodes", size},
      {"trials", trials},
      {"known_by_all_ms", {{"p50", Percentile(known_by_all_ms, 50)},
                           {"p99", Percentile(known_by_all_ms, 99)},
                           {"max", Percentile(known_by_all_ms, 100)}}},
  };
}

// What starting `cluster` cost, read the moment Converged() said so: the
// time from the first start until every member had logged learning of
// every other one (each member's own last "learned of peer" line), and
// the CPU (utime + stime) each daemon had used by then: all of it went
// into starting (loading, a handshake with each peer it reached, the
// first gossip rounds), which is where mutual TLS costs most.
nlohmann::json StartCost(Cluster& cluster) {
  const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::vector<double> cpu_s;
  for (auto& node : cluster.nodes) {
    cpu_s.push_back(static_cast<double>(CpuTicks(node->Pid())) / ticks_per_second);
  }
  double all_know_all_ms = 0;
  for (auto& node : cluster.nodes) {
    const auto last = NthLine(node->Log(), "learned of peer ", cluster.nodes.size() - 1);
    if (!last) throw std::runtime_error(node->id() + " has not logged learning of every peer");
    all_know_all_ms = std::max(all_know_all_ms, MillisSince(cluster.started, last->at));
  }
  double total = 0;
  for (double seconds : cpu_s) total += seconds;
  return {{"nodes", cluster.nodes.size()},
          {"all_know_all_ms", all_know_all_ms},
          {"cpu_s_total", total},
          {"cpu_s_per_daemon", {{"p50", Percentile(cpu_s, 50)}, {"max", Percentile(cpu_s, 100)}}}};
}

// A new node with one seed (a member) joins N-1 members: the time until
// every member logged learning of it. It then leaves (SIGTERM) and the next
// newcomer has a new id. Before that, what starting the N-1 cost.
nlohmann::json Join(int size, int trials, const std::string& extra_yaml) {
  Cluster cluster(size - 1, extra_yaml);
  if (!cluster.Converged()) throw std::runtime_error(cluster.NotConverged());
  const nlohmann::json start = StartCost(cluster);
  std::cerr << "  join N=" << size << ": the " << size - 1 << " members knew each other "
            << static_cast<int>(start["all_know_all_ms"].get<double>()) << " ms after the first start, "
            << Fixed(start["cpu_s_total"], 2) << " CPU seconds\n";
  std::this_thread::sleep_for(kWarmUp);
  std::vector<double> known_by_all_ms;
  for (int trial = 0; trial < trials; ++trial) {
    Daemon newcomer(cluster.dir.path(),
                    {.id = "late-" + std::to_string(trial),
                     .seeds = {cluster.nodes[static_cast<size_t>(trial) % cluster.nodes.size()]->address()},
                     .log_level = "info",
                     .extra_yaml = extra_yaml});
    const std::string needle = "learned of peer " + newcomer.id() + " ";
    const auto started = Clock::now();
    newcomer.Start();
    std::vector<double> seen;
    const bool known = Eventually(
        [&] {
          seen.clear();
          for (auto& node : cluster.nodes) {
            const auto at = FirstLine(node->Log(), started, {needle});
            if (!at) return false;
            seen.push_back(MillisSince(started, at->at));
          }
          return true;
        },
        kDetectTimeout);
    if (!known) throw std::runtime_error("join trial " + std::to_string(trial) + ": not known by all");
    known_by_all_ms.push_back(*std::max_element(seen.begin(), seen.end()));
    std::cerr << "  join N=" << size << " trial " << trial + 1 << "/" << trials << ": "
              << static_cast<int>(known_by_all_ms.back()) << " ms\n";
    newcomer.Signal(SIGTERM);
    newcomer.WaitExit(10s);
    std::this_thread::sleep_for(kSettle);
  }
  nlohmann::json result = JoinResult("domian", size, trials, known_by_all_ms);
  result["start"] = start;
  return result;
}

nlohmann::json JoinSerf(int size, int trials) {
  SerfCluster cluster(size - 1);
  if (!cluster.Converged()) throw std::runtime_error(cluster.NotConverged());
  std::this_thread::sleep_for(kWarmUp);
  std::vector<double> known_by_all_ms;
  for (int trial = 0; trial < trials; ++trial) {
    SerfAgent newcomer("late-" + std::to_string(trial),
                       cluster.agents[static_cast<size_t>(trial) % cluster.agents.size()]->bind());
    const std::string needle = "EventMemberJoin: " + newcomer.name() + " ";
    const auto started = Clock::now();
    newcomer.Start();
    std::vector<double> seen;
    const bool known = Eventually(
        [&] {
          seen.clear();
          for (auto& agent : cluster.agents) {
            const auto at = agent->LoggedAt({needle}, started);
            if (!at) return false;
            seen.push_back(MillisSince(started, *at));
          }
          return true;
        },
        kDetectTimeout);
    if (!known) throw std::runtime_error("serf join trial " + std::to_string(trial) + ": not known by all");
    known_by_all_ms.push_back(*std::max_element(seen.begin(), seen.end()));
    std::cerr << "  serf join N=" << size << " trial " << trial + 1 << "/" << trials << ": "
              << static_cast<int>(known_by_all_ms.back()) << " ms\n";
    newcomer.Leave();
    std::this_thread::sleep_for(kSettle);
  }
  return JoinResult("serf", size, trials, known_by_all_ms);
}

// Bytes the loopback interface of this process's network namespace has
// sent: every packet between the cluster's members, headers included, and
// nothing else (see main: traffic runs in a namespace of its own).
struct Loopback {
  uint64_t bytes = 0;
  uint64_t packets = 0;
};
Loopback LoopbackSent() {
  std::ifstream dev("/proc/self/net/dev");
  std::string line;
  while (std::getline(dev, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name != "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t value = 0;
    std::vector<uint64_t> values;
    while (fields >> value) values.push_back(value);
    // receive: bytes packets errs drop fifo frame compressed multicast;
    // transmit: bytes packets ...
    if (values.size() >= 10) return {values[8], values[9]};
  }
  throw std::runtime_error("no lo in /proc/self/net/dev");
}

// Steady-state traffic per node: after the cluster converged and warmed
// up, the loopback bytes sent over `seconds`, divided by N.
nlohmann::json Traffic(const std::string& system, int size, int seconds,
                       const std::string& extra_yaml) {
  std::unique_ptr<Cluster> domian;
  std::unique_ptr<SerfCluster> serf;
  // A cluster that does not converge still sends what it sends: reported,
  // and marked.
  bool converged = false;
  if (system == "serf") {
    serf = std::make_unique<SerfCluster>(size);
    converged = serf->Converged();
  } else {
    domian = std::make_unique<Cluster>(size, extra_yaml);
    converged = domian->Converged();
  }
  std::this_thread::sleep_for(kWarmUp);
  const Loopback before = LoopbackSent();
  const auto began = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const Loopback after = LoopbackSent();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const double nodes = static_cast<double>(size);
  std::cerr << "  traffic " << system << " N=" << size << ": "
            << static_cast<int>(static_cast<double>(after.bytes - before.bytes) / wall / nodes)
            << " B/s per node\n";
  return {
      {"scenario", "traffic"},
      {"system", system},
      {"nodes", size},
      {"seconds", seconds},
      {"converged", converged},
      {"bytes_per_s_per_node", static_cast<double>(after.bytes - before.bytes) / wall / nodes},
      {"packets_per_s_per_node", static_cast<double>(after.packets - before.packets) / wall / nodes},
  };
}

struct Usage {
  std::vector<double> cpu_percent;
  std::vector<double> rss_mib;
};

// CPU share and RSS of `pids` over `seconds`.
Usage Measure(const std::vector<int>& pids, int seconds) {
  std::vector<CpuSample> start;
  for (int pid : pids) start.push_back(SampleCpu(pid));
  const auto began = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  Usage usage;
  for (size_t i = 0; i < pids.size(); ++i) {
    usage.cpu_percent.push_back(100.0 * CpuSecondsBetween(start[i], SampleCpu(pids[i])) / wall);
    usage.rss_mib.push_back(static_cast<double>(RssKiB(pids[i])) / 1024.0);
  }
  return usage;
}

nlohmann::json UsageJson(const Usage& usage) {
  return {{"cpu_percent", {{"p50", Percentile(usage.cpu_percent, 50)},
                           {"max", Percentile(usage.cpu_percent, 100)}}},
          {"rss_mib", {{"p50", Percentile(usage.rss_mib, 50)}, {"max", Percentile(usage.rss_mib, 100)}}}};
}

// The four plugins of this tree, loaded by every daemon but placed
// nowhere: what loading them costs the daemon itself (each running service
// adds a plugin host process of its own).
constexpr char kFourPluginsYaml[] =
    "plugins:\n  dirs: [" DOMIAN_PLUGIN_DIR "]\n"
    "services:\n  lights: {run: never}\n  speaker: {run: never}\n"
    "  thermostat: {run: never}\n  camera: {run: never}\n";

// RSS and idle CPU of each member of an idle cluster of `size`: domiand
// without plugins and with the four, and Serf agents unless `with_serf` is
// false (a plaintext run: Serf has no transport to change, and its figure
// is in the mtls run's result).
nlohmann::json Footprint(int size, int seconds, bool with_serf) {
  nlohmann::json result = {{"scenario", "footprint"}, {"nodes", size}, {"seconds", seconds}};
  for (const bool plugins : {false, true}) {
    Cluster cluster(size, plugins ? kFourPluginsYaml : "");
    if (!cluster.Converged()) throw std::runtime_error(cluster.NotConverged());
    std::this_thread::sleep_for(kWarmUp);
    std::vector<int> pids;
    for (auto& node : cluster.nodes) pids.push_back(node->Pid());
    result[plugins ? "domian_four_plugins" : "domian"] = UsageJson(Measure(pids, seconds));
    if (plugins) {
      const auto listed = Ctl(cluster.nodes[0]->address(), "plugins");
      result["plugins_loaded"] = listed ? listed->size() : 0;
    }
  }
  if (!with_serf) return result;
  SerfCluster serf(size);
  if (!serf.Converged()) throw std::runtime_error(serf.NotConverged());
  std::this_thread::sleep_for(kWarmUp);
  std::vector<int> pids;
  for (auto& agent : serf.agents) pids.push_back(agent->Pid());
  result["serf"] = UsageJson(Measure(pids, seconds));
  return result;
}

// Exit status when a scenario cannot run on this machine (the discover
// scenario without root); the same value CTest and automake use for "skipped".
constexpr int kExitCannotRunHere = 77;

// Goals from the issues, so the report can say met / missed.
constexpr double kGoalDetectP50Ms = 1500, kGoalDetectP99Ms = 3000, kGoalIdleCpuPercent = 0.5,
                 kGoalDiscoverP50Ms = 2000, kGoalJoinP50Ms = 2000;
// Detection with junk rows is "the same as clean" (issue 23) when its p50
// and p99 are within this factor of the clean run's at the same N: runs
// of the clean figure alone differ by ~5% (p50) to ~15% (p99, the slowest
// of 20 kills) from one another.
constexpr double kJunkSameAsClean = 1.25;

std::string Nodes(const nlohmann::json& r) {
  return r.contains("nodes") ? std::to_string(r["nodes"].get<int>()) : "";
}
bool IsSerf(const nlohmann::json& r) { return r.value("system", "domian") == "serf"; }
// A run that produced figures: not an error or skipped row of bench/run.
bool Measured(const nlohmann::json& r) { return !r.contains("error") && !r.contains("skipped"); }

// The same domian scenario at the same size (and the same junk or
// advertising), whatever the transport.
bool SameScenario(const nlohmann::json& a, const nlohmann::json& b) {
  if (IsSerf(a) || IsSerf(b)) return false;
  for (const char* key : {"scenario", "nodes", "junk_rows", "advertise"}) {
    if (a.contains(key) != b.contains(key) || (a.contains(key) && a[key] != b[key])) return false;
  }
  return true;
}

// Serf's measured result for the same scenario and N, if the run has one.
// Error rows from before bench/run recorded their N have none: they get
// Serf's result when it is Serf's only one for the scenario.
const nlohmann::json* SerfFigure(const nlohmann::json& results, const nlohmann::json& r) {
  std::vector<const nlohmann::json*> same_scenario;
  for (const auto& other : results) {
    if (!IsSerf(other) || !Measured(other) || other["scenario"] != r["scenario"]) continue;
    if (r.contains("nodes") && other.value("nodes", 0) == r["nodes"].get<int>()) return &other;
    same_scenario.push_back(&other);
  }
  return !r.contains("nodes") && same_scenario.size() == 1 ? same_scenario.front() : nullptr;
}

// domian's clean detect result (no junk) for the same N as `r`, if the
// run has one.
const nlohmann::json* CleanDetect(const nlohmann::json& results, const nlohmann::json& r) {
  for (const auto& other : results) {
    if (IsSerf(other) || !Measured(other) || other["scenario"] != "detect" ||
        other.contains("junk_rows") || Plaintext(other) != Plaintext(r)) {
      continue;
    }
    if (r.contains("nodes") && other.value("nodes", 0) == r["nodes"].get<int>()) return &other;
  }
  return nullptr;
}

std::string JunkLabel(const nlohmann::json& r) {
  return r.contains("junk_rows") ? ", " + std::to_string(r["junk_rows"].get<int>()) + " junk rows"
                                 : "";
}

std::string P50P99(const nlohmann::json& figure, const std::string& unit, int digits = 0) {
  return "p50 " + Fixed(figure["p50"], digits) + " p99 " + Fixed(figure["p99"], digits) + " " + unit;
}

// Serf's column of the table for one of its results.
std::string SerfColumn(const nlohmann::json& serf) {
  if (serf["scenario"] == "detect") return P50P99(serf["all_dead_ms"], "ms");
  if (serf["scenario"] == "join") return P50P99(serf["known_by_all_ms"], "ms");
  if (serf["scenario"] == "traffic") {
    return Fixed(serf["bytes_per_s_per_node"].get<double>() / 1024.0, 1) + " KiB/s, " +
           Fixed(serf["packets_per_s_per_node"], 0) + " pkt/s";
  }
  return "";
}

// domian / Serf, "" when there is nothing to compare.
std::string Ratio(double domian, double serf) {
  if (serf <= 0) return "";
  return Fixed(domian / serf, 2) + "x";
}

// One figure of a domian result, as a plaintext row sets it beside the
// same figure over mutual TLS.
struct TransportFigure {
  std::string what;      // the row's name, before ", N=..."
  std::string compared;  // JSON pointer of the value the ratio divides
  std::function<std::string(const nlohmann::json&)> shown;
  bool judged;  // held to kGoalTlsOverPlaintext, else reported
};

// Shows the value at JSON pointer `pointer` with `digits` and `suffix`.
std::function<std::string(const nlohmann::json&)> Shown(const std::string& pointer, int digits,
                                                        const std::string& suffix) {
  return [pointer, digits, suffix](const nlohmann::json& x) {
    return Fixed(x[nlohmann::json::json_pointer(pointer)], digits) + suffix;
  };
}

// A join's start: its N-1 members until all knew all, and their CPU by then.
std::vector<TransportFigure> StartFigures(const nlohmann::json& r) {
  if (!r.contains("start")) return {};
  const std::string members = std::to_string(r["start"]["nodes"].get<int>());
  return {
      {"  start of " + members + ": all know all", "/start/all_know_all_ms",
       Shown("/start/all_know_all_ms", 0, " ms"), false},
      {"  start of " + members + ": CPU of all daemons", "/start/cpu_s_total",
       [](const nlohmann::json& x) {
         return Fixed(x["start"]["cpu_s_total"], 2) + " s (p50 " +
                Fixed(x["start"]["cpu_s_per_daemon"]["p50"], 2) + " s each)";
       },
       false},
  };
}

// What a plaintext result of `r`'s scenario is compared on.
std::vector<TransportFigure> TransportFigures(const nlohmann::json& r) {
  const std::string scenario = r.value("scenario", "");
  auto p50_p99 = [](const char* key) {
    return [key](const nlohmann::json& x) { return P50P99(x[key], "ms"); };
  };
  if (scenario == "detect") {
    return {{"SIGKILL -> all say dead", "/all_dead_ms/p50", p50_p99("all_dead_ms"), true}};
  }
  if (scenario == "call") {
    return {{"plugin call routed via another node", "/routed_us/p50",
             [](const nlohmann::json& x) {
               return "p50 " + Fixed(x["routed_us"]["p50"].get<double>() / 1000.0, 3) + " p99 " +
                      Fixed(x["routed_us"]["p99"].get<double>() / 1000.0, 3) + " ms";
             },
             true}};
  }
  if (scenario == "join") {
    std::vector<TransportFigure> figures = {
        {"new node -> known by all", "/known_by_all_ms/p50", p50_p99("known_by_all_ms"), false}};
    for (auto& figure : StartFigures(r)) figures.push_back(std::move(figure));
    return figures;
  }
  if (scenario == "footprint") {
    std::vector<TransportFigure> figures;
    for (const std::string key : {"domian", "domian_four_plugins"}) {
      const std::string what = key == "domian" ? "no plugins" : "4 plugins loaded";
      const std::string rss = "/" + key + "/rss_mib/p50", cpu = "/" + key + "/cpu_percent/p50";
      figures.push_back({"RSS per member, " + what, rss, Shown(rss, 1, " MiB p50"), false});
      figures.push_back({"idle CPU per member, " + what, cpu, Shown(cpu, 2, "% p50"), false});
    }
    return figures;
  }
  if (scenario == "traffic") {
    return {{"traffic per node (loopback)", "/bytes_per_s_per_node",
             [](const nlohmann::json& x) {
               return Fixed(x["bytes_per_s_per_node"].get<double>() / 1024.0, 1) + " KiB/s";
             },
             false}};
  }
  if (scenario == "idle" || scenario == "soak") {
    const std::string cpu = "/cpu_percent_per_daemon/p50", rss = "/rss_mib_per_daemon/p50";
    return {{scenario + ": CPU per daemon", cpu, Shown(cpu, 2, "% p50"), false},
            {scenario + ": RSS per daemon", rss, Shown(rss, 1, " MiB p50"), false}};
  }
  if (scenario == "discover") {
    return {{"lonely node -> known by all (" + r.value("advertise", "") + ")",
             "/known_by_all_ms/p50", p50_p99("known_by_all_ms"), false}};
  }
  return {};
}

// What sits beside a plaintext row instead of Serf's figure: the mutual
// TLS one, or why there is none.
std::string TlsColumn(const nlohmann::json* tls, const TransportFigure& figure) {
  if (tls == nullptr) return "no mtls run";
  if (tls->contains("error")) return "mtls run FAILED";
  if (tls->contains("skipped")) return "mtls run skipped";
  // An older results file's mtls row may lack a figure measured since.
  if (!tls->contains(nlohmann::json::json_pointer(figure.compared))) return "not in the mtls run";
  return "mtls: " + figure.shown(*tls);
}

// Prints the table for a results file written by bench/run: goal, domian's
// figure, Serf's from the same run, and their ratio (below 1: domian is
// faster or smaller).
int Report(const std::string& file) {
  std::ifstream in(file);
  const nlohmann::json doc = nlohmann::json::parse(in);
  std::cout << "machine: " << doc["machine"].get<std::string>() << "\ncommit:  "
            << doc["commit"].get<std::string>() << "\ndate:    " << doc["date"].get<std::string>()
            << "\n\n";
  enum class Verdict { kMet, kMissed, kNone };
  // Each cell ends with a space, so that one longer than its column (an
  // error, a skip's reason) stays apart from the next.
  auto row = [](const std::string& scenario, const std::string& goal, const std::string& measured,
                const std::string& serf, const std::string& ratio, Verdict verdict) {
    std::cout << std::left << std::setw(55) << scenario << ' ' << std::setw(21) << goal << ' '
              << std::setw(33) << measured << ' ' << std::setw(31) << serf << ' ' << std::setw(7)
              << ratio << ' '
              << (verdict == Verdict::kMet ? "met" : verdict == Verdict::kMissed ? "MISSED" : "")
              << "\n";
  };
  auto judged = [](bool met) { return met ? Verdict::kMet : Verdict::kMissed; };
  row("scenario", "goal", "domian", "serf (same run)", "ratio", Verdict::kNone);
  const nlohmann::json& results = doc["results"];
  for (size_t at = 0; at < results.size(); ++at) {
    const nlohmann::json& r = results[at];
    const std::string n = Nodes(r);
    if (!Measured(r)) {
      // domian's failed or skipped run keeps Serf's figure from the same
      // run beside it: Serf's rows are shown only there. A junk run's
      // figure to compare with is domian's own clean one, a plaintext
      // run's the mutual TLS one.
      std::string beside;
      if (Plaintext(r)) {
        const auto figures = TransportFigures(r);
        if (!figures.empty()) {
          beside = TlsColumn(TlsCounterpart(results, at, SameScenario), figures.front());
        }
      } else if (r.contains("junk_rows")) {
        const nlohmann::json* clean = CleanDetect(results, r);
        if (clean) beside = "clean: " + P50P99((*clean)["all_dead_ms"], "ms");
      } else if (const nlohmann::json* serf = IsSerf(r) ? nullptr : SerfFigure(results, r)) {
        beside = SerfColumn(*serf);
      }
      const bool failed = r.contains("error");
      row(r.value("scenario", "?") + " " + r.value("system", "domian") +
              (n.empty() ? "" : " N=" + n) + JunkLabel(r) + TransportLabel(r),
          "",
          failed ? "FAILED: " + r["error"].get<std::string>()
                 : "skipped: " + r["skipped"].get<std::string>(),
          beside, "", failed ? Verdict::kMissed : Verdict::kNone);
      continue;
    }
    if (IsSerf(r)) continue;  // shown beside domian's figure
    if (Plaintext(r)) {
      // Beside the mutual TLS figure of the same scenario and N, in
      // Serf's column; the ratio is TLS / plaintext.
      const nlohmann::json* tls = TlsCounterpart(results, at, SameScenario);
      for (const TransportFigure& figure : TransportFigures(r)) {
        const nlohmann::json::json_pointer value(figure.compared);
        const bool compared = tls != nullptr && Measured(*tls) && tls->contains(value);
        const double plain = r[value], over_tls = compared ? (*tls)[value].get<double>() : 0.0;
        // A join's start rows name their size themselves; a call has none.
        const bool sized = figure.what.starts_with("  start of ") || n.empty();
        row(figure.what + (sized ? "" : ", N=" + n) + JunkLabel(r) + TransportLabel(r),
            figure.judged ? "TLS/plain<=x" + Fixed(kGoalTlsOverPlaintext, 2) : "(reported)",
            figure.shown(r), TlsColumn(tls, figure), compared ? Ratio(over_tls, plain) : "",
            figure.judged && compared ? judged(over_tls <= kGoalTlsOverPlaintext * plain)
                                      : Verdict::kNone);
      }
      continue;
    }
    const nlohmann::json* serf = SerfFigure(results, r);
    const std::string serf_column = serf ? SerfColumn(*serf) : "";
    if (r["scenario"] == "detect" && r.contains("junk_rows")) {
      // Beside the clean figure of the same run and N, in Serf's column.
      const double p50 = r["all_dead_ms"]["p50"], p99 = r["all_dead_ms"]["p99"];
      const nlohmann::json* clean = CleanDetect(results, r);
      const int done = r["trials"], planned = r.value("trials_planned", done);
      const std::string trials =
          std::to_string(done) + (done < planned ? " of " + std::to_string(planned) : "");
      row("SIGKILL -> all say dead, N=" + n + JunkLabel(r), "same as clean (x1.25)",
          P50P99(r["all_dead_ms"], "ms") + " (" + trials + ")",
          clean ? "clean: " + P50P99((*clean)["all_dead_ms"], "ms") : "no clean run",
          clean ? Ratio(p50, (*clean)["all_dead_ms"]["p50"]) : "",
          clean ? judged(p50 <= kJunkSameAsClean * (*clean)["all_dead_ms"]["p50"].get<double>() &&
                         p99 <= kJunkSameAsClean * (*clean)["all_dead_ms"]["p99"].get<double>())
                : Verdict::kNone);
    } else if (r["scenario"] == "detect") {
      const double p50 = r["all_dead_ms"]["p50"], p99 = r["all_dead_ms"]["p99"];
      row("SIGKILL -> all say dead, N=" + n, "p50<=1500 p99<=3000ms",
          P50P99(r["all_dead_ms"], "ms") + " (" + std::to_string(r["trials"].get<int>()) + ")",
          serf_column, serf ? Ratio(p50, (*serf)["all_dead_ms"]["p50"]) : "",
          judged(p50 <= kGoalDetectP50Ms && p99 <= kGoalDetectP99Ms));
    } else if (r["scenario"] == "join") {
      const double p50 = r["known_by_all_ms"]["p50"];
      row("new node -> known by all, N=" + n, "p50<=2000ms",
          P50P99(r["known_by_all_ms"], "ms") + " (" + std::to_string(r["trials"].get<int>()) + ")",
          serf_column, serf ? Ratio(p50, (*serf)["known_by_all_ms"]["p50"]) : "",
          judged(p50 <= kGoalJoinP50Ms));
      for (const TransportFigure& figure : StartFigures(r)) {
        row(figure.what, "(reported)", figure.shown(r), "", "", Verdict::kNone);
      }
    } else if (r["scenario"] == "traffic") {
      const double bytes = r["bytes_per_s_per_node"];
      row("traffic per node (loopback), N=" + n, "(reported)",
          Fixed(bytes / 1024.0, 1) + " KiB/s, " + Fixed(r["packets_per_s_per_node"], 0) +
              " pkt/s" + (r.value("converged", true) ? "" : " (never converged)"),
          serf_column, serf ? Ratio(bytes, (*serf)["bytes_per_s_per_node"]) : "", Verdict::kNone);
    } else if (r["scenario"] == "footprint") {
      const auto& s = r["serf"];
      const double serf_rss = s["rss_mib"]["p50"], serf_cpu = s["cpu_percent"]["p50"];
      for (const char* key : {"domian", "domian_four_plugins"}) {
        const auto& d = r[key];
        const std::string what = key == std::string("domian") ? "no plugins" : "4 plugins loaded";
        row("RSS per member, " + what + ", N=" + n, "(reported)",
            Fixed(d["rss_mib"]["p50"], 1) + " MiB p50", Fixed(serf_rss, 1) + " MiB p50",
            Ratio(d["rss_mib"]["p50"], serf_rss), Verdict::kNone);
        const double cpu = d["cpu_percent"]["p50"];
        row("idle CPU per member, " + what + ", N=" + n, "<=0.5% of a core",
            Fixed(cpu, 2) + "% p50", Fixed(serf_cpu, 2) + "% p50", Ratio(cpu, serf_cpu),
            judged(cpu <= kGoalIdleCpuPercent));
      }
    } else if (r["scenario"] == "discover") {
      const double p50 = r["known_by_all_ms"]["p50"];
      row("lonely node -> known by all, N=" + n + " (" + r["advertise"].get<std::string>() + ")",
          "p50<=2000ms",
          P50P99(r["known_by_all_ms"], "ms") + " (" + std::to_string(r["trials"].get<int>()) + ")",
          "", "", judged(p50 <= kGoalDiscoverP50Ms));
    } else if (r["scenario"] == "inline-load") {
      const double p50 = r["load_create_start_us"]["p50"];
      row("plugin inline load+create+start", "p50<=1ms",
          "p50 " + Fixed(p50 / 1000.0, 3) + " p99 " +
              Fixed(r["load_create_start_us"]["p99"].get<double>() / 1000.0, 3) + " ms",
          "", "", judged(p50 <= 1000.0));
    } else if (r["scenario"] == "spawn") {
      const double p50 = r["ready_ms"]["p50"];
      row("plugin host process spawn -> ready", "p50<=20ms", P50P99(r["ready_ms"], "ms", 1), "",
          "", judged(p50 <= 20.0));
    } else if (r["scenario"] == "call") {
      const double routed = r["routed_us"]["p50"];
      row("plugin call routed via another node", "p50<=1ms",
          "p50 " + Fixed(routed / 1000.0, 3) + " p99 " +
              Fixed(r["routed_us"]["p99"].get<double>() / 1000.0, 3) + " ms",
          "", "", judged(routed <= 1000.0));
    } else if (r["scenario"] == "idle" || r["scenario"] == "soak") {
      const double cpu = r["cpu_percent_per_daemon"]["p50"];
      const auto false_dead = r["false_dead"].get<size_t>();
      const bool converged = r.value("converged", true);
      row(r["scenario"].get<std::string>() + " " + std::to_string(r["seconds"].get<int>()) +
              "s, N=" + n,
          "0 false dead",
          converged ? std::to_string(false_dead) + " false dead, " +
                          std::to_string(r["suspect"].get<size_t>()) + " suspect"
                    : "never converged; " + std::to_string(false_dead) + " dead verdicts",
          "", "", judged(converged && false_dead == 0));
      row("  CPU per daemon, N=" + n, "<=0.5% of a core",
          Fixed(cpu, 2) + "% p50, " + Fixed(r["cpu_percent_per_daemon"]["max"], 2) + "% max", "",
          "", judged(cpu <= kGoalIdleCpuPercent));
      if (r.contains("bytes_sent_per_s_per_daemon")) {
        row("  heartbeat payload, N=" + n, "(reported)",
            Fixed(r["lists_sent_per_s_per_daemon"]["p50"], 1) + " calls/s, " +
                Fixed(r["bytes_sent_per_s_per_daemon"]["p50"].get<double>() / 1024.0, 1) +
                " KiB/s",
            "", "", Verdict::kNone);
      }
      row("  RSS per daemon, N=" + n, "(reported)",
          Fixed(r["rss_mib_per_daemon"]["p50"], 1) + " MiB p50", "", "", Verdict::kNone);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("membership_bench");
  options.add_options()
      ("scenario", po::value<std::string>(),
       "detect | join | traffic | footprint | idle | soak | discover")
      ("system", po::value<std::string>()->default_value("domian"),
       "detect, join, traffic: domian | serf")
      ("report", po::value<std::string>(), "print the table for a results file and exit")
      ("nodes", po::value<int>()->default_value(5), "cluster size")
      ("trials", po::value<int>()->default_value(20), "detect: kills; discover: starts")
      ("seconds", po::value<int>()->default_value(60), "idle: how long")
      ("junk", po::value<int>()->default_value(0),
       "detect: fake peer rows a stranger sends every node each second (0: none)")
      ("budget", po::value<int>()->default_value(kDefaultJunkBudgetSeconds),
       "detect --junk: seconds after which no new trial starts (one always runs)")
      ("advertise", po::value<std::string>()->default_value("always"),
       "discover: discovery.advertise of every node (always | lonely)")
      ("yaml", po::value<std::string>()->default_value(""),
       "extra node.yaml text for every daemon, e.g. $'membership:\\n  heartbeat_interval: 300ms\\n'")
      ("plaintext", po::bool_switch(),
       "domian's daemons without TLS (security.plaintext), to set beside the mutual TLS "
       "figure; footprint then measures no Serf agents")
      ("help,h", "this help");
  po::variables_map args;
  if (const auto stop = domian::bench::ParseCommandLine(argc, argv, options, args)) return *stop;
  if (args.count("report")) return Report(args["report"].as<std::string>());
  if (!args.count("scenario")) {
    std::cerr << "--scenario or --report is required\n" << options;
    return 2;
  }
  const int nodes = args["nodes"].as<int>();
  if (nodes < 2) {
    std::cerr << "--nodes must be at least 2\n";
    return 2;
  }
  const std::string scenario = args["scenario"].as<std::string>();
  const std::string system = args["system"].as<std::string>();
  if (system != "domian" && system != "serf") {
    std::cerr << "--system is domian or serf\n";
    return 2;
  }
  // Before any thread exists: namespaces are per thread until then.
  // traffic counts every byte on the namespace's loopback interface.
  if (scenario == "discover" || scenario == "traffic") {
    const std::string problem = EnterPrivateNetwork();
    if (!problem.empty()) {
      std::cerr << "membership_bench: " << scenario << " " << problem << "\n";
      return kExitCannotRunHere;
    }
  }
  const bool serf = system == "serf";
  const bool plaintext = args["plaintext"].as<bool>();
  if (plaintext && serf) {
    std::cerr << "--plaintext is domian's: Serf has no TLS to turn off\n";
    return 2;
  }
  // Before the first Daemon is made: each takes the transport in force.
  UsePlaintextDaemons(plaintext);
  try {
    nlohmann::json result;
    const int trials = args["trials"].as<int>();
    const int seconds = args["seconds"].as<int>();
    const std::string yaml = args["yaml"].as<std::string>();
    if (scenario == "detect") {
      const int junk = args["junk"].as<int>(), budget = args["budget"].as<int>();
      if (junk < 0 || budget <= 0 || (junk > 0 && serf)) {
        std::cerr << "--junk is domian's, 0 or more; --budget is positive\n";
        return 2;
      }
      result = serf ? DetectSerf(nodes, trials)
                    : Detect(nodes, trials, yaml,
                             {static_cast<size_t>(junk), std::chrono::seconds(budget)});
    } else if (scenario == "join") {
      result = serf ? JoinSerf(nodes, trials) : Join(nodes, trials, yaml);
    } else if (scenario == "traffic") {
      result = Traffic(system, nodes, seconds, yaml);
    } else if (scenario == "footprint") {
      result = Footprint(nodes, seconds, /*with_serf=*/!plaintext);
    } else if (scenario == "idle" || scenario == "soak") {
      result = Idle(scenario, nodes, seconds, yaml);
    } else if (scenario == "discover") {
      result = Discover(nodes, args["trials"].as<int>(), args["advertise"].as<std::string>(),
                        args["yaml"].as<std::string>());
    } else {
      std::cerr << "unknown scenario " << scenario << "\n";
      return 2;
    }
    // Every domian result says how its daemons spoke to each other, so
    // that the report can set plaintext beside mutual TLS.
    if (!serf) result["transport"] = DaemonTransport();
    std::cout << result.dump() << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "membership_bench: " << error.what() << "\n";
    return 1;
  }
}
