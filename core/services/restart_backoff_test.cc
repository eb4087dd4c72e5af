// The restart policy on a FakeClock: every pause and window is checked
// to the millisecond, without waiting for any of them.
#include "core/services/restart_backoff.h"

#include <gtest/gtest.h>

namespace domian::services {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RestartBackoffTest : public ::testing::Test {
 protected:
  // One run that lasts `length` and ends; the pause the policy asks for
  // (nullopt: give up). The clock is left at the end of the run.
  std::optional<milliseconds> Run(milliseconds length) {
    backoff_.Launched();
    clock_.Advance(length);
    return backoff_.Ended();
  }
  // Waits out a pause, as the supervisor does.
  void Pause(std::optional<milliseconds> pause) {
    ASSERT_TRUE(pause.has_value());
    clock_.Advance(*pause);
  }

  FakeClock clock_;
  RestartBackoff backoff_{clock_};
};

constexpr milliseconds kCrashAtStart{0};
constexpr milliseconds kShortRun = seconds(20);  // shorter than kHealthyPeriod

TEST_F(RestartBackoffTest, ThePauseDoublesFromTheFirstUpToTheMaximum) {
  // Runs of 20 s: never five ends within a minute, never healthy.
  const milliseconds expected[] = {milliseconds(100),  milliseconds(200),  milliseconds(400),
                                   milliseconds(800),  milliseconds(1600), milliseconds(3200),
                                   milliseconds(6400), milliseconds(10000), milliseconds(10000)};
  for (const milliseconds pause : expected) {
    const auto asked = Run(kShortRun);
    ASSERT_TRUE(asked.has_value());
    EXPECT_EQ(*asked, pause);
    clock_.Advance(*asked);
  }
  static_assert(kMaxRestartDelay == milliseconds(10000));
}

TEST_F(RestartBackoffTest, FiveEndsWithinAMinuteGiveUp) {
  for (const milliseconds pause :
       {milliseconds(100), milliseconds(200), milliseconds(400), milliseconds(800)}) {
    const auto asked = Run(kCrashAtStart);
    EXPECT_EQ(asked, pause);
    Pause(asked);
  }
  EXPECT_EQ(Run(kCrashAtStart), std::nullopt);
  EXPECT_EQ(backoff_.recent_ends(), kMaxCrashesInWindow);
}

TEST_F(RestartBackoffTest, AHealthyRunForgivesEarlierTrouble) {
  for (int i = 0; i < 4; ++i) Pause(Run(kCrashAtStart));
  EXPECT_EQ(Run(kHealthyPeriod), kFirstRestartDelay);
  EXPECT_EQ(backoff_.recent_ends(), 1u);
}

TEST_F(RestartBackoffTest, ARunJustShortOfHealthyForgivesNothing) {
  for (int i = 0; i < 4; ++i) Pause(Run(kCrashAtStart));
  EXPECT_EQ(Run(kHealthyPeriod - milliseconds(1)), std::nullopt);
}

TEST_F(RestartBackoffTest, EndsOlderThanTheWindowAreForgotten) {
  // Ends at 0 s, 29.1 s, 58.3 s, 87.7 s and 88.5 s: five, but the first
  // is more than a minute before the fifth.
  Pause(Run(kCrashAtStart));                        // 0 s, pause 100 ms
  Pause(Run(seconds(29)));                          // 29.1 s, pause 200 ms
  Pause(Run(seconds(29)));                          // 58.3 s, pause 400 ms
  Pause(Run(seconds(29)));                          // 87.7 s, pause 800 ms
  EXPECT_EQ(Run(kCrashAtStart), milliseconds(1600));  // 88.5 s
  EXPECT_EQ(backoff_.recent_ends(), 4u);
}

}  // namespace
}  // namespace domian::services
