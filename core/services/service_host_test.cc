// ServiceHost with services inline (in this process), from the test
// plugins in tests/plugins, on a FakeClock.
#include "core/services/service_host.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/services/saved_state.h"
#include "core/services/testing/temp_folder.h"

namespace domian::services {
namespace {

using std::chrono::milliseconds;
using testing::TempFolder;

const std::filesystem::path kPlugins = DOMIAN_TEST_PLUGIN_DIR;

// Long enough for what is due to happen, even on a loaded machine; never
// waited for in a passing test.
constexpr milliseconds kDue{10000};
constexpr milliseconds kPollPause{10};

template <typename Condition>
bool Within(milliseconds timeout, Condition condition) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(kPollPause);
  }
  return true;
}

class ServiceHostTest : public ::testing::Test {
 protected:
  ServiceHostTest()
      : host_({.dirs = {kPlugins},
               .services = {{.name = "echo-c", .isolation = config::Isolation::kInline},
                            {.name = "counter-cpp", .isolation = config::Isolation::kInline},
                            {.name = "safety-probe", .isolation = config::Isolation::kInline}},
               .state_dir = state_.path(),
               // Safe states run in real plugin hosts.
               .host_binary = DOMIAN_PLUGIN_HOST_BUILT},
              nullptr, clock_) {
    host_.Start();
  }
  ~ServiceHostTest() override { host_.Stop(); }

  // The service's row, or one with state kUnknown when it has none.
  ServiceStatus Row(const std::string& name) const {
    for (const ServiceStatus& status : host_.Services()) {
      if (status.name == name) return status;
    }
    return {.name = name, .state = ServiceState::kUnknown};
  }

  FakeClock clock_;
  TempFolder state_{"domian-service-host"};
  ServiceHost host_;
};

TEST_F(ServiceHostTest, AnInlineServiceAnswersAndKeepsItsStateWhenStopped) {
  host_.StartService("echo-c", "{}", 7, std::nullopt);
  const ServiceStatus row = Row("echo-c");
  EXPECT_EQ(row.state, ServiceState::kRunning);
  EXPECT_EQ(row.epoch, 7u);
  EXPECT_EQ(host_.LastEpoch("echo-c"), 7u);

  const absl::StatusOr<std::string> reply = host_.Invoke("echo-c", "echo", R"({"x":1})");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, R"({"x":1})");
  const absl::StatusOr<std::string> failed = host_.Invoke("echo-c", "fail", "{}");
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(failed.status().message(), "failing as asked");

  EXPECT_EQ(host_.StopService("echo-c"), "v1:2");
  EXPECT_EQ(Row("echo-c").state, ServiceState::kUnknown);
  EXPECT_EQ(host_.Invoke("echo-c", "echo", "{}").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceHostTest, TheRunningJournalNamesARunningServiceUntilItStopped) {
  const std::filesystem::path dir = state_.path() / "services" / "echo-c";
  host_.StartService("echo-c", R"({"greeting":"hi"})", 1, std::nullopt);
  ASSERT_EQ(Row("echo-c").state, ServiceState::kRunning);
  std::vector<std::string> problems;
  std::vector<RunningEntry> journal = ReadRunningJournal(state_.path() / "services", problems);
  ASSERT_EQ(journal.size(), 1U);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(journal[0].service, "echo-c");
  EXPECT_EQ(journal[0].plugin, kPlugins / "echo-c.so");
  EXPECT_EQ(journal[0].config, R"({"greeting":"hi"})");

  host_.StopService("echo-c");  // echo-c has no safe state: nothing more to run
  EXPECT_TRUE(ReadRunningJournal(state_.path() / "services", problems).empty())
      << "a clean stop leaves nothing for the next start to make safe";
  EXPECT_FALSE(std::filesystem::exists(dir / kRunningJournalFile));
}

TEST_F(ServiceHostTest, AServiceThatDoesNotRunHereIsNotFound) {
  const absl::StatusOr<std::string> reply = host_.Invoke("counter-cpp", "inc", "{}");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reply.status().message(), "service counter-cpp does not run on this node");
}

