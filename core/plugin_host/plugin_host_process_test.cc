// domian-plugin-host as domiand runs it: a real process serving
// PluginHostProcess on a Unix socket, with the test plugins
// (tests/plugins). Its calls arrive on gRPC's threads, so a
// Stop can come while Invoke, SaveState and Health are running. Built
// with the asan preset (as CI builds), a call that touches a destroyed
// instance makes the process exit with AddressSanitizer's report, which
// the failing test shows.
#include <domian/plugin.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/services/testing/temp_folder.h"
#include "domian/v1/plugin_host.grpc.pb.h"

namespace domian::plugin_host {
namespace {

namespace bp = boost::process;
using services::testing::TempFolder;
using namespace std::chrono_literals;

const std::filesystem::path kHostBinary = DOMIAN_PLUGIN_HOST_BUILT;
const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;

// Generous: an ASan build on a loaded machine starts slowly.
constexpr auto kServingDeadline = 20s;
constexpr auto kCallDeadline = 10s;
constexpr auto kExitDeadline = 10s;

std::chrono::system_clock::time_point In(std::chrono::milliseconds delay) {
  return std::chrono::system_clock::now() + delay;
}

// Keeps a process (and every thread it starts) on one CPU, as on a
// single-core Pi Zero: a thread that wakes another is then often
// preempted right there, which is what opens a race's window.
void KeepOnOneCpu() {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  for (size_t cpu = 0; cpu < size_t{CPU_SETSIZE}; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ::sched_setaffinity(0, sizeof one, &one);
    return;
  }
}

// One domian-plugin-host for `plugin`, started as IsolatedService starts
// it (on one CPU), its log in the folder.
class HostProcess {
 public:
  explicit HostProcess(const std::string& plugin)
      : socket_(folder_.path() / "host.sock"), log_(folder_.path() / "host.log") {
    child_ = bp::child(kHostBinary.string(), "--plugin", (kTestPlugins / (plugin + ".so")).string(),
                       "--service", plugin, "--state-dir", folder_.path().string(), "--socket",
                       socket_.string(), bp::std_in < bp::null, bp::std_out > bp::null,
                       bp::std_err > log_.string(),
                       bp::extend::on_exec_setup = [](auto&) { KeepOnOneCpu(); });
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
    auto channel = grpc::CreateCustomChannel("unix:" + socket_.string(),
                                             grpc::InsecureChannelCredentials(), arguments);
    const auto until = std::chrono::steady_clock::now() + kServingDeadline;
    while (!serving_ && std::chrono::steady_clock::now() < until && child_.running()) {
      serving_ = std::filesystem::exists(socket_) && channel->WaitForConnected(In(50ms));
      if (!serving_) std::this_thread::sleep_for(2ms);
    }
    stub_ = v1::PluginHostProcess::NewStub(channel);
  }
  ~HostProcess() {
    if (child_.running()) ::kill(child_.id(), SIGKILL);
    std::error_code ignored;
    child_.wait(ignored);
  }
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  bool serving() const { return serving_; }
  v1::PluginHostProcess::Stub& stub() { return *stub_; }

  // How the process ended: "exited with status N" or "killed by signal N"
  // (killed by the test when it has not exited within kExitDeadline).
  std::string WaitForExit() {
    const auto until = std::chrono::steady_clock::now() + kExitDeadline;
    while (child_.running() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(10ms);
    }
    if (child_.running()) ::kill(child_.id(), SIGKILL);
    child_.wait();
    const int status = child_.native_exit_code();
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  TempFolder folder_{"domian-plugin-host"};
  std::filesystem::path socket_;
  std::filesystem::path log_;
  bp::child child_;
  bool serving_ = false;
  std::unique_ptr<v1::PluginHostProcess::Stub> stub_;
};

// What calls racing a stop got back. Each may be answered by the plugin,
// refused with DOMIAN_ERR_UNAVAILABLE (not started, or stopped), or fail
// in gRPC (the process was shutting down); anything else is wrong.
struct Outcomes {
  std::mutex mu;
  int answered = 0;
  std::vector<std::string> wrong;  // described

