// HomeAssistant against a real mosquitto on 127.0.0.1: what Home
// Assistant would see of a node's services (a watcher subscribed as HA
// would), and the invokes its commands become.
#include "core/mqtt/home_assistant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_watcher.h"

namespace domian::mqtt {
namespace {

using domian::testing::MosquittoBroker;
using domian::testing::MqttWatcher;
using Json = nlohmann::json;
using namespace std::chrono_literals;

// Generous: a loaded 2-core machine under ASan.
constexpr auto kWait = 10s;

constexpr char kDescription[] = R"({"entities": [
  {"id": "heating", "platform": "climate", "name": null,
   "config": {"modes": ["off", "heat"], "mode_state_template": "{{ value_json.mode }}"},
   "states": {"mode_state_topic": "climate"},
   "commands": {"mode_command_topic": {"command": "set_mode", "arg": "mode"},
                "temperature_command_topic": {"command": "set_target", "arg": "target_c",
                                              "as": "number"}}},
  {"id": "relay", "platform": "binary_sensor", "name": "Relay",
   "config": {"device_class": "heat"}, "states": {"state_topic": "relay"}}]})";

constexpr char kConfigTopic[] = "homeassistant/climate/domian_home_thermostat/heating/config";
constexpr char kRelayConfigTopic[] =
    "homeassistant/binary_sensor/domian_home_thermostat/relay/config";
constexpr char kAvailability[] = "domian/home/node/pi1/service/thermostat/availability";
constexpr char kClimateState[] = "domian/home/service/thermostat/heating/climate";
constexpr char kModeCommand[] = "domian/home/service/thermostat/heating/set/mode_command";
constexpr char kTargetCommand[] = "domian/home/service/thermostat/heating/set/temperature_command";

