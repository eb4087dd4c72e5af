// ThermostatConfig: services.thermostat.config, read once by one parser
// for create (which refuses a bad one), for validate (which lists every
// problem, "key: message", for `domiand --check-config`) and, leniently
// and only its relay part, for the safe state.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/thermostat/config_problems.h"
#include "plugins/thermostat/controller.h"
#include "plugins/thermostat/relay.h"
#include "plugins/thermostat/room_temperature.h"
#include "plugins/thermostat/schedule.h"
#include "plugins/thermostat/sensor_bus.h"

namespace domian::thermostat {

inline constexpr std::chrono::milliseconds kDefaultControlPeriod{1000};
inline constexpr std::chrono::milliseconds kDefaultReadInterval{2000};

struct ThermostatConfig {
  std::string sysfs_root = kDefaultSysfsRoot;
  std::vector<std::string> sensors;  // empty: auto (every 28-*)
  CombineRule combine;               // its max_age is max_sensor_age_s
  double max_drop_c_per_min = kDefaultMaxDropCPerMin;
  ControlSettings control;
  std::vector<ScheduleEntry> schedule;
  RelayConfig relay;
  std::chrono::milliseconds control_period = kDefaultControlPeriod;
  std::chrono::milliseconds read_interval = kDefaultReadInterval;

  // Throws domian::sdk::Error(INVALID_ARGUMENT) naming every key that is
  // wrong: "thermostat config: 'key' message; 'key' message".
  static ThermostatConfig Parse(std::string_view text);
  // Every problem, "key: message"; empty exactly when Parse accepts it.
  static std::vector<std::string> Problems(std::string_view text);
  // The relay part alone, for the safe state: other keys are not looked
  // at, nor unknown keys inside `relay`. Throws
  // domian::sdk::Error(INVALID_ARGUMENT) when the relay cannot be known.
  static RelayConfig SafeStateRelay(std::string_view text);

 private:
  static ThermostatConfig Read(std::string_view text, ConfigProblems& problems);
};

}  // namespace domian::thermostat
