#include "core/mqtt/entities.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

namespace domian::mqtt {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

// A thermostat as its plugin would describe it: one entity, several state
// keys reading one state, two commands.
constexpr char kClimate[] = R"({"entities": [{
  "id": "heating", "platform": "climate", "name": null,
  "config": {"modes": ["off", "heat"], "min_temp": 5, "max_temp": 30,
             "mode_state_template": "{{ value_json.mode }}"},
  "states": {"mode_state_topic": "climate", "current_temperature_topic": "climate"},
  "commands": {"mode_command_topic": {"command": "set_mode", "arg": "mode"},
               "temperature_command_topic": {"command": "set_target", "arg": "target_c",
                                             "as": "number"}}}]})";

EntityOwner Owner(std::string node = "pi1") {
  return EntityOwner{.cluster = "home",
                     .node_id = std::move(node),
                     .service = "thermostat",
                     .plugin = "thermostat",
                     .plugin_version = "1.2.0",
                     .domian_version = "0.1.0",
                     .discovery_prefix = "homeassistant"};
}

std::string ParseError(const std::string& json) {
  absl::StatusOr<std::vector<Entity>> parsed = ParseEntities(json);
  EXPECT_FALSE(parsed.ok()) << json;
  return parsed.ok() ? "" : std::string(StatusMessage(parsed.status()));
}

std::string OneEntity(const std::string& fields) {
  return R"({"entities": [{"id": "a", "platform": "switch", "name": "A")" +
         (fields.empty() ? "" : ", " + fields) + "}]}";
}

TEST(EntitiesTest, ADescriptionIsParsedWhole) {
  absl::StatusOr<std::vector<Entity>> parsed = ParseEntities(kClimate);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  const Entity& entity = (*parsed)[0];
  EXPECT_EQ(entity.id, "heating");
  EXPECT_EQ(entity.platform, "climate");
  EXPECT_FALSE(entity.name.has_value());
  EXPECT_EQ(entity.states.at("mode_state_topic"), "climate");
  EXPECT_EQ(entity.commands.at("mode_command_topic").command, "set_mode");
  EXPECT_EQ(entity.commands.at("temperature_command_topic").as, PayloadAs::kNumber);
  EXPECT_EQ(entity.commands.at("mode_command_topic").as, PayloadAs::kText);
}

TEST(EntitiesTest, NoEntitiesIsAnEmptyList) {
  absl::StatusOr<std::vector<Entity>> parsed = ParseEntities(R"({"entities": []})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->empty());
}

TEST(EntitiesTest, EachBrokenRuleIsNamedWithItsPlace) {
  EXPECT_THAT(ParseError("not json"), HasSubstr("not JSON"));
  EXPECT_THAT(ParseError(R"({"entity": []})"), HasSubstr("\"entities\""));
  EXPECT_THAT(ParseError(R"({"entities": [{"id": "Bad Id", "platform": "switch", "name": "x"}]})"),
              HasSubstr("entities.0.id"));
  EXPECT_THAT(ParseError(R"({"entities": [{"id": "a", "platform": "vacuum", "name": "x"}]})"),
              HasSubstr("entities.0.platform: must be one of light"));
  EXPECT_THAT(ParseError(R"({"entities": [{"id": "a", "platform": "switch"}]})"),
              HasSubstr("entities.0.name: missing"));
  EXPECT_THAT(ParseError(OneEntity(R"("config": {"state_topic": "elsewhere/x"})")),
              HasSubstr("entities.0.config: 'state_topic' is domiand's to set"));
  EXPECT_THAT(ParseError(OneEntity(R"("config": {"unique_id": "other"})")),
              HasSubstr("'unique_id' is domiand's to set"));
  EXPECT_THAT(ParseError(OneEntity(R"("config": {"stat_t": "x"})")),
              HasSubstr("'stat_t' is domiand's to set"));
  EXPECT_THAT(ParseError(OneEntity(R"("config": {"device": {"name": "x"}})")),
              HasSubstr("'device' is domiand's to set"));
  EXPECT_THAT(ParseError(OneEntity(R"("states": {"state": "s"})")),
              HasSubstr("not a state's topic key"));
  EXPECT_THAT(ParseError(OneEntity(R"("states": {"availability_topic": "s"})")),
              HasSubstr("availability is domiand's"));
  EXPECT_THAT(ParseError(OneEntity(R"("config": {"t": "x"})")), HasSubstr("'t' is domiand's"));
  EXPECT_THAT(ParseError(OneEntity(R"("states": {"state_topic": "set"})")),
              HasSubstr("entities.0.states.state_topic"));
  EXPECT_THAT(ParseError(OneEntity(R"("commands": {"command_topic": {"arg": "x"}})")),
              HasSubstr("entities.0.commands.command_topic.command: missing"));
  EXPECT_THAT(
      ParseError(OneEntity(R"("commands": {"command_topic": {"command": "c", "as": "bytes"}})")),
      HasSubstr("command_topic.as"));
  EXPECT_THAT(ParseError(OneEntity(R"("commands": {"command_topic": {"command": "c", "arg": "v",
                                                   "args": {"v": 1}}})")),
              HasSubstr("sets 'v', the payload's argument"));
  EXPECT_THAT(ParseError(OneEntity(R"("states": {"state_topic": "s"},
                                     "commands": {"state_topic": {"command": "c"}})")),
              HasSubstr("is a state's topic key too"));
  EXPECT_THAT(ParseError(OneEntity(R"("colour": 1)")), HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(ParseError(R"({"entities": [{"id": "a", "platform": "switch", "name": "x"},
                                          {"id": "a", "platform": "switch", "name": "y"}]})"),
              HasSubstr("entities.1.id: 'a' is used twice"));
}

