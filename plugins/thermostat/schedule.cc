#include "plugins/thermostat/schedule.h"

#include <domian/plugin.hpp>

#include <array>
#include <cctype>
#include <cstdio>
#include <string>

namespace domian::thermostat {
namespace {

using nlohmann::json;

constexpr std::array<const char*, 7> kDayNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr uint8_t kAllDays = 0x7F;
constexpr uint8_t kWeekdays = 0x1F;
constexpr uint8_t kWeekend = 0x60;
constexpr int kMinutesPerWeek = 7 * kMinutesPerDay;

[[noreturn]] void Refuse(size_t index, const std::string& message) {
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                   "schedule[" + std::to_string(index) + "]: " + message);
}

uint8_t DayBit(const std::string& name, size_t index) {
  for (size_t day = 0; day < kDayNames.size(); ++day) {
    if (name == kDayNames[day]) return static_cast<uint8_t>(1U << day);
  }
  Refuse(index, "days: unknown day \"" + name + "\" (mon ... sun, daily, weekdays, weekend)");
}

uint8_t ParseDays(const json& days, size_t index) {
  if (days.is_string()) {
    const std::string name = days.get<std::string>();
    if (name == "daily") return kAllDays;
    if (name == "weekdays") return kWeekdays;
    if (name == "weekend") return kWeekend;
    return DayBit(name, index);
  }
  if (days.is_array() && !days.empty()) {
    uint8_t mask = 0;
    for (const json& day : days) {
      if (!day.is_string()) Refuse(index, "days: a list of day names, not " + days.dump());
      mask |= DayBit(day.get<std::string>(), index);
    }
    return mask;
  }
  Refuse(index, "days must be daily, weekdays, weekend, a day or a list of days, not " +
                    days.dump());
}

int ParseTime(const json& at, size_t index) {
  const std::string text = at.is_string() ? at.get<std::string>() : "";
  if (text.size() == 5 && text[2] == ':' && std::isdigit(static_cast<unsigned char>(text[0])) &&
      std::isdigit(static_cast<unsigned char>(text[1])) &&
      std::isdigit(static_cast<unsigned char>(text[3])) &&
      std::isdigit(static_cast<unsigned char>(text[4]))) {
    const int hours = (text[0] - '0') * 10 + (text[1] - '0');
    const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
    if (hours < 24 && minutes < 60) return hours * 60 + minutes;
  }
  Refuse(index, "at must be a time HH:MM (00:00 to 23:59), not " + at.dump());
}

}  // namespace

std::vector<ScheduleEntry> ParseSchedule(const json& value) {
  if (!value.is_array()) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "schedule must be a list of entries");
  }
  if (value.size() > kMaxScheduleEntries) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                     "schedule has " + std::to_string(value.size()) + " entries, over the limit of " +
                         std::to_string(kMaxScheduleEntries));
  }
  std::vector<ScheduleEntry> schedule;
  for (size_t i = 0; i < value.size(); ++i) {
    const json& entry = value[i];
    if (!entry.is_object()) Refuse(i, "must be {days, at, target_c}");
    for (const auto& [key, field] : entry.items()) {
      if (key != "days" && key != "at" && key != "target_c") {
        Refuse(i, "unknown field \"" + key + "\" (days, at, target_c)");
      }
    }
    if (!entry.contains("days") || !entry.contains("at") || !entry.contains("target_c")) {
      Refuse(i, "needs days, at and target_c");
    }
    const json& target = entry["target_c"];
    if (!target.is_number() || target.get<double>() < kMinTargetC ||
        target.get<double>() > kMaxTargetC) {
      Refuse(i, "target_c must be a number from " + std::to_string(static_cast<int>(kMinTargetC)) +
                    " to " + std::to_string(static_cast<int>(kMaxTargetC)) + ", not " +
                    target.dump());
    }
    schedule.push_back(
        ScheduleEntry{ParseDays(entry["days"], i), ParseTime(entry["at"], i), target.get<double>()});
  }
  return schedule;
}

json ScheduleJson(const std::vector<ScheduleEntry>& schedule) {
  json out = json::array();
  for (const ScheduleEntry& entry : schedule) {
    json days = json::array();
    for (size_t day = 0; day < kDayNames.size(); ++day) {
      if ((entry.days & (1U << day)) != 0) days.push_back(kDayNames[day]);
    }
    char at[16];
    std::snprintf(at, sizeof at, "%02d:%02d", entry.minute / 60, entry.minute % 60);
    out.push_back({{"days", days}, {"at", at}, {"target_c", entry.target_c}});
  }
  return out;
}

std::optional<InForce> ScheduledTarget(const std::vector<ScheduleEntry>& schedule, int weekday,
                                       int minute) {
  // The entry whose start is the shortest way back from now.
  const int now = weekday * kMinutesPerDay + minute;
  std::optional<InForce> target;
  int best = kMinutesPerWeek + 1;
  for (const ScheduleEntry& entry : schedule) {
    for (int day = 0; day < 7; ++day) {
      if ((entry.days & (1U << day)) == 0) continue;
      const int start = day * kMinutesPerDay + entry.minute;
      const int back = ((now - start) % kMinutesPerWeek + kMinutesPerWeek) % kMinutesPerWeek;
      if (back < best) {
        best = back;
        target = InForce{entry.target_c, start};
      }
    }
  }
  return target;
}

double EffectiveTarget(const std::vector<ScheduleEntry>& schedule, double set_target,
                       std::optional<int>& set_during, int weekday, int minute) {
  const std::optional<InForce> in_force = ScheduledTarget(schedule, weekday, minute);
  if (!in_force) return set_target;
  if (set_during == in_force->since) return set_target;
  set_during.reset();
  return in_force->target_c;
}

}  // namespace domian::thermostat