  void Add(const grpc::Status& status, domian_status plugin_status, bool as_expected,
           const std::string& what) {
    if (!status.ok() || plugin_status == DOMIAN_ERR_UNAVAILABLE) return;
    std::lock_guard lock(mu);
    if (plugin_status == DOMIAN_OK && as_expected) {
      ++answered;
    } else {
      wrong.push_back(what);
    }
  }
};

// One host of `plugin` and the calls made to it from other threads.
class CalledHost {
 public:
  explicit CalledHost(const std::string& plugin) : host_(plugin) {}
  ~CalledHost() {
    done_ = true;
    for (std::thread& caller : callers_) caller.join();
  }
  CalledHost(const CalledHost&) = delete;
  CalledHost& operator=(const CalledHost&) = delete;

  // Starts the plugin: "" or what went wrong.
  std::string Start(const std::string& config_json = "{}") {
    if (!host_.serving()) return "the host did not start serving: " + host_.Log();
    grpc::ClientContext context;
    context.set_deadline(In(kCallDeadline));
    v1::PluginStartRequest request;
    request.set_config_json(config_json);
    v1::PluginResult started;
    const grpc::Status status = host_.stub().Start(&context, request, &started);
    if (!status.ok()) return "Start: " + status.error_message() + "\n" + host_.Log();
    if (started.status() != DOMIAN_OK) return "Start: " + started.output();
    return "";
  }

  // Keeps invoking echo from `count` threads until Stop; each reply must
  // be the arguments.
  void KeepInvoking(int count) {
    for (int t = 0; t < count; ++t) {
      callers_.emplace_back([this, t] {
        for (int i = 0; !done_; ++i) {
          grpc::ClientContext context;
          context.set_deadline(In(kCallDeadline));
          v1::PluginInvokeRequest request;
          request.set_command("echo");
          request.set_args_json("{\"thread\":" + std::to_string(t) + ",\"call\":" +
                                std::to_string(i) + "}");
          v1::PluginResult result;
          const grpc::Status status = host_.stub().Invoke(&context, request, &result);
          outcomes_.Add(status, result.status(), result.output() == request.args_json(),
                        "invoke " + request.args_json() + ": status " +
                            std::to_string(result.status()) + ", output '" + result.output() +
                            "'");
        }
      });
    }
  }

  // Keeps saving the state from `count` threads until Stop (echo-c's
  // state is "v1:<calls>").
  void KeepSaving(int count) {
    for (int t = 0; t < count; ++t) {
      callers_.emplace_back([this] {
        while (!done_) {
          grpc::ClientContext context;
          context.set_deadline(In(kCallDeadline));
          v1::PluginResult result;
          const grpc::Status status = host_.stub().SaveState(&context, v1::PluginEmpty(), &result);
          outcomes_.Add(status, result.status(), result.output().starts_with("v1:"),
                        "save: status " + std::to_string(result.status()) + ", output '" +
                            result.output() + "'");
        }
      });
    }
  }

  // Checks health from `count` threads, each `times` times or until Stop.
  void CheckHealth(int count, int times = std::numeric_limits<int>::max()) {
    for (int t = 0; t < count; ++t) {
      callers_.emplace_back([this, times] {
        for (int i = 0; i < times && !done_; ++i) {
          grpc::ClientContext context;
          context.set_deadline(In(kCallDeadline));
          v1::PluginHealth health;
          const grpc::Status status = host_.stub().Health(&context, v1::PluginEmpty(), &health);
          outcomes_.Add(status, health.status(), true,
                        "health: status " + std::to_string(health.status()) + ", detail '" +
                            health.detail() + "'");
        }
      });
    }
  }

  HostProcess& host() { return host_; }

  // Once `count` calls got the plugin's answer (or kCallDeadline passed).
  void WaitForAnswers(int count) {
    const auto until = std::chrono::steady_clock::now() + kCallDeadline;
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard lock(outcomes_.mu);
        if (outcomes_.answered >= count) return;
      }
      std::this_thread::sleep_for(1ms);
    }
  }

