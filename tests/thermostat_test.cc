// The thermostat plugin (plugins/thermostat) in a real domiand, reading a
// w1 sysfs tree the test writes (tests/support/w1_sysfs.h, real Dallas
// CRC-8 bytes) and driving the `file` relay backend: the relay file must
// follow the temperature and the target, and go OFF at start, at stop, in
// mode off, and when the readings go bad.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "tests/support/cluster.h"
#include "tests/support/w1_sysfs.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr auto kSettle = 30s;  // generous: the control period here is 200 ms
// max_sensor_age_s in the config: a bad reading turns the relay off after this.
constexpr auto kMaxSensorAge = 5s;
const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;
constexpr char kLiving[] = "28-0000000a1b2c";
constexpr char kHall[] = "28-0000000d3e4f";

class Thermostat : public ::testing::Test {
 protected:
  void SetUp() override {
    MakePluginFolder(dir_.path() / "plugins", kPlugins, {"thermostat"});
    relay_ = dir_.path() / "relay";
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << node_->Log();
  }

  void Start(const std::string& more = "") {
    Daemon::Options options{.id = "boiler-room"};
    options.traits = {"w1"};
    options.extra_yaml =
        "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
        "]\nservices:\n  thermostat:\n    isolation: inline\n    config:\n"
        "      sysfs_root: " + sysfs_.root().string() + "\n"
        "      sensors: auto\n      combine: mean\n      target_c: 20\n      hysteresis_c: 0.5\n"
        "      min_on_s: 0\n      min_off_s: 0\n      max_on_s: 3600\n"
        "      max_sensor_age_s: " + std::to_string(kMaxSensorAge.count()) + "\n"
        "      control_period_ms: 200\n      read_interval_ms: 100\n"
        "      relay: {backend: file, path: " + relay_.string() + "}\n" + more;
    node_ = std::make_unique<Daemon>(dir_.path(), options);
    node_->Start();
  }

  std::string Relay() {
    std::ifstream in(relay_);
    std::string value;
    std::getline(in, value);
    return value;
  }

  json Call(const std::string& command, const std::string& args = "{}") {
    const CommandResult result = CallService(*node_, "thermostat", command, args);
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.err;
    return json::parse(result.out, nullptr, false);
  }

  TempDir dir_{"domian-thermostat-test"};
  W1Sysfs sysfs_{dir_.path() / "devices"};
  std::filesystem::path relay_;
  std::unique_ptr<Daemon> node_;
};

TEST_F(Thermostat, TheRelayFollowsTheTemperatureAndTheTarget) {
  std::ofstream(relay_) << "1\n";  // left on by someone: OFF at start
  sysfs_.Reading(kLiving, 22000);
  sysfs_.Reading(kHall, 21000);
  Start();
  ASSERT_TRUE(Eventually([&] { return Relay() == "0"; }, kSettle));

  // Cold: the mean (17.5) is below 20 - 0.5 (and so is any mix of old
  // and new readings while the files change).
  sysfs_.Reading(kLiving, 17000);
  sysfs_.Reading(kHall, 18000);
  EXPECT_TRUE(Eventually([&] { return Relay() == "1"; }, kSettle));
  json status;
  EXPECT_TRUE(Eventually(
      [&] {
        status = Call("status");
        return status["temperature_c"] == 17.5;
      },
      kSettle))
      << status.dump();
  EXPECT_EQ(status["relay"]["on"], true);
  EXPECT_THAT(status["last_switch"]["reason"].get<std::string>(), HasSubstr("below target"));
  ASSERT_EQ(status["sensors"].size(), 2U);
  EXPECT_EQ(status["sensors"][0]["id"], kLiving);
  EXPECT_EQ(status["sensors"][0]["valid"], true);

  // Warm enough: off.
  sysfs_.Reading(kLiving, 21000);
  sysfs_.Reading(kHall, 20500);
  EXPECT_TRUE(Eventually([&] { return Relay() == "0"; }, kSettle));

  // A higher target: on again.
  status = Call("set_target", R"({"target_c": 23})");
  EXPECT_EQ(status["target_c"], 23);
  EXPECT_TRUE(Eventually([&] { return Relay() == "1"; }, kSettle));

  // Mode off: off at once, and it stays off while cold.
  Call("set_mode", R"({"mode": "off"})");
  EXPECT_EQ(Relay(), "0");
  sysfs_.Reading(kLiving, 15000);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(Relay(), "0");
  Call("set_mode", R"({"mode": "heat"})");
  EXPECT_TRUE(Eventually([&] { return Relay() == "1"; }, kSettle));

  // A clean stop leaves it off.
  node_->Signal(SIGTERM);
  ASSERT_EQ(node_->WaitExit(kSettle), 0);
  EXPECT_EQ(Relay(), "0");
}

