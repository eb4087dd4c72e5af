// The rule that makes one temperature of several sensors: plausible band,
// outliers away from the median, freshness, and the combine options.
#include "plugins/thermostat/room_temperature.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace domian::thermostat {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const SteadyTime kNow = SteadyTime() + std::chrono::hours(100);
constexpr char kA[] = "28-00000000000a";
constexpr char kB[] = "28-00000000000b";
constexpr char kC[] = "28-00000000000c";
constexpr char kD[] = "28-00000000000d";

SensorStatus Sensor(const std::string& id, double c, std::chrono::seconds age = 1s) {
  SensorStatus s;
  s.id = id;
  s.present = true;
  s.ever_present = true;
  s.reads = 1;
  s.celsius = c;
  s.valid_at = kNow - age;
  return s;
}

CombineRule Rule(Combine combine, const std::string& one = "", std::chrono::seconds max_age = 120s) {
  CombineRule rule;
  rule.combine = combine;
  rule.one = one;
  rule.max_age = max_age;
  return rule;
}

const SensorVerdict& VerdictOf(const Combined& combined, const std::string& id) {
  for (const SensorVerdict& verdict : combined.sensors) {
    if (verdict.id == id) return verdict;
  }
  throw std::runtime_error("no verdict for " + id);
}

TEST(CombineReadings, OnlyReadingsNoOlderThanTheMaximumAgeCount) {
  const SteadyTime now = kNow;
  auto sensor = [&](const std::string& id, double c, std::chrono::seconds age) {
    SensorStatus s;
    s.id = id;
    s.present = true;
    s.celsius = c;
    s.valid_at = now - age;
    return s;
  };
  const std::vector<SensorStatus> sensors = {sensor("28-000000000001", 20.0, 10s),
                                             sensor("28-000000000002", 22.0, 120s),
                                             sensor("28-000000000003", 18.0, 121s)};
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMean), now).celsius, 21.0);  // 3 is stale
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMin), now).celsius, 20.0);
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMax), now).celsius, 22.0);
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kOne, "28-000000000002"), now).celsius, 22.0);
  const Combined stale = CombineReadings(sensors, Rule(Combine::kOne, "28-000000000003"), now);
  EXPECT_FALSE(stale.celsius);
  EXPECT_THAT(stale.why_none, HasSubstr("no valid reading younger than 120 s"));
  EXPECT_FALSE(CombineReadings(sensors, Rule(Combine::kMean, "", 5s), now).celsius);
  EXPECT_THAT(CombineReadings({}, Rule(Combine::kMean, "", 5s), now).why_none, HasSubstr("no sensor found"));
}

TEST(CombineReadings, ASensorAtMinus30IsImplausibleAndDoesNotDriveTheMean) {
  // The issue: a 22 °C room and one sensor at -30 °C made a mean of -4 °C.
  const std::vector<SensorStatus> sensors = {Sensor(kA, 22.0), Sensor(kB, -30.0)};
  for (const Combine combine : {Combine::kMedian, Combine::kMean, Combine::kMin, Combine::kMax}) {
    const Combined combined = CombineReadings(sensors, Rule(combine), kNow);
    EXPECT_EQ(combined.celsius, 22.0);
    EXPECT_EQ(VerdictOf(combined, kA).verdict, Verdict::kCounted);
    EXPECT_EQ(VerdictOf(combined, kB).verdict, Verdict::kImplausible);
    EXPECT_THAT(VerdictOf(combined, kB).why, HasSubstr("-30.00 °C is outside the plausible band"));
  }
}

TEST(CombineReadings, APlausibleOutlierIsLeftOutOfEveryCombination) {
  // -4 °C is possible in a house, not beside two sensors reading 22.
  const std::vector<SensorStatus> sensors = {Sensor(kA, 22.0), Sensor(kB, 22.5), Sensor(kC, -4.0)};
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMedian), kNow).celsius, 22.25);
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMean), kNow).celsius, 22.25);
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMin), kNow).celsius, 22.0);
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMax), kNow).celsius, 22.5);
  const Combined combined = CombineReadings(sensors, Rule(Combine::kMean), kNow);
  EXPECT_EQ(VerdictOf(combined, kC).verdict, Verdict::kOutlier);
  EXPECT_THAT(VerdictOf(combined, kC).why, HasSubstr("from the sensors' median 22.00 °C"));
}

