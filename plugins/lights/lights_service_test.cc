// LightsService as Home Assistant sees it, against the stand-in bridge
// (tests/support/hue_bridge.h): the description the core reads, the
// states published (after start, after a command, after a wall switch
// the poll sees), the command Home Assistant's JSON becomes, and the
// configuration that turns it all off.
#include "plugins/testing/entity_description.h"
#include "plugins/lights/lights_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugins/testing/recording_host.h"
#include "tests/support/cluster.h"
#include "tests/support/hue_bridge.h"

namespace domian::lights {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using domian::testing::EntityIn;
using nlohmann::json;

static_assert(sdk::detail::HasEntities<LightsService>, "offers domian.entities/1");

// Polled this often, so a wall switch shows within a test's patience.
constexpr int kTestPollMs = 200;

class LightsEntities : public ::testing::Test {
 protected:
  LightsEntities() {
    desk_ = bridge_.AddLight("Desk");  // extended colour: xy and ct
    plug_ = bridge_.AddLight(testing::HueBridge::LightSpec{.name = "Plug",
                                                           .type = "On/Off plug-in unit",
                                                           .model_id = "LOM001"});
    ambiance_ = bridge_.AddLight(testing::HueBridge::LightSpec{
        .name = "Ambiance", .type = "Color temperature light", .model_id = "LTW001",
        .ct_min = 153, .ct_max = 454});
    room_ = bridge_.AddGroup("Study", {desk_, ambiance_});
    user_ = bridge_.AddUser();
  }

  std::unique_ptr<LightsService> Make(const json& more = json::object()) {
    json config = {{"bridge", bridge_.address()},
                   {"username", user_},
                   {"poll_interval_ms", kTestPollMs}};
    config.update(more);
    return std::make_unique<LightsService>(sdk::Host(&host_.table), config.dump());
  }

  // The latest state of `entity` once `accept` holds, as JSON.
  std::optional<json> StateWhere(const std::string& entity,
                                 const std::function<bool(const json&)>& accept,
                                 std::chrono::milliseconds timeout = 5s) {
    const auto text = host_.WaitForState(
        entity, "state", [&](const std::string& data) { return accept(json::parse(data)); },
        timeout);
    if (!text) return std::nullopt;
    return json::parse(*text);
  }