class HomeAssistantTest : public ::testing::Test {
 protected:
  struct Call {
    std::string service, command, args;
  };

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("domian-ha-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    broker_ = std::make_unique<MosquittoBroker>(dir_);
    broker_->Start();
    watcher_ = std::make_unique<MqttWatcher>(broker_->port(), MosquittoBroker::kObserverUser,
                                             MosquittoBroker::kObserverPassword);
  }
  void TearDown() override {
    if (home_) home_->Stop();
    home_.reset();
    watcher_.reset();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartHome() {
    home_ = std::make_unique<HomeAssistant>(
        HomeAssistant::Options{
            .bridge = {.host = "127.0.0.1",
                       .port = broker_->port(),
                       .username = MosquittoBroker::kBridgeUser,
                       .password_file = broker_->bridge_password_file(),
                       .client_id = "domian-home-pi1",
                       .availability_topic = AvailabilityTopic("home", "pi1"),
                       .first_retry = 200ms,
                       .max_retry = 500ms},
            .cluster = "home",
            .node_id = "pi1",
            .domian_version = "0.1.0",
            .services = {"thermostat", "speaker", "camera"},
            .invoke =
                [this](const std::string& service, const std::string& command,
                       const std::string& args) -> absl::StatusOr<std::string> {
              std::lock_guard lock(mu_);
              calls_.push_back({service, command, args});
              calls_cv_.notify_all();
              if (command == "set_target" && Json::parse(args)["target_c"].get<double>() > 30) {
                return absl::InvalidArgumentError("target_c: at most 30");
              }
              return std::string("{}");
            },
            .republish_pause_min = 10ms,
            .republish_pause_max = 50ms},
        Steady());
    sink_ = home_->Sink();
    home_->Start();
  }

  void Describe(const std::string& json = kDescription) {
    sink_.described({.service = "thermostat",
                     .plugin = "thermostat",
                     .plugin_version = "1.2.0",
                     .json = json});
  }

  // The service's availability says online (after its configs, and once
  // its commands are subscribed to).
  bool WaitOnline() {
    return watcher_
        ->WaitFor(
            [](const MqttWatcher::Message& message) {
              return message.topic == kAvailability && message.payload == "online";
            },
            kWait)
        .has_value();
  }

  std::optional<Call> WaitForCall(size_t index) {
    std::unique_lock lock(mu_);
    if (!calls_cv_.wait_for(lock, kWait, [&] { return calls_.size() > index; })) {
      return std::nullopt;
    }
    return calls_[index];
  }
  size_t CallCount() {
    std::lock_guard lock(mu_);
    return calls_.size();
  }

  static const Clock& Steady() {
    static const SteadyClock clock;
    return clock;
  }

  std::filesystem::path dir_;
  std::unique_ptr<MosquittoBroker> broker_;
  std::unique_ptr<MqttWatcher> watcher_;
  std::unique_ptr<HomeAssistant> home_;
  services::EntitySink sink_;
  std::mutex mu_;
  std::condition_variable calls_cv_;
  std::vector<Call> calls_;
};

TEST_F(HomeAssistantTest, ADescribedServicePublishesConfigsThenAvailabilityThenStates) {
  StartHome();
  sink_.state("thermostat", "heating", "climate", R"({"mode": "heat"})");
  Describe();
  const auto config = watcher_->WaitForTopic(kConfigTopic, kWait);
  ASSERT_TRUE(config.has_value());
  const Json parsed = Json::parse(config->payload);
  EXPECT_EQ(parsed["unique_id"], "domian.home.thermostat.heating");
  EXPECT_EQ(parsed["mode_state_topic"], kClimateState);
  EXPECT_EQ(parsed["availability"][1]["topic"], kAvailability);
  ASSERT_TRUE(watcher_->WaitForTopic(kRelayConfigTopic, kWait).has_value());
  // (Said offline first: it was not running yet when the bridge started.)
  const auto online = watcher_->WaitFor(
      [](const MqttWatcher::Message& message) {
        return message.topic == kAvailability && message.payload == "online";
      },
      kWait);
  ASSERT_TRUE(online.has_value());
  // A state pushed before the description was kept, and follows it.
  const auto state = watcher_->WaitForTopic(kClimateState, kWait);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->payload, R"({"mode": "heat"})");
  const std::vector<MqttWatcher::Message> all = watcher_->Messages();
  auto index = [&](const std::string& topic) {
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i].topic == topic && all[i].payload != "offline") return i;
    }
    return all.size();
  };
  EXPECT_LT(index(kConfigTopic), index(kAvailability));
  EXPECT_LT(index(kAvailability), index(kClimateState));
  // Retained: a Home Assistant that subscribes later gets them.
  EXPECT_EQ(broker_->Receive(kClimateState, 5s), R"({"mode": "heat"})");
  EXPECT_TRUE(broker_->Receive(kConfigTopic, 5s).has_value());
  EXPECT_EQ(home_->Status().entities, 2u);
}

TEST_F(HomeAssistantTest, AStateChangeIsPublishedAndAnUndeclaredOneIsNot) {
  StartHome();
  Describe();
  ASSERT_TRUE(WaitOnline());
  sink_.state("thermostat", "heating", "nonsense", "1");
  sink_.state("thermostat", "relay", "relay", "ON");
  const auto relay = watcher_->WaitForTopic("domian/home/service/thermostat/relay/relay", kWait);
  ASSERT_TRUE(relay.has_value());
  EXPECT_EQ(relay->payload, "ON");
  EXPECT_FALSE(watcher_->WaitForTopic("domian/home/service/thermostat/heating/nonsense", 500ms)
                   .has_value());
}

TEST_F(HomeAssistantTest, ACommandBecomesTheInvokeItsDescriptionMaps) {
  StartHome();
  Describe();
  ASSERT_TRUE(WaitOnline());
  watcher_->Publish(kModeCommand, "heat");
  const auto mode = WaitForCall(0);
  ASSERT_TRUE(mode.has_value());
  EXPECT_EQ(mode->service, "thermostat");
  EXPECT_EQ(mode->command, "set_mode");
  EXPECT_EQ(Json::parse(mode->args), Json::parse(R"({"mode": "heat"})"));
  watcher_->Publish(kTargetCommand, "21.5");
  const auto target = WaitForCall(1);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->command, "set_target");
  EXPECT_DOUBLE_EQ(Json::parse(target->args)["target_c"].get<double>(), 21.5);
}

