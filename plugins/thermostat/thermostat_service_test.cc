// ThermostatService with a fake relay (no kernel in Debian 12 offers a GPIO
// simulator) that can fail like a real output: a failed write is reported
// and retried, and every way the service ends leaves the relay off. Also:
// sensors that are wrong (an outlier, a phantom, a glitch), the stuck-cold
// alarm on a clock the test moves on, liveness, and the safe state.
#include "plugins/testing/entity_description.h"
#include "plugins/thermostat/thermostat_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>
#include <mutex>

#include "plugins/testing/recording_host.h"
#include "tests/support/cluster.h"
#include "tests/support/w1_sysfs.h"

namespace domian::thermostat {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using domian::testing::EntityIn;
using nlohmann::json;

constexpr char kSensor[] = "28-000000000001";

// Records every write; fails while `broken`.
class FakeRelay final : public Relay {
 public:
  struct Log {
    std::mutex mu;
    std::vector<bool> writes;
    std::atomic<bool> broken{false};
    std::optional<bool> Last() {
      std::lock_guard lock(mu);
      return writes.empty() ? std::nullopt : std::optional<bool>(writes.back());
    }
    std::optional<bool> First() {
      std::lock_guard lock(mu);
      return writes.empty() ? std::nullopt : std::optional<bool>(writes.front());
    }
    int Ons() {
      std::lock_guard lock(mu);
      return static_cast<int>(std::count(writes.begin(), writes.end(), true));
    }
  };
  explicit FakeRelay(std::shared_ptr<Log> log) : log_(std::move(log)) {}
  void Set(bool on) override {
    if (log_->broken) throw std::runtime_error("relay board not answering");
    std::lock_guard lock(log_->mu);
    log_->writes.push_back(on);
  }
  std::string Describe() const override { return "fake relay"; }

 private:
  std::shared_ptr<Log> log_;
};

// The plugin's host: keeps its log lines, its events, and what it was told
// about liveness.
struct TestHost : testing::RecordingHost {
  explicit TestHost(std::string state_dir) : RecordingHost(std::move(state_dir), "thermostat") {
    table.emit_event = [](const domian_host* host, const char* name, const char* event) {
      TestHost& self = Of(host);
      std::lock_guard lock(self.mu);
      self.events.emplace_back(name, event);
      return DOMIAN_OK;
    };
    table.get_extension = [](const domian_host* host, const char* id) -> const void* {
      if (std::strcmp(id, DOMIAN_HOST_EXT_LIVENESS) == 0) return &Of(host).liveness;
      return Of(host).Extension(id);
    };
    liveness.struct_size = sizeof liveness;
    liveness.set_deadline = [](const domian_host* host, uint32_t deadline_ms) {
      if (deadline_ms != 0 && (deadline_ms < DOMIAN_LIVENESS_MIN_MS || deadline_ms > DOMIAN_LIVENESS_MAX_MS)) {
        return DOMIAN_ERR_INVALID_ARGUMENT;
      }
      TestHost& self = Of(host);
      std::lock_guard lock(self.mu);
      self.deadlines.push_back(deadline_ms);
      return DOMIAN_OK;
    };
    liveness.alive = [](const domian_host* host) { ++Of(host).alives; };
  }
  static TestHost& Of(const domian_host* host) {
    return *static_cast<TestHost*>(static_cast<RecordingHost*>(host->host_data));
  }
  std::vector<std::pair<std::string, std::string>> Events() {
    std::lock_guard lock(mu);
    return events;
  }
  std::vector<uint32_t> Deadlines() {
    std::lock_guard lock(mu);
    return deadlines;
  }