  // Stops the plugin; the callers stop calling once it has answered. Its
  // reply may be lost: the process ends right after (and with many calls
  // in flight may cancel it), and domiand does not wait for it either.
  void Stop() {
    grpc::ClientContext context;
    context.set_deadline(In(kCallDeadline));
    v1::PluginEmpty none;
    host_.stub().Stop(&context, v1::PluginEmpty(), &none);
    done_ = true;
  }

  // After Stop: the process exited cleanly and no call got a wrong answer.
  void ExpectCleanEnd() {
    done_ = true;
    for (std::thread& caller : callers_) caller.join();
    callers_.clear();
    ASSERT_EQ(host_.WaitForExit(), "exited with status 0") << host_.Log();
    std::lock_guard lock(outcomes_.mu);
    EXPECT_TRUE(outcomes_.wrong.empty()) << outcomes_.wrong.size()
                                         << " calls answered wrongly, first: "
                                         << outcomes_.wrong.front();
  }

 private:
  HostProcess host_;
  std::atomic<bool> done_ = false;
  Outcomes outcomes_;
  std::vector<std::thread> callers_;
};

// Stops every host at once.
void StopAll(std::vector<std::unique_ptr<CalledHost>>& hosts) {
  std::vector<std::thread> stoppers;
  for (auto& called : hosts) stoppers.emplace_back([&called] { called->Stop(); });
  for (std::thread& stopper : stoppers) stopper.join();
}

// A health check holds the instance for slow-health's kCheckMilliseconds
// (30 ms) while Stop arrives; when the check ends, the stop proceeds at
// once while the check's call still has a few steps to take. Freeing the
// instance there was common enough that with code doing so most runs of
// this test fail in their first round: 30 stops make a run fail almost
// surely. Three hosts at a time, to take less time.
TEST(PluginHostProcess, AStopDuringAHealthCheckFreesNothingTheCheckStillUses) {
  constexpr int kRounds = 10;
  constexpr int kHostsAtOnce = 3;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::unique_ptr<CalledHost>> hosts;
    for (int i = 0; i < kHostsAtOnce; ++i) {
      hosts.push_back(std::make_unique<CalledHost>("slow-health"));
      ASSERT_EQ(hosts.back()->Start(), "");
    }
    for (auto& called : hosts) called->CheckHealth(1, 1);
    std::this_thread::sleep_for(10ms);  // the checks are under way
    StopAll(hosts);
    for (size_t i = 0; i < hosts.size(); ++i) {
      SCOPED_TRACE("host " + std::to_string(i));
      hosts[i]->ExpectCleanEnd();
      if (HasFatalFailure()) return;
    }
  }
}

// Calls of every kind keep coming while Stop arrives: each one is
// answered by the plugin or refused as unavailable, never run on a
// stopped or destroyed instance, and the process still exits cleanly.
// Several hosts at once, so the machine is busy and calls are preempted
// in the middle.
TEST(PluginHostProcess, CallsRacingAStopGetTheirAnswerOrUnavailable) {
  constexpr int kRounds = 3;
  constexpr int kHostsAtOnce = 4;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::unique_ptr<CalledHost>> hosts;
    for (int i = 0; i < kHostsAtOnce; ++i) {
      hosts.push_back(std::make_unique<CalledHost>("echo-c"));
      ASSERT_EQ(hosts.back()->Start(), "");
      hosts.back()->KeepInvoking(24);
      hosts.back()->KeepSaving(4);
      hosts.back()->CheckHealth(4);
    }
    for (auto& called : hosts) called->WaitForAnswers(30);
    StopAll(hosts);
    for (size_t i = 0; i < hosts.size(); ++i) {
      SCOPED_TRACE("host " + std::to_string(i));
      hosts[i]->ExpectCleanEnd();
      if (HasFatalFailure()) return;
    }
  }
}

