// The Pacer against simulated time: a bridge that answers after a fixed
// latency and counts arrivals the way a real one does.
#include "plugins/lights/pacer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

namespace domian::lights {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const SteadyTime kT0 = SteadyTime() + 1h;

StateChange Bri(int bri) {
  StateChange change;
  change.bri = bri;
  return change;
}

Target Light(const std::string& id) { return Target{Target::Kind::kLight, id}; }
Target Group(const std::string& id) { return Target{Target::Kind::kGroup, id}; }

// Most sends within any `window` (a bridge's sliding window).
int MostWithin(std::vector<SteadyTime> sends, Millis window) {
  std::sort(sends.begin(), sends.end());
  int most = 0;
  size_t first = 0;
  for (size_t last = 0; last < sends.size(); ++last) {
    while (sends[last] - sends[first] >= window) ++first;
    most = std::max(most, static_cast<int>(last - first + 1));
  }
  return most;
}

// Runs the pacer until nothing is pending: every job is answered
// `latency` after it was sent. Returns what was sent, in order.
struct Sent {
  SteadyTime at;
  Pacer::Job job;
};
std::vector<Sent> Drain(Pacer& pacer, SteadyTime& now, Millis latency, int* most_in_flight,
                        Millis limit = 600s) {
  std::vector<Sent> sent;
  std::multimap<SteadyTime, Pacer::Job> answering;
  const SteadyTime end = now + limit;
  while ((pacer.pending() > 0 || !answering.empty()) && now < end) {
    while (true) {
      auto next = pacer.Next(now);
      if (auto* job = std::get_if<Pacer::Job>(&next)) {
        sent.push_back({now, *job});
        answering.emplace(now + latency, *job);
        *most_in_flight = std::max(*most_in_flight, pacer.in_flight());
        continue;
      }
      const auto until = std::get<Pacer::Wait>(next).until;
      SteadyTime wake = answering.empty() ? until.value_or(end) : answering.begin()->first;
      if (until) wake = std::min(wake, *until);
      now = std::max(now, wake);
      break;
    }
    while (!answering.empty() && answering.begin()->first <= now) {
      pacer.Finish(answering.begin()->second, Pacer::Outcome::kAnswered, now);
      answering.erase(answering.begin());
    }
  }
  return sent;
}

TEST(Pacer, ABurstOnFiveLightsStaysWithinTheLimitsAndEndsWithTheNewestState) {
  Pacer pacer(PacerLimits{}, 1);
  SteadyTime now = kT0;
  // 100 sets over 5 lights, one every 5 ms, interleaved with sending.
  std::vector<Sent> sent;
  std::multimap<SteadyTime, Pacer::Job> answering;
  int most_in_flight = 0;
  std::map<std::string, int> last_requested;
  for (int i = 0; i < 100; ++i) {
    const std::string id = std::to_string(1 + i % 5);
    pacer.Submit(Light(id), Bri(1 + i), now);
    last_requested[id] = 1 + i;
    auto next = pacer.Next(now);
    while (auto* job = std::get_if<Pacer::Job>(&next)) {
      sent.push_back({now, *job});
      answering.emplace(now + 40ms, *job);
      most_in_flight = std::max(most_in_flight, pacer.in_flight());
      next = pacer.Next(now);
    }
    now += 5ms;
    while (!answering.empty() && answering.begin()->first <= now) {
      pacer.Finish(answering.begin()->second, Pacer::Outcome::kAnswered, now);
      answering.erase(answering.begin());
    }
  }
  for (auto& [at, job] : answering) pacer.Finish(job, Pacer::Outcome::kAnswered, now);
  const auto rest = Drain(pacer, now, 40ms, &most_in_flight);
  sent.insert(sent.end(), rest.begin(), rest.end());

  std::vector<SteadyTime> times;
  std::map<std::string, int> final_bri;
  for (const Sent& s : sent) {
    times.push_back(s.at);
    final_bri[s.job.target.id] = *s.job.change.bri;
  }
  EXPECT_LE(MostWithin(times, 1s), 10);  // the bridge's window never overflows
  EXPECT_LE(most_in_flight, 2);
  EXPECT_EQ(final_bri, last_requested);
  // Coalescing did its job: far fewer than 100 commands went out.
  EXPECT_LT(sent.size(), 30U);
  EXPECT_EQ(pacer.pending(), 0U);
}

TEST(Pacer, GroupCommandsAreLimitedToOnePerWindow) {
  Pacer pacer(PacerLimits{}, 1);
  SteadyTime now = kT0;
  pacer.Submit(Light("1"), Bri(20), now);
  pacer.Submit(Group("0"), Bri(10), now);
  pacer.Submit(Target{Target::Kind::kScene, "1"}, StateChange{.scene = "s"}, now);
  int most = 0;
  const auto sent = Drain(pacer, now, 20ms, &most);
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[0].job.target, Light("1"));
  EXPECT_EQ(sent[0].at, kT0);
  // The group after the light it may change; the scene a window later.
  EXPECT_EQ(sent[1].job.target, Group("0"));
  EXPECT_EQ(sent[1].at, kT0 + 20ms);
  EXPECT_EQ(sent[2].job.target.kind, Target::Kind::kScene);
  EXPECT_GE(sent[2].at - sent[1].at, 1s);
}