TEST(CombineReadings, ReadingsWithinTheBandAllCount) {
  const std::vector<SensorStatus> sensors = {Sensor(kA, 20.0), Sensor(kB, 21.0), Sensor(kC, 22.5)};
  const Combined combined = CombineReadings(sensors, Rule(Combine::kMean), kNow);
  EXPECT_DOUBLE_EQ(*combined.celsius, 63.5 / 3);
  for (const SensorVerdict& verdict : combined.sensors) EXPECT_EQ(verdict.verdict, Verdict::kCounted);
  EXPECT_EQ(CombineReadings(sensors, Rule(Combine::kMedian), kNow).celsius, 21.0);
}

TEST(CombineReadings, TwoSensorsThatDisagreeSettleTowardsLessHeat) {
  const std::vector<SensorStatus> sensors = {Sensor(kA, 10.0), Sensor(kB, 21.0)};
  const Combined combined = CombineReadings(sensors, Rule(Combine::kMedian), kNow);
  EXPECT_EQ(combined.celsius, 21.0);
  EXPECT_EQ(VerdictOf(combined, kA).verdict, Verdict::kOutlier);
  // With four, the warmer pair wins the same way.
  const std::vector<SensorStatus> four = {Sensor(kA, 10.0), Sensor(kB, 11.0), Sensor(kC, 21.0),
                                          Sensor(kD, 22.0)};
  EXPECT_EQ(CombineReadings(four, Rule(Combine::kMedian), kNow).celsius, 21.5);
}

TEST(CombineReadings, OneChosenSensorIsCheckedAgainstTheBandButNotTheOthers) {
  const std::vector<SensorStatus> sensors = {Sensor(kA, 16.0), Sensor(kB, 22.0), Sensor(kC, 22.0)};
  const Combined chosen = CombineReadings(sensors, Rule(Combine::kOne, kA), kNow);
  EXPECT_EQ(chosen.celsius, 16.0);
  EXPECT_EQ(VerdictOf(chosen, kB).verdict, Verdict::kNotChosen);
  const std::vector<SensorStatus> broken = {Sensor(kA, 60.0), Sensor(kB, 22.0)};
  const Combined none = CombineReadings(broken, Rule(Combine::kOne, kA), kNow);
  EXPECT_FALSE(none.celsius);
  EXPECT_THAT(none.why_none, HasSubstr("no plausible reading"));
}

TEST(CombineReadings, TheBandIsConfigurable) {
  CombineRule rule = Rule(Combine::kMedian);
  rule.plausible_min_c = 5.0;
  const Combined combined = CombineReadings({Sensor(kA, 4.0)}, rule, kNow);
  EXPECT_FALSE(combined.celsius);
  EXPECT_THAT(combined.why_none, HasSubstr("outside the plausible band 5.00 °C to 50.00 °C"));
}

TEST(CombineReadings, ASensorWhoseDropsNeverSettleAgesOutAndSaysWhy) {
  SensorStatus jumpy = Sensor(kA, 21.0, 121s);  // its last counted reading
  jumpy.held_celsius = 5.0;
  jumpy.held_why = "a drop of 16.00 °C in 3.0 s, faster than a room cools: counts once the next "
                   "reading agrees with it";
  const Combined combined = CombineReadings({jumpy}, Rule(Combine::kMedian), kNow);
  EXPECT_FALSE(combined.celsius);
  EXPECT_THAT(VerdictOf(combined, kA).why, HasSubstr("no valid reading younger than 120 s"));
  EXPECT_THAT(VerdictOf(combined, kA).why, HasSubstr("a drop of 16.00 °C"));
}

TEST(PhantomSensors, AConfiguredSensorNeverFoundIsAPhantom) {
  SensorStatus never;
  never.id = kB;
  never.reads = 3;
  never.problem = "vanished (no .../w1_slave)";
  SensorStatus gone = Sensor(kC, 20.0);
  gone.present = false;  // was there once: vanished, not a phantom
  SensorStatus unread;
  unread.id = kD;  // not looked for yet
  const std::vector<SensorStatus> sensors = {Sensor(kA, 21.0), never, gone, unread};
  EXPECT_EQ(PhantomSensors({kA, kB, kC, kD}, sensors), std::vector<std::string>{kB});
  EXPECT_TRUE(PhantomSensors({}, sensors).empty()) << "sensors: auto lists only found ones";
}

}  // namespace
}  // namespace domian::thermostat