  domian_host_liveness_ext liveness{};
  std::vector<std::pair<std::string, std::string>> events;
  std::vector<uint32_t> deadlines;
  std::atomic<int> alives{0};
};

// The steady clock, moved on by the test: days pass in a call.
struct FakeClock {
  std::atomic<int64_t> ahead_ns{0};
  SteadyTime Now() const { return SteadyClock::now() + std::chrono::nanoseconds(ahead_ns.load()); }
  void Advance(std::chrono::seconds by) {
    ahead_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(by).count();
  }
};

class ThermostatControl : public ::testing::Test {
 protected:
  // `more` replaces or adds keys.
  std::unique_ptr<ThermostatService> Make(const json& more = json::object()) {
    json config = {{"sysfs_root", sysfs_.root().string()},
                   {"sensors", json::array({kSensor})},
                   {"target_c", 20},
                   {"min_on_s", 0},
                   {"min_off_s", 0},
                   {"control_period_ms", 100},
                   {"read_interval_ms", 50},
                   {"relay", {{"backend", "file"}, {"path", "/nonexistent/unused"}}}};
    config.update(more);
    return std::make_unique<ThermostatService>(sdk::Host(&host_.table), config.dump(),
                                               std::make_unique<FakeRelay>(relay_),
                                               [this] { return clock_.Now(); });
  }

  static json Status(ThermostatService& service) { return json::parse(service.Invoke("status", "{}")); }

  testing::TempDir dir_{"domian-thermostat-service-test"};
  testing::W1Sysfs sysfs_{dir_.path() / "devices"};
  TestHost host_{dir_.path().string()};
  std::shared_ptr<FakeRelay::Log> relay_ = std::make_shared<FakeRelay::Log>();
  FakeClock clock_;
};

TEST_F(ThermostatControl, AFailingRelayIsReportedRetriedAndLeftOffAtStop) {
  sysfs_.Reading(kSensor, 15000);
  auto service = Make();
  service->Start();
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  EXPECT_EQ(relay_->First(), false) << "the first write is OFF, at start";

  relay_->broken = true;
  sysfs_.Reading(kSensor, 25000);  // wants OFF, cannot write it
  ASSERT_TRUE(testing::Eventually([&] { return service->CheckHealth().has_value(); }, 10s));
  EXPECT_THAT(*service->CheckHealth(), HasSubstr("relay board not answering"));
  const json status = json::parse(service->Invoke("status", "{}"));
  EXPECT_EQ(status["relay"]["known"], false);
  EXPECT_THAT(status["relay"]["error"].get<std::string>(), HasSubstr("not answering"));

  relay_->broken = false;  // it answers again: OFF is written then
  EXPECT_TRUE(testing::Eventually([&] { return relay_->Last() == false; }, 10s));
  EXPECT_FALSE(service->CheckHealth().has_value());

  sysfs_.Reading(kSensor, 15000);
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  service->Stop();
  EXPECT_EQ(relay_->Last(), false);
}

TEST_F(ThermostatControl, StopSwitchesTheRelayOffBeforeWaitingForTheBus) {
  sysfs_.Reading(kSensor, 15000);
  auto service = Make();
  service->Start();
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  // The next read hangs (a FIFO answered only after 5 s): the bus is stuck
  // in it for its 3 s timeout.
  sysfs_.Slow(kSensor, testing::W1SlaveText(15000), 5s);
  std::this_thread::sleep_for(300ms);  // the bus is in that read by now
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    service->Stop();
    stopped = true;
  });
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == false; }, 10s));
  const auto off_after = std::chrono::steady_clock::now() - began;
  stopper.join();
  EXPECT_LT(off_after, 1500ms) << "the relay waited for the sensor read";
}

