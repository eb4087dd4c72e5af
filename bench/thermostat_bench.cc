// Thermostat benchmark: one real domiand running the thermostat plugin
// (in its own plugin host process, the default) on a w1 sysfs tree the
// bench writes (tests/support/w1_sysfs.h) with the `file` relay backend,
// control period and sensor read interval at their defaults (1 s, 2 s),
// min_on_s/min_off_s 0 so every change may switch.
//
//   react:  the sensor file crosses the band (cold, then warm, in turn),
//           at a random moment; time until the relay file follows (at
//           most one read interval plus one control period).
//   stale:  the sensor starts failing its CRC; how long after the last
//           good reading became too old (max_sensor_age_s after it was
//           read) the relay file says 0: the sensor's age in `status`,
//           asked the moment the relay file changes, minus the maximum age
//           (an upper bound: the status call itself adds ~2 ms).
//
// Fail-safe: the thermostat heats (cold sensor, relay ON), then its
// service is taken out of control; time until the relay file says 0
// (domiand ran the plugin's safe state):
//
//   crash:    the plugin host is SIGKILLed (the safe state runs before the
//             restart);
//   restart:  domiand is SIGKILLed (its plugin host dies with it; the relay
//             stays ON), then started again: from that exec (the journal's
//             safe state runs before anything else starts);
//   hang:     the plugin host is SIGSTOPped (found by its missed health
//             checks, killed, then as a crash);
//   loop:     the control loop's thread alone is stopped (ptrace), its
//             plugin host answering on: found by the loop's missed
//             liveness deadline (3 control periods + 3 s: 6 s here),
//             killed, then as a crash.
//
// A service that ends kMaxCrashesInWindow times within a minute is given
// up on; the daemon is restarted cleanly after every few crashes or hangs
// so that each trial measures a restart, not a give-up.
#include <signal.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "bench/plugin_bench_main.h"
#include "core/cli/control_client.h"
#include "tests/support/cluster.h"
#include "tests/support/frozen_thread.h"
#include "tests/support/w1_sysfs.h"

using namespace domian::testing;
using domian::bench::Fixed;
using domian::bench::MeasuredMs;
using domian::bench::PrintRow;
using domian::bench::Verdict;
using domian::bench::MsBetween;
using domian::bench::Summary;
using Steady = std::chrono::steady_clock;
using nlohmann::json;

namespace {

constexpr char kSensor[] = "28-0000000a1b2c";
constexpr int kColdMilli = 17000;  // below target 20 - 0.5
constexpr int kWarmMilli = 23000;  // above target 20 + 0.5
constexpr auto kMaxSensorAge = 5s;  // max_sensor_age_s, the smallest allowed
constexpr auto kReady = 60s;
constexpr auto kFollowDeadline = 30s;
constexpr auto kPoll = 5ms;
constexpr int kMaxPauseMs = 2500;  // before each change: past one read interval
// Goals: a relay that follows within two control periods of a sensor read
// (1 s period, 2 s reads: at most ~4 s), and that goes off within one
// control period of the readings going stale.
constexpr double kGoalReactP99Ms = 4000;
constexpr double kGoalStaleP99Ms = 1000;
// Fail-safe goals: a crash and a daemon's restart switch the relay off
// within one control period (1 s, the default); a hang within what finds
// it (a health check every 1 s, two missed at 2 s each) and one period.
constexpr double kGoalCrashOffP99Ms = 1000;
constexpr double kGoalRestartOffP99Ms = 1000;
constexpr double kGoalHangOffP99Ms = 6000;
// A hung control loop: its liveness deadline (6 s at the default 1 s
// period) and one control period.
constexpr double kGoalLoopOffP99Ms = 7000;
// Crashes (or hangs) per daemon life in the fail-safe scenarios: fewer
// than the 5 within a minute that give the service up.
constexpr int kEndsPerLife = 3;

double MsSince(Steady::time_point from) { return MsBetween(from, Steady::now()); }

struct Setup {
  TempDir dir{"domian-thermostat-bench"};
  W1Sysfs sysfs{dir.path() / "devices"};
  std::filesystem::path relay = dir.path() / "relay";
  std::unique_ptr<Daemon> node;

