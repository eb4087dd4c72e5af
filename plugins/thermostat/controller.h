// Controller: when the heating relay goes on and off. A thermostat that
// fails unsafe burns money or freezes pipes, so:
//
//   - hysteresis: ON at or below target - hysteresis, OFF at or above
//     target + hysteresis, unchanged in between;
//   - minimum on and off times bound every switch made for temperature's
//     sake, measured on a monotonic clock from the last switch this
//     controller commanded (never reset by a glitch, so a flapping sensor
//     cannot keep a boiler cycling);
//   - OFF at once, whatever the minimum on time says, when the mode is off,
//     when no valid reading is fresh, or when the relay has been on for the
//     maximum on time; switching ON always waits out the minimum off time;
//   - the stuck-cold alarm: heating that does not raise the temperature
//     (a sensor lying on a cold floor, a boiler that has gone out, a
//     closed valve) must not cycle at the maximum on time for ever. While
//     the relay is ON the temperature must rise by min_rise_c within
//     no_rise_after of ON time; each rise sets the next goal from there.
//     ON time counts across a cut-off at the maximum on time (the heating
//     never got the room warm in between), and the goal is then lowered
//     to what the room has cooled to, never raised. Any other OFF ends
//     the watch. A missed goal raises the alarm: OFF at once, and OFF
//     until ClearAlarm().
//
// Pure: time is passed in, so tests simulate days in milliseconds
// (controller_test.cc).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace domian::thermostat {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;
using Seconds = std::chrono::seconds;

enum class Mode { kHeat, kOff };
const char* ModeName(Mode mode);
std::optional<Mode> ParseMode(const std::string& text);

// Radiators raise a room by degrees in 45 minutes of full heat; slower
// systems (underfloor heating) need a longer time in the config.
inline constexpr Seconds kDefaultNoRiseAfter{45 * 60};
// Well above the sensor's steps (1/16 °C) and its noise.
inline constexpr double kDefaultMinRiseC = 0.5;

struct ControlSettings {
  double target_c = 20.0;
  double hysteresis_c = 0.3;
  Seconds min_on{300};
  Seconds min_off{300};
  Seconds max_on{3 * 3600};
  Mode mode = Mode::kHeat;
  Seconds no_rise_after = kDefaultNoRiseAfter;  // 0: no stuck-cold alarm
  double min_rise_c = kDefaultMinRiseC;
};

class Controller {
 public:
  // The relay is commanded OFF at `start`: that is the last switch.
  explicit Controller(SteadyTime start);

  // One control step. `temperature` is the combined valid reading, or
  // nullopt when none is fresh (`why_none` says why). Returns whether the
  // relay must be on.
  bool Step(SteadyTime now, std::optional<double> temperature, const std::string& why_none,
            const ControlSettings& settings);
  // Commands OFF (the service stops): a switch like any other.
  void ForceOff(SteadyTime now, const std::string& reason);

  struct Alarm {
    std::string reason;
    SteadyTime since;
  };
  // The stuck-cold alarm, while raised: Step() keeps the relay OFF.
  const std::optional<Alarm>& alarm() const { return alarm_; }
  // A person cleared it (or changed the mode): heating may resume, after
  // the minimum off time as always.
  void ClearAlarm();
  // An alarm that stood when the service last stopped (its saved state):
  // it stands again, so a restart does not resume heating that failed.
  void RestoreAlarm(std::string reason, SteadyTime now);

  bool on() const { return on_; }
  SteadyTime last_switch() const { return last_switch_; }
  const std::string& reason() const { return reason_; }  // of the last switch
  // When Step() must run next at the latest, for max_on and the
  // stuck-cold alarm to be exact.
  std::optional<SteadyTime> Deadline(const ControlSettings& settings) const;

 private:
  // The temperature must reach goal_c within no_rise_after of ON time.
  struct RiseWatch {
    double goal_c;
    SteadyClock::duration on_before;  // ON time before the current ON stretch
    SteadyTime since;                 // when the current ON stretch began
  };

  void Switch(bool on, SteadyTime now, std::string reason);
  // At each step while ON: true when the goal was missed (alarm raised).
  bool RiseMissed(SteadyTime now, double temperature, const ControlSettings& settings);
  void WatchFromSwitchOn(SteadyTime now, double temperature, const ControlSettings& settings);

  bool on_ = false;
  SteadyTime last_switch_;
  std::string reason_;
  std::optional<RiseWatch> watch_;
  std::optional<Alarm> alarm_;
};

}  // namespace domian::thermostat
