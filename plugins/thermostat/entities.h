// The thermostat as Home Assistant sees it (domian.entities/1, plugin.h):
// a climate entity (the service's main entity), a temperature sensor per
// DS18B20 and a binary sensor for the relay, described in the terms of
// Home Assistant's MQTT platforms, and the bytes each state carries. Pure:
// the service decides when to publish (README.md, "Home Assistant").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/thermostat/controller.h"

namespace domian::thermostat {

// Entity ids and state names: part of every entity's unique id in Home
// Assistant, so they never change.
inline constexpr char kClimateEntity[] = "climate";
inline constexpr char kClimateState[] = "climate";  // JSON read by templates
inline constexpr char kRelayEntity[] = "relay";
inline constexpr char kRelayState[] = "relay";      // ON, OFF or None
inline constexpr char kSensorState[] = "temperature";  // °C, or None
// What Home Assistant's MQTT sensor, binary sensor and climate take as
// "unknown" (a template rendering a JSON null gives the same).
inline constexpr char kUnknownPayload[] = "None";
// The climate card's step for the target; set_target takes any number in
// range, this is what the arrows move by.
inline constexpr double kTargetStepC = 0.5;
// DS18B20 readings come in 1/16 °C steps; the room temperature is shown
// to a tenth.
inline constexpr double kShownPrecisionC = 0.1;

// "sensor_28_0316a2799aff" for sensor "28-0316a2799aff": [a-z0-9_] only.
std::string SensorEntityId(std::string_view sensor_id);

// {"entities": [...]}: the climate entity, the relay, and a sensor per id.
nlohmann::json DescribeEntities(const std::vector<std::string>& sensor_ids);

// The climate entity's one state, read through templates:
// {"mode": "heat", "target_c": 21.5, "current_c": 20.3 or null,
//  "action": "heating" | "idle" | "off"}.
std::string ClimateStateJson(Mode mode, double target_c, std::optional<double> current_c,
                             std::optional<bool> relay_on);
// A sensor's state: its temperature, or kUnknownPayload.
std::string SensorStatePayload(std::optional<double> celsius);
// The relay's state: ON, OFF, or kUnknownPayload while it is not known
// (before the first write, or after a failed one).
std::string RelayStatePayload(std::optional<bool> relay_on);

}  // namespace domian::thermostat