// domiand cannot parse a reply whose strings are not UTF-8 (proto3), so a
// plugin's Latin-1 endpoint would make every health check fail and the
// host be killed as unresponsive. The text is repaired instead.
TEST(PluginHostProcess, TextThatIsNotUtf8ReachesDomiandRepaired) {
  CalledHost called("echo-c");
  ASSERT_EQ(called.Start(R"({"latin1_endpoint": true})"), "");
  {
    grpc::ClientContext context;
    context.set_deadline(In(kCallDeadline));
    v1::PluginInvokeRequest request;
    request.set_command("publish");
    request.set_args_json("{}");
    v1::PluginResult result;
    ASSERT_TRUE(called.host().stub().Invoke(&context, request, &result).ok());
    ASSERT_EQ(result.status(), DOMIAN_OK) << result.output();
  }
  grpc::ClientContext context;
  context.set_deadline(In(kCallDeadline));
  v1::PluginHealth health;
  const grpc::Status status = called.host().stub().Health(&context, v1::PluginEmpty(), &health);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(health.endpoints().at("http"), "caf\uFFFD:8080");
  called.Stop();
  called.ExpectCleanEnd();
}

// ---- one-shot modes: --validate-config and --make-safe (ABI 1.1) ----

// One run of domian-plugin-host with `input` on its stdin.
struct OneShot {
  int exit_code = -1;  // -1: killed by a signal, or did not end in time
  std::string out;
  std::string err;
};

std::string Slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

OneShot RunOnce(const std::vector<std::string>& args, const std::string& input) {
  TempFolder folder("domian-plugin-host-once");
  const auto in = folder.path() / "in";
  const auto out = folder.path() / "out";
  const auto err = folder.path() / "err";
  std::ofstream(in, std::ios::binary) << input;
  bp::child child(kHostBinary.string(), bp::args(args), bp::std_in < in.string(),
                  bp::std_out > out.string(), bp::std_err > err.string());
  OneShot run;
  const auto until = std::chrono::steady_clock::now() + kExitDeadline;
  while (child.running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  const bool ended = !child.running();
  if (!ended) ::kill(child.id(), SIGKILL);
  child.wait();
  const int status = child.native_exit_code();
  if (ended && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  run.out = Slurp(out);
  run.err = Slurp(err);
  return run;
}

std::string TestPlugin(const std::string& name) { return (kTestPlugins / (name + ".so")).string(); }

OneShot Validate(const std::string& plugin, const std::string& config) {
  return RunOnce({"--validate-config", "--plugin", TestPlugin(plugin)}, config);
}

TEST(PluginHostOnce, ValidateConfigSaysValidInvalidOrNotChecked) {
  const OneShot valid = Validate("safety-probe", R"({"level":3,"mode":"eco"})");
  EXPECT_EQ(valid.exit_code, 0) << valid.err;
  EXPECT_EQ(valid.out, "");

  const OneShot invalid =
      Validate("safety-probe", R"({"level":11,"colour":"red","sensors":[{"id":""}]})");
  EXPECT_EQ(invalid.exit_code, 1) << invalid.err;
  EXPECT_EQ(invalid.out,
            "colour: unknown setting\n"
            "level: must be a whole number from 0 to 10, not 11\n"
            "mode: required with level\n"
            "sensors.0.id: must be a non-empty text\n");

  const OneShot unchecked = Validate("echo-c", "{}");
  EXPECT_EQ(unchecked.exit_code, 3) << unchecked.err;
  EXPECT_EQ(unchecked.out, "not checked by its plugin (it offers no configuration check)\n");
}

TEST(PluginHostOnce, ValidateConfigRefusesWhatIsNotAConfiguration) {
  const OneShot list = Validate("safety-probe", "[1, 2]");
  EXPECT_EQ(list.exit_code, 2);
  EXPECT_EQ(list.out, "");
  EXPECT_NE(list.err.find("the configuration on stdin is not a JSON object"), std::string::npos)
      << list.err;

  // Over the cap: refused before the plugin is even loaded.
  const std::string big = "{\"mode\":\"" + std::string(size_t{1} << 20, 'x') + "\"}";
  const OneShot huge = Validate("safety-probe", big);
  EXPECT_EQ(huge.exit_code, 2);
  EXPECT_NE(huge.err.find("larger than 1048576 bytes"), std::string::npos) << huge.err;

  const OneShot missing = Validate("no-such-plugin", "{}");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no-such-plugin.so"), std::string::npos) << missing.err;
}

TEST(PluginHostOnce, APluginThatCrashesInItsCheckIsReportedAsSuch) {
  const OneShot crashed = Validate("safety-probe", R"({"crash_in":"validate"})");
  EXPECT_EQ(crashed.exit_code, 2);
  EXPECT_EQ(crashed.out, "");
  EXPECT_NE(crashed.err.find(TestPlugin("safety-probe") +
                             ": the plugin crashed (signal 6, SIGABRT, aborted) while checking "
                             "the configuration"),
            std::string::npos)
      << crashed.err;
}

OneShot MakeSafe(const std::string& plugin, const std::filesystem::path& state_dir,
                 const std::string& config, const std::string& service = "") {
  return RunOnce({"--make-safe", "--plugin", TestPlugin(plugin), "--service",
                  service.empty() ? plugin : service, "--state-dir", state_dir.string()},
                 config);
}

TEST(PluginHostOnce, MakeSafeRunsTheSafeStateOrSaysWhyNot) {
  TempFolder state("domian-safe");
  const OneShot safe = MakeSafe("safety-probe", state.path(), R"({"level":1})");
  EXPECT_EQ(safe.exit_code, 0) << safe.err;
  EXPECT_EQ(Slurp(state.path() / "safe-marker"), R"({"level":1})");
  EXPECT_NE(safe.err.find("[safety-probe] safe-probe: safe"), std::string::npos) << safe.err;

  const OneShot failed = MakeSafe("safety-probe", state.path(), R"({"fail_safe":true})");
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.err.find("safety-probe: make_safe failed: the relay did not answer"),
            std::string::npos)
      << failed.err;

  const OneShot none = MakeSafe("echo-c", state.path(), "{}");
  EXPECT_EQ(none.exit_code, 3) << none.err;
  EXPECT_NE(none.err.find("echo-c: the plugin has no safe state"), std::string::npos) << none.err;

  const OneShot crashed = MakeSafe("safety-probe", state.path(), R"({"crash_in":"make_safe"})");
  EXPECT_EQ(crashed.exit_code, 2);
  EXPECT_NE(crashed.err.find("the plugin crashed (signal 6, SIGABRT, aborted) while making the "
                             "hardware safe"),
            std::string::npos)
      << crashed.err;

  // The plugin must be the service's own.
  const OneShot other = MakeSafe("safety-probe", state.path(), "{}", "thermostat");
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("is the plugin of service safety-probe, not of thermostat"),
            std::string::npos)
      << other.err;

  const OneShot usage =
      RunOnce({"--make-safe", "--plugin", TestPlugin("safety-probe"), "--service", "x"}, "{}");
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("'--state-dir' is required"), std::string::npos) << usage.err;
}