TEST_F(ThermostatControl, AFifoAsTheRelayFileIsAnErrorNotAHang) {
  const auto fifo = dir_.path() / "relay-fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  FileRelay relay(fifo.string());
  const auto began = std::chrono::steady_clock::now();
  try {
    relay.Set(false);
    ADD_FAILURE() << "a FIFO was accepted as a relay file";
  } catch (const std::runtime_error& e) {
    // Refused at open (no reader: ENXIO) or by the file type check.
    EXPECT_THAT(e.what(), HasSubstr(fifo.string()));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
}

TEST_F(ThermostatControl, RefusesBadCommandsAndTakesOnlyValidSavedState) {
  sysfs_.Reading(kSensor, 21000);
  auto service = Make();
  service->LoadState(R"({"format": 1, "target_c": 99, "mode": "boost", "schedule": "x"})");
  service->Start();
  const json status = json::parse(service->Invoke("status", "{}"));
  EXPECT_EQ(status["target_c"], 20) << "a saved target out of range is not taken";
  EXPECT_EQ(status["mode"], "heat");
  EXPECT_THROW(service->Invoke("set_target", R"({"target_c": 4})"), sdk::Error);
  EXPECT_THROW(service->Invoke("set_mode", R"({"mode": "boost"})"), sdk::Error);
  EXPECT_THROW(service->Invoke("set_schedule", R"({"schedule": [{"days": "daily"}]})"), sdk::Error);
  EXPECT_THROW(service->Invoke("defrost", "{}"), sdk::Error);
  EXPECT_THROW(service->LoadState(R"({"format": 2})"), sdk::Error);
  service->Stop();
}

TEST_F(ThermostatControl, HistoryHasASampleAtTheFirstReadingThenOnePerSpacing) {
  sysfs_.Reading(kSensor, 15000);
  auto service = Make();
  service->Start();
  // The first reading shows within a read, not half a minute later.
  json samples;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        samples = json::parse(service->Invoke("history", "{}"))["samples"];
        return samples.size() == 1 && samples[0]["temperature"] == 15.0 && samples[0]["relay"] == true;
      },
      10s))
      << samples.dump();
  EXPECT_EQ(samples[0]["target"], 20);
  const auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  };
  EXPECT_NEAR(samples[0]["t"].get<double>(), static_cast<double>(wall_ms()), 5000);

  // Control steps every 100 ms keep no more until the spacing has passed.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(json::parse(service->Invoke("history", "{}"))["samples"].size(), 1U);
  service->Invoke("set_target", R"({"target_c": 12})");  // warm enough now: relay off
  clock_.Advance(std::chrono::duration_cast<std::chrono::seconds>(kHistorySpacing));
  ASSERT_TRUE(testing::Eventually(
      [&] {
        samples = json::parse(service->Invoke("history", R"({"hours": 1})"))["samples"];
        return samples.size() == 2 && samples[1]["relay"] == false;
      },
      10s))
      << samples.dump();
  EXPECT_EQ(samples[1]["target"], 12);
  EXPECT_GE(samples[1]["t"].get<int64_t>() - samples[0]["t"].get<int64_t>(),
            std::chrono::milliseconds(kHistorySpacing).count());

  // Older than the hours asked for: left out.
  clock_.Advance(std::chrono::seconds(std::chrono::hours(1)));
  ASSERT_TRUE(testing::Eventually(
      [&] { return json::parse(service->Invoke("history", "{}"))["samples"].size() == 3; }, 10s));
  samples = json::parse(service->Invoke("history", R"({"hours": 1})"))["samples"];
  EXPECT_EQ(samples.size(), 1U) << samples.dump();
  service->Stop();
}

TEST_F(ThermostatControl, HistoryTakesOneToTwentyFourWholeHours) {
  sysfs_.Reading(kSensor, 21000);
  auto service = Make();
  service->Start();
  for (const char* args : {R"({"hours": 0})", R"({"hours": 25})", R"({"hours": 1.5})",
                           R"({"hours": "6"})", R"({"hours": 6, "sensor": "x"})", R"({"days": 1})"}) {
    try {
      service->Invoke("history", args);
      ADD_FAILURE() << "history took " << args;
    } catch (const sdk::Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("history takes")) << args;
    }
  }
  EXPECT_NO_THROW(service->Invoke("history", R"({"hours": 24})"));
  service->Stop();
}


// Sensors in the order configured: the bus reads them in that order, so
// the outlier (last) is never the only one read yet.
constexpr char kLiving[] = "28-00000000000a";
constexpr char kKitchen[] = "28-00000000000b";
constexpr char kFallen[] = "28-00000000000c";   // fell out of the window
constexpr char kMistyped[] = "28-0000000000ff";  // not on the bus

const json* SensorIn(const json& status, const std::string& id) {
  for (const json& sensor : status["sensors"]) {
    if (sensor["id"] == id) return &sensor;
  }
  return nullptr;
}

