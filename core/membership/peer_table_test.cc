// PeerTable: merge rules, the liveness state machine on an injected clock,
// refutation, target choice and refusal of bad input.
#include "core/membership/peer_table.h"

#include <gtest/gtest.h>

#include <memory>

namespace domian {
namespace {

using std::chrono::milliseconds;

constexpr char kCluster[] = "home";

Identity MakeIdentity(const std::string& id, const std::string& address) {
  Identity identity;
  identity.id = id;
  identity.cluster = kCluster;
  identity.version = "0.1.0";
  identity.address = address;
  return identity;
}

MembershipTimings Timings() {
  MembershipTimings timings;  // the defaults: 200ms / 600ms / 1200ms
  timings.forget_after = std::chrono::seconds(10);
  return timings;
}

// A small world of tables sharing one fake clock: messages are passed by
// hand, so every test says exactly who talked to whom.
class PeerTableTest : public ::testing::Test {
 protected:
  std::unique_ptr<PeerTable> Make(const std::string& id, uint64_t incarnation = 1) {
    const std::string address = "127.0.0.1:" + std::to_string(7000 + next_port_++);
    return std::make_unique<PeerTable>(MakeIdentity(id, address), incarnation, clock_, Timings());
  }

  // `from` sends its list to `to`, and `to` replies (push-pull).
  static void Exchange(PeerTable& from, PeerTable& to) {
    const MergeOutcome request = to.Merge(from.MessageFor(to.self().id));
    ASSERT_FALSE(request.refusal) << request.refusal->message;
    const MergeOutcome reply = from.Merge(to.MessageFor(from.self().id));
    ASSERT_FALSE(reply.refusal) << reply.refusal->message;
  }

  // Lets `duration` pass in heartbeat-sized steps, ticking every table.
  void Run(milliseconds duration, const std::vector<PeerTable*>& tables) {
    for (milliseconds t{0}; t < duration; t += Timings().heartbeat_interval) {
      clock_.Advance(Timings().heartbeat_interval);
      for (PeerTable* table : tables) table->Tick();
    }
  }

  FakeClock clock_;
  int next_port_ = 1;
};

TEST_F(PeerTableTest, StartsLonely) {
  auto a = Make("a");
  EXPECT_TRUE(a->Lonely());
  EXPECT_EQ(a->size(), 0u);
}

TEST_F(PeerTableTest, SecondHandPeersAreLearnedThroughASeed) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);  // A knows only seed B
  Exchange(*c, *b);  // C knows only seed B; learns A from B's reply
  EXPECT_EQ(c->StateOf("a"), PeerState::kAlive);
  Exchange(*a, *b);  // A learns C from B
  EXPECT_EQ(a->StateOf("c"), PeerState::kAlive);
  EXPECT_FALSE(a->Lonely());
  // The second-hand peer is contacted directly: it has never been heard
  // from, so it comes first among A's targets.
  const auto targets = a->PickTargets({});
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(targets.front().id, "c");
  EXPECT_EQ(targets.front().address, c->self().address);
}

TEST_F(PeerTableTest, NewerCountersWinOlderAreIgnored) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  const IdentityListMessage fresh = b->MessageFor("a");
  b->Tick();
  b->Tick();
  Exchange(*b, *a);
  const auto before = a->Peers();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].counters.heartbeat, 2u);
  // Replaying the older message changes nothing.
  clock_.Advance(milliseconds(100));
  const MergeOutcome stale = a->Merge(fresh);
  EXPECT_FALSE(stale.refusal);
  const auto after = a->Peers();
  EXPECT_EQ(after[0].counters, before[0].counters);
}

TEST_F(PeerTableTest, SilentPeerGoesSuspectThenDeadThenIsForgotten) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  Run(milliseconds(400), {a.get()});
  EXPECT_EQ(a->StateOf("b"), PeerState::kAlive);
  Run(milliseconds(400), {a.get()});  // 800 ms silent
  EXPECT_EQ(a->StateOf("b"), PeerState::kSuspect);
  Run(milliseconds(400), {a.get()});  // 1200 ms silent
  EXPECT_EQ(a->StateOf("b"), PeerState::kDead);
  EXPECT_TRUE(a->Lonely());
  Run(Timings().forget_after, {a.get()});
  EXPECT_EQ(a->StateOf("b"), std::nullopt);
  EXPECT_EQ(a->size(), 0u);
}

