// ThermostatService with a fake relay (no kernel in Debian 12 offers a GPIO
// simulator) that can fail like a real output: a failed write is reported
// and retried, and every way the service ends leaves the relay off.
#include "plugins/thermostat/thermostat_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

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

// A host table that keeps the plugin's log lines.
struct TestHost {
  std::string dir;
  std::mutex mu;
  std::vector<std::string> lines;
  domian_host table{};
  explicit TestHost(std::string state_dir) : dir(std::move(state_dir)) {
    table.struct_size = sizeof(domian_host);
    table.abi = {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR};
    table.host_data = this;
    table.service_name = "thermostat";
    table.state_dir = dir.c_str();
    table.log = [](const domian_host* host, domian_log_level, const char* message) {
      auto* self = static_cast<TestHost*>(host->host_data);
      std::lock_guard lock(self->mu);
      self->lines.emplace_back(message);
    };
    table.publish_endpoint = [](const domian_host*, const char*, const char*) { return DOMIAN_OK; };
    table.emit_event = [](const domian_host*, const char*, const char*) { return DOMIAN_OK; };
    table.get_extension = [](const domian_host*, const char*) -> const void* { return nullptr; };
  }
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