TEST_F(ThermostatControl, OneSensorFarFromTheOthersDoesNotSwitchTheHeatingOn) {
  // The mean of all three (13.5 °C) would switch a 20 °C target ON.
  sysfs_.Reading(kLiving, 22000);
  sysfs_.Reading(kKitchen, 22500);
  sysfs_.Reading(kFallen, -4000);
  auto service = Make({{"sensors", {kLiving, kKitchen, kFallen}}, {"combine", "mean"}});
  service->Start();
  json status;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        status = Status(*service);
        const json* fallen = SensorIn(status, kFallen);
        return status["temperature_c"] == 22.25 && fallen != nullptr && (*fallen)["celsius"] == -4.0;
      },
      10s))
      << status.dump();
  EXPECT_EQ((*SensorIn(status, kFallen))["counted"], false);
  EXPECT_THAT((*SensorIn(status, kFallen))["not_counted"].get<std::string>(), HasSubstr("median"));
  EXPECT_EQ((*SensorIn(status, kLiving))["counted"], true);
  ASSERT_EQ(status["warnings"].size(), 1U) << status.dump();
  EXPECT_THAT(status["warnings"][0].get<std::string>(), HasSubstr(kFallen));
  ASSERT_TRUE(service->CheckHealth().has_value());
  EXPECT_THAT(*service->CheckHealth(), HasSubstr(std::string(kFallen) + " not counted (outlier)"));
  EXPECT_THAT(host_.Log(), HasSubstr(std::string("sensor ") + kFallen + " not counted (outlier)"));
  service->Stop();
  EXPECT_EQ(relay_->Ons(), 0) << "the heating went on";
}

TEST_F(ThermostatControl, AConfiguredSensorThatNeverAppearsIsFlagged) {
  sysfs_.Reading(kLiving, 21000);  // and nothing for kMistyped
  auto service = Make({{"sensors", {kLiving, kMistyped}}});
  service->Start();
  json status;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        status = Status(*service);
        return status["temperature_c"] == 21.0 && !status["warnings"].empty();
      },
      10s))
      << status.dump();
  EXPECT_THAT(status["warnings"][0].get<std::string>(), HasSubstr(std::string(kMistyped) + " is configured but was never found"));
  EXPECT_EQ((*SensorIn(status, kMistyped))["phantom"], true);
  EXPECT_EQ((*SensorIn(status, kLiving))["phantom"], false);
  ASSERT_TRUE(service->CheckHealth().has_value()) << "a phantom sensor must show in the health detail";
  EXPECT_THAT(*service->CheckHealth(), HasSubstr(kMistyped));
  EXPECT_THAT(host_.Log(), HasSubstr(std::string("sensor ") + kMistyped + " is configured but was never found"));

  // Plugged in after all: the warning goes.
  sysfs_.Reading(kMistyped, 21000);
  EXPECT_TRUE(testing::Eventually([&] { return Status(*service)["warnings"].empty(); }, 10s));
  EXPECT_THAT(host_.Log(), HasSubstr(std::string("sensor ") + kMistyped + " found"));
  service->Stop();
}

TEST_F(ThermostatControl, AOneReadingGlitchToMinusTenDoesNotSwitchTheHeatingOn) {
  sysfs_.Reading(kSensor, 21000);
  auto service = Make();
  service->Start();
  ASSERT_TRUE(testing::Eventually([&] { return Status(*service)["temperature_c"] == 21.0; }, 10s));
  // Exactly one read answers -10 °C (the next ones of the FIFO time out,
  // which is no reading at all), until the file is good again.
  sysfs_.Slow(kSensor, testing::W1SlaveText(-10000), 0ms);
  json status;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        status = Status(*service);
        return status["sensors"][0]["held_c"] == -10.0;
      },
      10s))
      << status.dump();
  EXPECT_EQ(status["temperature_c"], 21.0);
  EXPECT_THAT(status["sensors"][0]["held_why"].get<std::string>(), HasSubstr("a drop of 31.00 °C"));
  sysfs_.Reading(kSensor, 21000);
  ASSERT_TRUE(testing::Eventually(
      [&] {
        status = Status(*service);
        return status["sensors"][0]["held_c"].is_null() && status["sensors"][0]["problem"] == "";
      },
      10s))
      << status.dump();
  EXPECT_EQ(relay_->Ons(), 0) << "the glitch switched the heating on";

  // A drop that the next reading confirms is believed: heating on.
  sysfs_.Reading(kSensor, 15000);
  EXPECT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  service->Stop();
}

