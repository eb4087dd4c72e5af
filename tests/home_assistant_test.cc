// Home Assistant over MQTT, end to end: real domiand processes running the
// real plugins (lights on the Hue bridge stand-in, the thermostat on the
// 1-Wire stand-in, the speaker into ALSA's file PCM, the camera on the
// scripted V4L2 device) against a real mosquitto on 127.0.0.1 with a
// password file, watched by a client subscribed as Home Assistant would.
// What HA would read is checked against the keys and values its MQTT
// platforms document; what HA would send goes through the broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "tests/support/alsa/alsa_test_config.h"
#include "tests/support/cluster.h"
#include "tests/support/hue_bridge.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_watcher.h"
#include "tests/support/w1_sysfs.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Generous: a loaded two-core machine running sanitizer builds.
constexpr auto kSettle = 60s;
const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;
const std::filesystem::path kScriptedCamera = DOMIAN_SCRIPTED_CAMERA_DIR;
constexpr char kSensor[] = "28-0000000a1b2c";

bool IsDiscoveryTopic(const std::string& topic) {
  return topic.rfind("homeassistant/", 0) == 0 && topic.size() > 7 &&
         topic.compare(topic.size() - 7, 7, "/config") == 0;
}

bool IsIn(const json& value, const std::set<std::string>& allowed) {
  return value.is_string() && allowed.contains(value.get<std::string>());
}

// The problems Home Assistant would have with a discovery config of
// `platform` (its MQTT integration's documented keys: required ones, and
// the values it accepts). Empty when it would take it.
std::vector<std::string> DiscoveryProblems(const std::string& platform, const json& config) {
  std::vector<std::string> problems;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) problems.push_back(what);
  };
  auto topic = [&](const char* key) {
    return config.contains(key) && config[key].is_string() && !config[key].get<std::string>().empty() &&
           config[key].get<std::string>().find_first_of("+#") == std::string::npos;
  };
  need(config.is_object(), "not an object");
  if (!config.is_object()) return problems;
  need(config.contains("unique_id") && config["unique_id"].is_string(), "unique_id");
  need(config.contains("name") && (config["name"].is_null() || config["name"].is_string()),
       "name (a string, or null for the device's main entity)");
  need(config.contains("device") && config["device"]["identifiers"].is_array() &&
           !config["device"]["identifiers"].empty(),
       "device.identifiers");
  need(config.contains("availability") && config["availability"].is_array() &&
           !config["availability"].empty(),
       "availability");
  for (const json& item : config.value("availability", json::array())) {
    need(item.contains("topic") && item["topic"].is_string(), "availability[].topic");
  }
  need(IsIn(config.value("availability_mode", json("latest")), {"all", "any", "latest"}),
       "availability_mode");
  for (const auto& [key, value] : config.items()) {
    if (key == "topic" || key.ends_with("_topic")) need(topic(key.c_str()), key + " is a topic");
  }
  if (platform == "light") {
    need(config.value("schema", "") == "json", "schema json");
    need(topic("command_topic"), "command_topic");
    const json modes = config.value("supported_color_modes", json::array());
    for (const json& mode : modes) {
      need(IsIn(mode, {"onoff", "brightness", "color_temp", "hs", "xy", "rgb", "rgbw", "rgbww",
                       "white"}),
           "supported_color_modes value " + mode.dump());
      // HA: onoff and brightness must be alone in the list.
      if (mode == "onoff" || mode == "brightness") need(modes.size() == 1, mode.dump() + " alone");
    }
    if (config.contains("brightness_scale")) {
      need(config["brightness_scale"].is_number_integer() && config["brightness_scale"] > 0,
           "brightness_scale");
    }
  } else if (platform == "climate") {
    need(topic("mode_command_topic") || topic("temperature_command_topic"), "a command topic");
    for (const json& mode : config.value("modes", json::array())) {
      need(IsIn(mode, {"auto", "off", "cool", "heat", "dry", "fan_only"}), "modes value");
    }
    if (config.contains("min_temp") && config.contains("max_temp")) {
      need(config["min_temp"] < config["max_temp"], "min_temp < max_temp");
    }
    if (config.contains("temperature_unit")) {
      need(IsIn(config["temperature_unit"], {"C", "F"}), "temperature_unit");
    }
    if (config.contains("precision")) {
      need(config["precision"] == 0.1 || config["precision"] == 0.5 || config["precision"] == 1.0,
           "precision 0.1, 0.5 or 1.0");
    }
  } else if (platform == "sensor") {
    need(topic("state_topic"), "state_topic");
    if (config.value("device_class", "") == "temperature") {
      need(IsIn(config.value("unit_of_measurement", json()), {"°C", "°F", "K"}),
           "unit_of_measurement of a temperature");
    }
    if (config.contains("state_class")) {
      need(IsIn(config["state_class"], {"measurement", "total", "total_increasing"}),
           "state_class");
    }
  } else if (platform == "binary_sensor") {
    need(topic("state_topic"), "state_topic");
  } else if (platform == "number") {
    need(topic("command_topic"), "command_topic");
    if (config.contains("min") && config.contains("max")) need(config["min"] < config["max"], "min < max");
  } else if (platform == "button" || platform == "notify") {
    need(topic("command_topic"), "command_topic");
  } else if (platform == "camera") {
    need(topic("topic"), "topic");
  } else {
    problems.push_back("a platform this test does not know: " + platform);
  }
  return problems;
}