// ---- liveness through the Health RPC ----

v1::PluginHealth HealthOf(CalledHost& called) {
  grpc::ClientContext context;
  context.set_deadline(In(kCallDeadline));
  v1::PluginHealth health;
  const grpc::Status status = called.host().stub().Health(&context, v1::PluginEmpty(), &health);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return health;
}

// A plugin whose loop stops calling alive is seen from domiand as late,
// though the process (and its health check) still answers.
TEST(PluginHostProcess, AMissedLivenessDeadlineShowsInHealth) {
  constexpr auto kDeadline = 300ms;
  CalledHost called("safety-probe");
  ASSERT_EQ(called.Start(R"({"liveness_ms":300})"), "");
  v1::PluginHealth health = HealthOf(called);
  EXPECT_EQ(health.liveness_deadline_ms(), 300u);
  // When to look again, if not missed yet: within the deadline.
  if (health.liveness_missed_ms() == 0) {
    EXPECT_LE(health.liveness_left_ms(), 300u);
  }
  // Nothing calls alive: late within a few deadlines, whatever the load.
  const auto until = std::chrono::steady_clock::now() + kCallDeadline;
  while (health.liveness_missed_ms() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(kDeadline);
    health = HealthOf(called);
  }
  EXPECT_GT(health.liveness_missed_ms(), 0u);
  EXPECT_EQ(health.status(), DOMIAN_OK);  // the health check alone would not tell
  called.Stop();
  called.ExpectCleanEnd();
}