TEST_F(PeerTableTest, ForgottenPeerIsNotRevivedByItsOldRow) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);  // C learns of A
  // A dies. B and C forget it; C's stale row must not bring it back to B.
  const IdentityListMessage stale_from_c = c->MessageFor("b");
  Run(Timings().dead_after + Timings().forget_after + milliseconds(200), {b.get()});
  ASSERT_EQ(b->StateOf("a"), std::nullopt);
  EXPECT_FALSE(b->Merge(stale_from_c).refusal);
  EXPECT_EQ(b->StateOf("a"), std::nullopt);
}

TEST_F(PeerTableTest, SecondHandHeartbeatsKeepAPeerAlive) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  Exchange(*a, *b);
  // A and C never talk directly again; B relays their heartbeats.
  for (int i = 0; i < 20; ++i) {
    Run(milliseconds(200), {a.get(), b.get(), c.get()});
    Exchange(*a, *b);
    Exchange(*c, *b);
  }
  EXPECT_EQ(a->StateOf("c"), PeerState::kAlive);
  EXPECT_EQ(c->StateOf("a"), PeerState::kAlive);
}

TEST_F(PeerTableTest, DeadPeerComesBackOnlyByDirectContact) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  Exchange(*a, *b);
  // C is cut off from A only; A declares it dead.
  for (int i = 0; i < 8; ++i) {
    Run(milliseconds(200), {a.get(), b.get(), c.get()});
    Exchange(*b, *a);
  }
  ASSERT_EQ(a->StateOf("c"), PeerState::kDead);
  // B now relays a newer heartbeat of C: a rumour, not proof.
  Exchange(*c, *b);
  Exchange(*b, *a);
  EXPECT_EQ(a->StateOf("c"), PeerState::kDead);
  // C talks to A itself: alive again.
  Exchange(*c, *a);
  EXPECT_EQ(a->StateOf("c"), PeerState::kAlive);
}

TEST_F(PeerTableTest, PausedNodeRefutesSuspicionByBumpingItsIncarnation) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  Run(milliseconds(1400), {a.get()});  // B "paused": only A's clock runs
  ASSERT_EQ(a->StateOf("b"), PeerState::kDead);
  const uint64_t before = b->self_counters().incarnation;
  // B wakes up; A's next probe of the dead B tells B it is thought dead,
  // and B's reply carries the refutation.
  Exchange(*a, *b);
  EXPECT_EQ(b->self_counters().incarnation, before + 1);
  EXPECT_EQ(a->StateOf("b"), PeerState::kAlive);
  // The refutation is newer than the rumour everywhere it travels.
  EXPECT_GT(a->Peers()[0].counters.incarnation, before);
}

TEST_F(PeerTableTest, OwnPauseIsNotBlamedOnPeers) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  Run(milliseconds(200), {a.get()});
  // A itself is stopped for 5 s: no tick runs, then one late tick.
  clock_.Advance(std::chrono::seconds(5));
  a->Tick();
  EXPECT_EQ(a->StateOf("b"), PeerState::kAlive);
  // If B really is silent afterwards, A still notices in due time.
  Run(milliseconds(1400), {a.get()});
  EXPECT_EQ(a->StateOf("b"), PeerState::kDead);
}

TEST_F(PeerTableTest, RestartWithSameIdRejoins) {
  auto a = Make("a"), b = Make("b", 10);
  Exchange(*a, *b);
  Run(milliseconds(1400), {a.get()});
  ASSERT_EQ(a->StateOf("b"), PeerState::kDead);
  // A new process with the same id and address starts above the old one.
  PeerTable restarted(b->self(), 11, clock_, Timings());
  Exchange(restarted, *a);
  EXPECT_EQ(a->StateOf("b"), PeerState::kAlive);
  EXPECT_EQ(a->Peers()[0].counters.incarnation, 11u);
}

