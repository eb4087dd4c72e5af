#include "plugins/lights/hue_api.h"

#include <domian/plugin.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace domian::lights {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

StateChange Parse(const std::string& text, bool allow_scene = false) {
  return ParseStateChange(json::parse(text), allow_scene, {"light", "wait"});
}

std::string RefusalOf(const std::string& text) {
  try {
    Parse(text);
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.code(), DOMIAN_ERR_INVALID_ARGUMENT);
    return e.what();
  }
  return "(accepted)";
}

TEST(HueApi, ParsesEveryField) {
  const StateChange change = Parse(
      R"({"light":"3","wait":false,"on":true,"bri":200,"hue":1000,"sat":50,"ct":300,)"
      R"("xy":[0.3,0.4],"transition_ms":1250})");
  EXPECT_EQ(change.on, true);
  EXPECT_EQ(change.bri, 200);
  EXPECT_EQ(change.hue, 1000);
  EXPECT_EQ(change.sat, 50);
  EXPECT_EQ(change.ct, 300);
  ASSERT_TRUE(change.xy);
  EXPECT_DOUBLE_EQ((*change.xy)[1], 0.4);
  EXPECT_EQ(change.transition_ms, 1250);
}

TEST(HueApi, RefusesWhatABridgeWouldRefuseOrMisread) {
  EXPECT_THAT(RefusalOf(R"({"bri":0})"), HasSubstr("does not switch a Hue light off"));
  EXPECT_THAT(RefusalOf(R"({"bri":255})"), HasSubstr("bri must be from 1 to 254"));
  EXPECT_THAT(RefusalOf(R"({"bri":"high"})"), HasSubstr("bri must be a whole number"));
  EXPECT_THAT(RefusalOf(R"({"ct":100})"), HasSubstr("ct must be from 153 to 500"));
  EXPECT_THAT(RefusalOf(R"({"xy":[1.2,0]})"), HasSubstr("xy must be [x, y]"));
  EXPECT_THAT(RefusalOf(R"({"xy":[0.2]})"), HasSubstr("xy must be [x, y]"));
  EXPECT_THAT(RefusalOf(R"({"on":"yes"})"), HasSubstr("on must be true or false"));
  EXPECT_THAT(RefusalOf(R"({"colour":"red"})"), HasSubstr("unknown field \"colour\""));
  EXPECT_THAT(RefusalOf(R"({"scene":"abc"})"), HasSubstr("unknown field \"scene\""));
  EXPECT_THAT(RefusalOf(R"({"on":false,"bri":100})"),
              HasSubstr("cannot be set while switching the light off"));
  EXPECT_THAT(RefusalOf(R"({"transition_ms":-1})"), HasSubstr("transition_ms must be from 0"));
}

TEST(HueApi, BrightnessOrColourAlwaysSwitchesOnSoTheBridgeDoesNotAnswer201) {
  EXPECT_EQ(ToBody(Parse(R"({"bri":10})")), json::parse(R"({"on":true,"bri":10})"));
  EXPECT_EQ(ToBody(Parse(R"({"ct":300})")), json::parse(R"({"on":true,"ct":300})"));
  EXPECT_EQ(ToBody(Parse(R"({"on":false})")), json::parse(R"({"on":false})"));
  EXPECT_EQ(ToBody(Parse(R"({"on":true,"transition_ms":1260})")),
            json::parse(R"({"on":true,"transitiontime":13})"));
  EXPECT_EQ(ToBody(Parse(R"({"scene":"AbC"})", true)), json::parse(R"({"scene":"AbC"})"));
}

TEST(HueApi, MergeLeavesTheLightAsBothChangesWould) {
  // Brightness, then colour: both stay.
  EXPECT_EQ(Merge(Parse(R"({"bri":100})"), Parse(R"({"ct":300})")),
            Parse(R"({"bri":100,"ct":300})"));
  // A newer colour mode replaces the older ones; hue and sat keep each other.
  EXPECT_EQ(Merge(Parse(R"({"xy":[0.1,0.2],"bri":5})"), Parse(R"({"ct":400})")),
            Parse(R"({"ct":400,"bri":5})"));
  EXPECT_EQ(Merge(Parse(R"({"ct":400})"), Parse(R"({"xy":[0.1,0.2]})")),
            Parse(R"({"xy":[0.1,0.2]})"));
  EXPECT_EQ(Merge(Parse(R"({"hue":10,"sat":20})"), Parse(R"({"hue":30})")),
            Parse(R"({"hue":30,"sat":20})"));
  EXPECT_EQ(Merge(Parse(R"({"hue":10})"), Parse(R"({"sat":40})")), Parse(R"({"hue":10,"sat":40})"));
  EXPECT_EQ(Merge(Parse(R"({"ct":300,"xy":[0.1,0.2]})"), Parse(R"({"sat":40})")),
            Parse(R"({"sat":40})"));
  EXPECT_EQ(Merge(Parse(R"({"hue":10,"sat":20})"), Parse(R"({"ct":200})")), Parse(R"({"ct":200})"));
  // Switching off drops what came before.
  EXPECT_EQ(Merge(Parse(R"({"on":true,"bri":100,"ct":300})"), Parse(R"({"on":false})")),
            Parse(R"({"on":false})"));
  // Off, then brightness: on again with that brightness.
  EXPECT_EQ(ToBody(Merge(Parse(R"({"on":false})"), Parse(R"({"bri":80})"))),
            json::parse(R"({"on":true,"bri":80})"));
  // The newest transition wins.
  EXPECT_EQ(Merge(Parse(R"({"bri":1,"transition_ms":100})"), Parse(R"({"transition_ms":0})")),
            Parse(R"({"bri":1,"transition_ms":0})"));
  // A scene replaces everything before it.
  EXPECT_EQ(Merge(Parse(R"({"bri":1})"), Parse(R"({"scene":"s"})", true)),
            Parse(R"({"scene":"s"})", true));
}

