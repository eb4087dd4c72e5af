// PeerTable with probing (membership v2): verdicts, suspicion and its
// confirmations, refutation, rumours and their limits, digests, hints,
// and members of protocol 1 beside it. Messages are passed by hand on one
// fake clock, so every test says exactly who told whom what.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "core/membership/peer_table.h"

namespace domian::membership {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kCluster[] = "home";
const ProbeTimings kProbeTimings{milliseconds(1000), milliseconds(500), milliseconds(500)};

config::MembershipTimings Timings() {
  config::MembershipTimings timings;
  timings.forget_after = seconds(60);
  return timings;
}

class PeerTableProbeTest : public ::testing::Test {
 protected:
  PeerTable& Make(const std::string& id, uint32_t protocol = kProbeProtocol) {
    Identity identity;
    identity.id = id;
    identity.cluster = kCluster;
    identity.version = "0.1.0";
    identity.address = "127.0.0.1:" + std::to_string(7000 + tables_.size());
    identity.protocol = protocol;
    auto table = std::make_unique<PeerTable>(identity, 1, clock_, Timings());
    if (protocol >= kProbeProtocol) table->EnableProbing(kProbeTimings, tables_.size() + 1);
    PeerTable& made = *table;
    tables_[id] = std::move(table);
    return made;
  }
  PeerTable& T(const std::string& id) { return *tables_.at(id); }

  // `from` and `to` call each other with identity lists (how members
  // meet: each takes the other's own word from its reply).
  void Meet(PeerTable& from, PeerTable& to) {
    for (auto [caller, callee] : {std::pair{&from, &to}, std::pair{&to, &from}}) {
      ASSERT_TRUE(callee->Merge(caller->MessageFor(callee->self().id), MessageOrigin::Request())
                      .status.ok());
      ASSERT_TRUE(caller
                      ->Merge(callee->MessageFor(caller->self().id),
                              MessageOrigin::Reply(callee->self().address))
                      .status.ok());
    }
  }
  // A cluster of `ids` where everybody knows everybody.
  void Cluster(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) Make(id);
    for (const std::string& a : ids) {
      for (const std::string& b : ids) {
        if (a < b) Meet(T(a), T(b));
      }
    }
  }

  // `from` probes `to` directly and merges the answer.
  MergeOutcome Probe(PeerTable& from, PeerTable& to) {
    const MergeOutcome asked =
        to.MergeProbe(from.ProbeFor(to.self().id, to.self().id, false), MessageOrigin::Request());
    EXPECT_TRUE(asked.status.ok()) << StatusMessage(asked.status);
    return from.MergeProbe(to.AnswerFor(to.self().id, true),
                           MessageOrigin::Reply(to.self().address));
  }
  // `from` pushes rumours to `to` (a probe `to` answers, its answer unread).
  MergeOutcome Tell(PeerTable& from, PeerTable& to) {
    return to.MergeProbe(from.ProbeFor(to.self().id, "", false), MessageOrigin::Request());
  }
  // Polls `table` until a probe of `target` starts, which nobody answers;
  // the other members it probes meanwhile answer.
  void PollUntilProbing(PeerTable& table, const std::string& target) {
    for (int i = 0; i < 20; ++i) {
      const PeerTable::ProbeStep step = table.PollProbes();
      bool found = false;
      for (const std::string& probed : step.actions.probes) {
        if (probed == target) {
          found = true;
        } else {
          Probe(table, T(probed));
        }
      }
      if (found) return;
      Run(kProbeTimings.interval);
    }
    FAIL() << table.self().id << " never probed " << target;
  }
  // Lets `duration` pass in heartbeat-sized steps, ticking `tables` as
  // Membership does (a longer gap would be taken for a pause of theirs).
  void Run(milliseconds duration) {
    const milliseconds step = Timings().heartbeat_interval;
    auto tick = [&](milliseconds by) {
      clock_.Advance(by);
      for (auto& [id, table] : tables_) table->Tick();
    };
    for (milliseconds t{0}; t + step <= duration; t += step) tick(step);
    if (const milliseconds rest = duration % step; rest.count() > 0) tick(rest);
  }
  // `table` probes `target`, which answers nobody: the direct probe and
  // then the relays time out. Returns the step with the verdict.
  PeerTable::ProbeStep FailRound(PeerTable& table, const std::string& target) {
    PollUntilProbing(table, target);
    Run(kProbeTimings.timeout);
    table.PollProbes();  // the relays go out
    Run(kProbeTimings.timeout);
    return table.PollProbes();
  }