TEST(PluginHostProcess, AServiceWithoutALivenessDeadlineIsNeverLate) {
  CalledHost called("echo-c");
  ASSERT_EQ(called.Start(), "");
  std::this_thread::sleep_for(200ms);
  const v1::PluginHealth health = HealthOf(called);
  EXPECT_EQ(health.liveness_deadline_ms(), 0u);
  EXPECT_EQ(health.liveness_missed_ms(), 0u);
  called.Stop();
  called.ExpectCleanEnd();
}

// Entities (domian.entities/1): the description and the states are pushed
// on WatchEntities as they happen.
class EntityWatch {
 public:
  explicit EntityWatch(v1::PluginHostProcess::Stub& stub) {
    context_.set_deadline(In(kServingDeadline));
    reader_ = stub.WatchEntities(&context_, v1::PluginEmpty());
  }
  // The next update; false when the stream ended.
  bool Next(v1::PluginEntityUpdate& update) { return reader_->Read(&update); }
  grpc::Status Finish() { return reader_->Finish(); }
  void Cancel() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::PluginEntityUpdate>> reader_;
};

// `entities_wanted`: as domiand asks when node.yaml has mqtt:.
v1::PluginResult StartPlugin(HostProcess& host, const std::string& config_json = "{}",
                             bool entities_wanted = true) {
  grpc::ClientContext context;
  context.set_deadline(In(kCallDeadline));
  v1::PluginStartRequest request;
  request.set_config_json(config_json);
  request.set_entities_wanted(entities_wanted);
  v1::PluginResult started;
  const grpc::Status status = host.stub().Start(&context, request, &started);
  EXPECT_TRUE(status.ok()) << status.error_message() << "\n" << host.Log();
  EXPECT_EQ(started.status(), DOMIAN_OK) << started.output();
  return started;
}

std::string Invoke(HostProcess& host, const std::string& command, const std::string& args) {
  grpc::ClientContext context;
  context.set_deadline(In(kCallDeadline));
  v1::PluginInvokeRequest request;
  request.set_command(command);
  request.set_args_json(args);
  v1::PluginResult result;
  const grpc::Status status = host.stub().Invoke(&context, request, &result);
  if (!status.ok()) return "(rpc failed: " + status.error_message() + ")";
  return result.output();
}

TEST(PluginHostProcess, EntitiesArePushedAsTheyChangeAndTheWatchEndsAtStop) {
  HostProcess host("entity-probe");
  ASSERT_TRUE(host.serving()) << host.Log();
  const v1::PluginResult started = StartPlugin(host);
  EXPECT_TRUE(started.has_entities());
  // Before anyone watches: only the latest value of a state is kept.
  ASSERT_EQ(Invoke(host, "set", R"({"value":"OFF"})"), R"({"status":0})");
  ASSERT_EQ(Invoke(host, "set", R"({"value":"ON"})"), R"({"status":0})");

  EntityWatch watch(host.stub());
  v1::PluginEntityUpdate update;
  ASSERT_TRUE(watch.Next(update)) << host.Log();
  ASSERT_TRUE(update.has_description());
  EXPECT_NE(update.description().find(R"("id":"lamp")"), std::string::npos)
      << update.description();
  ASSERT_EQ(update.states_size(), 1);
  EXPECT_EQ(update.states(0).entity(), "lamp");
  EXPECT_EQ(update.states(0).state(), "state");
  EXPECT_EQ(update.states(0).data(), "ON");

  // A command's state arrives by itself, and only it.
  ASSERT_EQ(Invoke(host, "set", R"({"value":"OFF"})"), R"({"status":0})");
  update.Clear();
  ASSERT_TRUE(watch.Next(update));
  EXPECT_FALSE(update.has_description());
  ASSERT_EQ(update.states_size(), 1);
  EXPECT_EQ(update.states(0).data(), "OFF");

  // Another state: only it.
  ASSERT_EQ(Invoke(host, "publish",
                   R"({"entity":"cam","state":"image","bytes":3})"),
            R"({"status":0})");
  update.Clear();
  ASSERT_TRUE(watch.Next(update));
  ASSERT_EQ(update.states_size(), 1);
  EXPECT_EQ(update.states(0).data(), "xxx");

  // changed, from inside an invoke: described again, on the host's thread.
  ASSERT_EQ(Invoke(host, "add", R"({"entity":"hall"})"), "{}");
  update.Clear();
  ASSERT_TRUE(watch.Next(update));
  ASSERT_TRUE(update.has_description());
  EXPECT_NE(update.description().find(R"("id":"hall")"), std::string::npos);
  EXPECT_EQ(Invoke(host, "describes", "{}"), R"({"count":2,"during_invoke":0})");

  // Stop ends the watch at once, cleanly.
  const auto before_stop = std::chrono::steady_clock::now();
  std::thread stopper([&host] {
    grpc::ClientContext context;
    context.set_deadline(In(kCallDeadline));
    v1::PluginEmpty none;
    host.stub().Stop(&context, v1::PluginEmpty(), &none);
  });
  update.Clear();
  EXPECT_FALSE(watch.Next(update));
  EXPECT_LT(std::chrono::steady_clock::now() - before_stop, kCallDeadline);
  EXPECT_TRUE(watch.Finish().ok());
  stopper.join();
  EXPECT_EQ(host.WaitForExit(), "exited with status 0") << host.Log();
}

