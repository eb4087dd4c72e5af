#include "plugins/thermostat/entities.h"

#include "plugins/thermostat/schedule.h"

namespace domian::thermostat {

using nlohmann::json;

std::string SensorEntityId(std::string_view sensor_id) {
  std::string id = "sensor_";
  for (const char c : sensor_id) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    id += ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9')) ? lower : '_';
  }
  return id;
}

json DescribeEntities(const std::vector<std::string>& sensor_ids) {
  json entities = json::array();
  // The main entity: named after the service (name null). One JSON state
  // feeds every state topic, so Home Assistant never sees a mode from one
  // moment and a target from another.
  entities.push_back(
      {{"id", kClimateEntity},
       {"platform", "climate"},
       {"name", nullptr},
       {"config",
        {{"modes", json::array({"off", "heat"})},
         {"min_temp", kMinTargetC},
         {"max_temp", kMaxTargetC},
         {"temp_step", kTargetStepC},
         {"precision", kShownPrecisionC},
         {"temperature_unit", "C"},
         {"mode_state_template", "{{ value_json.mode }}"},
         {"temperature_state_template", "{{ value_json.target_c }}"},
         {"current_temperature_template", "{{ value_json.current_c }}"},
         {"action_template", "{{ value_json.action }}"}}},
       {"states",
        {{"mode_state_topic", kClimateState},
         {"temperature_state_topic", kClimateState},
         {"current_temperature_topic", kClimateState},
         {"action_topic", kClimateState}}},
       {"commands",
        {{"mode_command_topic", {{"command", "set_mode"}, {"arg", "mode"}, {"as", "text"}}},
         {"temperature_command_topic",
          {{"command", "set_target"}, {"arg", "target_c"}, {"as", "number"}}}}}});
  entities.push_back({{"id", kRelayEntity},
                      {"platform", "binary_sensor"},
                      {"name", "Heating relay"},
                      {"config", {{"device_class", "heat"}, {"payload_on", "ON"}, {"payload_off", "OFF"}}},
                      {"states", {{"state_topic", kRelayState}}},
                      {"commands", json::object()}});
  for (const std::string& sensor : sensor_ids) {
    entities.push_back({{"id", SensorEntityId(sensor)},
                        {"platform", "sensor"},
                        {"name", "Temperature " + sensor},
                        {"config",
                         {{"device_class", "temperature"},
                          {"unit_of_measurement", "°C"},
                          {"state_class", "measurement"},
                          {"suggested_display_precision", 1}}},
                        {"states", {{"state_topic", kSensorState}}},
                        {"commands", json::object()}});
  }
  return {{"entities", entities}};
}

std::string ClimateStateJson(Mode mode, double target_c, std::optional<double> current_c,
                             std::optional<bool> relay_on) {
  const char* action = mode == Mode::kOff ? "off" : relay_on == true ? "heating" : "idle";
  return json{{"mode", ModeName(mode)},
              {"target_c", target_c},
              {"current_c", current_c ? json(*current_c) : json(nullptr)},
              {"action", action}}
      .dump();
}

std::string SensorStatePayload(std::optional<double> celsius) {
  return celsius ? json(*celsius).dump() : kUnknownPayload;
}

std::string RelayStatePayload(std::optional<bool> relay_on) {
  return !relay_on ? kUnknownPayload : *relay_on ? "ON" : "OFF";
}

}  // namespace domian::thermostat