  FakeClock clock_;
  std::map<std::string, std::unique_ptr<PeerTable>> tables_;
};

TEST_F(PeerTableProbeTest, AnAnsweredProbeKeepsTheMemberAliveAndTheTableHealthy) {
  Cluster({"a", "b"});
  for (int i = 0; i < 5; ++i) {
    const PeerTable::ProbeStep step = T("a").PollProbes();
    ASSERT_EQ(step.actions.probes, std::vector<std::string>{"b"}) << i;
    Probe(T("a"), T("b"));
    const PeerTable::ProbeStep ended = T("a").PollProbes();
    ASSERT_EQ(ended.actions.verdicts.size(), 1u);
    EXPECT_TRUE(ended.actions.verdicts[0].answered);
    Run(kProbeTimings.interval);
  }
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kAlive);
  EXPECT_EQ(T("a").health_score(), 0);
}

TEST_F(PeerTableProbeTest, AnUnansweredRoundSuspectsAndALoneSuspicionRunsItsLongestTimeout) {
  Cluster({"a", "b", "c"});
  PollUntilProbing(T("a"), "b");
  Run(kProbeTimings.timeout);
  const PeerTable::ProbeStep relayed = T("a").PollProbes();
  ASSERT_EQ(relayed.actions.relays.size(), 1u);
  EXPECT_EQ(relayed.actions.relays[0].via, std::vector<std::string>{"c"});
  Run(kProbeTimings.timeout);
  const PeerTable::ProbeStep suspected = T("a").PollProbes();
  ASSERT_EQ(suspected.changes.size(), 1u);
  EXPECT_EQ(suspected.changes[0].to, PeerState::kSuspect);
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kSuspect);
  EXPECT_EQ(T("a").health_score(), 1);  // c neither answered nor said nack

  // Three members: the shortest suspicion is 500 ms; alone, six times that.
  Run(milliseconds(2999));
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kSuspect);
  clock_.Advance(milliseconds(1));
  const std::vector<PeerChange> died = T("a").Tick();
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kDead);
  ASSERT_EQ(died.size(), 1u);
  EXPECT_EQ(died[0].to, PeerState::kDead);
}

TEST_F(PeerTableProbeTest, ConfirmationsFromOtherSuspectorsShortenTheSuspicion) {
  Cluster({"a", "b", "c", "d", "e"});
  // c, d and e each suspect b on their own and tell a.
  auto suspicion_by = [&](const std::string& id) {
    Rumour doubt;
    doubt.about = "b";
    doubt.kind = Rumour::Kind::kSuspect;
    doubt.incarnation = 1;
    doubt.from = id;
    ProbeMessage message = T(id).AnswerFor("", false);
    message.rumours = {doubt};
    return message;
  };
  const MonoTime heard = clock_.Now();
  for (const char* id : {"c", "d", "e"}) {
    ASSERT_TRUE(T("a").MergeProbe(suspicion_by(id), MessageOrigin::Request()).status.ok());
  }
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kSuspect);
  // c raised it, d and e confirmed: 3000 - 2500 * log(3)/log(4) = 1019 ms.
  EXPECT_LE(T("a").NextProbeWake(), heard + milliseconds(1019));
  Run(milliseconds(1019));
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kDead);
}

TEST_F(PeerTableProbeTest, ASuspectHearsOfItsSuspicionAndRefutesIt) {
  Cluster({"a", "b", "c"});
  FailRound(T("a"), "b");
  ASSERT_EQ(T("a").StateOf("b"), PeerState::kSuspect);
  const uint64_t before = T("b").self_counters().incarnation;

  // b was only slow: a's next probe carries the suspicion to b itself.
  const MergeOutcome told = Tell(T("a"), T("b"));
  EXPECT_TRUE(told.refuted);
  EXPECT_GT(T("b").self_counters().incarnation, before);
  EXPECT_EQ(T("b").health_score(), 1);  // somebody found it slow

  // b's refutation reaches c, and through c's rumours a.
  Tell(T("b"), T("c"));
  Tell(T("c"), T("a"));
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kAlive);
  // a fetches b's new life from b itself.
  bool fetches = false;
  for (const HeartbeatTarget& target : T("a").UrgentTargets()) fetches |= target.id == "b";
  EXPECT_TRUE(fetches);
}