  Setup() {
    sysfs.Reading(kSensor, kWarmMilli);
    MakePluginFolder(dir.path() / "plugins", DOMIAN_PLUGIN_DIR, {"thermostat"});
    Daemon::Options options{.id = "bench", .log_level = "info"};
    options.traits = {"w1"};
    options.extra_yaml = "plugins:\n  dirs: [" + (dir.path() / "plugins").string() +
                         "]\nplacement:\n  settle: 0s\nservices:\n  thermostat:\n    config:\n"
                         "      sysfs_root: " + sysfs.root().string() + "\n"
                         "      target_c: 20\n      hysteresis_c: 0.5\n"
                         "      min_on_s: 0\n      min_off_s: 0\n"
                         "      max_sensor_age_s: " + std::to_string(kMaxSensorAge.count()) + "\n"
                         "      relay: {backend: file, path: " + relay.string() + "}\n";
    node = std::make_unique<Daemon>(dir.path(), options);
    node->Start();
    if (!Eventually([&] { return Relay() == "0"; }, kReady)) {
      throw std::runtime_error("the thermostat did not start: " + node->Log());
    }
  }

  // The plugin host running the thermostat now (after `not_this` died).
  int HostPid(int not_this = -1) const {
    int pid = -1;
    if (!Eventually([&] {
          pid = PluginHostPid(*node, "thermostat");
          return pid > 0 && pid != not_this;
        },
        kReady)) {
      throw std::runtime_error("no plugin host for the thermostat");
    }
    return pid;
  }

  // A clean restart of domiand: its services' restart counts start over.
  void Restart() {
    node->Signal(SIGTERM);
    if (!node->WaitExit(kReady)) throw std::runtime_error("domiand did not stop");
    node->Start();
  }

  std::string Relay() const {
    std::ifstream in(relay);
    std::string value;
    std::getline(in, value);
    return value;
  }