TEST_F(ServiceHostTest, AServiceWithoutAPluginFails) {
  host_.StartService("no-such-plugin", "{}", 1, std::nullopt);
  const ServiceStatus row = Row("no-such-plugin");
  EXPECT_EQ(row.state, ServiceState::kFailed);
  EXPECT_EQ(row.detail, "no plugin no-such-plugin.so in the plugin folders");
  EXPECT_EQ(host_.Invoke("no-such-plugin", "go", "{}").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ServiceHostTest, InlineHealthIsCheckedOnTheInjectedClock) {
  // counter-cpp reports itself unhealthy with a negative value.
  host_.StartService("counter-cpp", "{}", 1, "-5");
  ASSERT_EQ(Row("counter-cpp").state, ServiceState::kRunning);
  // A health interval and more of real time, none on the clock: no check.
  EXPECT_FALSE(Within(kHealthInterval + milliseconds(500),
                      [&] { return !Row("counter-cpp").detail.empty(); }));
  clock_.Advance(kHealthInterval);
  EXPECT_TRUE(Within(kDue, [&] { return Row("counter-cpp").detail == "negative"; }));
}

// A plugin that checks its configuration (ABI 1.1) says what is wrong
// with it, every problem, where `domianctl services` shows it.
TEST_F(ServiceHostTest, AnInvalidConfigurationFailsWithThePluginsProblems) {
  host_.StartService("safety-probe", R"({"level":12,"mode":"eco"})", 1, std::nullopt);
  const ServiceStatus row = Row("safety-probe");
  EXPECT_EQ(row.state, ServiceState::kFailed);
  EXPECT_EQ(row.detail,
            "safety-probe: invalid configuration: level: must be a whole number from 0 to 10, "
            "not 12; hardware set safe");
  // It never ran here: its safe state ran with the configuration refused.
  std::ifstream marker(state_.path() / "services" / "safety-probe" / "safe-marker");
  std::string config;
  std::getline(marker, config);
  EXPECT_EQ(config, R"({"level":12,"mode":"eco"})");
}

// Inline, a hung loop cannot be killed: the service is given up and its
// hardware made safe from a fresh plugin host.
TEST_F(ServiceHostTest, AnInlineServiceThatMissesItsLivenessDeadlineFailsSafe) {
  host_.StartService("safety-probe", R"({"liveness_ms":500})", 1, std::nullopt);
  ASSERT_EQ(Row("safety-probe").state, ServiceState::kRunning) << Row("safety-probe").detail;
  clock_.Advance(kHealthInterval);  // no alive for 1 s: missed, seen at the health check
  EXPECT_TRUE(Within(kDue, [&] { return Row("safety-probe").state == ServiceState::kFailed; }));
  const std::string detail = Row("safety-probe").detail;
  EXPECT_NE(detail.find("missed its liveness deadline of 500 ms"), std::string::npos) << detail;
  EXPECT_NE(detail.find("hardware set safe"), std::string::npos) << detail;
  EXPECT_TRUE(std::filesystem::exists(state_.path() / "services" / "safety-probe" / "safe-marker"));
  EXPECT_EQ(host_.Invoke("safety-probe", "alive", "{}").status().code(),
            absl::StatusCode::kNotFound)
      << "the hung instance answers nothing any more";
}

// A hang is found when its deadline passes, not at the next whole health
// interval: after a check that finds the loop in time, the next look is
// due when its deadline would pass. (The watcher reads this test's clock
// at least every kClockRecheck of real time: each step waits for that.)
TEST_F(ServiceHostTest, AnInlineHangIsFoundAtItsDeadlineNotAHealthIntervalLater) {
  const auto watcher_looks = [] { std::this_thread::sleep_for(3 * kClockRecheck); };
  host_.StartService("safety-probe", R"({"liveness_ms":500})", 1, std::nullopt);
  ASSERT_EQ(Row("safety-probe").state, ServiceState::kRunning) << Row("safety-probe").detail;
  clock_.Advance(milliseconds(900));
  ASSERT_TRUE(host_.Invoke("safety-probe", "alive", "{}").ok());  // in time
  clock_.Advance(milliseconds(100));  // the first health check: 400 ms left
  watcher_looks();
  ASSERT_EQ(Row("safety-probe").state, ServiceState::kRunning) << Row("safety-probe").detail;
  // 450 ms on: past the deadline, half a health interval before the next.
  clock_.Advance(milliseconds(450));
  EXPECT_TRUE(Within(kDue, [&] { return Row("safety-probe").state == ServiceState::kFailed; }))
      << "the hang waited for the next health interval";
  EXPECT_NE(Row("safety-probe").detail.find("missed its liveness deadline of 500 ms"),
            std::string::npos)
      << Row("safety-probe").detail;
}

// The supervisor's question "armed and missed?", inline: asked of the
// instance on the host's clock.
TEST_F(ServiceHostTest, AnInlineServicesLivenessIsInItsRow) {
  host_.StartService("safety-probe", R"({"liveness_ms":500})", 1, std::nullopt);
  ASSERT_EQ(Row("safety-probe").state, ServiceState::kRunning) << Row("safety-probe").detail;
  EXPECT_EQ(Row("safety-probe").liveness.deadline, milliseconds(500));
  EXPECT_FALSE(Row("safety-probe").liveness.missed());
  clock_.Advance(milliseconds(501));
  EXPECT_TRUE(Row("safety-probe").liveness.missed());
  ASSERT_TRUE(host_.Invoke("safety-probe", "alive", "{}").ok());
  EXPECT_FALSE(Row("safety-probe").liveness.missed());
  // A service without a deadline is never late.
  host_.StartService("echo-c", "{}", 1, std::nullopt);
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(Row("echo-c").liveness.deadline, milliseconds(0));
  EXPECT_FALSE(Row("echo-c").liveness.missed());
}

// ---- state kept while the service runs (ABI 1.1 domian.host.state/1) ----

// counter-cpp's `inc` asks that its change be kept before the reply
// (save_now); `mark` only marks the state changed (mark_dirty).
std::optional<std::string> StateOf(const std::filesystem::path& state_dir,
                                   const std::string& service) {
  return ReadServiceState(state_dir / "services" / service);
}

TEST_F(ServiceHostTest, AChangeTheCallerIsToldOfIsStoredBeforeTheReply) {
  host_.StartService("counter-cpp", "{}", 1, std::nullopt);
  ASSERT_EQ(Row("counter-cpp").state, ServiceState::kRunning) << Row("counter-cpp").detail;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(host_.Invoke("counter-cpp", "inc", "{}").value_or(""),
              "{\"value\":" + std::to_string(i) + "}");
    // No stop, no clock moved: the reply came after the store.
    EXPECT_EQ(StateOf(state_.path(), "counter-cpp"), std::to_string(i));
  }
}