TEST_F(PeerTableProbeTest, ADeathHeardIsBelievedButOnlyTheMemberItselfBringsItBack) {
  Cluster({"a", "b", "c"});
  FailRound(T("c"), "b");
  Run(seconds(3));
  ASSERT_EQ(T("c").StateOf("b"), PeerState::kDead);
  Tell(T("c"), T("a"));
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kDead);

  // A rumour that b lives again does not revive it; b's own answer does.
  Rumour alive;
  alive.about = "b";
  alive.kind = Rumour::Kind::kAlive;
  alive.incarnation = 7;
  ProbeMessage rumour = T("c").AnswerFor("", false);
  rumour.rumours = {alive};
  EXPECT_TRUE(T("a").MergeProbe(rumour, MessageOrigin::Request()).status.ok());
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kDead);
  Meet(T("a"), T("b"));
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kAlive);
}

TEST_F(PeerTableProbeTest, RelaysAnswerForTheTargetOrSayTheyCouldNotReachIt) {
  Cluster({"a", "b", "c", "d", "e"});
  PollUntilProbing(T("a"), "b");
  Run(kProbeTimings.timeout);
  const PeerTable::ProbeStep relayed = T("a").PollProbes();
  ASSERT_EQ(relayed.actions.relays.size(), 1u);
  const std::vector<std::string> via = relayed.actions.relays[0].via;
  ASSERT_EQ(via.size(), 3u);
  // Every relay says nack: the round ends at once, and a's own links are
  // fine (no health penalty).
  for (const std::string& relay : via) {
    T("a").MergeProbe(T(relay).AnswerFor("b", false),
                      MessageOrigin::Reply(T(relay).self().address));
  }
  const PeerTable::ProbeStep ended = T("a").PollProbes();
  ASSERT_EQ(ended.actions.verdicts.size(), 1u);
  EXPECT_FALSE(ended.actions.verdicts[0].answered);
  EXPECT_EQ(ended.actions.verdicts[0].missing_nacks, 0u);
  EXPECT_EQ(T("a").health_score(), 0);
}

TEST_F(PeerTableProbeTest, AnAnswerThroughARelayEndsTheRoundAnswered) {
  Cluster({"a", "b", "c", "d", "e"});
  PollUntilProbing(T("a"), "b");
  Run(kProbeTimings.timeout);
  const PeerTable::ProbeStep relayed = T("a").PollProbes();
  ASSERT_EQ(relayed.actions.relays.size(), 1u);
  const std::string& relay = relayed.actions.relays[0].via[0];
  T("a").MergeProbe(T(relay).AnswerFor("b", true), MessageOrigin::Reply(T(relay).self().address));
  const PeerTable::ProbeStep answered = T("a").PollProbes();
  ASSERT_EQ(answered.actions.verdicts.size(), 1u);
  EXPECT_TRUE(answered.actions.verdicts[0].answered);
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kAlive);
}

TEST_F(PeerTableProbeTest, ARelayedAnswerFromAnotherAddressIsNotTheRelaysWord) {
  Cluster({"a", "b", "c"});
  PollUntilProbing(T("a"), "b");
  Run(kProbeTimings.timeout);
  T("a").PollProbes();
  // "c says b answered", but not from c's address: nothing counts.
  T("a").MergeProbe(T("c").AnswerFor("b", true), MessageOrigin::Reply("127.0.0.1:9"));
  Run(kProbeTimings.timeout);
  const PeerTable::ProbeStep ended = T("a").PollProbes();
  ASSERT_EQ(ended.actions.verdicts.size(), 1u);
  EXPECT_FALSE(ended.actions.verdicts[0].answered);
}

TEST_F(PeerTableProbeTest, AHintProbesAMemberAtOnce) {
  Cluster({"a", "b", "c"});
  T("a").PollProbes();  // the first regular round, whoever it is
  T("a").ConnectionBroke("b");
  T("a").ConnectionBroke("nobody");
  const PeerTable::ProbeStep step = T("a").PollProbes();
  EXPECT_EQ(step.actions.probes, std::vector<std::string>{"b"});
  // Refused at once: the relays go out without waiting for the timeout.
  T("a").ProbeFailed("b");
  EXPECT_EQ(T("a").PollProbes().actions.relays.size(), 1u);
}

