// ThermostatService with a fake relay (no kernel in Debian 12 offers a GPIO
// simulator) that can fail like a real output: a failed write is reported
// and retried, and every way the service ends leaves the relay off.
#include "plugins/thermostat/thermostat_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <thread>
#include <mutex>

#include "plugins/testing/recording_host.h"
#include "tests/support/cluster.h"
#include "tests/support/w1_sysfs.h"

namespace domian::thermostat {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
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

// The plugin's host: keeps its log lines.
struct TestHost : testing::RecordingHost {
  explicit TestHost(std::string state_dir) : RecordingHost(std::move(state_dir), "thermostat") {}
};

class ThermostatControl : public ::testing::Test {
 protected:
  std::unique_ptr<ThermostatService> Make() {
    const json config = {{"sysfs_root", sysfs_.root().string()},
                         {"sensors", json::array({kSensor})},
                         {"target_c", 20},
                         {"min_on_s", 0},
                         {"min_off_s", 0},
                         {"control_period_ms", 100},
                         {"read_interval_ms", 50},
                         {"relay", {{"backend", "file"}, {"path", "/nonexistent/unused"}}}};
    return std::make_unique<ThermostatService>(sdk::Host(&host_.table), config.dump(),
                                               std::make_unique<FakeRelay>(relay_));
  }

  testing::TempDir dir_{"domian-thermostat-service-test"};
  testing::W1Sysfs sysfs_{dir_.path() / "devices"};
  TestHost host_{dir_.path().string()};
  std::shared_ptr<FakeRelay::Log> relay_ = std::make_shared<FakeRelay::Log>();
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

TEST(CombineReadings, OnlyReadingsNoOlderThanTheMaximumAgeCount) {
  const SteadyTime now = SteadyTime() + std::chrono::hours(100);
  auto sensor = [&](const std::string& id, double c, std::chrono::seconds age) {
    SensorStatus s;
    s.id = id;
    s.present = true;
    s.celsius = c;
    s.valid_at = now - age;
    return s;
  };
  const std::vector<SensorStatus> sensors = {sensor("28-000000000001", 20.0, 10s),
                                             sensor("28-000000000002", 22.0, 120s),
                                             sensor("28-000000000003", 18.0, 121s)};
  EXPECT_EQ(CombineReadings(sensors, Combine::kMean, "", 120s, now).celsius, 21.0);  // 3 is stale
  EXPECT_EQ(CombineReadings(sensors, Combine::kMin, "", 120s, now).celsius, 20.0);
  EXPECT_EQ(CombineReadings(sensors, Combine::kMax, "", 120s, now).celsius, 22.0);
  EXPECT_EQ(CombineReadings(sensors, Combine::kOne, "28-000000000002", 120s, now).celsius, 22.0);
  const Combined stale = CombineReadings(sensors, Combine::kOne, "28-000000000003", 120s, now);
  EXPECT_FALSE(stale.celsius);
  EXPECT_THAT(stale.why_none, HasSubstr("no valid reading younger than 120 s"));
  EXPECT_FALSE(CombineReadings(sensors, Combine::kMean, "", 5s, now).celsius);
  EXPECT_THAT(CombineReadings({}, Combine::kMean, "", 5s, now).why_none, HasSubstr("no sensor found"));
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

}  // namespace
}  // namespace domian::thermostat