TEST_F(ServiceHostTest, AMarkedChangeIsSavedSoonAndAtMostOncePerInterval) {
  host_.StartService("counter-cpp", "{}", 1, std::nullopt);
  ASSERT_EQ(Row("counter-cpp").state, ServiceState::kRunning) << Row("counter-cpp").detail;
  ASSERT_TRUE(host_.Invoke("counter-cpp", "mark", "{}").ok());
  EXPECT_EQ(StateOf(state_.path(), "counter-cpp"), std::nullopt) << "saved before it was due";
  // The next look (a health interval at most) saves it.
  clock_.Advance(kHealthInterval);
  EXPECT_TRUE(Within(kDue, [&] { return StateOf(state_.path(), "counter-cpp") == "1"; }));
  // Marked again at once: not saved again within kDefaultMinWriteInterval
  // of the last save...
  ASSERT_TRUE(host_.Invoke("counter-cpp", "mark", "{}").ok());
  std::this_thread::sleep_for(3 * kClockRecheck);  // the watcher looks, on this clock
  EXPECT_EQ(StateOf(state_.path(), "counter-cpp"), "1");
  // ...but once it has passed.
  clock_.Advance(kDefaultMinWriteInterval);
  EXPECT_TRUE(Within(kDue, [&] { return StateOf(state_.path(), "counter-cpp") == "2"; }));
}