TEST_F(ThermostatControl, HeatingThatDoesNotRaiseTheTemperatureRaisesAnAlarmAndStaysOff) {
  sysfs_.Reading(kSensor, 15000);  // stuck cold, whatever the heating does
  // The readings must stay fresh across the clock's jumps.
  auto service = Make({{"no_rise_after_s", 300}, {"max_sensor_age_s", 3600}});
  service->Start();
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));

  clock_.Advance(301s);
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == false; }, 10s));
  json status = Status(*service);
  ASSERT_TRUE(status["alarm"].is_object()) << status.dump();
  EXPECT_THAT(status["alarm"]["reason"].get<std::string>(), HasSubstr("did not raise the temperature"));
  EXPECT_THAT(status["last_switch"]["reason"].get<std::string>(), HasSubstr("heating alarm"));
  ASSERT_TRUE(service->CheckHealth().has_value());
  EXPECT_THAT(*service->CheckHealth(), HasSubstr("heating alarm"));
  auto events = host_.Events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].first, "heating_alarm");
  EXPECT_EQ(json::parse(events[0].second)["temperature_c"], 15.0);

  // Still cold an hour later: it stays off, and says so once.
  clock_.Advance(3600s);
  ASSERT_TRUE(testing::Eventually([&] { return Status(*service)["alarm"]["since_s"] >= 3600; }, 10s));
  const int alives = host_.alives;
  ASSERT_TRUE(testing::Eventually([&] { return host_.alives >= alives + 3; }, 10s));  // steps ran
  EXPECT_EQ(relay_->Last(), false);
  EXPECT_EQ(relay_->Ons(), 1);
  EXPECT_EQ(host_.Events().size(), 1U);

  // Cleared: heating resumes; and the next failure to warm alarms again.
  status = json::parse(service->Invoke("clear_alarm", "{}"));
  EXPECT_TRUE(status["alarm"].is_null());
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  clock_.Advance(301s);
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == false; }, 10s));
  // The event follows the relay write, in the same control step.
  EXPECT_TRUE(testing::Eventually([&] { return host_.Events().size() == 2U; }, 10s));
  EXPECT_EQ(host_.Events().size(), 2U);

  // A change of mode clears it too.
  service->Invoke("set_mode", R"({"mode": "off"})");
  EXPECT_TRUE(Status(*service)["alarm"].is_null());
  service->Invoke("set_mode", R"({"mode": "heat"})");
  EXPECT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  service->Stop();
  EXPECT_EQ(relay_->Last(), false);
}

TEST_F(ThermostatControl, AStuckColdAlarmStandsAcrossARestart) {
  sysfs_.Reading(kSensor, 15000);
  const json config = {{"no_rise_after_s", 300}, {"max_sensor_age_s", 3600}};
  auto service = Make(config);
  service->Start();
  ASSERT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  clock_.Advance(301s);
  ASSERT_TRUE(testing::Eventually([&] { return Status(*service)["alarm"].is_object(); }, 10s));
  service->Stop();
  const std::string state = service->SaveState();
  EXPECT_THAT(state, HasSubstr("did not raise the temperature"));
  service.reset();

  // The next instance (here, or on the node the service moves to) starts
  // with the alarm standing: no heating, no second event.
  const int ons = relay_->Ons();
  auto next = Make(config);
  next->LoadState(state);
  next->Start();
  ASSERT_TRUE(Status(*next)["alarm"].is_object());
  const int alives = host_.alives;
  ASSERT_TRUE(testing::Eventually([&] { return host_.alives >= alives + 5; }, 10s));  // steps ran
  EXPECT_EQ(relay_->Ons(), ons) << "heating resumed after a restart";
  EXPECT_EQ(host_.Events().size(), 1U);
  next->Invoke("clear_alarm", "{}");
  EXPECT_TRUE(testing::Eventually([&] { return relay_->Last() == true; }, 10s));
  next->Stop();
}