TEST(EntitiesTest, SizesCountsAndDepthAreBounded) {
  std::string many = R"({"entities": [)";
  for (size_t i = 0; i <= kMaxEntities; ++i) {
    many += (i == 0 ? "" : ",") + std::string(R"({"id": "e)") + std::to_string(i) +
            R"(", "platform": "switch", "name": null})";
  }
  many += "]}";
  EXPECT_THAT(ParseError(many), HasSubstr("more than 64"));
  EXPECT_THAT(ParseError(std::string(kMaxDescriptionBytes + 1, ' ')), HasSubstr("bytes"));
  EXPECT_THAT(ParseError(OneEntity(R"("config": {"icon": ")" +
                                   std::string(kMaxEntityConfigBytes, 'x') + "\"}")),
              HasSubstr("entities.0.config: more than"));
  std::string deep = OneEntity(R"("config": {"x": )" + std::string(20, '[') +
                               std::string(20, ']') + "}");
  EXPECT_THAT(ParseError(deep), HasSubstr("nested deeper"));
  EXPECT_THAT(ParseError("{\"entities\": [], \"x\": \"\xff\"}"), HasSubstr("not UTF-8"));
}

TEST(EntitiesTest, TheDiscoveryConfigHasTopicsAvailabilityDeviceAndPluginKeys) {
  const Entity entity = ParseEntities(kClimate)->at(0);
  const Json config = Json::parse(DiscoveryConfig(Owner(), entity));
  EXPECT_EQ(DiscoveryTopic(Owner(), entity),
            "homeassistant/climate/domian_home_thermostat/heating/config");
  EXPECT_EQ(config["unique_id"], "domian.home.thermostat.heating");
  EXPECT_TRUE(config["name"].is_null());
  EXPECT_EQ(config["modes"], Json::array({"off", "heat"}));
  EXPECT_EQ(config["mode_state_template"], "{{ value_json.mode }}");
  EXPECT_EQ(config["mode_state_topic"], "domian/home/service/thermostat/heating/climate");
  EXPECT_EQ(config["current_temperature_topic"], "domian/home/service/thermostat/heating/climate");
  EXPECT_EQ(config["mode_command_topic"], "domian/home/service/thermostat/heating/set/mode_command");
  EXPECT_EQ(config["temperature_command_topic"],
            "domian/home/service/thermostat/heating/set/temperature_command");
  EXPECT_EQ(config["availability_mode"], "all");
  ASSERT_EQ(config["availability"].size(), 2u);
  EXPECT_EQ(config["availability"][0]["topic"], "domian/home/node/pi1/availability");
  EXPECT_EQ(config["availability"][1]["topic"],
            "domian/home/node/pi1/service/thermostat/availability");
  EXPECT_EQ(config["device"]["identifiers"], Json::array({"domian.home.thermostat"}));
  EXPECT_EQ(config["device"]["name"], "thermostat");
  EXPECT_EQ(config["origin"]["name"], "domian");
}

TEST(EntitiesTest, OnAnotherNodeOnlyTheAvailabilityChanges) {
  const Entity entity = ParseEntities(kClimate)->at(0);
  Json here = Json::parse(DiscoveryConfig(Owner("pi1"), entity));
  Json there = Json::parse(DiscoveryConfig(Owner("pi2"), entity));
  EXPECT_EQ(there["availability"][0]["topic"], "domian/home/node/pi2/availability");
  EXPECT_EQ(DiscoveryTopic(Owner("pi1"), entity), DiscoveryTopic(Owner("pi2"), entity));
  here.erase("availability");
  there.erase("availability");
  EXPECT_EQ(here, there);
}

