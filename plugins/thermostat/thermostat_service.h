// ThermostatService: the `thermostat` service. It reads DS18B20 sensors
// (SensorBus, its own thread), combines the fresh valid readings, and
// drives the heating relay (Relay) through the Controller on a control
// thread of its own, once per control period. Every failure path ends
// with the relay OFF: at start, at stop, in mode off, and whenever no
// valid reading is younger than max_sensor_age.
//
// A singleton that needs the trait `w1` (it runs where the sensors are
// wired). Its state (target, mode, schedule) travels when it moves.
#pragma once

#include <domian/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plugins/thermostat/controller.h"
#include "plugins/thermostat/relay.h"
#include "plugins/thermostat/schedule.h"
#include "plugins/thermostat/sensor_bus.h"

namespace domian::thermostat {

inline constexpr std::chrono::milliseconds kDefaultControlPeriod{1000};
inline constexpr std::chrono::milliseconds kDefaultReadInterval{2000};
// The format of SaveState(); LoadState() refuses newer ones.
inline constexpr int kStateFormat = 1;

// How several sensors make one temperature.
enum class Combine { kMean, kMin, kMax, kOne };

struct ThermostatConfig {
  std::string sysfs_root = kDefaultSysfsRoot;
  std::vector<std::string> sensors;  // empty: auto (every 28-*)
  Combine combine = Combine::kMean;
  std::string combine_sensor;        // kOne: its id
  ControlSettings control;
  Seconds max_sensor_age{120};
  std::vector<ScheduleEntry> schedule;
  RelayConfig relay;
  std::chrono::milliseconds control_period = kDefaultControlPeriod;
  std::chrono::milliseconds read_interval = kDefaultReadInterval;

  // Throws domian::sdk::Error(INVALID_ARGUMENT) naming the key.
  static ThermostatConfig Parse(std::string_view json);
};

// The temperature the controller acts on: the sensors' valid readings no
// older than `max_age`, combined; nullopt with the reason when none.
struct Combined {
  std::optional<double> celsius;
  std::string why_none;
};
Combined CombineReadings(const std::vector<SensorStatus>& sensors, Combine combine,
                         const std::string& one, Seconds max_age, SteadyTime now);

class ThermostatService {
 public:
  ThermostatService(sdk::Host host, std::string_view config_json);
  // For tests: a relay of the test's choosing instead of the configured one.
  ThermostatService(sdk::Host host, std::string_view config_json, std::unique_ptr<Relay> relay);
  ~ThermostatService();  // Stop()
  ThermostatService(const ThermostatService&) = delete;
  ThermostatService& operator=(const ThermostatService&) = delete;

  void Start();
  void Stop();
  std::string Invoke(std::string_view command, std::string_view args_json);
  std::string SaveState();
  void LoadState(std::string_view state);
  std::optional<std::string> CheckHealth();

 private:
  nlohmann::json Status();
  nlohmann::json SetTarget(const nlohmann::json& args);
  nlohmann::json SetMode(const nlohmann::json& args);
  nlohmann::json SetSchedule(const nlohmann::json& args);

  void Control();            // the control thread
  void ControlStep();        // one step; requires nothing held
  // The target in force now (clears a set_target whose schedule entry has
  // passed); requires mu_.
  ControlSettings SettingsLocked();
  void DriveRelayLocked(bool on);           // requires mu_

  sdk::Host host_;
  const ThermostatConfig config_;
  std::unique_ptr<Relay> relay_;
  SensorBus bus_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool started_ = false;
  bool stopping_ = false;
  std::thread thread_;
  // What people set (the state that travels).
  double target_c_;  // without a schedule; with one, until its next entry
  // With a schedule: set_target holds until the entry in force changes.
  std::optional<int> target_set_during_;  // that entry's start (minute of the week)
  Mode mode_;
  std::vector<ScheduleEntry> schedule_;
  // What the control thread did last.
  std::unique_ptr<Controller> controller_;
  std::optional<bool> relay_on_;  // as last written; nullopt before the first write
  std::string relay_error_;
  std::string control_error_;  // why the last control step failed
  bool poked_ = false;         // re-evaluate now (a command changed something)
  Combined combined_{std::nullopt, "no reading yet"};
};

}  // namespace domian::thermostat