// A later change made elsewhere (a healed partition) replaces the state:
// the service restarts from it, and what it held is not saved over it.
TEST(ServiceHostReplace, ALaterStateFromElsewhereRestartsItWithoutSavingItsOwn) {
  TempFolder state("domian-service-host-replace");
  FakeClock clock;  // marked changes are saved only when it moves
  absl::Mutex mu;
  std::vector<std::string> stored;  // every state handed on, in order
  ServiceHost host({.dirs = {kPlugins},
                    .services = {{.name = "echo-c", .isolation = config::Isolation::kInline},
                                 {.name = "counter-cpp", .isolation = config::Isolation::kInline}},
                    .state_dir = state.path(),
                    .host_binary = DOMIAN_PLUGIN_HOST_BUILT,
                    .on_state_stored =
                        [&](const std::string& service, uint64_t, const std::string& bytes, bool) {
                          absl::MutexLock lock(&mu);
                          if (service == "counter-cpp") stored.push_back(bytes);
                          return absl::OkStatus();
                        }},
                   nullptr, clock);
  host.Start();
  host.StartService("counter-cpp", "{}", 4, std::nullopt);
  host.StartService("echo-c", "{}", 1, std::nullopt);
  ASSERT_EQ(host.Invoke("counter-cpp", "inc", "{}").value_or(""), "{\"value\":1}");
  ASSERT_TRUE(host.Invoke("counter-cpp", "mark", "{}").ok());  // 2, not saved yet
  const auto stored_now = [&] {
    absl::MutexLock lock(&mu);
    return stored;
  };
  ASSERT_EQ(stored_now(), std::vector<std::string>{"1"});

  // Another run's replacement is left alone. The replacer takes services
  // in name order: once echo-c's is made, counter-cpp's was looked at.
  std::atomic<bool> asked_wrong_run{false}, fence{false};
  host.ReplaceState("counter-cpp", 3, "50",
                    {.still_wanted = [&] { return asked_wrong_run = true; }});
  host.ReplaceState("echo-c", 1, "v1:9", {.done = [&] { fence = true; }});
  ASSERT_TRUE(Within(kDue, [&] { return fence.load(); }));
  EXPECT_FALSE(asked_wrong_run);
  EXPECT_EQ(host.Invoke("counter-cpp", "get", "{}").value_or(""), "{\"value\":2}");

  // One its owner calls off (the instance changed since) is not made.
  fence = false;
  std::atomic<bool> made{false};
  host.ReplaceState("counter-cpp", 4, "60",
                    {.still_wanted = [] { return false; }, .done = [&] { made = true; }});
  host.ReplaceState("echo-c", 1, "v1:9", {.done = [&] { fence = true; }});
  ASSERT_TRUE(Within(kDue, [&] { return fence.load(); }));
  EXPECT_FALSE(made);
  EXPECT_EQ(host.Invoke("counter-cpp", "get", "{}").value_or(""), "{\"value\":2}");

  host.ReplaceState("counter-cpp", 4, "10", {.done = [&] { made = true; }});
  ASSERT_TRUE(Within(kDue, [&] { return made.load(); }));
  EXPECT_EQ(host.Invoke("counter-cpp", "get", "{}").value_or(""), "{\"value\":10}");
  EXPECT_EQ(StateOf(state.path(), "counter-cpp"), "10");
  EXPECT_EQ(stored_now(), std::vector<std::string>{"1"}) << "the unsaved 2 was not saved over it";
  for (const ServiceStatus& row : host.Services()) {
    if (row.name == "counter-cpp") {
      EXPECT_EQ(row.epoch, 4u);
    }
  }
  ASSERT_EQ(host.Invoke("counter-cpp", "inc", "{}").value_or(""), "{\"value\":11}");
  EXPECT_EQ(StateOf(state.path(), "counter-cpp"), "11");
  host.Stop();
}

// The same two paths in a plugin host process: stored while it runs, so
// a killed host loses nothing acknowledged (tests/failsafe_test and
// tests/thermostat_test kill one).
TEST(ServiceHostIsolatedState, ChangesAreStoredWhileItRuns) {
  TempFolder state("domian-service-host-isolated");
  ServiceHost host({.dirs = {kPlugins},
                    .services = {{.name = "counter-cpp", .isolation = config::Isolation::kProcess}},
                    .state_dir = state.path(),
                    .host_binary = DOMIAN_PLUGIN_HOST_BUILT},
                   nullptr);
  host.Start();
  host.StartService("counter-cpp", "{}", 1, std::nullopt);
  const auto running = [&] {
    for (const ServiceStatus& row : host.Services()) {
      if (row.name == "counter-cpp") return row.state == ServiceState::kRunning;
    }
    return false;
  };
  ASSERT_TRUE(Within(kDue, running));
  for (int i = 1; i <= 2; ++i) {
    ASSERT_EQ(host.Invoke("counter-cpp", "inc", "{}").value_or(""),
              "{\"value\":" + std::to_string(i) + "}");
    EXPECT_EQ(StateOf(state.path(), "counter-cpp"), std::to_string(i));
  }
  ASSERT_TRUE(host.Invoke("counter-cpp", "mark", "{}").ok());
  // Saved within a health interval or two of the real clock.
  EXPECT_TRUE(Within(kDue, [&] { return StateOf(state.path(), "counter-cpp") == "3"; }));

  // Replaced: the plugin host is stopped without a save and a new one
  // starts from the later state.
  host.ReplaceState("counter-cpp", 1, "40");
  EXPECT_TRUE(Within(kDue, [&] {
    return host.Invoke("counter-cpp", "get", "{}").value_or("") == "{\"value\":40}";
  }));
  EXPECT_EQ(StateOf(state.path(), "counter-cpp"), "40");
  host.Stop();
}