TEST_F(PeerTableProbeTest, DigestsThatKeepDifferingMakeTheMembersExchangeLists) {
  Cluster({"a", "b"});
  EXPECT_EQ(T("a").Digest(), T("b").Digest());
  // b learns of c, a does not (the rumour was lost).
  Make("c");
  Meet(T("b"), T("c"));
  ASSERT_NE(T("a").Digest(), T("b").Digest());
  Tell(T("b"), T("a"));
  bool fetches = false;
  for (const HeartbeatTarget& target : T("a").UrgentTargets()) fetches |= target.id == "b";
  EXPECT_FALSE(fetches) << "one difference may be a rumour still on its way";
  Tell(T("b"), T("a"));
  for (const HeartbeatTarget& target : T("a").UrgentTargets()) fetches |= target.id == "b";
  EXPECT_TRUE(fetches);
}

TEST_F(PeerTableProbeTest, MembersOfTheFirstProtocolAreJudgedByTheirCounters) {
  Make("a");
  Make("old", /*protocol=*/1);
  Meet(T("a"), T("old"));
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(T("a").PollProbes().actions.probes.empty());
    Run(kProbeTimings.interval);
  }
  EXPECT_EQ(T("a").StateOf("old"), PeerState::kDead);  // 10 s without a heartbeat
  // Nor does a rumour of suspicion touch it.
  Meet(T("a"), T("old"));
  Rumour doubt;
  doubt.about = "old";
  doubt.kind = Rumour::Kind::kSuspect;
  doubt.incarnation = 1;
  doubt.from = "x";
  ProbeMessage message = T("a").AnswerFor("", false);
  message.sender = "y";
  message.rumours = {doubt};
  EXPECT_TRUE(T("a").MergeProbe(message, MessageOrigin::Request()).status.ok());
  EXPECT_EQ(T("a").StateOf("old"), PeerState::kAlive);
}

TEST_F(PeerTableProbeTest, ARumouredNewcomerIsCalledNotBelieved) {
  Cluster({"a", "b"});
  Rumour join;
  join.about = "newcomer";
  join.kind = Rumour::Kind::kAlive;
  join.incarnation = 1;
  join.revision = 1;
  join.address = "127.0.0.1:7999";
  ProbeMessage message = T("b").AnswerFor("", false);
  message.rumours = {join};
  EXPECT_TRUE(T("a").MergeProbe(message, MessageOrigin::Request()).status.ok());
  EXPECT_EQ(T("a").StateOf("newcomer"), std::nullopt);
  bool introduced = false;
  for (const HeartbeatTarget& target : T("a").UrgentTargets()) {
    introduced |= target.id == "newcomer" && target.address == "127.0.0.1:7999";
  }
  EXPECT_TRUE(introduced);
}

TEST_F(PeerTableProbeTest, RumoursFarAheadOrAboutThisNodeFromAnImpostorAreBounded) {
  Cluster({"a", "b", "c"});
  Rumour far;
  far.about = "b";
  far.kind = Rumour::Kind::kDead;
  far.incarnation = 1 + kMaxCounterLead + 1;
  Rumour self;
  self.about = "a";
  self.kind = Rumour::Kind::kSuspect;
  self.incarnation = kMaxCounter;
  self.from = "b";
  ProbeMessage message = T("c").AnswerFor("", false);
  message.rumours = {far, self};
  const MergeOutcome outcome = T("a").MergeProbe(message, MessageOrigin::Request());
  ASSERT_TRUE(outcome.status.ok());
  EXPECT_EQ(outcome.dropped.size(), 2u);
  EXPECT_FALSE(outcome.refuted);
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kAlive);
  EXPECT_EQ(T("a").self_counters().incarnation, 1u);
}

TEST_F(PeerTableProbeTest, AProbeInThisNodesNameIsRefused) {
  Cluster({"a", "b"});
  ProbeMessage message = T("b").AnswerFor("", false);
  message.sender = "a";
  EXPECT_EQ(T("a").MergeProbe(message, MessageOrigin::Request()).status.code(), kSpoofed);
  message = T("b").AnswerFor("", false);
  message.cluster = "office";
  EXPECT_EQ(T("a").MergeProbe(message, MessageOrigin::Request()).status.code(), kWrongCluster);
}

TEST_F(PeerTableProbeTest, APauseOfThisNodeIsNotCountedAgainstASuspect) {
  Cluster({"a", "b", "c"});
  FailRound(T("a"), "b");
  ASSERT_EQ(T("a").StateOf("b"), PeerState::kSuspect);
  // a is stopped for 10 s: far beyond the suspicion's 3 s.
  clock_.Advance(seconds(10));
  T("a").Tick();
  EXPECT_EQ(T("a").StateOf("b"), PeerState::kSuspect) << "b gets its time after the pause";
}

}  // namespace
}  // namespace domian::membership
