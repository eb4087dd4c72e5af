#include "core/membership/prober.h"

#include <gtest/gtest.h>

#include <set>

namespace domian::membership {
namespace {

using std::chrono::milliseconds;

class ProberTest : public ::testing::Test {
 protected:
  ProberTest() {
    for (const char* id : {"a", "b", "c", "d", "e"}) prober_.Add(id);
  }

  Prober::Actions Poll() {
    return prober_.Poll(clock_.Now(), health_, eligible_,
                        [this](const std::string& target, size_t count) {
                          relay_requests_.push_back({target, count});
                          std::vector<std::string> via;
                          for (const std::string& id : relays_) {
                            if (id != target && via.size() < count) via.push_back(id);
                          }
                          return via;
                        });
  }

  FakeClock clock_;
  LocalHealth health_;
  Prober prober_{Prober::Options{milliseconds(1000), milliseconds(500), 3}, 42, clock_.Now()};
  Prober::Eligible eligible_ = [](const std::string&) { return true; };
  std::vector<std::string> relays_{"r1", "r2", "r3", "r4"};
  std::vector<std::pair<std::string, size_t>> relay_requests_;
};

TEST_F(ProberTest, ARoundStartsEveryIntervalWithTheNextMemberInTurn) {
  std::multiset<std::string> probed;
  for (int i = 0; i < 10; ++i) {
    const Prober::Actions actions = Poll();
    ASSERT_EQ(actions.probes.size(), 1u) << i;
    probed.insert(actions.probes[0]);
    prober_.Answered(actions.probes[0]);
    clock_.Advance(milliseconds(999));
    const Prober::Actions between = Poll();
    EXPECT_TRUE(between.probes.empty());
    ASSERT_EQ(between.verdicts.size(), 1u);
    EXPECT_TRUE(between.verdicts[0].answered);
    clock_.Advance(milliseconds(1));
  }
  // Two laps of five: each member twice.
  for (const char* id : {"a", "b", "c", "d", "e"}) EXPECT_EQ(probed.count(id), 2u) << id;
  EXPECT_TRUE(relay_requests_.empty());
}

TEST_F(ProberTest, NoDirectAnswerAsksRelaysThenNoRelayedAnswerIsAnUnansweredVerdict) {
  const std::string target = Poll().probes.at(0);
  clock_.Advance(milliseconds(499));
  EXPECT_TRUE(Poll().relays.empty());
  clock_.Advance(milliseconds(1));
  const Prober::Actions relayed = Poll();
  ASSERT_EQ(relayed.relays.size(), 1u);
  EXPECT_EQ(relayed.relays[0].target, target);
  EXPECT_EQ(relayed.relays[0].via, (std::vector<std::string>{"r1", "r2", "r3"}));
  EXPECT_EQ(relay_requests_, (std::vector<std::pair<std::string, size_t>>{{target, 3}}));
  EXPECT_TRUE(relayed.verdicts.empty());
  prober_.Nacked(target, "r2");
  prober_.Nacked(target, "r4");  // never asked: not counted
  clock_.Advance(milliseconds(499));
  EXPECT_TRUE(Poll().verdicts.empty());
  clock_.Advance(milliseconds(1));
  const Prober::Actions ended = Poll();
  ASSERT_EQ(ended.verdicts.size(), 1u);
  EXPECT_EQ(ended.verdicts[0].target, target);
  EXPECT_FALSE(ended.verdicts[0].answered);
  EXPECT_EQ(ended.verdicts[0].missing_nacks, 2u);  // r1 and r3 said nothing
  EXPECT_FALSE(prober_.Probing(target));
}

TEST_F(ProberTest, ARefusedDirectProbeGoesToTheRelaysAtOnce) {
  const std::string target = Poll().probes.at(0);
  prober_.DirectFailed(target);
  EXPECT_EQ(prober_.NextWake(), MonoTime{});
  const Prober::Actions relayed = Poll();  // no time has passed
  ASSERT_EQ(relayed.relays.size(), 1u);
  EXPECT_EQ(relayed.relays[0].target, target);
}

TEST_F(ProberTest, EveryRelaySayingNackEndsTheRoundAtOnce) {
  const std::string target = Poll().probes.at(0);
  prober_.DirectFailed(target);
  Poll();
  for (const char* relay : {"r1", "r2", "r3"}) prober_.Nacked(target, relay);
  const Prober::Actions ended = Poll();
  ASSERT_EQ(ended.verdicts.size(), 1u);
  EXPECT_FALSE(ended.verdicts[0].answered);
  EXPECT_EQ(ended.verdicts[0].missing_nacks, 0u);
}

TEST_F(ProberTest, AnAnswerThroughARelayEndsTheRoundAnswered) {
  const std::string target = Poll().probes.at(0);
  clock_.Advance(milliseconds(500));
  Poll();
  prober_.Nacked(target, "r1");
  prober_.Answered(target);  // r2 reached it
  const Prober::Actions ended = Poll();
  ASSERT_EQ(ended.verdicts.size(), 1u);
  EXPECT_TRUE(ended.verdicts[0].answered);
}

TEST_F(ProberTest, WithNobodyToAskTheDirectProbeDecides) {
  relays_.clear();
  const std::string target = Poll().probes.at(0);
  clock_.Advance(milliseconds(500));
  const Prober::Actions ended = Poll();
  EXPECT_TRUE(ended.relays.empty());
  ASSERT_EQ(ended.verdicts.size(), 1u);
  EXPECT_EQ(ended.verdicts[0].target, target);
  EXPECT_FALSE(ended.verdicts[0].answered);
}

TEST_F(ProberTest, AHintProbesAMemberOutOfTurnBesideTheRegularRound) {
  const std::string regular = Poll().probes.at(0);
  const std::string other = regular == "c" ? "d" : "c";
  prober_.Hint(other);
  EXPECT_TRUE(prober_.Probing(other));
  EXPECT_EQ(prober_.NextWake(), MonoTime{});
  const Prober::Actions hinted = Poll();  // same instant: not the next regular round
  EXPECT_EQ(hinted.probes, std::vector<std::string>{other});
  // A second hint while its round runs changes nothing.
  prober_.Hint(other);
  EXPECT_TRUE(Poll().probes.empty());
  prober_.Hint(regular);  // its regular round is running
  EXPECT_TRUE(Poll().probes.empty());
}

TEST_F(ProberTest, HintsRunAtMostAFewRoundsAtOnce) {
  for (int i = 0; i < 10; ++i) prober_.Hint("h" + std::to_string(i));
  Prober::Actions actions = Poll();
  // The regular round and four hinted ones.
  EXPECT_EQ(actions.probes.size(), 1 + Prober::kMaxHintedRounds);
}

TEST_F(ProberTest, PoorLocalHealthStretchesTheIntervalAndTheTimeouts) {
  health_.Suspected();
  health_.Suspected();  // score 2: three times as long
  const std::string target = Poll().probes.at(0);
  clock_.Advance(milliseconds(1499));
  EXPECT_TRUE(Poll().relays.empty());
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(Poll().relays.size(), 1u);
  clock_.Advance(milliseconds(1499));
  EXPECT_TRUE(Poll().verdicts.empty());
  EXPECT_TRUE(Poll().probes.empty());  // the next round is 3 s after the first
  clock_.Advance(milliseconds(1));
  const Prober::Actions later = Poll();
  EXPECT_EQ(later.verdicts.size(), 1u);
  EXPECT_EQ(later.probes.size(), 1u);
  EXPECT_NE(later.probes[0], target);
}

TEST_F(ProberTest, OnlyEligibleMembersAreProbedInTurnAndRemovedOnesNotAtAll) {
  eligible_ = [](const std::string& id) { return id == "b" || id == "c"; };
  prober_.Remove("c");
  for (int i = 0; i < 6; ++i) {
    const Prober::Actions actions = Poll();
    ASSERT_EQ(actions.probes.size(), 1u);
    EXPECT_EQ(actions.probes[0], "b");
    prober_.Answered("b");
    Poll();
    clock_.Advance(milliseconds(1000));
  }
  eligible_ = [](const std::string&) { return false; };
  EXPECT_TRUE(Poll().probes.empty());
}

TEST_F(ProberTest, NextWakeIsTheEarliestDeadlineOrTheNextRound) {
  const MonoTime start = clock_.Now();
  Poll();
  EXPECT_EQ(prober_.NextWake(),
            start + milliseconds(500));  // the direct probe's deadline
  clock_.Advance(milliseconds(500));
  Poll();
  EXPECT_EQ(prober_.NextWake(),
            start + milliseconds(1000));  // relays' deadline and next round
  clock_.Advance(milliseconds(500));
  Poll();  // round ends unanswered, the next starts
  EXPECT_EQ(prober_.NextWake(), start + milliseconds(1500));
}

}  // namespace
}  // namespace domian::membership