TEST(Pacer, OneCommandInFlightPerTargetKeepsChangesInOrder) {
  Pacer pacer(PacerLimits{}, 1);
  const SteadyTime now = kT0;
  pacer.Submit(Light("1"), Bri(1), now);
  const auto first = std::get<Pacer::Job>(pacer.Next(now));
  const auto merged_a = pacer.Submit(Light("1"), Bri(2), now);
  const auto merged_b = pacer.Submit(Light("1"), Bri(3), now);
  EXPECT_FALSE(merged_a.merged);  // the first is in flight, not pending
  EXPECT_TRUE(merged_b.merged);
  EXPECT_TRUE(std::holds_alternative<Pacer::Wait>(pacer.Next(now)));
  pacer.Finish(first, Pacer::Outcome::kAnswered, now + 30ms);
  const auto second = std::get<Pacer::Job>(pacer.Next(now + 30ms));
  EXPECT_EQ(second.change.bri, 3);
  EXPECT_EQ(second.tickets, (std::vector<uint64_t>{merged_a.ticket, merged_b.ticket}));
}

StateChange On(bool on) {
  StateChange change;
  change.on = on;
  return change;
}

TEST(Pacer, ALightCommandNeverOvertakesAGroupCommandAskedForBeforeIt) {
  Pacer pacer(PacerLimits{}, 1);
  pacer.Submit(Group("0"), On(true), kT0);
  pacer.Finish(std::get<Pacer::Job>(pacer.Next(kT0)), Pacer::Outcome::kAnswered, kT0 + 10ms);
  // "all off", held back by the group window, then "desk on".
  pacer.Submit(Group("0"), On(false), kT0 + 20ms);
  pacer.Submit(Light("1"), On(true), kT0 + 30ms);
  const auto wait = std::get<Pacer::Wait>(pacer.Next(kT0 + 30ms));
  ASSERT_TRUE(wait.until);
  EXPECT_EQ(*wait.until, kT0 + 1100ms);  // the group window, not the light's
  const auto group = std::get<Pacer::Job>(pacer.Next(*wait.until));
  EXPECT_EQ(group.target, Group("0"));
  EXPECT_TRUE(std::holds_alternative<Pacer::Wait>(pacer.Next(*wait.until)));  // still in flight
  pacer.Finish(group, Pacer::Outcome::kAnswered, *wait.until + 10ms);
  EXPECT_EQ(std::get<Pacer::Job>(pacer.Next(*wait.until + 10ms)).target, Light("1"));
}

TEST(Pacer, AGroupCommandWaitsForLightCommandsAskedForBeforeIt) {
  PacerLimits limits;
  limits.light_commands_per_window = 1;
  Pacer pacer(limits, 1);
  pacer.Submit(Light("2"), On(true), kT0);
  const auto first = std::get<Pacer::Job>(pacer.Next(kT0));
  pacer.Submit(Light("1"), On(true), kT0);   // held back by the light window
  pacer.Submit(Group("0"), On(false), kT0);  // the group window is free
  EXPECT_TRUE(std::holds_alternative<Pacer::Wait>(pacer.Next(kT0 + 10ms)));
  pacer.Finish(first, Pacer::Outcome::kAnswered, kT0 + 20ms);
  const auto light = std::get<Pacer::Job>(pacer.Next(kT0 + 1100ms));
  EXPECT_EQ(light.target, Light("1"));
  pacer.Finish(light, Pacer::Outcome::kAnswered, kT0 + 1110ms);
  EXPECT_EQ(std::get<Pacer::Job>(pacer.Next(kT0 + 1110ms)).target, Group("0"));
}

TEST(Pacer, ChangesAreNotMergedAcrossAGroupCommand) {
  PacerLimits limits;
  limits.light_commands_per_window = 1;
  Pacer pacer(limits, 1);
  pacer.Submit(Light("2"), On(true), kT0);
  (void)std::get<Pacer::Job>(pacer.Next(kT0));
  EXPECT_FALSE(pacer.Submit(Light("1"), Bri(10), kT0).merged);
  EXPECT_TRUE(pacer.Submit(Light("1"), Bri(20), kT0).merged);  // nothing between
  pacer.Submit(Group("0"), On(false), kT0);
  EXPECT_FALSE(pacer.Submit(Light("1"), On(true), kT0).merged);
  EXPECT_EQ(pacer.pending(), 3U);
}

TEST(Pacer, TheWindowCountsWhenARequestReallyLeft) {
  PacerLimits limits;
  limits.light_commands_per_window = 1;
  Pacer pacer(limits, 1);
  pacer.Submit(Light("1"), Bri(1), kT0);
  const auto job = std::get<Pacer::Job>(pacer.Next(kT0));
  pacer.Started(job, kT0 + 500ms);  // it waited for a connection slot
  pacer.Finish(job, Pacer::Outcome::kAnswered, kT0 + 520ms);
  pacer.Submit(Light("2"), Bri(1), kT0 + 600ms);
  const auto wait = std::get<Pacer::Wait>(pacer.Next(kT0 + 1200ms));
  ASSERT_TRUE(wait.until);
  EXPECT_EQ(*wait.until, kT0 + 500ms + 1100ms);
}

