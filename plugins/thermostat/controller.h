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
//     maximum on time; switching ON always waits out the minimum off time.
//
// Pure: time is passed in, so tests simulate days in milliseconds
// (controller_test.cc).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace domian::thermostat {

using SteadyTime = std::chrono::steady_clock::time_point;
using Seconds = std::chrono::seconds;

enum class Mode { kHeat, kOff };
const char* ModeName(Mode mode);
std::optional<Mode> ParseMode(const std::string& text);

struct ControlSettings {
  double target_c = 20.0;
  double hysteresis_c = 0.3;
  Seconds min_on{300};
  Seconds min_off{300};
  Seconds max_on{3 * 3600};
  Mode mode = Mode::kHeat;
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

  bool on() const { return on_; }
  SteadyTime last_switch() const { return last_switch_; }
  const std::string& reason() const { return reason_; }  // of the last switch
  // When Step() must run next at the latest, for max_on to be exact.
  std::optional<SteadyTime> Deadline(const ControlSettings& settings) const;

 private:
  void Switch(bool on, SteadyTime now, std::string reason);

  bool on_ = false;
  SteadyTime last_switch_;
  std::string reason_;
};

}  // namespace domian::thermostat