  // Polls until the relay file says `value`; ms since `from`.
  double Until(const std::string& value, Steady::time_point from) {
    while (Relay() != value) {
      if (Steady::now() - from > kFollowDeadline) throw std::runtime_error("the relay did not follow");
      std::this_thread::sleep_for(kPoll);
    }
    return MsSince(from);
  }
};

json RunReact(int trials) {
  Setup setup;
  std::vector<double> ms;
  // Changes land at a random point of the read and control cycles (right
  // after the relay switched, they would always just miss a read).
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(0, kMaxPauseMs);
  for (int i = 0; i < trials; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    const bool cold = i % 2 == 0;
    const auto began = Steady::now();
    setup.sysfs.Reading(kSensor, cold ? kColdMilli : kWarmMilli);
    ms.push_back(setup.Until(cold ? "1" : "0", began));
  }
  return {{"scenario", "thermostat-react"}, {"trials", trials}, {"react_ms", Summary(ms)}};
}

json RunStale(int trials) {
  Setup setup;
  auto owned = domian::testing::ControlClientFor(setup.node->address());
  domian::cli::ControlClient& client = *owned;
  std::vector<double> ms;
  for (int i = 0; i < trials; ++i) {
    setup.sysfs.Reading(kSensor, kColdMilli);
    setup.Until("1", Steady::now());
    // The last good reading is the one the bus takes before it sees the
    // CRC failure: at most one read interval (2 s) after this write.
    setup.sysfs.Write(kSensor, W1SlaveCrcNo());
    setup.Until("0", Steady::now());
    auto reply = client.Call("thermostat", "status", "{}");
    if (!reply.ok()) throw std::runtime_error("status failed");
    const json* status = &*reply;
    const double age_ms = (*status)["sensors"][0]["age_s"].get<double>() * 1000;
    ms.push_back(age_ms - std::chrono::duration<double, std::milli>(kMaxSensorAge).count());
  }
  return {{"scenario", "thermostat-stale"}, {"trials", trials}, {"off_after_stale_ms", Summary(ms)}};
}

// The fail-safe scenarios: `fail` takes the service out of control and
// returns when; the time until the relay file says 0 is one sample.
json RunFailSafe(const std::string& name, int trials,
                 const std::function<Steady::time_point(Setup&, int pid)>& fail) {
  Setup setup;
  setup.sysfs.Reading(kSensor, kColdMilli);
  std::vector<double> ms;
  int pid = -1;
  for (int i = 0; i < trials; ++i) {
    setup.Until("1", Steady::now());
    pid = setup.HostPid(pid);
    const Steady::time_point failed = fail(setup, pid);
    ms.push_back(setup.Until("0", failed));
    // The log holds every life: the next host is the one with another
    // pid than this one, in this life or the next.
    if ((i + 1) % kEndsPerLife == 0) setup.Restart();
  }
  return {{"scenario", "thermostat-" + name}, {"trials", trials}, {"off_ms", Summary(ms)}};
}

void ReportResult(const json& r) {
  const std::string scenario = r.value("scenario", "");
  const std::string trials = std::to_string(r.value("trials", 0));
  if (scenario == "thermostat-react") {
    const auto& s = r["react_ms"];
    PrintRow("sensor crosses the band -> relay follows (" + trials + ")",
             "p99<=" + Fixed(kGoalReactP99Ms, 0) + "ms", MeasuredMs(s, 0), Verdict(s["p99"] <= kGoalReactP99Ms));
  } else if (scenario == "thermostat-stale") {
    const auto& s = r["off_after_stale_ms"];
    PrintRow("CRC failures: max age passed -> relay off (" + trials + ")",
             "p99<=" + Fixed(kGoalStaleP99Ms, 0) + "ms", MeasuredMs(s, 0), Verdict(s["p99"] <= kGoalStaleP99Ms));
  }
  const std::map<std::string, std::pair<std::string, double>> failsafe = {
      {"thermostat-crash", {"plugin host SIGKILL -> relay off", kGoalCrashOffP99Ms}},
      {"thermostat-restart", {"domiand SIGKILL, restart -> relay off", kGoalRestartOffP99Ms}},
      {"thermostat-hang", {"plugin host SIGSTOP -> relay off", kGoalHangOffP99Ms}},
      {"thermostat-loop", {"control loop stopped -> relay off", kGoalLoopOffP99Ms}}};
  if (const auto it = failsafe.find(scenario); it != failsafe.end()) {
    const auto& s = r["off_ms"];
    PrintRow(it->second.first + " (" + trials + ")", "p99<=" + Fixed(it->second.second, 0) + "ms",
             MeasuredMs(s, 0), Verdict(s["p99"] <= it->second.second));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return domian::bench::PluginBenchMain(
      argc, argv, "thermostat_bench", "thermostat scenario",
      {{"trials", 20, "changes (react) or failures (stale)"}},
      {{"react", [](const auto& counts) { return RunReact(counts.at("trials")); }},
       {"stale", [](const auto& counts) { return RunStale(counts.at("trials")); }},
       {"crash",
        [](const auto& counts) {
          return RunFailSafe("crash", counts.at("trials"), [](Setup&, int pid) {
            ::kill(pid, SIGKILL);
            return Steady::now();
          });
        }},
       {"restart",
        [](const auto& counts) {
          // Every trial is a new life: no crash count to keep low.
          return RunFailSafe("restart", counts.at("trials"), [](Setup& setup, int) {
            setup.node->Signal(SIGKILL);
            if (!setup.node->WaitExit(kReady)) throw std::runtime_error("domiand did not die");
            const Steady::time_point started = Steady::now();
            setup.node->Start();
            return started;
          });
        }},
       {"hang",
        [](const auto& counts) {
          return RunFailSafe("hang", counts.at("trials"), [](Setup&, int pid) {
            ::kill(pid, SIGSTOP);  // domiand kills it (SIGKILL works on a stopped process)
            return Steady::now();
          });
        }},
       {"loop",
        [](const auto& counts) {
          // The frozen thread is let go (or seen gone) at the next trial's
          // freeze or the end: by then domiand has killed its host.
          auto frozen = std::make_shared<std::unique_ptr<FrozenThread>>();
          return RunFailSafe("loop", counts.at("trials"), [frozen](Setup&, int pid) {
            frozen->reset();
            int loop = -1;
            const Steady::time_point until = Steady::now() + kReady;
            while ((loop = ThreadNamed(pid, "thermostat-loop")) < 0 && Steady::now() < until) {
              std::this_thread::sleep_for(kPoll);
            }
            if (loop < 0) throw std::runtime_error("no thread thermostat-loop in the plugin host");
            *frozen = std::make_unique<FrozenThread>(loop);
            if (!(*frozen)->error().empty()) throw std::runtime_error((*frozen)->error());
            return Steady::now();
          });
        }}},
      ReportResult);
}