TEST_F(Thermostat, BadReadingsTurnTheRelayOffOnceTheLastGoodOneIsTooOld) {
  sysfs_.Reading(kLiving, 17000);
  Start();
  ASSERT_TRUE(Eventually([&] { return Relay() == "1"; }, kSettle));

  // The sensor starts failing its CRC: the last good reading ages out.
  sysfs_.Write(kLiving, W1SlaveCrcNo());
  const auto bad_from = std::chrono::steady_clock::now();
  EXPECT_TRUE(Eventually([&] { return Relay() == "0"; }, kSettle));
  EXPECT_GE(std::chrono::steady_clock::now() - bad_from, kMaxSensorAge - 1s)
      << "switched off before the last good reading was stale";
  json status = Call("status");
  EXPECT_EQ(status["sensors"][0]["valid"], false);
  EXPECT_THAT(status["sensors"][0]["problem"].get<std::string>(), HasSubstr("CRC check failed"));
  EXPECT_THAT(status["temperature_problem"].get<std::string>(), HasSubstr("no valid reading"));

  // Good again: heating resumes. Then the power-on value, all zeros and
  // an empty file in turn: never trusted, so off.
  sysfs_.Reading(kLiving, 17000);
  EXPECT_TRUE(Eventually([&] { return Relay() == "1"; }, kSettle));
  for (const std::string& bad : {W1SlaveText(85000), W1SlaveAllZeros(), std::string()}) {
    sysfs_.Write(kLiving, bad);
    EXPECT_TRUE(Eventually([&] { return Relay() == "0"; }, kSettle)) << bad;
    sysfs_.Reading(kLiving, 17000);
    EXPECT_TRUE(Eventually([&] { return Relay() == "1"; }, kSettle));
  }

  // The sensor is unplugged.
  sysfs_.Vanish(kLiving);
  EXPECT_TRUE(Eventually([&] { return Relay() == "0"; }, kSettle));
  status = Call("status");
  EXPECT_EQ(status["sensors"][0]["present"], false);
  EXPECT_THAT(status["sensors"][0]["problem"].get<std::string>(), HasSubstr("vanished"));
  EXPECT_TRUE(node_->Running());
}

TEST_F(Thermostat, TargetModeAndScheduleSurviveARestart) {
  sysfs_.Reading(kLiving, 21000);
  Start();
  ASSERT_TRUE(Eventually([&] { return Relay() == "0"; }, kSettle));
  Call("set_target", R"({"target_c": 24.5})");
  Call("set_mode", R"({"mode": "off"})");
  Call("set_schedule", R"({"schedule": [{"days": "daily", "at": "00:00", "target_c": 19}]})");
  node_->Signal(SIGTERM);
  ASSERT_EQ(node_->WaitExit(kSettle), 0);

  node_->Start();
  json status;
  ASSERT_TRUE(Eventually(
      [&] {
        const CommandResult result = CallService(*node_, "thermostat", "status");
        status = json::parse(result.out, nullptr, false);
        return result.exit_code == 0;
      },
      kSettle));
  EXPECT_EQ(status["mode"], "off");
  ASSERT_EQ(status["schedule"].size(), 1U);
  EXPECT_EQ(status["schedule"][0]["target_c"], 19);
  EXPECT_EQ(status["target_c"], 19);  // the schedule's, since set_target predates it
}