TEST_F(ThermostatControl, TheControlLoopArmsALivenessDeadlineAndProvesProgress) {
  sysfs_.Reading(kSensor, 21000);
  auto service = Make();
  service->Start();
  ASSERT_FALSE(host_.Deadlines().empty());
  // Three control periods (100 ms) and the slack.
  EXPECT_EQ(std::chrono::milliseconds(host_.Deadlines().front()), 3 * 100ms + kLivenessSlack);
  EXPECT_TRUE(testing::Eventually([&] { return host_.alives >= 5; }, 10s));
  service->Stop();
  EXPECT_EQ(host_.Deadlines().back(), 0U) << "not disarmed at stop";
}

// ---------------------------------------------------------------------
// Home Assistant (entities.h): what the core reads from the description,
// and the states it publishes.

static_assert(sdk::detail::HasEntities<ThermostatService>, "offers domian.entities/1");

TEST_F(ThermostatControl, DescribesAClimateTheRelayAndEachSensorAndPublishesEveryState) {
  sysfs_.Reading(kSensor, 19000);
  auto service = Make();
  service->Start();
  const json description = json::parse(service->DescribeEntities());
  ASSERT_EQ(description["entities"].size(), 3u) << description.dump();

  const json* climate = EntityIn(description, "climate");
  ASSERT_NE(climate, nullptr);
  EXPECT_EQ((*climate)["platform"], "climate");
  EXPECT_TRUE((*climate)["name"].is_null()) << "the service's main entity";
  EXPECT_EQ((*climate)["config"]["modes"], json::array({"off", "heat"}));
  EXPECT_EQ((*climate)["config"]["min_temp"], kMinTargetC);
  EXPECT_EQ((*climate)["config"]["max_temp"], kMaxTargetC);
  EXPECT_EQ((*climate)["config"]["temperature_unit"], "C");
  for (const char* key : {"mode_state_topic", "temperature_state_topic",
                          "current_temperature_topic", "action_topic"}) {
    EXPECT_EQ((*climate)["states"][key], "climate") << key;
  }
  EXPECT_EQ((*climate)["commands"]["mode_command_topic"],
            json({{"command", "set_mode"}, {"arg", "mode"}, {"as", "text"}}));
  EXPECT_EQ((*climate)["commands"]["temperature_command_topic"],
            json({{"command", "set_target"}, {"arg", "target_c"}, {"as", "number"}}));

  const json* relay = EntityIn(description, "relay");
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ((*relay)["platform"], "binary_sensor");
  EXPECT_EQ((*relay)["config"]["device_class"], "heat");
  EXPECT_EQ((*relay)["states"]["state_topic"], "relay");

  const json* sensor = EntityIn(description, "sensor_28_000000000001");
  ASSERT_NE(sensor, nullptr);
  EXPECT_EQ((*sensor)["platform"], "sensor");
  EXPECT_EQ((*sensor)["config"]["device_class"], "temperature");
  EXPECT_EQ((*sensor)["config"]["unit_of_measurement"], "°C");
  EXPECT_EQ((*sensor)["config"]["state_class"], "measurement");
  EXPECT_EQ((*sensor)["states"]["state_topic"], "temperature");

  // domiand adds every topic itself; each state named is published.
  for (const json& entity : description["entities"]) {
    for (const auto& [key, value] : entity["config"].items()) {
      EXPECT_FALSE(key.ends_with("_topic")) << entity["id"] << " config has " << key;
    }
    for (const auto& [key, state] : entity["states"].items()) {
      EXPECT_TRUE(host_.WaitForState(entity["id"], state, [](const std::string&) { return true; },
                                     5s))
          << entity["id"] << " " << state.get<std::string>() << " never published";
    }
  }
  const auto climate_state = host_.WaitForState(
      "climate", "climate",
      [](const std::string& text) { return json::parse(text)["current_c"] == 19.0; }, 5s);
  ASSERT_TRUE(climate_state) << host_.Latest("climate", "climate").value_or("none");
  const json state = json::parse(*climate_state);
  EXPECT_EQ(state["mode"], "heat");
  EXPECT_EQ(state["target_c"], 20);
  EXPECT_EQ(state["action"], "heating") << "19 °C with a 20 °C target";
  EXPECT_TRUE(host_.WaitForState("relay", "relay", [](const std::string& v) { return v == "ON"; }, 5s));
  EXPECT_TRUE(host_.WaitForState("sensor_28_000000000001", "temperature",
                                 [](const std::string& v) { return v == "19.0"; }, 5s));
  service->Stop();
}

