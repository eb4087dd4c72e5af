// ThermostatService: the `thermostat` service. It reads DS18B20 sensors
// (SensorBus, its own thread), combines the fresh valid readings, and
// drives the heating relay (Relay) through the Controller on a control
// thread of its own, once per control period. Every failure path ends
// with the relay OFF: at start, at stop, in mode off, whenever no valid
// reading is younger than max_sensor_age, and when heating does not raise
// the temperature (the stuck-cold alarm). With no instance at all,
// MakeSafe() switches the relay off from the configuration alone.
//
// A singleton that needs the trait `w1` (it runs where the sensors are
// wired). Its state (target, mode, schedule, a standing stuck-cold alarm)
// travels when it moves.
#pragma once

#include <domian/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plugins/thermostat/controller.h"
#include "plugins/thermostat/history.h"
#include "plugins/thermostat/relay.h"
#include "plugins/thermostat/room_temperature.h"
#include "plugins/thermostat/schedule.h"
#include "plugins/thermostat/sensor_bus.h"
#include "plugins/thermostat/thermostat_config.h"

namespace domian::thermostat {

// The format of SaveState(); LoadState() refuses newer ones.
inline constexpr int kStateFormat = 1;
// The liveness deadline the control loop asks for: this many control
// periods, plus kLivenessSlack for a relay write or a sensor snapshot that
// stalls for a moment, so only a loop that has stopped is taken for hung.
inline constexpr int kLivenessPeriods = 3;
inline constexpr std::chrono::milliseconds kLivenessSlack = kReadTimeout;
// The liveness deadline for a control period, within the ABI's bounds.
std::chrono::milliseconds LivenessDeadline(std::chrono::milliseconds control_period);
// The control loop thread's name (at most 15 characters, the kernel's limit).
inline constexpr char kControlThreadName[] = "thermostat-loop";

class ThermostatService {
 public:
  ThermostatService(sdk::Host host, std::string_view config_json);
  // For tests: a relay of the test's choosing instead of the configured
  // one, and a clock the test moves on.
  ThermostatService(sdk::Host host, std::string_view config_json, std::unique_ptr<Relay> relay,
                    Clock clock = SteadyClock::now);
  ~ThermostatService();  // Stop()
  ThermostatService(const ThermostatService&) = delete;
  ThermostatService& operator=(const ThermostatService&) = delete;

  void Start();
  void Stop();
  std::string Invoke(std::string_view command, std::string_view args_json);
  std::string SaveState();
  void LoadState(std::string_view state);
  std::optional<std::string> CheckHealth();
  // Home Assistant's view (entities.h): the climate entity, the relay, a
  // sensor per DS18B20 (the configured ones, or those found).
  std::string DescribeEntities();

  // Plugin extensions (no instance): every problem with a configuration,
  // "key: message"; and the safe state, relay OFF from the relay part of
  // the last configuration the service started with.
  static std::vector<std::string> ValidateConfig(std::string_view config_json);
  static void MakeSafe(sdk::Host host, std::string_view config_json);

 private:
  nlohmann::json Status();
  nlohmann::json SetTarget(const nlohmann::json& args);
  nlohmann::json SetMode(const nlohmann::json& args);
  nlohmann::json SetSchedule(const nlohmann::json& args);
  nlohmann::json ClearAlarm();
  nlohmann::json HistoryJson(const nlohmann::json& args);

  void Control();            // the control thread
  void ControlStep();        // one step; requires nothing held
  // The target in force now (clears a set_target whose schedule entry has
  // passed); requires mu_.
  ControlSettings SettingsLocked();
  void DriveRelayLocked(bool on);           // requires mu_
  // Logs what changed about the sensors (phantoms, rejected readings) and
  // raises the alarm's event; requires mu_.
  void ReportLocked(const std::vector<SensorStatus>& sensors, SteadyTime now);
  // Publishes each entity state that differs from what was last
  // published, and says so when the sensors to describe changed; requires
  // mu_ (so two steps cannot publish out of order).
  void PublishEntitiesLocked(const std::vector<SensorStatus>& sensors, SteadyTime now);
  // Phantom sensors and rejected readings, for status and health; requires mu_.
  std::vector<std::string> WarningsLocked() const;

  sdk::Host host_;
  const Clock clock_;
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
  Combined combined_{std::nullopt, "no reading yet", {}};
  std::vector<std::string> phantoms_;  // as last logged
  // Per sensor: the verdict last logged and when (rate-limited logging).
  struct LoggedVerdict {
    Verdict verdict = Verdict::kCounted;
    SteadyTime at;
  };
  std::map<std::string, LoggedVerdict> logged_verdicts_;
  bool alarm_reported_ = false;  // the current alarm's event was emitted
  // Home Assistant: the sensors DescribeEntities lists, and each state as
  // last published ("entity/state" -> bytes), so only changes go out.
  std::vector<std::string> described_sensors_;
  std::map<std::string, std::string> published_;
  // Samples for the dashboard's chart (the `history` command).
  History history_;
  // The stuck-cold alarm from the saved state, raised again at Start.
  std::optional<std::string> saved_alarm_;
};

}  // namespace domian::thermostat
