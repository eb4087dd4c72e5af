// The thermostat's configuration: every mistake named by its key, all of
// them at once, and create and validate agreeing exactly (one parser).
#include "plugins/thermostat/thermostat_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plugins/thermostat/thermostat_service.h"

namespace domian::thermostat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using nlohmann::json;

json Good() {
  return {{"sensors", {"28-0000000a1b2c", "28-0000000d3e4f"}},
          {"target_c", 20.5},
          {"relay", {{"backend", "gpiod"}, {"line", "HEATING"}, {"active_low", true}}}};
}

// `key` set to `value` in a good configuration.
std::string With(const std::string& key, const json& value) {
  json config = Good();
  config[key] = value;
  return config.dump();
}

// The problems validate reports, checking that create agrees.
std::vector<std::string> Problems(const std::string& config) {
  const std::vector<std::string> problems = ThermostatService::ValidateConfig(config);
  if (problems.empty()) {
    EXPECT_NO_THROW(ThermostatConfig::Parse(config)) << config;
  } else {
    EXPECT_THROW(ThermostatConfig::Parse(config), sdk::Error) << config;
  }
  return problems;
}

TEST(ValidateConfig, AGoodConfigurationHasNoProblems) {
  EXPECT_THAT(Problems(Good().dump()), IsEmpty());
  EXPECT_THAT(Problems(With("combine", "28-0000000a1b2c")), IsEmpty());
  EXPECT_THAT(Problems(With("no_rise_after_s", 0)), IsEmpty()) << "0: no stuck-cold alarm";
}

TEST(ValidateConfig, NamesTheKeyOfEachBadValue) {
  EXPECT_THAT(Problems(With("hysteresis_c", -1)),
              ElementsAre("hysteresis_c: must be a number from 0.05 to 5, not -1"));
  EXPECT_THAT(Problems(With("target_c", 500)),
              ElementsAre("target_c: must be a number from 5 to 30, not 500"));
  EXPECT_THAT(Problems(With("target_c", "warm")),
              ElementsAre("target_c: must be a number from 5 to 30, not \"warm\""));
  EXPECT_THAT(Problems(With("no_rise_after_s", 60)), ElementsAre(StartsWith("no_rise_after_s: must be 0")));
  EXPECT_THAT(Problems(With("outlier_c", 0)), ElementsAre(StartsWith("outlier_c: must be a number")));
  EXPECT_THAT(Problems(With("plausible_min_c", 10)), ElementsAre(StartsWith("plausible_min_c: ")));
}

TEST(ValidateConfig, AnUnknownKeyIsAnErrorThatSaysWhatWasMeant) {
  EXPECT_THAT(Problems(With("targte_c", 21)),
              ElementsAre("targte_c: is not a thermostat setting (did you mean target_c?)"));
  const std::vector<std::string> far = Problems(With("boost", true));
  ASSERT_EQ(far.size(), 1U);
  EXPECT_THAT(far[0], StartsWith("boost: is not a thermostat setting (sysfs_root, sensors,"));
}

TEST(ValidateConfig, ABogusRelayBackendAndABadSensorIdAreNamedByPath) {
  json config = Good();
  config["relay"]["backend"] = "bogus";
  EXPECT_THAT(Problems(config.dump()), ElementsAre("relay.backend: must be gpiod or file, not \"bogus\""));
  config = Good();
  config["sensors"] = {"28-0000000a1b2c", "28-xyz"};
  EXPECT_THAT(Problems(config.dump()),
              ElementsAre("sensors.1: \"28-xyz\" is not a DS18B20 id (28- and 12 hex digits)"));
  config = Good();
  config["relay"]["colour"] = "red";
  EXPECT_THAT(Problems(config.dump()), ElementsAre(StartsWith("relay.colour: is not a relay setting")));
  config = Good();
  config.erase("relay");
  EXPECT_THAT(Problems(config.dump()), ElementsAre(StartsWith("relay: is missing")));
}