TEST(PluginHostProcess, ANewWatchStartsOverAndACancelledOneEnds) {
  HostProcess host("entity-probe");
  ASSERT_TRUE(host.serving()) << host.Log();
  StartPlugin(host);
  ASSERT_EQ(Invoke(host, "set", R"({"value":"ON"})"), R"({"status":0})");
  EntityWatch first(host.stub());
  v1::PluginEntityUpdate update;
  ASSERT_TRUE(first.Next(update));
  EXPECT_EQ(update.states_size(), 1);

  // A second watch gets everything again; the first one ends.
  EntityWatch second(host.stub());
  update.Clear();
  ASSERT_TRUE(second.Next(update));
  EXPECT_TRUE(update.has_description());
  ASSERT_EQ(update.states_size(), 1);
  EXPECT_EQ(update.states(0).data(), "ON");
  update.Clear();
  EXPECT_FALSE(first.Next(update));
  EXPECT_TRUE(first.Finish().ok());

  // domiand cancels: the host lets it go and still answers.
  second.Cancel();
  update.Clear();
  EXPECT_FALSE(second.Next(update));
  EXPECT_EQ(Invoke(host, "set", R"({"value":"OFF"})"), R"({"status":0})");
}

TEST(PluginHostProcess, WithoutEntitiesWantedThePluginIsNotOfferedThem) {
  HostProcess host("entity-probe");
  ASSERT_TRUE(host.serving()) << host.Log();
  const v1::PluginResult started = StartPlugin(host, "{}", /*entities_wanted=*/false);
  ASSERT_EQ(started.status(), DOMIAN_OK) << started.output();
  EXPECT_FALSE(started.has_entities());
  // The plugin's publish finds no extension to publish through.
  EXPECT_NE(Invoke(host, "set", R"({"value":"ON"})"), R"({"status":0})");
  EntityWatch watch(host.stub());
  v1::PluginEntityUpdate update;
  EXPECT_FALSE(watch.Next(update));
}

TEST(PluginHostProcess, APluginWithoutEntitiesHasNoWatch) {
  HostProcess host("counter-cpp");
  ASSERT_TRUE(host.serving()) << host.Log();
  const v1::PluginResult started = StartPlugin(host);
  EXPECT_FALSE(started.has_entities());
  EntityWatch watch(host.stub());
  v1::PluginEntityUpdate update;
  EXPECT_FALSE(watch.Next(update)) << "the stream just ends";
  EXPECT_TRUE(watch.Finish().ok());
}

}  // namespace
}  // namespace domian::plugin_host