// Placement skips rounds while the generation stands still, so every
// change it reads must move it, and heartbeats alone must not.
TEST_F(PeerTableTest, ViewGenerationMovesWithWhatPeersShowNotWithHeartbeats) {
  auto a = Make("a"), b = Make("b");
  uint64_t seen = a->view_generation();
  auto moved = [&] {
    const bool grew = a->view_generation() > seen;
    seen = a->view_generation();
    return grew;
  };
  Exchange(*a, *b);
  EXPECT_TRUE(moved()) << "a peer learned";
  for (int i = 0; i < 5; ++i) {
    Run(Timings().heartbeat_interval, {a.get(), b.get()});
    Exchange(*a, *b);
  }
  EXPECT_FALSE(moved()) << "heartbeats changed nothing a view shows";

  Identity with_service = b->self();
  with_service.services.push_back({.name = "lights", .state = "running"});
  b->UpdateSelf(with_service);
  Exchange(*a, *b);
  EXPECT_TRUE(moved()) << "a peer's new ServiceList";

  Identity also_self = a->self();
  also_self.traits.push_back("hue");
  a->UpdateSelf(also_self);
  EXPECT_TRUE(moved()) << "this node's own identity";
  a->UpdateSelf(also_self);
  EXPECT_FALSE(moved()) << "the same identity again";

  Run(milliseconds(800), {a.get()});
  EXPECT_TRUE(moved()) << "suspect";
  Run(milliseconds(400), {a.get()});
  EXPECT_TRUE(moved()) << "dead";
  PeerTable restarted(b->self(), 5, clock_, Timings());
  Exchange(restarted, *a);
  EXPECT_TRUE(moved()) << "back with a new incarnation";
  Run(milliseconds(1200), {a.get()});
  EXPECT_TRUE(moved());
  Run(Timings().forget_after, {a.get()});
  ASSERT_EQ(a->size(), 0u);
  EXPECT_TRUE(moved()) << "forgotten";
}

TEST_F(PeerTableTest, GoodbyeMarksDeadAtOnceAndSpreadsSecondHand) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  Exchange(*a, *b);
  c->Leave();
  Exchange(*c, *b);  // only B hears the goodbye directly
  EXPECT_EQ(b->StateOf("c"), PeerState::kDead);
  EXPECT_TRUE(b->Peers()[1].left);
  Exchange(*b, *a);  // A hears it from B
  EXPECT_EQ(a->StateOf("c"), PeerState::kDead);
  EXPECT_TRUE(a->LiveTargets().size() == 1 && a->LiveTargets()[0].id == "b");
}

TEST_F(PeerTableTest, CorroboratedDeathIsAdoptedOnlyWhenAlreadySuspect) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  Exchange(*a, *b);
  Exchange(*a, *c);
  // C dies. B notices first (it ticks ahead), A is merely suspicious.
  Run(milliseconds(800), {a.get(), b.get()});
  Run(milliseconds(600), {b.get()});
  ASSERT_EQ(b->StateOf("c"), PeerState::kDead);
  ASSERT_EQ(a->StateOf("c"), PeerState::kSuspect);
  Exchange(*b, *a);
  EXPECT_EQ(a->StateOf("c"), PeerState::kDead);
}

TEST_F(PeerTableTest, DeathRumourDoesNotOverrideOwnFreshEvidence) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  Exchange(*a, *c);
  Run(milliseconds(1400), {b.get()});  // B alone lets time pass: C dead to B
  ASSERT_EQ(b->StateOf("c"), PeerState::kDead);
  Exchange(*c, *a);  // A has just heard from C
  Exchange(*b, *a);
  EXPECT_EQ(a->StateOf("c"), PeerState::kAlive);
}

TEST_F(PeerTableTest, IdentitiesTravelInFullOnlyWhenTheReceiverLacksThem) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  // B has never heard from A about C: C goes in full.
  auto message = b->MessageFor("a");
  auto row_c = std::find_if(message.identity_list.begin(), message.identity_list.end(),
                            [](const IdentityEntry& row) { return row.id == "c"; });
  ASSERT_NE(row_c, message.identity_list.end());
  EXPECT_TRUE(row_c->identity.has_value());
  Exchange(*a, *b);
  // A's request reported holding C: now only a digest.
  Exchange(*a, *b);
  message = b->MessageFor("a");
  for (const IdentityEntry& row : message.identity_list) {
    EXPECT_FALSE(row.identity.has_value()) << row.id;
  }
  // C changes its ServiceList: the new revision goes in full again.
  Identity changed = c->self();
  changed.services.push_back({"lights", "running", "", 1});
  c->UpdateSelf(changed);
  Exchange(*c, *b);
  message = b->MessageFor("a");
  row_c = std::find_if(message.identity_list.begin(), message.identity_list.end(),
                       [](const IdentityEntry& row) { return row.id == "c"; });
  ASSERT_TRUE(row_c->identity.has_value());
  EXPECT_EQ(row_c->identity->services.size(), 1u);
  Exchange(*b, *a);
  const auto peers = a->Peers();
  auto seen = std::find_if(peers.begin(), peers.end(),
                           [](const PeerView& peer) { return peer.identity.id == "c"; });
  ASSERT_NE(seen, peers.end());
  EXPECT_EQ(seen->identity.services, changed.services);
}