// Entities of inline services: described after start and after changed
// (on the host's describer thread, never inside the plugin's call), states
// as published, gone whenever the instance ends, nothing after.
class EntityEvents {
 public:
  EntitySink Sink() {
    return {.described =
                [this](const EntityDescription& description) {
                  Add("described " + description.service + " " + description.plugin + " " +
                      description.plugin_version + " " + description.json);
                },
            .state = [this](const std::string& service, const std::string& entity,
                            const std::string& state,
                            const std::string& data) {
              Add("state " + service + " " + entity + "/" + state + "=" + data);
            },
            .gone = [this](const std::string& service) { Add("gone " + service); }};
  }
  int Count(const std::string& prefix) {
    std::lock_guard lock(mu_);
    int count = 0;
    for (const std::string& event : events_) count += event.starts_with(prefix) ? 1 : 0;
    return count;
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  void Add(std::string event) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
  }
  std::mutex mu_;
  std::vector<std::string> events_;
};

TEST(ServiceHostEntities, InlineServicesAreDescribedPublishedAndGone) {
  TempFolder state("domian-service-host-entities");
  EntityEvents events;
  ServiceHost host({.dirs = {kPlugins},
                    .services = {{.name = "entity-probe", .isolation = config::Isolation::kInline},
                                 {.name = "counter-cpp", .isolation = config::Isolation::kInline}},
                    .state_dir = state.path(),
                    .host_binary = DOMIAN_PLUGIN_HOST_BUILT,
                    .entities = events.Sink()},
                   nullptr);
  host.Start();
  host.StartService("entity-probe", "{}", 3, std::nullopt);
  host.StartService("counter-cpp", "{}", 3, std::nullopt);
  ASSERT_TRUE(Within(kDue, [&] { return events.Count("described ") == 1; }));
  EXPECT_EQ(events.events()[0].find("described entity-probe entity-probe 0.3.0 {\"entities\":"),
            0U)
      << events.events()[0];

  // Inline, a state reaches the sink before the command's reply.
  ASSERT_EQ(host.Invoke("entity-probe", "set", R"({"value":"ON"})").value_or(""),
            R"({"status":0})");
  EXPECT_EQ(events.Count("state entity-probe lamp/state=ON"), 1);

  // changed from inside an invoke: described again, outside it.
  ASSERT_EQ(host.Invoke("entity-probe", "add", R"({"entity":"hall"})").value_or(""), "{}");
  ASSERT_TRUE(Within(kDue, [&] { return events.Count("described ") == 2; }));
  EXPECT_NE(events.events().back().find(R"("id":"hall")"), std::string::npos);
  EXPECT_EQ(host.Invoke("entity-probe", "describes", "{}").value_or(""),
            R"({"count":2,"during_invoke":0})");

  // Restarted in place from a later state: gone, then described again.
  host.ReplaceState("entity-probe", 3, "later");
  ASSERT_TRUE(Within(kDue, [&] { return events.Count("described ") == 3; }));
  EXPECT_EQ(events.Count("gone entity-probe"), 1);

  host.StopService("entity-probe");
  EXPECT_EQ(events.Count("gone entity-probe"), 2);
  const std::vector<std::string> seen = events.events();
  EXPECT_EQ(seen.back(), "gone entity-probe") << "nothing after its end";
  size_t first_gone = seen.size();
  size_t last_described = 0;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] == "gone entity-probe" && first_gone == seen.size()) first_gone = i;
    if (seen[i].starts_with("described ")) last_described = i;
  }
  EXPECT_GT(last_described, first_gone)
      << "the replacement is described after the gone of the instance it replaced";
  host.Stop();
  // counter-cpp has no entities: nothing of it, not even a gone.
  for (const std::string& event : events.events()) {
    EXPECT_EQ(event.find("counter-cpp"), std::string::npos) << event;
  }
}

}  // namespace
}  // namespace domian::services