class HomeAssistant : public ::testing::Test {
 protected:
  void SetUp() override {
    plugins_ = dir_.path() / "plugins";
    MakePluginFolder(plugins_, kPlugins, {"lights", "thermostat", "speaker"});
    MakePluginFolder(plugins_, kScriptedCamera, {"camera"});
    desk_ = bridge_.AddLight("Desk");
    hall_ = bridge_.AddLight("Hall");
    kitchen_ = bridge_.AddGroup("Kitchen", {desk_, hall_});
    user_ = bridge_.AddUser();
    sysfs_.Reading(kSensor, 19500);
    broker_.Start();
    watcher_ = std::make_unique<MqttWatcher>(broker_.port(), MosquittoBroker::kObserverUser,
                                             MosquittoBroker::kObserverPassword);
  }
  void TearDown() override {
    if (!HasFailure()) return;
    for (auto& daemon : daemons_) std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
  }

  std::string Mqtt() const {
    return "mqtt:\n  broker: " + broker_.address() + "\n  username: " +
           MosquittoBroker::kBridgeUser + "\n  password_file: " +
           broker_.bridge_password_file().string() + "\n";
  }
  std::string Lights() const {
    return "  lights:\n    config: {bridge: \"" + bridge_.address() + "\", username: " + user_ +
           ", poll_interval_ms: 300}\n";
  }
  std::string Thermostat() const {
    return "  thermostat:\n    config:\n      sysfs_root: " + sysfs_.root().string() +
           "\n      sensors: auto\n      target_c: 20\n      min_on_s: 0\n      min_off_s: 0\n"
           "      control_period_ms: 200\n      read_interval_ms: 100\n"
           "      relay: {backend: file, path: " + (dir_.path() / "relay").string() + "}\n";
  }
  std::string Speaker() const {
    return "  speaker:\n    config: {pcm: domian_test_wav, mixer: {card: domian_test_mixer, "
           "element: Master}}\n";
  }
  std::string Camera() const {
    return "  camera:\n    config: {device: /dev/v4l/by-id/usb-test-camera-video-index0, "
           "listen: \"127.0.0.1:0\", fps: 15, still_interval_s: 2}\n";
  }

  // A node with these services (lines of a services: section).
  Daemon& Add(const std::string& id, const std::string& services) {
    Daemon::Options options{.id = id};
    options.traits = {"w1", "speaker", "camera"};
    options.env = {{"ALSA_CONFIG_PATH", alsa_.ConfigPath()}};
    options.extra_yaml = "plugins:\n  dirs: [" + plugins_.string() +
                         "]\nplacement:\n  migrate_after: 4s\n" + Mqtt() + "services:\n" +
                         services;
    if (!daemons_.empty()) options.seeds = {daemons_.front()->address()};
    daemons_.push_back(std::make_unique<Daemon>(dir_.path(), options));
    daemons_.back()->Start();
    return *daemons_.back();
  }