TEST_F(ThermostatControl, CommandsAsTheCoreBuildsThemChangeThePublishedClimate) {
  sysfs_.Reading(kSensor, 21000);
  auto service = Make();
  service->Start();
  auto climate_where = [&](const std::function<bool(const json&)>& accept) {
    return host_.WaitForState(
        "climate", "climate", [&](const std::string& text) { return accept(json::parse(text)); }, 5s);
  };
  ASSERT_TRUE(climate_where([](const json& s) { return s["action"] == "idle"; }));
  // temperature_command_topic's payload "21.5", as a number in target_c.
  service->Invoke("set_target", json({{"target_c", 21.5}}).dump());
  EXPECT_TRUE(climate_where(
      [](const json& s) { return s["target_c"] == 21.5 && s["action"] == "heating"; }))
      << host_.Latest("climate", "climate").value_or("none");
  // Delivered twice (QoS 1): the same state, not a toggle.
  service->Invoke("set_mode", json({{"mode", "off"}}).dump());
  service->Invoke("set_mode", json({{"mode", "off"}}).dump());
  EXPECT_TRUE(climate_where([](const json& s) { return s["mode"] == "off" && s["action"] == "off"; }));
  EXPECT_TRUE(host_.WaitForState("relay", "relay", [](const std::string& v) { return v == "OFF"; }, 5s));
  service->Stop();
}

TEST_F(ThermostatControl, PublishesReadingChangesOnlyAndAGoneSensorAsUnknown) {
  sysfs_.Reading(kSensor, 20000);
  auto service = Make();
  service->Start();
  const std::string entity = "sensor_28_000000000001";
  auto value_is = [&](const std::string& want) {
    return host_.WaitForState(entity, "temperature", [&](const std::string& v) { return v == want; },
                              5s)
        .has_value();
  };
  ASSERT_TRUE(value_is("20.0"));
  // Nothing changes for several control periods: nothing is published.
  const int climates = host_.PublishCount("climate", "climate");
  const int readings = host_.PublishCount(entity, "temperature");
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(host_.PublishCount("climate", "climate"), climates);
  EXPECT_EQ(host_.PublishCount(entity, "temperature"), readings);

  sysfs_.Reading(kSensor, 21500);
  EXPECT_TRUE(value_is("21.5"));
  sysfs_.Vanish(kSensor);
  EXPECT_TRUE(value_is("None")) << "an unplugged sensor is unknown, not its last number";
  // The room temperature acted on holds its last reading for
  // max_sensor_age_s, like the controller; then it is unknown too.
  clock_.Advance(200s);
  EXPECT_TRUE(host_.WaitForState(
      "climate", "climate",
      [](const std::string& text) { return json::parse(text)["current_c"].is_null(); }, 10s));
  service->Stop();
}

TEST_F(ThermostatControl, SensorsFoundOnTheBusAreDescribedOnceFound) {
  sysfs_.Reading(kLiving, 20000);
  auto service = Make({{"sensors", "auto"}});
  service->Start();
  ASSERT_TRUE(host_.WaitForChanged(1, 5s)) << "the entities changed when the sensor was found";
  const json description = json::parse(service->DescribeEntities());
  EXPECT_NE(EntityIn(description, "sensor_28_00000000000a"), nullptr) << description.dump();
  EXPECT_TRUE(host_.WaitForState("sensor_28_00000000000a", "temperature",
                                 [](const std::string& v) { return v == "20.0"; }, 5s));
  service->Stop();
}