TEST_F(Thermostat, ConfigErrorsNameTheKey) {
  Daemon::Options options{.id = "boiler-room"};
  options.traits = {"w1"};
  options.extra_yaml = "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
                       "]\nservices:\n  thermostat:\n    isolation: inline\n    config:\n"
                       "      relay: {backend: file, path: /tmp/x}\n      max_on_s: 10\n";
  node_ = std::make_unique<Daemon>(dir_.path(), options);
  node_->Start();
  EXPECT_TRUE(Eventually(
      [&] {
        // The plugin's own check (ABI 1.1) names the key before create runs.
        return node_->Log().find("invalid configuration: max_on_s: must be a whole number "
                                 "from 60") != std::string::npos;
      },
      kSettle));
}

// `domiand --check-config` asks the thermostat plugin itself, so a value
// it would refuse at start is caught before the daemon runs, each named by
// file, line, column and key, in the order of the file, exit 1.
TEST_F(Thermostat, CheckConfigCatchesEachBadValueWithItsLineAndKey) {
  const auto file = dir_.path() / "node.yaml";
  const auto write = [&](const std::string& target) {
    std::ofstream(file) << "node:\n  id: boiler-room\n"                                   // 1-2
                        << "plugins:\n  dirs: [" << (dir_.path() / "plugins").string() << "]\n"  // 3-4
                        << "services:\n  thermostat:\n    config:\n"                     // 5-7
                        << "      sysfs_root: " << sysfs_.root().string() << "\n"          // 8
                        << "      sensors: [" << kLiving << ", 28-zz]\n"                   // 9
                        << "      target_c: " << target << "\n"                            // 10
                        << "      hysteresis_c: -1\n"                                      // 11
                        << "      targte_c: 21\n"                                          // 12
                        << "      relay: {backend: spi, path: " << relay_.string() << "}\n";  // 13
  };
  const std::string at = file.string() + ":";
  for (const std::string target : {"500", "warm"}) {
    write(target);
    const CommandResult result = RunCommand(DomiandPath(), {"--check-config", file.string()});
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    const std::string shown = target == "warm" ? "\"warm\"" : target;
    const std::vector<std::string> expected = {
        at + "9:34: services.thermostat.config.sensors.1: \"28-zz\" is not a DS18B20 id "
             "(28- and 12 hex digits)",
        at + "10:7: services.thermostat.config.target_c: must be a number from 5 to 30, not " +
            shown,
        at + "11:7: services.thermostat.config.hysteresis_c: must be a number from 0.05 to 5, "
             "not -1",
        at + "12:7: services.thermostat.config.targte_c: is not a thermostat setting (did you "
             "mean target_c?)",
        at + "13:15: services.thermostat.config.relay.backend: must be gpiod or file, not \"spi\"",
        file.string() + ": 5 problem(s)"};
    std::string want;
    for (const std::string& line : expected) want += line + "\n";
    EXPECT_EQ(result.err, want) << "target_c: " << target;
    EXPECT_THAT(result.out, ::testing::Not(HasSubstr("configuration is valid")));
  }

  // Fixed, the same file is valid: the check refuses the values, not the file.
  std::ofstream(file) << "node:\n  id: boiler-room\nplugins:\n  dirs: ["
                      << (dir_.path() / "plugins").string()
                      << "]\nservices:\n  thermostat:\n    config:\n      sensors: [" << kLiving
                      << "]\n      target_c: 21\n      hysteresis_c: 0.5\n"
                      << "      relay: {backend: file, path: " << relay_.string() << "}\n";
  const CommandResult fixed = RunCommand(DomiandPath(), {"--check-config", file.string()});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_THAT(fixed.out, HasSubstr(file.string() + ": configuration is valid"));
}

}  // namespace
}  // namespace domian::testing
