// The controller against a simulated room, days of it in milliseconds:
// the clock is only ever passed in.
#include "plugins/thermostat/controller.h"

#include <gtest/gtest.h>

#include <vector>

namespace domian::thermostat {
namespace {

using namespace std::chrono_literals;

const SteadyTime kT0 = SteadyTime() + 1000h;
constexpr auto kPeriod = 1s;  // the control period

struct Switch {
  SteadyTime at;
  bool on;
  std::string reason;
};

// A room that warms while the heater is on and cools otherwise, sensed
// (or not) by `sensed`. Steps the controller every control period, and at
// its deadline (max_on) when that comes first; records every switch.
struct Room {
  ControlSettings settings;
  double celsius = 18.0;
  double warm_per_s = 0.002;
  double cool_per_s = 0.001;
  std::function<std::optional<double>(SteadyTime, double)> sensed =
      [](SteadyTime, double c) { return std::optional<double>(c); };
  Controller controller{kT0};
  std::vector<Switch> switches{{kT0, false, "start"}};

  void Run(std::chrono::seconds duration) {
    SteadyTime now = kT0;
    const SteadyTime end = kT0 + duration;
    while (now < end) {
      SteadyTime next = now + kPeriod;
      if (const auto deadline = controller.Deadline(settings)) next = std::min(next, *deadline);
      const double seconds = std::chrono::duration<double>(next - now).count();
      celsius += (controller.on() ? warm_per_s : -cool_per_s) * seconds;
      now = next;
      const bool was = controller.on();
      const std::optional<double> reading = sensed(now, celsius);
      controller.Step(now, reading, "stale", settings);
      if (controller.on() != was) switches.push_back({now, controller.on(), controller.reason()});
    }
  }
};

ControlSettings Settings() {
  ControlSettings settings;
  settings.target_c = 20.0;
  settings.hysteresis_c = 0.3;
  settings.min_on = 300s;
  settings.min_off = 600s;
  settings.max_on = 2h;
  return settings;
}

TEST(Controller, ThreeDaysNeverSwitchWithinTheMinimumTimesNorStayOnTooLong) {
  Room room{.settings = Settings()};
  // A noisy sensor: +-0.4 °C glitches every 7 s, which would make a naive
  // controller chatter.
  room.sensed = [](SteadyTime now, double c) {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - kT0).count();
    return std::optional<double>(c + (s % 7 == 0 ? 0.4 : s % 7 == 3 ? -0.4 : 0.0));
  };
  room.Run(72h);
  ASSERT_GT(room.switches.size(), 20U) << "the room should have cycled";
  for (size_t i = 1; i < room.switches.size(); ++i) {
    const auto held = room.switches[i].at - room.switches[i - 1].at;
    if (room.switches[i - 1].on) {
      EXPECT_GE(held, room.settings.min_on) << "switched off early at " << i;
      EXPECT_LE(held, room.settings.max_on) << "on too long at " << i;
    } else {
      EXPECT_GE(held, room.settings.min_off) << "switched on early at " << i;
    }
  }
}

TEST(Controller, AHeaterThatCannotWarmTheRoomIsCutOffAtExactlyTheMaximumOnTime) {
  // The cut-off on its own: without the stuck-cold alarm, which would stop
  // this heater for good after no_rise_after (tested below).
  ControlSettings settings = Settings();
  settings.no_rise_after = 0s;
  Room room{.settings = settings, .celsius = 10.0, .warm_per_s = 0.0, .cool_per_s = 0.0};
  room.Run(24h);
  int cut_offs = 0;
  for (size_t i = 1; i < room.switches.size(); ++i) {
    if (!room.switches[i - 1].on) continue;
    EXPECT_EQ(room.switches[i].at - room.switches[i - 1].at, room.settings.max_on);
    EXPECT_NE(room.switches[i].reason.find("maximum time"), std::string::npos);
    ++cut_offs;
  }
  EXPECT_GE(cut_offs, 8);  // 2 h on, 10 min off, all day
}

TEST(Controller, StartsOffAndWaitsTheMinimumOffTimeBeforeHeating) {
  Room room{.settings = Settings(), .celsius = 10.0};
  room.Run(1h);
  ASSERT_GE(room.switches.size(), 2U);
  EXPECT_TRUE(room.switches[1].on);
  EXPECT_EQ(room.switches[1].at - kT0, room.settings.min_off);
}

TEST(Controller, AStaleSensorSwitchesOffWithinOneControlPeriodDespiteTheMinimumOnTime) {
  Room room{.settings = Settings(), .celsius = 10.0};
  const SteadyTime stale_from = kT0 + 11min;  // 1 min after it switched on
  room.sensed = [&](SteadyTime now, double c) {
    return now < stale_from ? std::optional<double>(c) : std::nullopt;
  };
  room.Run(3h);
  ASSERT_EQ(room.switches.size(), 3U);  // start, on, off; never on again while stale
  EXPECT_TRUE(room.switches[1].on);
  EXPECT_FALSE(room.switches[2].on);
  EXPECT_LE(room.switches[2].at - stale_from, kPeriod);
  EXPECT_NE(room.switches[2].reason.find("no valid reading"), std::string::npos);
}

TEST(Controller, ModeOffSwitchesOffAtOnceAndStaysOff) {
  Controller controller(kT0);
  ControlSettings settings = Settings();
  EXPECT_TRUE(controller.Step(kT0 + 20min, 15.0, "", settings));
  settings.mode = Mode::kOff;
  EXPECT_FALSE(controller.Step(kT0 + 20min + 1s, 15.0, "", settings));  // min_on not over
  EXPECT_EQ(controller.reason(), "mode is off");
  EXPECT_FALSE(controller.Step(kT0 + 5h, 5.0, "", settings));
}

TEST(Controller, GlitchesDoNotRestartTheMinimumTimes) {
  Controller controller(kT0);
  ControlSettings settings = Settings();
  ASSERT_TRUE(controller.Step(kT0 + 10min, 15.0, "", settings));
  const SteadyTime switched = controller.last_switch();
  // Readings bounce across the band and go missing for a moment: none of
  // it is a switch while the minimum on time runs, and none moves it.
  EXPECT_TRUE(controller.Step(kT0 + 11min, 25.0, "", settings));
  EXPECT_TRUE(controller.Step(kT0 + 12min, 15.0, "", settings));
  EXPECT_EQ(controller.last_switch(), switched);
  EXPECT_FALSE(controller.Step(kT0 + 15min, 20.3, "", settings));  // min_on over, at the band
  EXPECT_EQ(controller.last_switch(), kT0 + 15min);
}

TEST(Controller, ForceOffIsASwitchLikeAnyOther) {
  Controller controller(kT0);
  ASSERT_TRUE(controller.Step(kT0 + 10min, 15.0, "", Settings()));
  controller.ForceOff(kT0 + 11min, "stopped");
  EXPECT_FALSE(controller.on());
  EXPECT_EQ(controller.reason(), "stopped");
  // And the minimum off time counts from it.
  EXPECT_FALSE(controller.Step(kT0 + 20min, 15.0, "", Settings()));
  EXPECT_TRUE(controller.Step(kT0 + 21min, 15.0, "", Settings()));
}


TEST(StuckColdAlarm, HeatingThatDoesNotRaiseTheTemperatureIsStoppedUntilCleared) {
  ControlSettings settings = Settings();  // no_rise_after 45 min, max_on 2 h
  Room room{.settings = settings, .celsius = 10.0, .warm_per_s = 0.0, .cool_per_s = 0.0};
  room.Run(24h);
  // On after the minimum off time, off 45 minutes later for good.
  ASSERT_EQ(room.switches.size(), 3U);
  EXPECT_TRUE(room.switches[1].on);
  EXPECT_FALSE(room.switches[2].on);
  EXPECT_EQ(room.switches[2].at - room.switches[1].at, settings.no_rise_after);
  EXPECT_NE(room.switches[2].reason.find("heating alarm"), std::string::npos) << room.switches[2].reason;
  ASSERT_TRUE(room.controller.alarm());
  EXPECT_NE(room.controller.alarm()->reason.find("did not raise the temperature by 0.50 °C"),
            std::string::npos)
      << room.controller.alarm()->reason;

  // Cleared: heating resumes at once (the minimum off time is long over).
  room.controller.ClearAlarm();
  const SteadyTime later = kT0 + 24h + 1s;
  EXPECT_TRUE(room.controller.Step(later, 10.0, "", settings));
  EXPECT_FALSE(room.controller.alarm());
}

TEST(StuckColdAlarm, CountsOnTimeAcrossCutOffsAtTheMaximumOnTime) {
  // A maximum on time shorter than no_rise_after must not hide a heater
  // that never warms: the ON time adds up over the cycles.
  ControlSettings settings = Settings();
  settings.max_on = 20min;
  Room room{.settings = settings, .celsius = 10.0, .warm_per_s = 0.0, .cool_per_s = 0.0};
  room.Run(24h);
  ASSERT_TRUE(room.controller.alarm());
  // Two 20-minute cycles, then the alarm 5 minutes into the third.
  ASSERT_EQ(room.switches.size(), 7U);
  EXPECT_EQ(room.switches[6].at - room.switches[5].at, 5min);
  EXPECT_NE(room.switches[6].reason.find("heating alarm"), std::string::npos);
  EXPECT_FALSE(room.controller.on());
}

TEST(StuckColdAlarm, ASlowButRisingRoomNeverAlarms) {
  // 1 °C an hour: slow (it takes cut-offs at max_on to get there), but
  // warming; three days of it.
  ControlSettings settings = Settings();
  Room room{.settings = settings, .celsius = 15.0, .warm_per_s = 1.0 / 3600, .cool_per_s = 0.0001};
  room.Run(72h);
  EXPECT_FALSE(room.controller.alarm()) << room.controller.alarm()->reason;
  EXPECT_GT(room.switches.size(), 3U);
}

TEST(StuckColdAlarm, NoRiseAfterZeroSwitchesItOff) {
  ControlSettings settings = Settings();
  settings.no_rise_after = 0s;
  Room room{.settings = settings, .celsius = 10.0, .warm_per_s = 0.0, .cool_per_s = 0.0};
  room.Run(24h);
  EXPECT_FALSE(room.controller.alarm());
}

TEST(StuckColdAlarm, AModeOffEndsTheWatchSoTheNextStartIsFresh) {
  ControlSettings settings = Settings();
  Controller controller(kT0);
  ASSERT_TRUE(controller.Step(kT0 + 10min, 15.0, "", settings));
  settings.mode = Mode::kOff;
  EXPECT_FALSE(controller.Step(kT0 + 50min, 15.0, "", settings));  // 40 min ON
  settings.mode = Mode::kHeat;
  ASSERT_TRUE(controller.Step(kT0 + 61min, 15.0, "", settings));
  // 40 minutes before and 10 now would be 50: but the watch began again.
  EXPECT_TRUE(controller.Step(kT0 + 71min, 15.0, "", settings));
  EXPECT_FALSE(controller.alarm());
  EXPECT_FALSE(controller.Step(kT0 + 106min, 15.0, "", settings));
  EXPECT_TRUE(controller.alarm());
}

}  // namespace
}  // namespace domian::thermostat