TEST(LivenessDeadline, StaysWithinTheAbiBounds) {
  EXPECT_EQ(LivenessDeadline(1000ms), 3000ms + kLivenessSlack);
  EXPECT_LE(LivenessDeadline(60000ms).count(), DOMIAN_LIVENESS_MAX_MS);
  EXPECT_GE(LivenessDeadline(100ms).count(), DOMIAN_LIVENESS_MIN_MS);
}

std::string FileText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(MakeSafe, TurnsTheFileRelayOffFromAConfigWhoseOtherKeysAreBroken) {
  testing::TempDir dir("domian-thermostat-safe-test");
  testing::RecordingHost host(dir.path().string(), "thermostat");
  const auto relay = dir.path() / "relay";
  std::ofstream(relay) << "1\n";  // left ON by a thermostat that died
  const json config = {{"hysteresis_c", -1},
                       {"targte_c", 21},
                       {"sensors", {"28-nothex"}},
                       {"relay", {{"backend", "file"}, {"path", relay.string()}, {"colour", "red"}}}};
  ASSERT_FALSE(ThermostatService::ValidateConfig(config.dump()).empty());
  ThermostatService::MakeSafe(sdk::Host(&host.table), config.dump());
  EXPECT_EQ(FileText(relay), "0");
  ThermostatService::MakeSafe(sdk::Host(&host.table), config.dump());  // idempotent
  EXPECT_EQ(FileText(relay), "0");
  EXPECT_THAT(host.Log(), HasSubstr("safe state: relay OFF (file " + relay.string() + ")"));
}

TEST(MakeSafe, SaysWhyWhenTheRelayCannotBeKnownOrReached) {
  testing::TempDir dir("domian-thermostat-safe-test");
  testing::RecordingHost host(dir.path().string(), "thermostat");
  const sdk::Host sdk_host(&host.table);
  try {
    ThermostatService::MakeSafe(sdk_host, R"({"target_c": 20})");
    ADD_FAILURE() << "no relay, yet safe";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.code(), DOMIAN_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(e.what(), HasSubstr("'relay' is missing"));
  }
  EXPECT_THROW(ThermostatService::MakeSafe(sdk_host, R"({"relay": {"backend": "carrier-pigeon"}})"),
               sdk::Error);
  // A relay that cannot be opened: an error within the time limit.
  const auto began = std::chrono::steady_clock::now();
  try {
    ThermostatService::MakeSafe(
        sdk_host, R"({"relay": {"backend": "gpiod", "chip": "no-such-chip", "line": "HEATING"}})");
    ADD_FAILURE() << "a missing GPIO chip was taken for safe";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.code(), DOMIAN_ERR_UNAVAILABLE);
    EXPECT_THAT(e.what(), HasSubstr("no-such-chip"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - began,
            std::chrono::milliseconds(DOMIAN_SAFE_STATE_TIMEOUT_MS) / 2);
}

TEST(MakeSafe, IsOfferedThroughThePluginExtension) {
  testing::TempDir dir("domian-thermostat-safe-test");
  testing::RecordingHost host(dir.path().string(), "thermostat");
  const auto relay = dir.path() / "relay";
  std::ofstream(relay) << "1\n";
  const auto* ext = static_cast<const domian_safe_state_ext*>(
      sdk::detail::PluginExtensions<ThermostatService>::Get(DOMIAN_PLUGIN_EXT_SAFE_STATE));
  ASSERT_NE(ext, nullptr);
  const json config = {{"relay", {{"backend", "file"}, {"path", relay.string()}}}};
  EXPECT_EQ(ext->make_safe(&host.table, config.dump().c_str(), nullptr), DOMIAN_OK);
  EXPECT_EQ(FileText(relay), "0");
}

}  // namespace
}  // namespace domian::thermostat