  // Every discovery config seen so far, by topic: the last one.
  std::map<std::string, json> Configs(size_t from = 0) const {
    std::map<std::string, json> configs;
    const auto messages = watcher_->Messages();
    for (size_t i = from; i < messages.size(); ++i) {
      if (!IsDiscoveryTopic(messages[i].topic)) continue;
      if (messages[i].payload.empty()) {
        configs.erase(messages[i].topic);
      } else {
        configs[messages[i].topic] = json::parse(messages[i].payload, nullptr, false);
      }
    }
    return configs;
  }
  std::optional<json> Config(const std::string& topic, size_t from = 0) const {
    const auto configs = Configs(from);
    auto found = configs.find(topic);
    if (found == configs.end()) return std::nullopt;
    return found->second;
  }
  bool WaitForConfigs(const std::vector<std::string>& topics, size_t from = 0) {
    return Eventually(
        [&] {
          const auto configs = Configs(from);
          for (const std::string& topic : topics) {
            if (!configs.contains(topic)) return false;
          }
          return true;
        },
        kSettle);
  }
  // The last payload on `topic` once `match` holds for it.
  std::optional<std::string> WaitForPayload(const std::string& topic,
                                            const std::function<bool(const std::string&)>& match,
                                            std::chrono::milliseconds wait = kSettle,
                                            size_t from = 0) {
    const auto found = watcher_->WaitFor(
        [&](const MqttWatcher::Message& message) {
          return message.topic == topic && match(message.payload);
        },
        wait, from);
    if (!found) return std::nullopt;
    return found->payload;
  }

  TempDir dir_{"domian-ha-test"};
  std::filesystem::path plugins_;
  HueBridge bridge_;
  std::string desk_, hall_, kitchen_, user_;
  W1Sysfs sysfs_{dir_.path() / "devices"};
  AlsaTestConfig alsa_{dir_.path()};
  MosquittoBroker broker_{dir_.path() / "broker"};
  std::unique_ptr<MqttWatcher> watcher_;
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

std::string LightConfig(const std::string& id) {
  return "homeassistant/light/domian_test_lights/" + id + "/config";
}
std::string ThermostatConfig(const std::string& platform, const std::string& id) {
  return "homeassistant/" + platform + "/domian_test_thermostat/" + id + "/config";
}

TEST_F(HomeAssistant, EveryPluginsEntitiesAreValidDiscoveryConfigsWithStableUniqueIds) {
  Daemon& node = Add("pi1", Lights() + Thermostat() + Speaker() + Camera());
  const std::string sensor = "sensor_" + std::string("28_0000000a1b2c");
  const std::vector<std::string> expected = {
      LightConfig("light_" + desk_), LightConfig("light_" + hall_), LightConfig("group_0"),
      LightConfig("group_" + kitchen_), ThermostatConfig("climate", "climate"),
      ThermostatConfig("binary_sensor", "relay"), ThermostatConfig("sensor", sensor),
      // Per-node plugins: each node's is its own device.
      "homeassistant/notify/domian-node_test_speaker_pi1/say/config",
      "homeassistant/number/domian-node_test_speaker_pi1/volume/config",
      "homeassistant/button/domian-node_test_speaker_pi1/stop/config",
      "homeassistant/camera/domian-node_test_camera_pi1/camera/config"};
  ASSERT_TRUE(WaitForConfigs(expected)) << [&] {
    std::string seen;
    for (const auto& [topic, config] : Configs()) seen += topic + "\n";
    return seen;
  }();

  std::map<std::string, std::string> unique_ids;  // discovery topic -> unique_id
  std::set<std::string> state_topics;
  for (const auto& [topic, config] : Configs()) {
    const std::string platform = topic.substr(14, topic.find('/', 14) - 14);
    const std::vector<std::string> problems = DiscoveryProblems(platform, config);
    EXPECT_TRUE(problems.empty()) << topic << ": " << ::testing::PrintToString(problems) << "\n"
                                  << config.dump(2);
    unique_ids[topic] = config.value("unique_id", "");
    EXPECT_EQ(config["availability"][0]["topic"], "domian/test/node/pi1/availability");
    EXPECT_EQ(config["availability_mode"], "all");
    for (const auto& [key, value] : config.items()) {
      if ((key == "topic" || key.ends_with("_topic")) &&
          value.get<std::string>().find("/set/") == std::string::npos &&
          key != "availability_topic") {
        state_topics.insert(value.get<std::string>());
      } else if (key.ends_with("command_topic")) {
        EXPECT_THAT(value.get<std::string>(), HasSubstr("/set/")) << key;
      }
    }
  }
  std::set<std::string> distinct;
  for (const auto& [topic, id] : unique_ids) distinct.insert(id);
  EXPECT_EQ(distinct.size(), unique_ids.size()) << "unique ids are unique";

  // Every topic a config reads from exists: a retained value is there for
  // a Home Assistant that subscribes now.
  for (const std::string& topic : state_topics) {
    EXPECT_TRUE(Eventually([&] { return broker_.Receive(topic, 2s).has_value(); }, kSettle))
        << "nothing retained on " << topic;
  }
  for (const char* service : {"lights", "thermostat", "speaker", "camera"}) {
    EXPECT_EQ(broker_.Receive("domian/test/node/pi1/service/" + std::string(service) +
                                  "/availability",
                              5s),
              "online")
        << service;
  }
  // The camera's still is a JPEG, its attributes the URLs HA's mjpeg
  // integration takes.
  const json speaker = *Config("homeassistant/notify/domian-node_test_speaker_pi1/say/config");
  EXPECT_EQ(speaker["unique_id"], "domian.test.speaker@pi1.say");
  EXPECT_EQ(speaker["command_topic"], "domian/test/node/pi1/service/speaker/say/set/command");
  const auto still = broker_.Receive("domian/test/node/pi1/service/camera/camera/still", 10s);
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->substr(0, 2), "\xff\xd8");
  const json attributes =
      json::parse(broker_.Receive("domian/test/node/pi1/service/camera/camera/attributes", 10s)
                      .value_or(""),
                  nullptr, false);
  EXPECT_THAT(attributes.value("mjpeg_url", ""), HasSubstr("http://"));