TEST(EntitiesTest, CommandTopicsLeadBackToTheirEntityAndKey) {
  const std::string topic = CommandTopic(Owner(), "heating", "mode_command_topic");
  const std::optional<CommandTarget> target = ParseCommandTopic(Owner(), topic);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->entity, "heating");
  EXPECT_EQ(target->key, "mode_command_topic");
  EntityOwner lights = Owner();
  lights.service = "lights";
  EXPECT_FALSE(ParseCommandTopic(lights, topic).has_value());
  EXPECT_FALSE(
      ParseCommandTopic(Owner(), "domian/home/service/thermostat/heating/climate").has_value());
  EXPECT_FALSE(ParseCommandTopic(Owner(), "domian/home/service/thermostat/Heat ing/set/mode_command")
                   .has_value());
  EXPECT_EQ(CommandFilter(Owner()), "domian/home/service/thermostat/+/set/+");
}

TEST(EntitiesTest, APerNodeServiceIsItsNodesOwnDevice) {
  const Entity entity = ParseEntities(kClimate)->at(0);
  EntityOwner hall = Owner("hall.local");
  hall.per_node = true;
  EntityOwner kitchen = Owner("kitchen");
  kitchen.per_node = true;
  EXPECT_EQ(DiscoveryTopic(hall, entity),
            "homeassistant/climate/domian-node_home_thermostat_hall_local/heating/config");
  EXPECT_NE(DiscoveryTopic(hall, entity), DiscoveryTopic(kitchen, entity));
  EXPECT_NE(DiscoveryTopic(hall, entity), DiscoveryTopic(Owner("hall.local"), entity));
  const Json config = Json::parse(DiscoveryConfig(hall, entity));
  EXPECT_EQ(config["unique_id"], "domian.home.thermostat@hall.local.heating");
  EXPECT_EQ(config["device"]["identifiers"], Json::array({"domian.home.thermostat@hall.local"}));
  EXPECT_EQ(config["device"]["name"], "thermostat on hall.local");
  EXPECT_EQ(config["mode_state_topic"],
            "domian/home/node/hall.local/service/thermostat/heating/climate");
  const std::string command = config["mode_command_topic"];
  EXPECT_EQ(command, "domian/home/node/hall.local/service/thermostat/heating/set/mode_command");
  EXPECT_TRUE(ParseCommandTopic(hall, command).has_value());
  EXPECT_FALSE(ParseCommandTopic(kitchen, command).has_value());
  EXPECT_FALSE(ParseCommandTopic(Owner("hall.local"), command).has_value());
}

TEST(EntitiesTest, APayloadBecomesTheArgumentItsCommandTakes) {
  EntityCommand text{.command = "set_mode", .arg = "mode", .as = PayloadAs::kText,
                     .args_json = R"({"zone": "hall"})"};
  EXPECT_EQ(Json::parse(*CommandArgs(text, "heat")), Json::parse(R"({"zone":"hall","mode":"heat"})"));
  // A text payload that looks like a number stays text.
  EXPECT_EQ(Json::parse(*CommandArgs(text, "42"))["mode"], "42");

  EntityCommand number{.command = "set_target", .arg = "target_c", .as = PayloadAs::kNumber};
  EXPECT_DOUBLE_EQ(Json::parse(*CommandArgs(number, "21.5"))["target_c"].get<double>(), 21.5);
  EXPECT_DOUBLE_EQ(Json::parse(*CommandArgs(number, " 18 "))["target_c"].get<double>(), 18);
  EXPECT_FALSE(CommandArgs(number, "warm").ok());
  EXPECT_FALSE(CommandArgs(number, "21.5x").ok());
  EXPECT_FALSE(CommandArgs(number, "").ok());
  EXPECT_FALSE(CommandArgs(number, "nan").ok());
  EXPECT_FALSE(CommandArgs(number, "1e999").ok());

  EntityCommand json{.command = "entity_set", .arg = "ha", .as = PayloadAs::kJson,
                     .args_json = R"({"light": "light_1"})"};
  EXPECT_EQ(Json::parse(*CommandArgs(json, R"({"state": "ON", "brightness": 128})")),
            Json::parse(R"({"light": "light_1", "ha": {"state": "ON", "brightness": 128}})"));
  EXPECT_FALSE(CommandArgs(json, "{broken").ok());
  EXPECT_FALSE(CommandArgs(json, std::string(100, '[') + std::string(100, ']')).ok());
  EXPECT_FALSE(CommandArgs(text, "\xff").ok());

  EntityCommand press{.command = "stop"};
  EXPECT_EQ(*CommandArgs(press, "PRESS"), "{}");
}

}  // namespace
}  // namespace domian::mqtt