TEST_F(HomeAssistantTest, ABadPayloadOrAnUnknownCommandIsCountedAndInvokesNothing) {
  StartHome();
  Describe();
  ASSERT_TRUE(WaitOnline());
  watcher_->Publish(kTargetCommand, "warm");
  watcher_->Publish("domian/home/service/thermostat/heating/set/nothing", "1");
  watcher_->Publish("domian/home/service/thermostat/relay/set/command", "ON");
  // The service refuses this one: counted as failed.
  watcher_->Publish(kTargetCommand, "35");
  ASSERT_TRUE(WaitForCall(0).has_value());
  const MqttStatus status = home_->Status();
  EXPECT_EQ(CallCount(), 1u);
  EXPECT_EQ(status.commands_dropped, 2u);
  // The bad payload and the refusal.
  for (int i = 0; i < 100 && home_->Status().commands_failed < 2; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(home_->Status().commands_failed, 2u);
}

TEST_F(HomeAssistantTest, AServiceThatIsGoneIsOfflineAndTakesNoCommands) {
  StartHome();
  Describe();
  ASSERT_TRUE(WaitOnline());
  const size_t before = watcher_->Count();
  sink_.gone("thermostat");
  const auto offline = watcher_->WaitFor(
      [](const MqttWatcher::Message& message) {
        return message.topic == kAvailability && message.payload == "offline";
      },
      kWait, before);
  ASSERT_TRUE(offline.has_value());
  watcher_->Publish(kModeCommand, "off");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(CallCount(), 0u);
  EXPECT_EQ(home_->Status().services, 0u);
}

TEST_F(HomeAssistantTest, HomeAssistantOnlineRepublishesConfigsAndStates) {
  StartHome();
  Describe();
  sink_.state("thermostat", "heating", "climate", R"({"mode": "off"})");
  ASSERT_TRUE(watcher_->WaitForTopic(kClimateState, kWait).has_value());
  const size_t before = watcher_->Count();
  watcher_->Publish("homeassistant/status", "online");
  EXPECT_TRUE(watcher_->WaitForTopic(kConfigTopic, kWait, before).has_value());
  EXPECT_TRUE(watcher_->WaitForTopic(kRelayConfigTopic, kWait, before).has_value());
  const auto state = watcher_->WaitForTopic(kClimateState, kWait, before);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->payload, R"({"mode": "off"})");
}

TEST_F(HomeAssistantTest, ABrokerRestartWithoutPersistenceGetsEverythingBack) {
  StartHome();
  Describe();
  sink_.state("thermostat", "heating", "climate", R"({"mode": "heat"})");
  ASSERT_TRUE(watcher_->WaitForTopic(kClimateState, kWait).has_value());
  watcher_.reset();
  broker_->Stop();
  broker_->Start();  // no persistence: every retained message is gone
  // Retained again once the bridge is back (backoff 200 ms here).
  std::optional<std::string> config;
  for (int i = 0; i < 40 && !config; ++i) config = broker_->Receive(kConfigTopic, 1s);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(broker_->Receive(kClimateState, 5s), R"({"mode": "heat"})");
  EXPECT_EQ(broker_->Receive(kAvailability, 5s), "online");
  // And commands are taken again: the subscription was renewed.
  watcher_ = std::make_unique<MqttWatcher>(broker_->port(), MosquittoBroker::kObserverUser,
                                           MosquittoBroker::kObserverPassword);
  watcher_->Publish(kModeCommand, "off");
  const auto call = WaitForCall(0);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->command, "set_mode");
}

TEST_F(HomeAssistantTest, AnEntityTheServiceNoLongerDescribesIsDeleted) {
  StartHome();
  Describe();
  ASSERT_TRUE(watcher_->WaitForTopic(kRelayConfigTopic, kWait).has_value());
  const size_t before = watcher_->Count();
  Json fewer = Json::parse(kDescription);
  fewer["entities"].erase(1);
  Describe(fewer.dump());
  const auto deleted = watcher_->WaitForTopic(kRelayConfigTopic, kWait, before);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->payload, "");
  // The one it still describes was not published again: nothing changed.
  EXPECT_FALSE(watcher_->WaitForTopic(kConfigTopic, 300ms, before).has_value());
}