  // The same unique ids after a restart: HA keeps the same entities.
  node.Signal(SIGTERM);
  ASSERT_EQ(node.WaitExit(kSettle), 0);
  EXPECT_EQ(broker_.Receive("domian/test/node/pi1/availability", 5s), "offline");
  const size_t before = watcher_->Count();
  node.Start();
  ASSERT_TRUE(WaitForConfigs(expected, before));
  for (const auto& [topic, config] : Configs(before)) {
    if (unique_ids.contains(topic)) {
      EXPECT_EQ(config["unique_id"], unique_ids[topic]) << topic;
    }
  }
  const auto status = Ctl(node.address(), "status");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ((*status)["mqtt"]["services"], 4);
  EXPECT_GE((*status)["mqtt"]["entities"].get<int>(), static_cast<int>(expected.size()));
}

TEST_F(HomeAssistant, ALightCommandChangesTheBulbAndItsStateComesBackAsDoesAWallSwitch) {
  Daemon& node = Add("pi1", Lights());
  const std::string state = "domian/test/service/lights/light_" + desk_ + "/state";
  ASSERT_TRUE(WaitForConfigs({LightConfig("light_" + desk_)}));
  const json config = *Config(LightConfig("light_" + desk_));
  const std::string command = config["command_topic"];
  ASSERT_TRUE(WaitForPayload(state, [](const std::string&) { return true; }).has_value());

  const size_t before = watcher_->Count();
  watcher_->Publish(command, R"({"state": "ON", "brightness": 200})");
  const auto on = WaitForPayload(
      state,
      [](const std::string& payload) {
        const json parsed = json::parse(payload, nullptr, false);
        return parsed.value("state", "") == "ON" && parsed.value("brightness", 0) == 200;
      },
      kSettle, before);
  ASSERT_TRUE(on.has_value());
  EXPECT_EQ(bridge_.LightState(desk_)["on"], true);
  EXPECT_EQ(bridge_.LightState(desk_)["bri"], 200);
  // The same command again (QoS 1 may deliver it twice) changes nothing.
  watcher_->Publish(command, R"({"state": "ON", "brightness": 200})");
  ASSERT_TRUE(Eventually(
      [&] {
        const auto status = Ctl(node.address(), "status");
        return status && (*status)["mqtt"]["commands"].get<int>() >= 2;
      },
      kSettle));

  // A wall switch (someone else at the bridge) is seen by the poll.
  const std::string hall_state = "domian/test/service/lights/light_" + hall_ + "/state";
  const size_t switched = watcher_->Count();
  bridge_.SetLightState(hall_, {{"on", true}, {"bri", 17}});
  EXPECT_TRUE(WaitForPayload(
                  hall_state,
                  [](const std::string& payload) {
                    const json parsed = json::parse(payload, nullptr, false);
                    return parsed.value("state", "") == "ON" && parsed.value("brightness", 0) == 17;
                  },
                  kSettle, switched)
                  .has_value());
  EXPECT_EQ(bridge_.LightState(desk_)["bri"], 200);
}

