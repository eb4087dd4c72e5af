// Fail-safe on every path, with real daemons: the thermostat plugin
// (plugins/thermostat) in its own plugin host, reading a w1 sysfs tree the
// test writes and driving the `file` relay backend, is taken out of
// control every way it can be — a crash loop, domiand SIGKILLed, a bad
// configuration after that, a hung plugin host — and each time the relay
// must end OFF (domiand runs the plugin's safe state) and stay OFF.
//
// The relay file is watched by a thread of the test every kRelayPoll, so
// a short OFF between two ONs (the safe state of a crash, then the
// restarted thermostat heating again) is seen and timed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <optional>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/frozen_thread.h"
#include "tests/support/w1_sysfs.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;
const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;
constexpr char kLiving[] = "28-0000000a1b2c";
// Generous for anything that is due (a daemon starting, a service being
// placed) on a loaded two-core machine running sanitizer builds; never
// waited for in a passing test.
constexpr auto kSettle = 60s;
// The control period in these tests' configuration.
constexpr auto kControlPeriod = 200ms;
// How often the relay file is looked at: far shorter than any OFF the
// tests must see (a safe state holds until placement restarts the
// service, hundreds of milliseconds at least).
constexpr auto kRelayPoll = 2ms;
// A hung plugin host (SIGSTOP) is found by its missed health checks:
// two in a row, a check every second with a 2 s deadline; then it is
// killed and the safe state runs (at most its own deadline, ~7 s). With
// room for a loaded machine.
constexpr auto kHangToOff = 30s;
// How long the relay is watched to stay OFF once it should.
constexpr auto kStaysOff = 3s;