  testing::TempDir dir_{"domian-lights-service-test"};
  testing::HueBridge bridge_;
  testing::RecordingHost host_{dir_.path().string(), "lights"};
  std::string desk_, plug_, ambiance_, room_, user_;
};

TEST_F(LightsEntities, DescribesEachBulbAndGroupByWhatItCanDo) {
  auto service = Make();
  service->Start();
  // The first poll finds the bulbs and groups: the entities changed.
  ASSERT_TRUE(host_.WaitForChanged(1, 5s));
  ASSERT_TRUE(testing::Eventually(
      [&] { return json::parse(service->DescribeEntities())["entities"].size() == 5; }, 5s))
      << service->DescribeEntities();
  const json description = json::parse(service->DescribeEntities());

  const json* desk = EntityIn(description, "light_" + desk_);
  ASSERT_NE(desk, nullptr);
  EXPECT_EQ((*desk)["platform"], "light");
  EXPECT_EQ((*desk)["name"], "Desk");
  EXPECT_EQ((*desk)["config"]["schema"], "json");
  EXPECT_EQ((*desk)["config"]["supported_color_modes"], json::array({"xy", "color_temp"}));
  EXPECT_EQ((*desk)["config"]["brightness"], true);
  EXPECT_EQ((*desk)["config"]["brightness_scale"], 254);
  EXPECT_EQ((*desk)["config"]["min_mireds"], 153);
  EXPECT_EQ((*desk)["config"]["max_mireds"], 500);
  EXPECT_EQ((*desk)["states"], json({{"state_topic", "state"}}));
  EXPECT_EQ((*desk)["commands"]["command_topic"],
            json({{"command", "ha_set"}, {"arg", "ha"}, {"as", "json"}, {"args", {{"light", desk_}}}}));

  const json* plug = EntityIn(description, "light_" + plug_);
  ASSERT_NE(plug, nullptr);
  EXPECT_EQ((*plug)["config"]["supported_color_modes"], json::array({"onoff"}));
  EXPECT_EQ((*plug)["config"]["brightness"], false);
  EXPECT_FALSE((*plug)["config"].contains("brightness_scale"));

  const json* ambiance = EntityIn(description, "light_" + ambiance_);
  ASSERT_NE(ambiance, nullptr);
  EXPECT_EQ((*ambiance)["config"]["supported_color_modes"], json::array({"color_temp"}));
  EXPECT_EQ((*ambiance)["config"]["max_mireds"], 454);

  const json* all = EntityIn(description, "group_0");
  ASSERT_NE(all, nullptr);
  EXPECT_EQ((*all)["commands"]["command_topic"]["args"], json({{"group", "0"}}));
  const json* study = EntityIn(description, "group_" + room_);
  ASSERT_NE(study, nullptr);
  EXPECT_EQ((*study)["name"], "Study");
  EXPECT_EQ((*study)["config"]["supported_color_modes"], json::array({"xy", "color_temp"}));

  for (const json& entity : description["entities"]) {
    for (const auto& [key, value] : entity["config"].items()) {
      EXPECT_FALSE(key.ends_with("_topic")) << entity["id"] << " config has " << key;
    }
    for (const auto& [key, state] : entity["states"].items()) {
      EXPECT_TRUE(host_.WaitForState(entity["id"], state, [](const std::string&) { return true; }, 5s))
          << entity["id"] << " " << state.get<std::string>() << " never published";
    }
  }
  const auto desk_state = host_.Latest("light_" + desk_, "state");
  ASSERT_TRUE(desk_state);
  EXPECT_EQ(json::parse(*desk_state),
            json({{"state", "OFF"}, {"brightness", 254}, {"color_mode", "color_temp"}, {"color_temp", 366}}));
  EXPECT_EQ(json::parse(*host_.Latest("light_" + plug_, "state")),
            json({{"state", "OFF"}, {"color_mode", "onoff"}}));
  service->Stop();
}

TEST_F(LightsEntities, HomeAssistantsCommandSetsTheBulbAndItsStateIsPublished) {
  auto service = Make();
  service->Start();
  ASSERT_TRUE(StateWhere("light_" + desk_, [](const json& s) { return s["state"] == "OFF"; }));
  // What the core builds from a message on the command topic.
  const json ha = {{"state", "ON"}, {"brightness", 128}, {"color", {{"x", 0.3}, {"y", 0.3}}},
                   {"transition", 2}};
  const json args = {{"light", desk_}, {"ha", ha}};
  service->Invoke("ha_set", args.dump());
  const json on = bridge_.LightState(desk_);
  EXPECT_EQ(on["on"], true);
  EXPECT_EQ(on["bri"], 128);
  EXPECT_EQ(on["xy"], json::array({0.3, 0.3}));
  const auto published = StateWhere("light_" + desk_, [](const json& s) { return s["state"] == "ON"; });
  ASSERT_TRUE(published) << host_.Latest("light_" + desk_, "state").value_or("none");
  EXPECT_EQ(*published, json({{"state", "ON"},
                              {"brightness", 128},
                              {"color_mode", "xy"},
                              {"color", {{"x", 0.3}, {"y", 0.3}}}}));
  // QoS 1 may deliver it again: the same state, not a toggle.
  service->Invoke("ha_set", args.dump());
  EXPECT_EQ(bridge_.LightState(desk_)["on"], true);

  // A colour temperature, then off (with its transition only).
  service->Invoke("ha_set", json({{"light", desk_}, {"ha", {{"color_temp", 300}}}}).dump());
  EXPECT_TRUE(StateWhere("light_" + desk_, [](const json& s) {
    return s["color_mode"] == "color_temp" && s["color_temp"] == 300;
  }));
  service->Invoke("ha_set",
                  json({{"light", desk_}, {"ha", {{"state", "OFF"}, {"transition", 1}}}}).dump());
  EXPECT_EQ(bridge_.LightState(desk_)["on"], false);
  EXPECT_TRUE(StateWhere("light_" + desk_, [](const json& s) { return s["state"] == "OFF"; }));

  // A group: every light of it goes on, and the group shows on.
  service->Invoke("ha_set", json({{"group", room_}, {"ha", {{"state", "ON"}}}}).dump());
  EXPECT_EQ(bridge_.LightState(ambiance_)["on"], true);
  EXPECT_TRUE(StateWhere("group_" + room_, [](const json& s) { return s["state"] == "ON"; }));
  EXPECT_TRUE(StateWhere("light_" + ambiance_, [](const json& s) { return s["state"] == "ON"; }));
  service->Stop();
}

TEST_F(LightsEntities, AWallSwitchSeenByThePollIsPublished) {
  auto service = Make();
  service->Start();
  ASSERT_TRUE(StateWhere("light_" + plug_, [](const json& s) { return s["state"] == "OFF"; }));
  const int before = host_.PublishCount("light_" + plug_, "state");
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kTestPollMs));
  EXPECT_EQ(host_.PublishCount("light_" + plug_, "state"), before)
      << "nothing changed: nothing published";
  bridge_.SetLightState(plug_, {{"on", true}});  // someone at the wall
  EXPECT_TRUE(StateWhere("light_" + plug_, [](const json& s) { return s["state"] == "ON"; }));
  EXPECT_TRUE(StateWhere("group_0", [](const json& s) { return s["state"] == "ON"; }));
  service->Stop();
}