TEST_F(HomeAssistant, TheThermostatTakesItsTargetAndModeFromMqtt) {
  Daemon& node = Add("pi1", Thermostat());
  ASSERT_TRUE(WaitForConfigs({ThermostatConfig("climate", "climate")}));
  const json config = *Config(ThermostatConfig("climate", "climate"));
  const std::string state = config["temperature_state_topic"];
  const size_t before = watcher_->Count();
  watcher_->Publish(config["temperature_command_topic"], "22.5");
  EXPECT_TRUE(WaitForPayload(
                  state,
                  [](const std::string& payload) {
                    return json::parse(payload, nullptr, false).value("target_c", 0.0) == 22.5;
                  },
                  kSettle, before)
                  .has_value());
  const CommandResult status = CallService(node, "thermostat", "status");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(json::parse(status.out)["target_c"], 22.5);
  // 19.5 °C under a 22.5 °C target: heating; then off by MQTT.
  EXPECT_TRUE(WaitForPayload(
                  state,
                  [](const std::string& payload) {
                    return json::parse(payload, nullptr, false).value("action", "") == "heating";
                  },
                  kSettle, before)
                  .has_value());
  const size_t heating = watcher_->Count();
  watcher_->Publish(config["mode_command_topic"], "off");
  EXPECT_TRUE(WaitForPayload(
                  state,
                  [](const std::string& payload) {
                    const json parsed = json::parse(payload, nullptr, false);
                    return parsed.value("mode", "") == "off" && parsed.value("action", "") == "off";
                  },
                  kSettle, heating)
                  .has_value());
  EXPECT_TRUE(WaitForPayload("domian/test/service/thermostat/relay/relay",
                             [](const std::string& payload) { return payload == "OFF"; }, kSettle,
                             heating)
                  .has_value());
  // A target out of the thermostat's bounds is refused by it, and counted.
  watcher_->Publish(config["temperature_command_topic"], "95");
  EXPECT_TRUE(Eventually(
      [&] {
        const auto daemon_status = Ctl(node.address(), "status");
        return daemon_status && (*daemon_status)["mqtt"]["commands_failed"].get<int>() >= 1;
      },
      kSettle));
}

