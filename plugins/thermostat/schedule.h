// A weekly schedule of targets: each entry says from which time on which
// days a target holds, until the next entry. JSON, as in node.yaml and in
// set_schedule:
//
//   [{"days": "weekdays", "at": "06:30", "target_c": 21},
//    {"days": "daily",    "at": "22:00", "target_c": 17},
//    {"days": ["sat", "sun"], "at": "08:00", "target_c": 21}]
//
// days: daily | weekdays | weekend | a day (mon ... sun) | a list of days.
// Pure: the time of the week is passed in (wall-clock local time).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace domian::thermostat {

inline constexpr int kMinutesPerDay = 24 * 60;
inline constexpr size_t kMaxScheduleEntries = 64;
// Targets a schedule or a command may set, in °C: frost protection to warm.
inline constexpr double kMinTargetC = 5.0;
inline constexpr double kMaxTargetC = 30.0;

struct ScheduleEntry {
  uint8_t days = 0;  // bit 0 Monday ... bit 6 Sunday
  int minute = 0;    // minute of the day, 0 .. 1439
  double target_c = 20.0;
  bool operator==(const ScheduleEntry&) const = default;
};

// Throws domian::sdk::Error(INVALID_ARGUMENT) naming the entry and field.
std::vector<ScheduleEntry> ParseSchedule(const nlohmann::json& json);
nlohmann::json ScheduleJson(const std::vector<ScheduleEntry>& schedule);

// The target in force at `weekday` (0 Monday ... 6 Sunday) and `minute`:
// the latest entry at or before then, going back round the week, and when
// (minute of the week) that entry began; nullopt for an empty schedule.
struct InForce {
  double target_c;
  int since;  // minute of the week, 0 = Monday 00:00
};
std::optional<InForce> ScheduledTarget(const std::vector<ScheduleEntry>& schedule, int weekday,
                                       int minute);

// The target that holds now. Without a schedule: `set_target`. With one:
// `set_target` while the entry in force is still the one that was in force
// when it was set (`set_during`, its start), else the schedule's; a
// `set_during` whose entry has passed is cleared, so it never comes back a
// week later.
double EffectiveTarget(const std::vector<ScheduleEntry>& schedule, double set_target,
                       std::optional<int>& set_during, int weekday, int minute);

}  // namespace domian::thermostat