TEST_F(LightsEntities, ANewBulbChangesTheEntities) {
  auto service = Make();
  service->Start();
  ASSERT_TRUE(host_.WaitForState("light_" + desk_, "state", [](const std::string&) { return true; }, 5s));
  const int changes = host_.ChangedCalls();
  const std::string hall = bridge_.AddLight("Hall");
  ASSERT_TRUE(host_.WaitForChanged(changes + 1, 5s));
  EXPECT_NE(EntityIn(json::parse(service->DescribeEntities()), "light_" + hall), nullptr);
  EXPECT_TRUE(host_.WaitForState("light_" + hall, "state", [](const std::string&) { return true; }, 5s));
  service->Stop();
}

TEST_F(LightsEntities, HomeAssistantFalseOffersNothing) {
  auto service = Make({{"home_assistant", false}});
  service->Start();
  ASSERT_TRUE(testing::Eventually([&] { return !service->Invoke("status", "{}").empty(); }, 5s));
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kTestPollMs));
  EXPECT_EQ(json::parse(service->DescribeEntities()), json({{"entities", json::array()}}));
  EXPECT_FALSE(host_.Latest("light_" + desk_, "state").has_value());
  EXPECT_EQ(host_.ChangedCalls(), 0);
  service->Stop();
}

TEST_F(LightsEntities, RefusesBadHomeAssistantCommands) {
  auto service = Make();
  service->Start();
  ASSERT_TRUE(host_.WaitForState("light_" + desk_, "state", [](const std::string&) { return true; }, 5s));
  auto refused = [&](const json& args) {
    try {
      service->Invoke("ha_set", args.dump());
      return std::string("accepted");
    } catch (const sdk::Error& e) {
      EXPECT_EQ(e.code(), DOMIAN_ERR_INVALID_ARGUMENT) << e.what();
      return std::string(e.what());
    }
  };
  EXPECT_THAT(refused({{"light", desk_}, {"ha", {{"state", "TOGGLE"}}}}), HasSubstr("state"));
  EXPECT_THAT(refused({{"light", desk_}, {"ha", {{"brightness", 300}}}}), HasSubstr("brightness"));
  EXPECT_THAT(refused({{"light", desk_}, {"ha", {{"flash", "long"}}}}), HasSubstr("flash"));
  EXPECT_THAT(refused({{"light", desk_}, {"group", "0"}, {"ha", {{"state", "ON"}}}}),
              HasSubstr("ha_set takes"));
  EXPECT_THAT(refused({{"light", "99"}, {"ha", {{"state", "ON"}}}}), HasSubstr("no light"));
  service->Stop();
}

TEST(LightsConfig, ValidatesEveryKeyWithItsName) {
  EXPECT_TRUE(LightsService::ValidateConfig(R"({"bridge": "auto"})").empty());
  EXPECT_TRUE(LightsService::ValidateConfig(R"({"bridge": "auto", "home_assistant": false})").empty());
  const auto problems = LightsService::ValidateConfig(
      R"({"bridge": "auto", "home_assistant": "yes", "poll_interval_ms": 5})");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_THAT(problems, ::testing::Contains(HasSubstr("home_assistant: must be true")));
  EXPECT_THAT(problems, ::testing::Contains(HasSubstr("poll_interval_ms: must be a whole number from 200")));
  EXPECT_THAT(LightsService::ValidateConfig("{}"),
              ::testing::ElementsAre(HasSubstr("bridge: is missing")));
  EXPECT_THAT(LightsService::ValidateConfig("[1]"), ::testing::ElementsAre(HasSubstr(": must be")));
  EXPECT_THROW(LightsConfig::Parse(R"({"bridge": "auto", "home_assistant": 1})"), sdk::Error);
}

}  // namespace
}  // namespace domian::lights
