// The temperature the thermostat acts on, from one or more DS18B20 sensors
// that may be wrong in ways no CRC catches: one that fell behind a
// radiator or out of a window, a loose one that reads -30 °C, one whose id
// was mistyped. The rule, in order (README.md, "Several sensors"):
//
//  1. Counted: each sensor offers its last reading that counts (a sudden
//     drop waits for the next reading to agree: DropFilter).
//  2. Fresh: no older than max_sensor_age.
//  3. Plausible: within [plausible_min_c, plausible_max_c], what a living
//     space can be; anything outside is a broken or misplaced sensor.
//  4. Not an outlier: with two or more plausible readings, each must lie
//     within outlier_c of the reference, the median. With an even number
//     the reference is the warmer of the two middle readings, so a
//     disagreement between two sensors settles towards less heat: heating
//     then needs both to say the room is cold.
//  5. Combined: the median (default), mean, min or max of what is left.
//     `combine: <sensor id>` uses that sensor alone (steps 1-3).
//
// No reading left: no temperature, and the controller switches OFF.
//
// Pure: the time is passed in.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "plugins/thermostat/controller.h"
#include "plugins/thermostat/sensor_bus.h"

namespace domian::thermostat {

// A living space, with room for a cold house after a heating failure; a
// DS18B20 can read -55 to 125 °C, and a reading outside this band is a
// sensor that is broken or not in the room.
inline constexpr double kDefaultPlausibleMinC = -20.0;
inline constexpr double kDefaultPlausibleMaxC = 50.0;
// Sensors in one living space agree within a few degrees (a cold outer
// wall, a sunny shelf); one further away from the others is not reading
// the room.
inline constexpr double kDefaultOutlierC = 3.0;

// How several sensors make one temperature.
enum class Combine { kMedian, kMean, kMin, kMax, kOne };

struct CombineRule {
  Combine combine = Combine::kMedian;
  std::string one;  // kOne: the sensor's id
  Seconds max_age{120};
  double plausible_min_c = kDefaultPlausibleMinC;
  double plausible_max_c = kDefaultPlausibleMaxC;
  double outlier_c = kDefaultOutlierC;
};

// Whether a sensor's reading counted, and why not.
enum class Verdict { kCounted, kNotChosen, kNoReading, kImplausible, kOutlier };
const char* VerdictName(Verdict verdict);

struct SensorVerdict {
  std::string id;
  Verdict verdict = Verdict::kNoReading;
  std::string why;  // "" when counted
};

struct Combined {
  std::optional<double> celsius;
  std::string why_none;               // when no temperature
  std::vector<SensorVerdict> sensors;  // one per sensor, in the order given
};

Combined CombineReadings(const std::vector<SensorStatus>& sensors, const CombineRule& rule,
                         SteadyTime now);

// Configured sensors that were never found at any read while the bus
// looked for them: a mistyped id, or a sensor not wired. (With `sensors:
// auto` there are none: only found sensors are listed.)
std::vector<std::string> PhantomSensors(const std::vector<std::string>& configured,
                                        const std::vector<SensorStatus>& sensors);

}  // namespace domian::thermostat