// The relay file's values over time, as a thread of the test sees them.
class RelayWatch {
 public:
  explicit RelayWatch(std::filesystem::path file) : file_(std::move(file)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~RelayWatch() {
    stop_ = true;
    thread_.join();
  }
  struct Change {
    Clock::time_point at;
    std::string value;
  };
  // The changes seen since `from` (the value then first).
  std::vector<Change> Since(Clock::time_point from) {
    std::lock_guard lock(mu_);
    std::vector<Change> out;
    for (const Change& change : changes_) {
      if (change.at >= from) out.push_back(change);
    }
    return out;
  }
  std::string Now() {
    std::lock_guard lock(mu_);
    return changes_.empty() ? "" : changes_.back().value;
  }

 private:
  void Run() {
    while (!stop_) {
      std::ifstream in(file_);
      std::string value;
      std::getline(in, value);
      {
        std::lock_guard lock(mu_);
        if (changes_.empty() || changes_.back().value != value) {
          changes_.push_back({Clock::now(), value});
        }
      }
      std::this_thread::sleep_for(kRelayPoll);
    }
  }

  std::filesystem::path file_;
  std::mutex mu_;
  std::vector<Change> changes_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class FailSafe : public ::testing::Test {
 protected:
  void SetUp() override {
    // A crash is a SIGSEGV the kernel delivers, as in production, not
    // an ASan report.
    LeaveSegvToTheKernel();
    MakePluginFolder(dir_.path() / "plugins", kPlugins, {"thermostat"});
    relay_ = dir_.path() / "relay";
    std::ofstream(relay_) << "0\n";
    watch_ = std::make_unique<RelayWatch>(relay_);
    sysfs_.Reading(kLiving, 17000);  // cold: the thermostat heats
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << node_->Log();
  }

  std::string Yaml(const std::string& hysteresis = "0.5") {
    return "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
           "]\nservices:\n  thermostat:\n    isolation: process\n    config:\n"
           "      sysfs_root: " + sysfs_.root().string() + "\n"
           "      sensors: auto\n      combine: mean\n      target_c: 20\n"
           "      hysteresis_c: " + hysteresis + "\n"
           "      min_on_s: 0\n      min_off_s: 0\n      max_on_s: 3600\n"
           "      max_sensor_age_s: 5\n"
           "      control_period_ms: " + std::to_string(kControlPeriod.count()) + "\n"
           "      read_interval_ms: 100\n"
           "      relay: {backend: file, path: " + relay_.string() + "}\n";
  }

  void Start() {
    Daemon::Options options{.id = "boiler-room"};
    options.traits = {"w1"};
    options.extra_yaml = Yaml();
    node_ = std::make_unique<Daemon>(dir_.path(), options);
    node_->Start();
  }

  // Heating, as the thermostat decided: the state every test begins from.
  void StartHeating() {
    Start();
    ASSERT_TRUE(Eventually([&] { return watch_->Now() == "1"; }, kSettle))
        << "the thermostat never switched the relay ON";
  }

  // True when the relay stays OFF for kStaysOff from now.
  bool StaysOff() {
    const auto from = Clock::now();
    std::this_thread::sleep_for(kStaysOff);
    for (const RelayWatch::Change& change : watch_->Since(from)) {
      if (change.value != "0") return false;
    }
    return watch_->Now() == "0";
  }

  // True once the relay was seen OFF after `from`, within `deadline`;
  // says how long after `what` it went OFF.
  bool OffWithin(Clock::time_point from, std::chrono::milliseconds deadline, const std::string& what) {
    const auto off = [&]() -> std::optional<Clock::time_point> {
      for (const RelayWatch::Change& change : watch_->Since(from)) {
        if (change.value == "0") return change.at;
      }
      return std::nullopt;
    };
    if (!Eventually([&] { return off().has_value(); }, deadline)) return false;
    std::cerr << "relay OFF "
              << std::chrono::duration_cast<std::chrono::milliseconds>(*off() - from).count()
              << " ms after " << what << "\n";
    return true;
  }

  // The thermostat's row in `domianctl services`.
  json ServiceRow() {
    const auto rows = Ctl(node_->address(), "services");
    if (rows) {
      for (const json& row : *rows) {
        if (row.value("name", "") == "thermostat") return row;
      }
    }
    return json::object();
  }

  // Where in this life's log `needle` first is, or npos.
  size_t LoggedAt(const std::string& needle) { return node_->Log().find(needle); }

  TempDir dir_{"domian-failsafe-test"};
  W1Sysfs sysfs_{dir_.path() / "devices"};
  std::filesystem::path relay_;
  std::unique_ptr<RelayWatch> watch_;
  std::unique_ptr<Daemon> node_;
};

TEST_F(FailSafe, ACrashLoopLeavesTheRelayOffEvenAfterTheDaemonStops) {
  StartHeating();
  // Five crashes within a minute (kMaxCrashesInWindow, kCrashWindow): the restart backoff gives up.
  int last_pid = -1;
  for (int crash = 1; crash <= 5; ++crash) {
    int pid = -1;
    ASSERT_TRUE(Eventually(
        [&] {
          pid = PluginHostPid(*node_, "thermostat");
          return pid > 0 && pid != last_pid;
        },
        kSettle))
        << "no plugin host for crash " << crash;
    ::kill(pid, SIGSEGV);
    last_pid = pid;
  }
  EXPECT_TRUE(Eventually([&] { return watch_->Now() == "0"; }, kSettle));
  json row;
  EXPECT_TRUE(Eventually(
      [&] {
        row = ServiceRow();
        return row.value("detail", "").find("hardware set safe") != std::string::npos;
      },
      kSettle))
      << row.dump();
  EXPECT_THAT(row.value("detail", ""), HasSubstr("failed 5 times in 60 s"));
  EXPECT_THAT(row.value("detail", ""), HasSubstr("killed by SIGSEGV"));
  EXPECT_TRUE(StaysOff()) << "given up on: nothing may heat";

  node_->Signal(SIGTERM);
  ASSERT_EQ(node_->WaitExit(kSettle), 0);
  EXPECT_TRUE(StaysOff()) << "a clean stop must not switch it back ON";
  EXPECT_GE(Occurrences(node_->Log(), "thermostat: safe state set ("), 5U)
      << "once after each crash";
}

TEST_F(FailSafe, TheNextDaemonTurnsTheRelayOffBeforeAnythingElse) {
  StartHeating();
  node_->Signal(SIGKILL);
  ASSERT_TRUE(node_->WaitExit(kSettle));
  // Nothing controls the heating now, and nothing switched it off.
  std::this_thread::sleep_for(4 * kControlPeriod);
  ASSERT_EQ(watch_->Now(), "1");

  const size_t first_life = node_->Log().size();
  const auto started = Clock::now();
  node_->Start();
  ASSERT_TRUE(Eventually([&] { return !watch_->Since(started).empty(); }, kSettle))
      << "the relay was never switched after the start";
  // The first change after the start is to OFF (the thermostat, once
  // placed again, may turn it back ON: it is still cold).
  const RelayWatch::Change first = watch_->Since(started).front();
  EXPECT_EQ(first.value, "0");
  std::cerr << "relay OFF "
            << std::chrono::duration_cast<std::chrono::milliseconds>(first.at - started).count()
            << " ms after domiand was started again\n";
  // Before anything else: before the node listens, and so before
  // membership and placement start any service. (The relay is written
  // before the run that wrote it is logged: both lines are waited for.)
  std::string log;
  ASSERT_TRUE(Eventually(
      [&] {
        log = node_->Log().substr(first_life);
        return log.find("thermostat: safe state set (") != std::string::npos &&
               log.find("listening on") != std::string::npos;
      },
      kSettle))
      << log;
  EXPECT_LT(log.find("thermostat: safe state set ("), log.find("listening on"))
      << "the safe state ran after the node started";
}

TEST_F(FailSafe, ABadConfigurationAfterADaemonKillStillTurnsTheRelayOff) {
  StartHeating();
  node_->Signal(SIGKILL);
  ASSERT_TRUE(node_->WaitExit(kSettle));
  ASSERT_EQ(watch_->Now(), "1");

  // The same node, its thermostat now configured with a value its plugin
  // refuses: it never starts, so only the safe state can switch it off.
  std::string yaml;
  {
    std::ifstream in(node_->config_path());
    yaml.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string good = "hysteresis_c: 0.5";
  ASSERT_NE(yaml.find(good), std::string::npos);
  yaml.replace(yaml.find(good), good.size(), "hysteresis_c: -1");
  std::ofstream(node_->config_path()) << yaml;
  node_->Start();
  EXPECT_TRUE(Eventually([&] { return watch_->Now() == "0"; }, kSettle));
  EXPECT_TRUE(StaysOff());
  json row;
  EXPECT_TRUE(Eventually(
      [&] {
        row = ServiceRow();
        return row.value("detail", "").find("hysteresis_c") != std::string::npos;
      },
      kSettle))
      << "the plugin's reason is shown: " << row.dump();
  node_->Signal(SIGTERM);
  ASSERT_EQ(node_->WaitExit(kSettle), 0);
  EXPECT_EQ(watch_->Now(), "0");
}

TEST_F(FailSafe, AHungPluginHostIsKilledAndTheRelayTurnedOff) {
  StartHeating();
  const int pid = PluginHostPid(*node_, "thermostat");
  ASSERT_GT(pid, 0);
  const auto hung = Clock::now();
  ::kill(pid, SIGSTOP);  // the control loop stops with everything else
  ASSERT_TRUE(OffWithin(hung, kHangToOff, "the plugin host was stopped"))
      << "a hung thermostat left the relay ON";
  // The relay is written before the run that wrote it is logged.
  EXPECT_TRUE(Eventually(
      [&] { return node_->Log().find("thermostat: safe state set (") != std::string::npos; },
      kSettle));
  ::kill(pid, SIGCONT);  // killed by domiand already; harmless
}

// What people set is kept the moment they are told so (ABI 1.1
// domian.host.state/1 save_now): neither a killed plugin host nor a killed
// domiand brings back the mode or target from before, and the relay,
// switched off by `set_mode off`, never comes back ON on the way.
TEST_F(FailSafe, ModeAndTargetSurviveAKilledPluginHostAndAKilledDaemon) {
  StartHeating();
  const auto call = [&](const std::string& command, const std::string& args) {
    const CommandResult result = CallService(*node_, "thermostat", command, args);
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.err;
  };
  call("set_target", R"({"target_c": 18.5})");
  call("set_mode", R"({"mode": "off"})");
  ASSERT_TRUE(Eventually([&] { return watch_->Now() == "0"; }, kSettle));
  const auto off = Clock::now();
  // The thermostat's status once it answers again (the same mode, target).
  const auto status_after = [&](const std::string& what) {
    json status;
    EXPECT_TRUE(Eventually(
        [&] {
          const CommandResult result = CallService(*node_, "thermostat", "status");
          status = json::parse(result.out, nullptr, false);
          return result.exit_code == 0 && status.is_object();
        },
        kSettle))
        << "no status after " << what;
    return status;
  };

  const int pid = PluginHostPid(*node_, "thermostat");
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(Eventually([&] { return PluginHostPid(*node_, "thermostat") != pid; }, kSettle));
  json status = status_after("the plugin host was killed");
  EXPECT_EQ(status.value("mode", ""), "off") << status.dump();
  EXPECT_EQ(status.value("target_c", 0.0), 18.5) << status.dump();

  node_->Signal(SIGKILL);
  ASSERT_TRUE(node_->WaitExit(kSettle));
  node_->Start();
  status = status_after("domiand was killed");
  EXPECT_EQ(status.value("mode", ""), "off") << status.dump();
  EXPECT_EQ(status.value("target_c", 0.0), 18.5) << status.dump();

  // Still cold (17 °C): in heat mode the relay would be ON again by now.
  std::this_thread::sleep_for(4 * kControlPeriod);
  for (const RelayWatch::Change& change : watch_->Since(off)) {
    EXPECT_EQ(change.value, "0") << "the relay went ON again after set_mode off";
  }
}

// The real thermostat's control loop stuck while its plugin host goes on
// answering health checks: the loop's own thread is frozen. Only its
// liveness deadline (3 control periods + 3 s here) can tell; domiand must
// kill the host and turn the relay OFF within that deadline, one health
// check and the safe state's run.
TEST_F(FailSafe, AHungControlLoopIsFoundByItsLivenessDeadline) {
  StartHeating();
  const int pid = PluginHostPid(*node_, "thermostat");
  ASSERT_GT(pid, 0);
  // The loop names its thread once it runs: soon after the relay went ON.
  int loop = -1;
  ASSERT_TRUE(Eventually([&] { return (loop = ThreadNamed(pid, "thermostat-loop")) > 0; }, kSettle))
      << "no thread thermostat-loop in plugin host " << pid;
  const auto hung = Clock::now();
  std::optional<FrozenThread> frozen;
  frozen.emplace(loop);
  ASSERT_EQ(frozen->error(), "");
  ASSERT_TRUE(OffWithin(hung, kHangToOff, "the control loop was frozen"))
      << "a hung control loop left the relay ON";
  // Found as a hang of the loop, not of the process: its health checks
  // were answered all along.
  EXPECT_TRUE(Eventually(
      [&] {
        return node_->Log().find("missed its liveness deadline of 3600 ms") != std::string::npos;
      },
      kSettle));
  EXPECT_EQ(LoggedAt("the plugin host stopped answering"), std::string::npos);
  EXPECT_TRUE(Eventually(
      [&] { return node_->Log().find("thermostat: safe state set (") != std::string::npos; },
      kSettle));
  frozen.reset();  // the host is gone (killed); the tracer has seen its end
}

// A loop that stops proving progress while its process still answers
// health checks: the test plugin safety-probe arms a liveness deadline
// and never calls alive on its own. domiand must see the miss in the
// health answer, kill the host and run the safe state (the probe's
// make_safe writes a marker) within the deadline and one health check.
TEST(FailSafeLiveness, AMissedLivenessDeadlineIsAHang) {
  TempDir dir("domian-failsafe-liveness");
  MakePluginFolder(dir.path() / "plugins", kTestPlugins, {"safety-probe"});
  constexpr auto kDeadline = 500ms;
  Daemon::Options options{.id = "probe"};
  options.extra_yaml = "plugins:\n  dirs: [" + (dir.path() / "plugins").string() +
                       "]\nservices:\n  safety-probe:\n    isolation: process\n    config:\n"
                       "      liveness_ms: " + std::to_string(kDeadline.count()) + "\n";
  Daemon node(dir.path(), options);
  node.Start();
  const std::filesystem::path marker = node.state_dir() / "services/safety-probe/safe-marker";
  ASSERT_TRUE(Eventually([&] { return PluginHostPid(node, "safety-probe") > 0; }, kSettle))
      << node.Log();
  const auto running = Clock::now();
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(marker); }, kSettle)) << node.Log();
  const auto safe_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - running);
  std::cerr << "safe state " << safe_after.count() << " ms after the service started with a "
            << kDeadline.count() << " ms liveness deadline\n";
  EXPECT_THAT(node.Log(), HasSubstr("missed its liveness deadline of 500 ms"));
  // The deadline, one health check (1 s), the safe state's own bound
  // (7 s) and room for a loaded machine.
  EXPECT_LT(safe_after, 20s);
}

}  // namespace
}  // namespace domian::testing