TEST_F(PeerTableTest, FanoutBoundsTargetsAndRecentContactsAreSkipped) {
  auto hub = Make("hub");
  std::vector<std::unique_ptr<PeerTable>> others;
  for (int i = 0; i < 10; ++i) {
    others.push_back(Make("n" + std::to_string(i)));
    Exchange(*others.back(), *hub);  // each talked to hub just now
  }
  // Everyone was heard from this instant: nobody needs a heartbeat.
  EXPECT_TRUE(hub->PickTargets({}).empty());
  clock_.Advance(Timings().heartbeat_interval);
  auto first = hub->PickTargets({});
  EXPECT_EQ(first.size(), Timings().fanout);
  // Round robin: the next pick takes others first.
  auto second = hub->PickTargets({});
  for (const auto& target : second) {
    EXPECT_TRUE(std::none_of(first.begin(), first.end(),
                             [&](const auto& t) { return t.id == target.id; }))
        << target.id;
  }
}

TEST(GossipPaceTest, SmallClustersGossipWithTheConfiguredTimings) {
  const MembershipTimings timings = Timings();
  for (size_t members = 0; members <= kFullSpeedMembers; ++members) {
    const GossipPace pace = PaceFor(timings, members);
    EXPECT_EQ(pace.exchanges_per_tick, timings.fanout) << members;
    EXPECT_EQ(pace.suspect_after, timings.suspect_after) << members;
    EXPECT_EQ(pace.dead_after, timings.dead_after) << members;
  }
}

TEST(GossipPaceTest, LargeClustersStayWithinTheRowBudgetAndWaitLongerBeforeVerdicts) {
  const MembershipTimings timings = Timings();
  GossipPace previous = PaceFor(timings, kFullSpeedMembers);
  for (size_t members : std::vector<size_t>{17, 21, 22, 32, 50, 64, 100, 200, 500, 1024}) {
    const GossipPace pace = PaceFor(timings, members);
    EXPECT_LE(pace.exchanges_per_tick * static_cast<double>(members), kGossipRowsPerTick + 1e-9)
        << members;
    EXPECT_GT(pace.exchanges_per_tick, 0) << members;
    EXPECT_GT(pace.suspect_after, previous.suspect_after) << members;
    EXPECT_GT(pace.dead_after, previous.dead_after) << members;
    EXPECT_LT(pace.suspect_after, pace.dead_after) << members;
    previous = pace;
  }
  // 100 members: 0.64 exchanges per tick instead of 3 (4.69 times slower)
  // and log2(100) / log2(16) = 1.66 times the hops: 1.2 s becomes 9.343 s.
  const GossipPace hundred = PaceFor(timings, 100);
  EXPECT_DOUBLE_EQ(hundred.exchanges_per_tick, 0.64);
  EXPECT_EQ(hundred.dead_after, milliseconds(9343));
  EXPECT_EQ(hundred.suspect_after, milliseconds(4671));
}

TEST(GossipPaceTest, AFanoutOfOneSlowsOnlyWhereItsRowsExceedTheBudget) {
  MembershipTimings timings = Timings();
  timings.fanout = 1;
  EXPECT_EQ(PaceFor(timings, 64).exchanges_per_tick, 1.0);
  EXPECT_DOUBLE_EQ(PaceFor(timings, 128).exchanges_per_tick, 0.5);
  // Only the hops stretch the timeouts at 64 members: log2(64) / 4 = 1.5.
  EXPECT_EQ(PaceFor(timings, 64).dead_after, milliseconds(1800));
}

class LargeClusterTest : public PeerTableTest {
 protected:
  // A hub that has exchanged lists with `peers` others just now.
  void Populate(size_t peers) {
    hub_ = Make("hub");
    for (size_t i = 0; i < peers; ++i) {
      others_.push_back(Make("n" + std::to_string(i)));
      Exchange(*others_.back(), *hub_);
    }
  }
  std::unique_ptr<PeerTable> hub_;
  std::vector<std::unique_ptr<PeerTable>> others_;
};