TEST(Pacer, ThrottledCommandsBackOffWithGrowingJitteredPausesAndAreSentAgain) {
  PacerLimits limits;
  Pacer pacer(limits, 7);
  SteadyTime now = kT0;
  pacer.Submit(Light("1"), Bri(1), now);
  std::vector<Millis> pauses;
  for (int attempt = 1; attempt <= 6; ++attempt) {
    auto next = pacer.Next(now);
    ASSERT_TRUE(std::holds_alternative<Pacer::Job>(next)) << attempt;
    const auto job = std::get<Pacer::Job>(next);
    EXPECT_EQ(job.attempt, attempt);
    pacer.Finish(job, Pacer::Outcome::kThrottled, now);
    const auto wait = std::get<Pacer::Wait>(pacer.Next(now));
    ASSERT_TRUE(wait.until);
    pauses.push_back(std::chrono::duration_cast<Millis>(*wait.until - now));
    now = *wait.until;
  }
  // Equal jitter: between half and all of 500 ms, 1 s, 2 s, 4 s, 8 s, 8 s.
  const Millis bases[] = {500ms, 1000ms, 2000ms, 4000ms, 8000ms, 8000ms};
  for (size_t i = 0; i < pauses.size(); ++i) {
    EXPECT_GE(pauses[i], bases[i] / 2) << i;
    EXPECT_LE(pauses[i], bases[i]) << i;
  }
  EXPECT_EQ(pacer.consecutive_failures(), 6);
  // The seventh attempt is answered: the next failure starts small again.
  auto job = std::get<Pacer::Job>(pacer.Next(now));
  pacer.Finish(job, Pacer::Outcome::kAnswered, now);
  EXPECT_EQ(pacer.consecutive_failures(), 0);
}

TEST(Pacer, JitterSpreadsClientsThatFailedTogether) {
  std::set<int64_t> pauses;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Pacer pacer(PacerLimits{}, seed);
    pacer.Submit(Light("1"), Bri(1), kT0);
    const auto job = std::get<Pacer::Job>(pacer.Next(kT0));
    pacer.Finish(job, Pacer::Outcome::kUnreachable, kT0);
    pauses.insert(pacer.PausedFor(kT0).count());
  }
  EXPECT_GT(pauses.size(), 10U);
}

TEST(Pacer, AFailedCommandMergesWithWhatWasSubmittedMeanwhile) {
  Pacer pacer(PacerLimits{}, 1);
  SteadyTime now = kT0;
  StateChange on;
  on.on = true;
  StateChange ct;
  ct.ct = 300;
  pacer.Submit(Light("1"), on, now);
  const auto job = std::get<Pacer::Job>(pacer.Next(now));
  pacer.Submit(Light("1"), ct, now);
  pacer.Finish(job, Pacer::Outcome::kUnreachable, now);
  now += 10s;
  const auto again = std::get<Pacer::Job>(pacer.Next(now));
  EXPECT_EQ(again.change.on, true);
  EXPECT_EQ(again.change.ct, 300);
  EXPECT_EQ(again.tickets.size(), 2U);
  EXPECT_EQ(again.attempt, 2);
}

TEST(Pacer, ResumeEndsThePauseWhenTheBridgeAnswersAgain) {
  Pacer pacer(PacerLimits{}, 1);
  pacer.Submit(Light("1"), Bri(1), kT0);
  pacer.Finish(std::get<Pacer::Job>(pacer.Next(kT0)), Pacer::Outcome::kUnreachable, kT0);
  EXPECT_TRUE(std::holds_alternative<Pacer::Wait>(pacer.Next(kT0 + 10ms)));
  pacer.Resume();
  EXPECT_TRUE(std::holds_alternative<Pacer::Job>(pacer.Next(kT0 + 10ms)));
}

TEST(Pacer, CommandsThatCannotBeSentExpireFromTheirFirstSubmission) {
  PacerLimits limits;
  limits.expiry = 30s;
  Pacer pacer(limits, 1);
  const auto a = pacer.Submit(Light("1"), Bri(1), kT0);
  // Sent and failed at 20 s: the expiry still counts from 0.
  const auto job = std::get<Pacer::Job>(pacer.Next(kT0 + 20s));
  pacer.Finish(job, Pacer::Outcome::kUnreachable, kT0 + 20s);
  const auto b = pacer.Submit(Light("2"), Bri(1), kT0 + 20s);
  EXPECT_TRUE(pacer.Expire(kT0 + 29s).empty());
  EXPECT_EQ(pacer.Expire(kT0 + 30s), (std::vector<uint64_t>{a.ticket}));
  EXPECT_EQ(pacer.Expire(kT0 + 50s), (std::vector<uint64_t>{b.ticket}));
  EXPECT_EQ(pacer.pending(), 0U);
}

}  // namespace
}  // namespace domian::lights
