// DropFilter: one sensor's readings, judged for sudden drops. A single bad
// conversion that still passes every check (the CRC, the power-on value),
// or a loose contact for one read, can report the room far colder than it
// is; acted on, it would switch the heating on and keep it on for the
// minimum on time. So a reading that is lower than the last one that
// counts by more than a room can cool in that time counts only once the
// next valid reading agrees with it. Until then the sensor offers its last
// reading that counts, which ages as usual: a sensor whose readings never
// settle becomes stale, and stale means OFF.
//
// A rise counts at once (the filter can hold back heat, never add it), and
// nothing here delays turning OFF: readings that stop, or stop being
// valid, are the age check's business, not this filter's. A sensor's first
// reading has nothing to be compared with and counts at once; the
// controller's minimum off time, which runs from the service's start,
// covers a glitch at that moment (and the next reading replaces it).
//
// Pure: the time of each reading is passed in.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace domian::thermostat {

// How far any reading may sit below the last counted one without waiting,
// whatever the time between them: the DS18B20 reads in 1/16 °C steps and a
// reading near a draught wanders by a few of them. Ordinary readings must
// never wait.
inline constexpr double kDropAllowanceC = 0.5;
// How fast a room may cool, by default, before a drop waits for
// confirmation: faster than a room with a window opened next to the
// sensor, far slower than a glitch (20 °C to -10 °C in 1.5 s).
inline constexpr double kDefaultMaxDropCPerMin = 2.0;

class DropFilter {
 public:
  struct Sample {
    double celsius;
    std::chrono::steady_clock::time_point at;
  };

  explicit DropFilter(double max_drop_c_per_min) : max_drop_c_per_min_(max_drop_c_per_min) {}

  // A new valid reading.
  void Add(const Sample& reading);

  // The last reading that counts; nullopt before the first reading.
  const std::optional<Sample>& counted() const { return counted_; }
  // A reading that does not count yet, and why; nullopt when none waits.
  const std::optional<Sample>& held() const { return held_; }
  const std::string& why_held() const { return why_held_; }

 private:
  // Whether `to` may follow `from` at once: not lower than it by more than
  // the allowance plus the fastest cooling in the time between them.
  bool MayFollow(const Sample& from, const Sample& to) const;
  // Whether two readings agree (either direction).
  bool Agree(const Sample& a, const Sample& b) const;
  void Hold(const Sample& reading, std::string why);

  double max_drop_c_per_min_;
  std::optional<Sample> counted_;
  std::optional<Sample> held_;
  std::string why_held_;
};

}  // namespace domian::thermostat