TEST_F(LargeClusterTest, ExchangesPerTickFollowThePaceAcrossTicks) {
  Populate(99);
  constexpr int kTicks = 20;  // 4 s: everyone stays alive meanwhile
  size_t started = 0;
  for (int tick = 0; tick < kTicks; ++tick) {
    clock_.Advance(Timings().heartbeat_interval);
    hub_->Tick();
    const auto targets = hub_->PickTargets({});
    EXPECT_LE(targets.size(), 1u) << "tick " << tick;
    started += targets.size();
  }
  EXPECT_EQ(hub_->pace().members, 100u);
  // 0.64 per tick over 20 ticks: 12 or 13, never the configured 3 per tick.
  EXPECT_GE(started, 12u);
  EXPECT_LE(started, 13u);
  for (const auto& other : others_) EXPECT_EQ(hub_->StateOf(other->self().id), PeerState::kAlive);
}

TEST_F(LargeClusterTest, VerdictsWaitForTheStretchedTimeouts) {
  Populate(99);
  Run(Timings().dead_after * 2, {hub_.get()});
  // Twice the configured dead_after: in a cluster this size, gossip may
  // not have brought a heartbeat yet, so nobody is even suspect.
  EXPECT_EQ(hub_->StateOf("n0"), PeerState::kAlive);
  const GossipPace pace = hub_->pace();
  Run(pace.suspect_after - Timings().dead_after * 2, {hub_.get()});
  EXPECT_EQ(hub_->StateOf("n0"), PeerState::kSuspect);
  Run(pace.dead_after - pace.suspect_after, {hub_.get()});
  EXPECT_EQ(hub_->StateOf("n0"), PeerState::kDead);
}

TEST_F(PeerTableTest, SeedsAreRetriedUntilTheyAnswerAndNeverIncludeSelf) {
  auto a = Make("a"), b = Make("b");
  const std::vector<std::string> seeds = {a->self().address, b->self().address};
  auto targets = a->PickTargets(seeds);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].address, b->self().address);
  EXPECT_TRUE(targets[0].id.empty());
  EXPECT_TRUE(a->PickTargets(seeds).empty());  // retried only after seed_retry
  clock_.Advance(Timings().seed_retry);
  EXPECT_EQ(a->PickTargets(seeds).size(), 1u);
  Exchange(*a, *b);  // answered: B is a peer now, not a seed to retry
  clock_.Advance(Timings().seed_retry);
  for (const auto& target : a->PickTargets(seeds)) EXPECT_FALSE(target.id.empty());
}

TEST_F(PeerTableTest, SeedGivenByNameIsNotRetriedOnceItAnswered) {
  auto a = Make("a"), b = Make("b");
  const std::vector<std::string> seeds = {"pi-hall.local:7000"};  // B, by another name
  ASSERT_EQ(a->PickTargets(seeds).size(), 1u);
  Exchange(*a, *b);
  a->NoteSeedAnswer(seeds[0], "b");
  clock_.Advance(Timings().seed_retry);
  for (const auto& target : a->PickTargets(seeds)) EXPECT_NE(target.address, seeds[0]);
  // Once B is dead, the seed is worth trying again.
  Run(milliseconds(1400), {a.get()});
  ASSERT_EQ(a->StateOf("b"), PeerState::kDead);
  const auto targets = a->PickTargets(seeds);
  EXPECT_TRUE(std::any_of(targets.begin(), targets.end(),
                          [&](const auto& t) { return t.address == seeds[0]; }));
}

TEST_F(PeerTableTest, DeadPeersAreProbedNowAndThenSoPartitionsHeal) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  Run(milliseconds(1400), {a.get()});
  ASSERT_EQ(a->StateOf("b"), PeerState::kDead);
  clock_.Advance(Timings().reconnect_interval);
  const auto targets = a->PickTargets({});
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].id, "b");
}

TEST_F(PeerTableTest, MessageFromItselfIsRecognisedNotMerged) {
  auto a = Make("a");
  const MergeOutcome outcome = a->Merge(a->MessageFor(""));
  EXPECT_TRUE(outcome.from_self);
  EXPECT_FALSE(outcome.refusal);
  EXPECT_EQ(a->size(), 0u);
}

// --- bad input: refused, and the table stays exactly as it was ---

class PeerTableRefusalTest : public PeerTableTest {
 protected:
  void SetUp() override {
    a_ = Make("a");
    b_ = Make("b");
    c_ = Make("c");
    Exchange(*b_, *a_);
    Exchange(*c_, *a_);
    before_ = a_->Peers();
  }