TEST(HueApi, ReadsEverySuccessAndErrorItem) {
  const auto items = ReadItems(json::parse(R"([
    {"success":{"/lights/1/state/on":true}},
    {"error":{"type":201,"address":"/lights/1/state/bri",
              "description":"parameter, bri, is not modifiable. Device is set to off."}},
    {"success":{"/lights/1/state/ct":300}}])"));
  ASSERT_EQ(items.size(), 3U);
  EXPECT_TRUE(items[0].ok);
  EXPECT_EQ(items[0].field, "on");
  EXPECT_EQ(items[0].value, true);
  EXPECT_FALSE(items[1].ok);
  EXPECT_EQ(items[1].field, "bri");
  EXPECT_EQ(items[1].error, kErrorDeviceOff);
  EXPECT_EQ(items[2].field, "ct");
  EXPECT_EQ(Describe(items),
            "on set; bri refused (error 201: parameter, bri, is not modifiable. Device is set to "
            "off.); ct set");
}

TEST(HueApi, MalformedRepliesAreErrorsNotCrashes) {
  EXPECT_THROW(ReadItems(json::parse(R"({"lights":{}})")), std::runtime_error);
  EXPECT_THROW(ReadItems(json::parse(R"([1, 2])")), std::runtime_error);
  EXPECT_THROW(ReadItems(json::parse(R"([{"neither":{}}])")), std::runtime_error);
  EXPECT_THROW(ReadBridgeInfo(json::parse(R"({"name":"x"})")), std::runtime_error);
  EXPECT_THROW(ReadLights(json::parse(R"([])")), std::runtime_error);
  EXPECT_THROW(ReadLights(json::parse(R"({"1":5})")), std::runtime_error);
  EXPECT_THROW(ReadPairing(json::parse(R"([{"success":{}}])")), std::runtime_error);
  // Error items without the usual fields are still read.
  const auto items = ReadItems(json::parse(R"([{"error":{}}])"));
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].error, -1);
}

TEST(HueApi, FirstErrorFindsUnauthorizedInAListReply) {
  const auto error = FirstError(json::parse(
      R"([{"error":{"type":1,"address":"/lights","description":"unauthorized user"}}])"));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->error, kErrorUnauthorized);
  EXPECT_FALSE(FirstError(json::parse(R"({"1":{"name":"a"}})")));
}

TEST(HueApi, PairingReplies) {
  const PairingReply waiting = ReadPairing(json::parse(
      R"([{"error":{"type":101,"address":"","description":"link button not pressed"}}])"));
  EXPECT_FALSE(waiting.pairing);
  EXPECT_EQ(waiting.error.error, kErrorLinkButton);
  const PairingReply paired =
      ReadPairing(json::parse(R"([{"success":{"username":"u1","clientkey":"K"}}])"));
  ASSERT_TRUE(paired.pairing);
  EXPECT_EQ(paired.pairing->username, "u1");
  EXPECT_EQ(paired.pairing->client_key, "K");
}

TEST(HueApi, BridgeConfigAndIds) {
  const BridgeInfo info = ReadBridgeInfo(json::parse(
      R"({"bridgeid":"001788fffe0d0a1e","apiversion":"1.56.0","name":"Hue","swversion":"1"})"));
  EXPECT_EQ(info.bridge_id, "001788FFFE0D0A1E");
  EXPECT_EQ(info.api_version, "1.56.0");
  EXPECT_TRUE(IsBridgeId("001788fffe0d0a1e"));
  EXPECT_FALSE(IsBridgeId("001788fffe0d0a1"));
  EXPECT_FALSE(IsBridgeId("001788fffe0d0a1g"));
}

TEST(HueApi, DeviceTypeFitsTheBridgesLimit) {
  EXPECT_EQ(DeviceType("garage"), "domian#garage");
  EXPECT_EQ(DeviceType("a b/c"), "domian#abc");
  EXPECT_EQ(DeviceType(std::string(100, 'x')).size(), 40U);
  EXPECT_EQ(DeviceType(""), "domian#node");
}

TEST(HueApi, ReadsLightsGroupsAndScenes) {
  const auto lights = ReadLights(json::parse(
      R"({"1":{"name":"Desk","type":"Extended color light","state":{"on":true,"bri":5}},
          "2":{"name":"Hall"}})"));
  ASSERT_EQ(lights.size(), 2U);
  EXPECT_EQ(lights[0].name, "Desk");
  EXPECT_EQ(lights[0].state["bri"], 5);
  EXPECT_TRUE(lights[1].state.is_object());
  const auto groups = ReadGroups(json::parse(R"({"1":{"name":"Kitchen","lights":["1","2"]}})"));
  ASSERT_EQ(groups.size(), 1U);
  EXPECT_EQ(groups[0].lights, (std::vector<std::string>{"1", "2"}));
  const auto scenes = ReadScenes(json::parse(R"({"abc":{"name":"Relax","group":"1"}})"));
  ASSERT_EQ(scenes.size(), 1U);
  EXPECT_EQ(scenes[0].group, "1");
  EXPECT_EQ(scenes[0].name, "Relax");
}

}  // namespace
}  // namespace domian::lights
