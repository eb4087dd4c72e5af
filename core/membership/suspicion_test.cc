#include "core/membership/suspicion.h"

#include <gtest/gtest.h>

namespace domian::membership {
namespace {

using std::chrono::seconds;

TEST(SuspicionMin, IsTheBaseUpToTenMembersThenGrowsWithLog10) {
  EXPECT_EQ(SuspicionMin(Millis(500), 1), Millis(500));
  EXPECT_EQ(SuspicionMin(Millis(500), 5), Millis(500));
  EXPECT_EQ(SuspicionMin(Millis(500), 10), Millis(500));
  EXPECT_EQ(SuspicionMin(Millis(500), 100), Millis(1000));
  EXPECT_EQ(SuspicionMin(Millis(500), 200),
            Millis(1151));  // 500 * 2.301, rounded up
  EXPECT_EQ(SuspicionMin(Millis(500), 1000), Millis(1500));
  EXPECT_EQ(SuspicionMin(Millis(500), 0), Millis(500));
}

TEST(Suspicion, ALoneSuspicionWaitsTheLongestTimeout) {
  FakeClock clock;
  const Suspicion suspicion(clock.Now(), Millis(500), "a");
  EXPECT_EQ(suspicion.confirmations(), 0u);
  EXPECT_EQ(suspicion.Deadline() - clock.Now(), Millis(500 * Suspicion::kMaxTimeoutFactor));
}

TEST(Suspicion, EachIndependentConfirmationShortensItDownToTheMinimum) {
  FakeClock clock;
  const MonoTime start = clock.Now();
  Suspicion suspicion(start, Millis(600), "a");
  auto previous = suspicion.Deadline() - start;
  // max 3600 ms, min 600: 3600 - 3000 * log(C + 1) / log(4).
  const Millis expected[] = {Millis(2100), Millis(1223), Millis(600)};
  const char* suspectors[] = {"b", "c", "d"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(suspicion.Confirm(suspectors[i]));
    const auto now = suspicion.Deadline() - start;
    EXPECT_EQ(now, expected[i]) << i;
    EXPECT_LT(now, previous);
    previous = now;
  }
  EXPECT_EQ(suspicion.confirmations(), Suspicion::kConfirmationsForMin);
  // Past K, nothing shortens it further.
  EXPECT_FALSE(suspicion.Confirm("e"));
  EXPECT_EQ(suspicion.Deadline() - start, Millis(600));
}

TEST(Suspicion, RepeatsAndTheFirstSuspectorAreNotConfirmations) {
  FakeClock clock;
  Suspicion suspicion(clock.Now(), Millis(500), "a");
  const MonoTime lone = suspicion.Deadline();
  EXPECT_FALSE(suspicion.Confirm("a"));
  EXPECT_EQ(suspicion.Deadline(), lone);
  EXPECT_TRUE(suspicion.Confirm("b"));
  const MonoTime once = suspicion.Deadline();
  EXPECT_FALSE(suspicion.Confirm("b"));  // one liar repeating itself counts once
  EXPECT_EQ(suspicion.Deadline(), once);
  EXPECT_EQ(suspicion.confirmations(), 1u);
}

TEST(Suspicion, TheDeadlineIsCountedFromTheStartNotFromTheConfirmation) {
  FakeClock clock;
  const MonoTime start = clock.Now();
  Suspicion suspicion(start, Millis(500), "a");
  clock.Advance(seconds(2));
  for (const char* id : {"b", "c", "d"}) suspicion.Confirm(id);
  // Already past: the suspect had its 500 ms, and then some.
  EXPECT_EQ(suspicion.Deadline(), start + Millis(500));
  EXPECT_LT(suspicion.Deadline(), clock.Now());
}

TEST(LocalHealth, FailedProbesWithoutNacksStretchTimeoutsUpToNinefold) {
  LocalHealth health;
  EXPECT_EQ(health.Scale(Millis(500)), Millis(500));
  for (int i = 0; i < 20; ++i) health.ProbeUnanswered(/*missing_nacks=*/2);
  EXPECT_EQ(health.score(), LocalHealth::kMaxScore);
  EXPECT_EQ(health.Scale(Millis(500)), Millis(4500));
}

TEST(LocalHealth, AFailedProbeWhoseRelaysAllSaidNackIsTheTargetsFault) {
  LocalHealth health;
  health.ProbeUnanswered(/*missing_nacks=*/0);
  EXPECT_EQ(health.score(), 0);
}

TEST(LocalHealth, AnsweredProbesBringItBackOneStepEach) {
  LocalHealth health;
  health.Suspected();
  health.Suspected();
  health.ProbeUnanswered(1);
  EXPECT_EQ(health.score(), 3);
  health.ProbeAnswered();
  EXPECT_EQ(health.score(), 2);
  for (int i = 0; i < 5; ++i) health.ProbeAnswered();
  EXPECT_EQ(health.score(), 0);  // never below zero
}

}  // namespace
}  // namespace domian::membership