  void ExpectRefused(const IdentityListMessage& message, RefusalKind kind) {
    const MergeOutcome outcome = a_->Merge(message);
    ASSERT_TRUE(outcome.refusal);
    EXPECT_EQ(outcome.refusal->kind, kind) << outcome.refusal->message;
    EXPECT_FALSE(outcome.refusal->message.empty());
    const auto after = a_->Peers();
    ASSERT_EQ(after.size(), before_.size());
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].identity, before_[i].identity);
      EXPECT_EQ(after[i].counters, before_[i].counters);
      EXPECT_EQ(after[i].state, before_[i].state);
    }
    EXPECT_EQ(a_->self_counters().incarnation, 1u);
  }

  std::unique_ptr<PeerTable> a_, b_, c_;
  std::vector<PeerView> before_;
};

TEST_F(PeerTableRefusalTest, WrongCluster) {
  auto message = b_->MessageFor("a");
  message.sender.identity->cluster = "neighbours";
  ExpectRefused(message, RefusalKind::kWrongCluster);
  // A second-hand row of another cluster poisons the whole message.
  message = b_->MessageFor("");
  for (auto& row : message.identity_list) {
    if (row.identity) row.identity->cluster = "neighbours";
  }
  ExpectRefused(message, RefusalKind::kWrongCluster);
}

TEST_F(PeerTableRefusalTest, MalformedVersion) {
  for (const char* version : {"", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3 "}) {
    auto message = b_->MessageFor("a");
    message.sender.identity->version = version;
    ExpectRefused(message, RefusalKind::kMalformed);
  }
}

TEST_F(PeerTableRefusalTest, TooManyEntries) {
  auto message = b_->MessageFor("");
  const IdentityEntry template_row = message.identity_list.front();
  message.identity_list.clear();
  for (int i = 0; i < 1025; ++i) {
    IdentityEntry row = template_row;
    row.id = "flood-" + std::to_string(i);
    row.identity->id = row.id;
    message.identity_list.push_back(row);
  }
  ExpectRefused(message, RefusalKind::kTooLarge);
}

TEST_F(PeerTableRefusalTest, SpoofedLivePeerId) {
  // Someone at another address claims to be B while B is alive.
  PeerTable impostor(MakeIdentity("b", "127.0.0.1:6666"), 99, clock_, Timings());
  ExpectRefused(impostor.MessageFor("a"), RefusalKind::kSpoofed);
  // ... or to be A itself.
  PeerTable self_impostor(MakeIdentity("a", "127.0.0.1:6667"), 99, clock_, Timings());
  ExpectRefused(self_impostor.MessageFor("a"), RefusalKind::kSpoofed);
}

TEST_F(PeerTableRefusalTest, MalformedRows) {
  auto message = b_->MessageFor("a");
  message.sender.identity.reset();
  ExpectRefused(message, RefusalKind::kMalformed);

  message = b_->MessageFor("a");
  message.sender.identity->address = "no-port";
  ExpectRefused(message, RefusalKind::kMalformed);

  message = b_->MessageFor("a");
  message.identity_list.push_back(message.identity_list.front());  // duplicate id
  ExpectRefused(message, RefusalKind::kMalformed);

  message = b_->MessageFor("a");
  message.identity_list.front().id = "bad id!";
  ExpectRefused(message, RefusalKind::kMalformed);

  message = b_->MessageFor("a");
  message.sender.counters.incarnation = 0;
  ExpectRefused(message, RefusalKind::kMalformed);

  message = b_->MessageFor("a");
  message.sender.identity->services.assign(65, {"svc", "running", "", 1});
  ExpectRefused(message, RefusalKind::kTooLarge);

  message = b_->MessageFor("a");
  message.sender.identity->services.push_back({std::string(300, 'x'), "running", "", 1});
  ExpectRefused(message, RefusalKind::kMalformed);
}

TEST_F(PeerTableRefusalTest, SpoofedIdFromSameAddressAfterDeathIsARestart) {
  // Once B is dead, a new B at a new address is a legitimate restart.
  Run(milliseconds(1400), {a_.get()});
  ASSERT_EQ(a_->StateOf("b"), PeerState::kDead);
  PeerTable moved(MakeIdentity("b", "127.0.0.1:6000"), 2, clock_, Timings());
  EXPECT_FALSE(a_->Merge(moved.MessageFor("a")).refusal);
  EXPECT_EQ(a_->StateOf("b"), PeerState::kAlive);
}

}  // namespace
}  // namespace domian