TEST_F(HomeAssistantTest, ARefusedDescriptionPublishesNothing) {
  StartHome();
  Describe(R"({"entities": [{"id": "x", "platform": "switch", "name": "X",
                             "config": {"state_topic": "domian/home/service/other/x/state"}}]})");
  Describe();  // a later good one is taken
  ASSERT_TRUE(watcher_->WaitForTopic(kConfigTopic, kWait).has_value());
  for (const MqttWatcher::Message& message : watcher_->Messages()) {
    EXPECT_EQ(message.topic.find("/x/config"), std::string::npos) << message.topic;
  }
}

TEST_F(HomeAssistantTest, APerNodeServiceHasTopicsAndIdsOfThisNode) {
  StartHome();
  sink_.described({.service = "speaker",
                   .plugin = "speaker",
                   .plugin_version = "0.1.0",
                   .json = R"({"entities": [{"id": "stop", "platform": "button", "name": "Stop",
                               "commands": {"command_topic": {"command": "stop"}}}]})",
                   .per_node = true});
  const auto config =
      watcher_->WaitForTopic("homeassistant/button/domian-node_home_speaker_pi1/stop/config", kWait);
  ASSERT_TRUE(config.has_value());
  const Json parsed = Json::parse(config->payload);
  EXPECT_EQ(parsed["unique_id"], "domian.home.speaker@pi1.stop");
  EXPECT_EQ(parsed["command_topic"], "domian/home/node/pi1/service/speaker/stop/set/command");
  ASSERT_TRUE(
      watcher_->WaitForTopic("domian/home/node/pi1/service/speaker/availability", kWait).has_value());
  watcher_->Publish("domian/home/service/speaker/stop/set/command", "PRESS");  // not this one
  watcher_->Publish(parsed["command_topic"], "PRESS");
  const auto call = WaitForCall(0);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->service, "speaker");
  EXPECT_EQ(call->command, "stop");
  EXPECT_EQ(CallCount(), 1u);
}

TEST_F(HomeAssistantTest, ARetainedOrEmptyCommandIsNotCarriedOut) {
  // Left on the broker by someone: it would come again at every
  // subscription (each failover), undoing what came after it.
  watcher_->Publish(kModeCommand, "off", /*retain=*/true);
  StartHome();
  Describe();
  ASSERT_TRUE(WaitOnline());
  for (int i = 0; i < 200 && home_->Status().commands_dropped < 1; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(home_->Status().commands_dropped, 1u);
  watcher_->Publish(kModeCommand, "");
  watcher_->Publish(kModeCommand, "heat");
  const auto call = WaitForCall(0);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(Json::parse(call->args)["mode"], "heat");
  EXPECT_EQ(CallCount(), 1u);
  EXPECT_EQ(home_->Status().commands_dropped, 2u);
  watcher_->Publish(kModeCommand, "", /*retain=*/true);  // cleared for the next test
}

TEST_F(HomeAssistantTest, ConfiguredServicesNotRunningHereAreSaidOfflineAtStart) {
  // As a crash leaves it: this node's camera said online.
  watcher_->Publish("domian/home/node/pi1/service/camera/availability", "online", true);
  StartHome();
  Describe();
  const auto offline = watcher_->WaitFor(
      [](const MqttWatcher::Message& message) {
        return message.topic == "domian/home/node/pi1/service/camera/availability" &&
               message.payload == "offline";
      },
      kWait);
  EXPECT_TRUE(offline.has_value());
  EXPECT_EQ(broker_->Receive(kAvailability, 5s), "online");
}

TEST_F(HomeAssistantTest, StopSaysEveryServiceAndTheNodeAreOffline) {
  StartHome();
  Describe();
  ASSERT_TRUE(WaitOnline());
  const size_t before = watcher_->Count();
  home_->Stop();
  const auto service = watcher_->WaitFor(
      [](const MqttWatcher::Message& message) {
        return message.topic == kAvailability && message.payload == "offline";
      },
      kWait, before);
  EXPECT_TRUE(service.has_value());
  const auto node = watcher_->WaitFor(
      [](const MqttWatcher::Message& message) {
        return message.topic == "domian/home/node/pi1/availability" &&
               message.payload == "offline";
      },
      kWait, before);
  EXPECT_TRUE(node.has_value());
}

}  // namespace
}  // namespace domian::mqtt