TEST(ValidateConfig, ListsEveryProblemAtOnce) {
  json config = Good();
  config["hysteresis_c"] = -1;
  config["target_c"] = 500;
  config["targte_c"] = 21;
  config["relay"]["backend"] = "bogus";
  config["sensors"] = {"28-0000000a1b2c", "28-xyz"};
  config["schedule"] = {{{"days", "someday"}, {"at", "06:30"}, {"target_c", 21}}};
  const std::vector<std::string> problems = Problems(config.dump());
  EXPECT_EQ(problems.size(), 6U) << ::testing::PrintToString(problems);
  for (const char* key : {"hysteresis_c: ", "target_c: ", "targte_c: ", "relay.backend: ",
                          "sensors.1: ", "schedule.0: "}) {
    EXPECT_THAT(problems, ::testing::Contains(StartsWith(key))) << key;
  }
}

TEST(ValidateConfig, NotAMappingIsAProblemOfTheWholeConfiguration) {
  EXPECT_THAT(Problems("[1, 2]"), ElementsAre(": must be a mapping of keys"));
  EXPECT_THAT(Problems("{not json"), ElementsAre(": must be a mapping of keys"));
}

TEST(ThermostatConfigParse, ItsErrorNamesEveryKeyTheWayTheLogAlwaysHas) {
  json config = Good();
  config["max_on_s"] = 10;
  config["hysteresis_c"] = -1;
  try {
    ThermostatConfig::Parse(config.dump());
    ADD_FAILURE() << "accepted";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.code(), DOMIAN_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(e.what(), HasSubstr("thermostat config: 'hysteresis_c' must be a number from 0.05 to 5"));
    EXPECT_THAT(e.what(), HasSubstr("'max_on_s' must be a whole number from 60"));
  }
}

TEST(ThermostatConfigParse, ReadsTheSensorRulesAndTheAlarm) {
  json config = Good();
  config["combine"] = "mean";
  config["plausible_min_c"] = -10;
  config["plausible_max_c"] = 40;
  config["outlier_c"] = 2.5;
  config["max_drop_c_per_min"] = 1;
  config["no_rise_after_s"] = 3600;
  config["min_rise_c"] = 0.3;
  const ThermostatConfig parsed = ThermostatConfig::Parse(config.dump());
  EXPECT_EQ(parsed.combine.combine, Combine::kMean);
  EXPECT_EQ(parsed.combine.plausible_min_c, -10);
  EXPECT_EQ(parsed.combine.plausible_max_c, 40);
  EXPECT_EQ(parsed.combine.outlier_c, 2.5);
  EXPECT_EQ(parsed.max_drop_c_per_min, 1);
  EXPECT_EQ(parsed.control.no_rise_after, std::chrono::seconds(3600));
  EXPECT_EQ(parsed.control.min_rise_c, 0.3);
  // The defaults: the median, a living space's band.
  const ThermostatConfig defaults = ThermostatConfig::Parse(Good().dump());
  EXPECT_EQ(defaults.combine.combine, Combine::kMedian);
  EXPECT_EQ(defaults.combine.plausible_min_c, kDefaultPlausibleMinC);
  EXPECT_EQ(defaults.control.no_rise_after, kDefaultNoRiseAfter);
}

TEST(ValidateConfig, IsOfferedThroughThePluginExtension) {
  const auto* ext = static_cast<const domian_config_ext*>(
      sdk::detail::PluginExtensions<ThermostatService>::Get(DOMIAN_PLUGIN_EXT_CONFIG));
  ASSERT_NE(ext, nullptr);
  struct Out {
    domian_out out{};
    std::string text;
  } collected;
  collected.out.struct_size = sizeof(domian_out);
  collected.out.host_data = &collected;
  collected.out.write = [](domian_out* out, const char* data, size_t size) {
    static_cast<Out*>(out->host_data)->text.append(data, size);
    return DOMIAN_OK;
  };
  EXPECT_EQ(ext->validate(Good().dump().c_str(), &collected.out), DOMIAN_OK);
  EXPECT_EQ(collected.text, "");
  json config = Good();
  config["hysteresis_c"] = -1;
  config["targte_c"] = 21;
  EXPECT_EQ(ext->validate(config.dump().c_str(), &collected.out), DOMIAN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(collected.text,
            "hysteresis_c: must be a number from 0.05 to 5, not -1\n"
            "targte_c: is not a thermostat setting (did you mean target_c?)");
}

}  // namespace
}  // namespace domian::thermostat
