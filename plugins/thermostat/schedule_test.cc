#include "plugins/thermostat/schedule.h"

#include <domian/plugin.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace domian::thermostat {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kMonday = 0, kTuesday = 1, kSaturday = 5, kSunday = 6;

std::vector<ScheduleEntry> Week() {
  return ParseSchedule(json::parse(R"([
    {"days": "weekdays", "at": "06:30", "target_c": 21},
    {"days": "daily", "at": "22:00", "target_c": 17},
    {"days": ["sat", "sun"], "at": "08:00", "target_c": 21.5}])"));
}

double TargetAt(int weekday, int hour, int minute) {
  return ScheduledTarget(Week(), weekday, hour * 60 + minute)->target_c;
}

TEST(Schedule, TheLatestEntryHoldsGoingBackRoundTheWeek) {
  EXPECT_EQ(TargetAt(kMonday, 5, 0), 17);    // from Sunday 22:00
  EXPECT_EQ(TargetAt(kMonday, 6, 30), 21);
  EXPECT_EQ(TargetAt(kTuesday, 21, 59), 21);
  EXPECT_EQ(TargetAt(kTuesday, 22, 0), 17);
  EXPECT_EQ(TargetAt(kSaturday, 7, 0), 17);  // no weekday entry on Saturday
  EXPECT_EQ(TargetAt(kSunday, 9, 0), 21.5);
  EXPECT_FALSE(ScheduledTarget({}, kMonday, 0));
  const auto monday = ScheduledTarget(Week(), kMonday, 7 * 60);
  EXPECT_EQ(monday->since, 6 * 60 + 30);  // Monday 06:30, minute of the week
}

TEST(Schedule, ASetTargetHoldsUntilTheNextEntryAndNeverComesBack) {
  const auto week = Week();
  std::optional<int> set_during;
  // Without a set_target, the schedule.
  EXPECT_EQ(EffectiveTarget(week, 25, set_during, kMonday, 7 * 60), 21);
  // Set on Monday at 07:00, during the 06:30 entry.
  set_during = ScheduledTarget(week, kMonday, 7 * 60)->since;
  EXPECT_EQ(EffectiveTarget(week, 25, set_during, kMonday, 21 * 60), 25);
  EXPECT_EQ(EffectiveTarget(week, 25, set_during, kMonday, 22 * 60), 17);  // next entry
  EXPECT_FALSE(set_during.has_value());
  // A week later, the same entry again: the schedule's, not the old set.
  EXPECT_EQ(EffectiveTarget(week, 25, set_during, kMonday, 7 * 60), 21);
  // No schedule: always the set target.
  EXPECT_EQ(EffectiveTarget({}, 25, set_during, kMonday, 7 * 60), 25);
}

TEST(Schedule, RoundTripsThroughJson) {
  EXPECT_EQ(ParseSchedule(ScheduleJson(Week())), Week());
}

TEST(Schedule, RefusesWhatItCannotMeanNamingTheEntry) {
  auto refusal = [](const char* text) {
    try {
      ParseSchedule(json::parse(text));
    } catch (const sdk::Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_THAT(refusal(R"({"at": "06:00"})"), HasSubstr("must be a list"));
  EXPECT_THAT(refusal(R"([{"days": "daily", "at": "6:00", "target_c": 20}])"),
              HasSubstr("schedule[0]: at must be a time HH:MM"));
  EXPECT_THAT(refusal(R"([{"days": "daily", "at": "24:00", "target_c": 20}])"),
              HasSubstr("at must be a time"));
  EXPECT_THAT(refusal(R"([{"days": "daily", "at": "06:00", "target_c": 20},
                         {"days": "funday", "at": "06:00", "target_c": 20}])"),
              HasSubstr("schedule[1]: days: unknown day \"funday\""));
  EXPECT_THAT(refusal(R"([{"days": "daily", "at": "06:00", "target_c": 45}])"),
              HasSubstr("target_c must be a number from 5 to 30"));
  EXPECT_THAT(refusal(R"([{"days": "daily", "at": "06:00"}])"), HasSubstr("needs days, at and target_c"));
  EXPECT_THAT(refusal(R"([{"days": "daily", "at": "06:00", "target_c": 20, "x": 1}])"),
              HasSubstr("unknown field \"x\""));
}

}  // namespace
}  // namespace domian::thermostat