TEST_F(HomeAssistant, WhenTheOwnerIsKilledTheSameEntityComesBackOnTheNewOwner) {
  Daemon& a = Add("a", Lights());
  ASSERT_TRUE(Eventually([&] { return ServiceOwners(a, "lights").contains("a"); }, kSettle));
  Daemon& b = Add("b", Lights());
  ASSERT_TRUE(WaitForConfigs({LightConfig("light_" + desk_)}));
  const json before_config = *Config(LightConfig("light_" + desk_));
  ASSERT_EQ(before_config["availability"][0]["topic"], "domian/test/node/a/availability");
  ASSERT_TRUE(Eventually(
      [&] {
        const auto owners = ServiceOwners(b, "lights");
        return owners.size() == 1 && owners.contains("a") &&
               broker_.Receive("domian/test/node/b/availability", 2s) == "online";
      },
      kSettle));

  const size_t before = watcher_->Count();
  const auto killed = Clock::now();
  a.Signal(SIGKILL);
  // The broker says a is gone (its last will): HA shows the entity
  // unavailable.
  const auto offline = watcher_->WaitFor(
      [](const MqttWatcher::Message& message) {
        return message.topic == "domian/test/node/a/availability" && message.payload == "offline";
      },
      kSettle, before);
  ASSERT_TRUE(offline.has_value());
  // b runs lights (polled as often as domianctl answers)...
  std::optional<Clock::time_point> running;
  ASSERT_TRUE(Eventually(
      [&] {
        const auto owners = ServiceOwners(b, "lights");
        if (owners.size() == 1 && owners.contains("b")) running = Clock::now();
        return running.has_value();
      },
      kSettle));
  // ...and says so: the same entity, available through b.
  const auto online = watcher_->WaitFor(
      [](const MqttWatcher::Message& message) {
        return message.topic == "domian/test/node/b/service/lights/availability" &&
               message.payload == "online";
      },
      kSettle, before);
  ASSERT_TRUE(online.has_value());
  const json after_config = *Config(LightConfig("light_" + desk_), before);
  EXPECT_EQ(after_config["unique_id"], before_config["unique_id"]);
  EXPECT_EQ(after_config["availability"][0]["topic"], "domian/test/node/b/availability");
  EXPECT_EQ(after_config["availability"][1]["topic"],
            "domian/test/node/b/service/lights/availability");
  const auto failover = std::chrono::duration_cast<std::chrono::milliseconds>(*running - killed);
  const auto available = std::chrono::duration_cast<std::chrono::milliseconds>(online->at - killed);
  std::cerr << "failover (seen by domianctl): " << failover.count()
            << " ms; available again in Home Assistant: " << available.count() << " ms\n";
  // Within the failover time and a second (plus how late the polling of
  // domianctl may have seen the failover end).
  EXPECT_LE(available, failover + 1500ms);
  // And it takes commands there.
  const size_t moved = watcher_->Count();
  watcher_->Publish(after_config["command_topic"], R"({"state": "ON"})");
  EXPECT_TRUE(WaitForPayload(
                  "domian/test/service/lights/light_" + desk_ + "/state",
                  [](const std::string& payload) {
                    return json::parse(payload, nullptr, false).value("state", "") == "ON";
                  },
                  kSettle, moved)
                  .has_value());
}

TEST_F(HomeAssistant, HomeAssistantOnlineAndABrokerRestartGetEverythingBack) {
  Daemon& node = Add("pi1", Thermostat());
  const std::string climate = ThermostatConfig("climate", "climate");
  ASSERT_TRUE(WaitForConfigs({climate}));
  const std::string state = Config(climate)->at("mode_state_topic");
  ASSERT_TRUE(WaitForPayload(state, [](const std::string&) { return true; }).has_value());

  // Home Assistant restarted: it announces itself and gets every config
  // and state again.
  const size_t before = watcher_->Count();
  watcher_->Publish("homeassistant/status", "online");
  EXPECT_TRUE(WaitForConfigs({climate, ThermostatConfig("binary_sensor", "relay")}, before));
  EXPECT_TRUE(watcher_->WaitForTopic(state, kSettle, before).has_value());

  // The broker restarted without persistence: every retained message was
  // lost, and the node puts them back.
  watcher_.reset();
  broker_.Stop();
  broker_.Start();
  EXPECT_TRUE(Eventually([&] { return broker_.Receive(climate, 2s).has_value(); }, kSettle));
  EXPECT_TRUE(broker_.Receive(state, 5s).has_value());
  EXPECT_EQ(broker_.Receive("domian/test/node/pi1/service/thermostat/availability", 5s),
            "online");
  const auto status = Ctl(node.address(), "status");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ((*status)["mqtt"]["state"], "connected");
  EXPECT_GE((*status)["mqtt"]["connects"].get<int>(), 2);
}

}  // namespace
}  // namespace domian::testing
