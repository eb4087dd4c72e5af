// PeerTable: merge rules, the liveness state machine on an injected clock,
// refutation, target choice and refusal of bad input.
#include "core/membership/peer_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

namespace domian::membership {
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

config::MembershipTimings Timings() {
  config::MembershipTimings timings;  // the defaults: 200ms / 600ms / 1200ms
  timings.forget_after = std::chrono::seconds(10);
  return timings;
}

// A small world of tables sharing one fake clock: messages are passed by
// hand, so every test says exactly who talked to whom.
class PeerTableTest : public ::testing::Test {
 protected:
  std::unique_ptr<PeerTable> Make(const std::string& id, uint64_t incarnation = 1) {
    const std::string address = "127.0.0.1:" + std::to_string(7000 + next_port_++);
    auto table =
        std::make_unique<PeerTable>(MakeIdentity(id, address), incarnation, clock_, Timings());
    Register(*table);
    return table;
  }
  // `table` answers calls to its address (the latest one registered there).
  void Register(PeerTable& table) { world_[table.self().address] = &table; }

  // `from` calls `to` once (push-pull): `to` takes the request as a claim,
  // `from` takes the reply as `to`'s own word. Nothing else happens.
  void Call(PeerTable& from, PeerTable& to) {
    Register(from);
    Register(to);
    const MergeOutcome request =
        to.Merge(from.MessageFor(to.self().id), MessageOrigin::Request());
    ASSERT_TRUE(request.status.ok()) << StatusMessage(request.status);
    const MergeOutcome reply =
        from.Merge(to.MessageFor(from.self().id), MessageOrigin::Reply(to.self().address));
    ASSERT_TRUE(reply.status.ok()) << StatusMessage(reply.status);
  }

  // `from` calls `to`; then, as Membership does at once, every table makes
  // the calls the news it heard asks for (calling a stranger back, fetching
  // a newer identity, checking a goodbye) until none is left. Tables whose
  // id is in `down_` answer nothing, and calls across `cut_` fail.
  void Exchange(PeerTable& from, PeerTable& to) {
    Call(from, to);
    Settle();
  }
  void Settle() {
    constexpr int kMaxPasses = 10;  // news settles in two or three
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      bool called = false;
      const auto world = world_;
      for (const auto& [address, table] : world) {
        if (down_.contains(table->self().id) || world_.at(address) != table) continue;
        for (const HeartbeatTarget& target : table->UrgentTargets()) {
          called = true;
          const auto there = world_.find(target.address);
          if (there == world_.end() || down_.contains(there->second->self().id) ||
              cut_.contains({table->self().id, there->second->self().id})) {
            table->NoteUnanswered(target);
          } else {
            Call(*table, *there->second);
          }
        }
      }
      if (!called) return;
    }
    FAIL() << "news kept causing calls after " << kMaxPasses << " passes";
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
  std::map<std::string, PeerTable*> world_;  // by address; tables outlive their use here
  std::set<std::string> down_;
  std::set<std::pair<std::string, std::string>> cut_;  // (caller, callee) that fail
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
  Exchange(*a, *b);
  EXPECT_EQ(a->StateOf("c"), PeerState::kAlive);
  EXPECT_FALSE(a->Lonely());
}

TEST_F(PeerTableTest, SecondHandPeersAreBelievedOnlyOnceTheyAnswer) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Call(*c, *b);  // B's reply introduces A to C
  // Heard of, not heard from: not a peer, not counted, but called at once
  // at the address B gave.
  EXPECT_EQ(c->StateOf("a"), std::nullopt);
  EXPECT_EQ(c->size(), 1u);
  const auto urgent = c->UrgentTargets();
  ASSERT_EQ(urgent.size(), 1u);
  EXPECT_EQ(urgent[0].id, "a");
  EXPECT_EQ(urgent[0].address, a->self().address);
  Call(*c, *a);
  EXPECT_EQ(c->StateOf("a"), PeerState::kAlive);
  // A heard C's call: a claim, so A calls C back before believing it.
  EXPECT_EQ(a->StateOf("c"), std::nullopt);
  Settle();
  EXPECT_EQ(a->StateOf("c"), PeerState::kAlive);
}

TEST_F(PeerTableTest, AnIntroductionNobodyAnswersIsDroppedAfterAFewCalls) {
  auto a = Make("a"), b = Make("b");
  down_.insert("ghost");
  PeerTable ghost(MakeIdentity("ghost", "127.0.0.1:6999"), 1, clock_, Timings());
  Call(ghost, *b);  // B calls the ghost back, which never answers again
  Settle();
  Exchange(*a, *b);
  EXPECT_EQ(b->StateOf("ghost"), std::nullopt);
  EXPECT_EQ(a->StateOf("ghost"), std::nullopt);
  int calls = 0;
  for (int i = 0; i < 50; ++i) {
    Run(Timings().heartbeat_interval, {a.get(), b.get()});
    for (const HeartbeatTarget& target : b->UrgentTargets()) {
      if (target.id == "ghost") ++calls;
      b->NoteUnanswered(target);
    }
  }
  EXPECT_EQ(b->StateOf("ghost"), std::nullopt);
  // The first call was made when it was introduced; two more, then none.
  EXPECT_EQ(calls, Introductions::kMaxAttempts - 1);
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
  const MergeOutcome stale = a->Merge(fresh, MessageOrigin::Request());
  EXPECT_TRUE(stale.status.ok());
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
  EXPECT_TRUE(b->Merge(stale_from_c, MessageOrigin::Request()).status.ok());
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
  cut_.insert({"a", "c"});
  for (int i = 0; i < 8; ++i) {
    Run(milliseconds(200), {a.get(), b.get(), c.get()});
    Exchange(*b, *a);
  }
  ASSERT_EQ(a->StateOf("c"), PeerState::kDead);
  // B now relays a newer heartbeat (even a new incarnation) of C: a
  // rumour, not proof. A asks C, which it cannot reach.
  Exchange(*c, *b);
  Exchange(*b, *a);
  EXPECT_EQ(a->StateOf("c"), PeerState::kDead);
  // The cut heals and C calls A: a claim, so A calls C back, and C's own
  // answer brings it back.
  cut_.clear();
  clock_.Advance(Timings().heartbeat_interval);  // A asks a peer for news only so often
  Call(*c, *a);
  EXPECT_EQ(a->StateOf("c"), PeerState::kDead);
  Settle();
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
  Call(*c, *b);  // C says goodbye to B only
  // A goodbye is believed from C's own reply: B calls C back first.
  EXPECT_EQ(b->StateOf("c"), PeerState::kAlive);
  Settle();
  EXPECT_EQ(b->StateOf("c"), PeerState::kDead);
  EXPECT_TRUE(b->Peers()[1].left);
  Exchange(*b, *a);  // A hears of it from B, and asks C too
  EXPECT_EQ(a->StateOf("c"), PeerState::kDead);
  EXPECT_TRUE(a->LiveTargets().size() == 1 && a->LiveTargets()[0].id == "b");
}

TEST_F(PeerTableTest, AGoodbyeInAnotherNodesNameIsNotBelieved) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  Exchange(*a, *c);
  // A stranger sends B a request in C's name and at C's address, saying
  // C leaves; and relays the same to A.
  IdentityListMessage forged = c->MessageFor("b");
  forged.sender.leaving = true;
  forged.sender.counters.heartbeat += 1;
  EXPECT_TRUE(b->Merge(forged, MessageOrigin::Request()).status.ok());
  IdentityListMessage relayed = b->MessageFor("a");
  for (IdentityEntry& row : relayed.identity_list) {
    if (row.id == "c") row.leaving = true;
  }
  EXPECT_TRUE(a->Merge(relayed, MessageOrigin::Request()).status.ok());
  // Both ask C itself, which says it is not leaving.
  Settle();
  EXPECT_EQ(b->StateOf("c"), PeerState::kAlive);
  EXPECT_EQ(a->StateOf("c"), PeerState::kAlive);
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
  const config::MembershipTimings timings = Timings();
  for (size_t members = 0; members <= kFullSpeedMembers; ++members) {
    const GossipPace pace = PaceFor(timings, members);
    EXPECT_EQ(pace.exchanges_per_tick, timings.fanout) << members;
    EXPECT_EQ(pace.suspect_after, timings.suspect_after) << members;
    EXPECT_EQ(pace.dead_after, timings.dead_after) << members;
  }
}

TEST(GossipPaceTest, LargeClustersStayWithinTheRowBudgetAndWaitLongerBeforeVerdicts) {
  const config::MembershipTimings timings = Timings();
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
  config::MembershipTimings timings = Timings();
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
      Exchange(*hub_, *others_.back());
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
  const MergeOutcome outcome = a->Merge(a->MessageFor(""), MessageOrigin::Reply(a->self().address));
  EXPECT_TRUE(outcome.from_self);
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_EQ(a->size(), 0u);
}

// --- hostile input that is well formed: bounded, and never believed blindly ---

TEST_F(PeerTableTest, CountersNeverWrapAndALieCannotPushThemToTheCeiling) {
  auto a = Make("a", 1000), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  // A row for A with the largest incarnation there is, relayed by B.
  IdentityListMessage message = b->MessageFor("a");
  for (IdentityEntry& row : message.identity_list) {
    if (row.id == "a") row.counters.incarnation = UINT64_MAX;
  }
  MergeOutcome outcome = a->Merge(message, MessageOrigin::Request());
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_EQ(a->self_counters().incarnation, 1000u) << "a row out of range is dropped";
  ASSERT_EQ(outcome.dropped.size(), 1u);
  // In range, but further ahead than any earlier life of A could be.
  for (IdentityEntry& row : message.identity_list) {
    if (row.id == "a") row.counters.incarnation = 1000 + kMaxCounterLead + 1;
  }
  outcome = a->Merge(message, MessageOrigin::Request());
  EXPECT_EQ(a->self_counters().incarnation, 1000u);
  EXPECT_EQ(outcome.dropped.size(), 1u);
  // A plausible earlier life is outgrown, as before.
  for (IdentityEntry& row : message.identity_list) {
    if (row.id == "a") row.counters.incarnation = 1005;
  }
  EXPECT_TRUE(a->Merge(message, MessageOrigin::Request()).refuted);
  EXPECT_EQ(a->self_counters().incarnation, 1006u);
  // A relayed row for C far ahead of what A knows of C costs that row.
  message = b->MessageFor("a");
  for (IdentityEntry& row : message.identity_list) {
    if (row.id == "c") row.counters.incarnation += kMaxCounterLead + 1;
  }
  const Counters before = a->Peers()[1].counters;
  outcome = a->Merge(message, MessageOrigin::Request());
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_EQ(a->Peers()[1].counters, before);
  EXPECT_EQ(outcome.dropped.size(), 1u);
  // A stranger whose own counters are at the top is refused outright.
  PeerTable stranger(MakeIdentity("s", "127.0.0.1:6500"), UINT64_MAX, clock_, Timings());
  outcome = a->Merge(stranger.MessageFor("a"), MessageOrigin::Request());
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_NE(StatusMessage(outcome.status).find("out of range"), std::string::npos);
}

TEST_F(PeerTableTest, ACounterAtTheCeilingStaysThere) {
  auto a = Make("a", kMaxCounter - 1), b = Make("b");
  Exchange(*a, *b);
  // B suspects A twice: A refutes up to the ceiling and no further.
  for (int i = 0; i < 2; ++i) {
    IdentityListMessage message = b->MessageFor("a");
    for (IdentityEntry& row : message.identity_list) {
      if (row.id == "a") {
        row.state = PeerState::kSuspect;
        row.counters.incarnation = a->self_counters().incarnation;
      }
    }
    a->Merge(message, MessageOrigin::Request());
  }
  EXPECT_EQ(a->self_counters().incarnation, kMaxCounter);
  EXPECT_EQ(SaturatingAdd(kMaxCounter, 1), kMaxCounter);
  EXPECT_EQ(SaturatingAdd(UINT64_MAX, UINT64_MAX), kMaxCounter);
}

TEST_F(PeerTableTest, AHeartbeatSpreadAheadOfThisNodeIsOutgrown) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  IdentityListMessage message = b->MessageFor("a");
  for (IdentityEntry& row : message.identity_list) {
    if (row.id == "a") row.counters.heartbeat = 5000;
  }
  a->Merge(message, MessageOrigin::Request());
  EXPECT_GT(a->self_counters().heartbeat, 5000u);
}

TEST_F(PeerTableTest, RelayedRowsNeverRewriteAKnownPeersIdentity) {
  auto a = Make("a"), b = Make("b"), c = Make("c");
  Exchange(*a, *b);
  Exchange(*c, *b);
  Exchange(*a, *c);
  const std::string real = c->self().address;
  // Somebody relays a row for C with a newer incarnation, another address
  // and traits.
  IdentityListMessage message = b->MessageFor("");
  for (IdentityEntry& row : message.identity_list) {
    if (row.id != "c") continue;
    row.counters.incarnation += 1;
    row.revision = 1;
    row.identity = c->self();
    row.identity->address = "127.0.0.1:6666";
    row.identity->traits = {"w1"};
  }
  EXPECT_TRUE(a->Merge(message, MessageOrigin::Request()).status.ok());
  const auto peers = a->Peers();
  const auto seen = std::find_if(peers.begin(), peers.end(),
                                 [](const PeerView& p) { return p.identity.id == "c"; });
  ASSERT_NE(seen, peers.end());
  EXPECT_EQ(seen->identity.address, real);
  EXPECT_TRUE(seen->identity.traits.empty());
  // The news makes A ask C itself, at the address C gave.
  const auto urgent = a->UrgentTargets();
  ASSERT_EQ(urgent.size(), 1u);
  EXPECT_EQ(urgent[0].id, "c");
  EXPECT_EQ(urgent[0].address, real);
}

TEST_F(PeerTableTest, AThousandMadeUpPeersAreNeitherListedNorCounted) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  IdentityListMessage junk = b->MessageFor("a");
  junk.identity_list.clear();
  for (int i = 0; i < 1000; ++i) {
    IdentityEntry row;
    row.id = "fake-" + std::to_string(i);
    row.counters = {1, 1};
    row.revision = 1;
    row.identity = MakeIdentity(row.id, "127.0.0.2:" + std::to_string(10000 + i));
    junk.identity_list.push_back(row);
  }
  for (int message = 0; message < 20; ++message) {
    const MergeOutcome outcome = a->Merge(junk, MessageOrigin::Request());
    EXPECT_TRUE(outcome.status.ok());
  }
  EXPECT_EQ(a->size(), 1u);
  EXPECT_EQ(a->Peers().size(), 1u);
  Run(Timings().heartbeat_interval, {a.get()});
  EXPECT_EQ(a->pace().members, 2u) << "pacing counts only peers that answered";
  // Calls to the introduced addresses: a bounded number per tick.
  EXPECT_LE(a->UrgentTargets().size(), PeerTable::kIntroductionCallsPerTick);
  EXPECT_TRUE(a->UrgentTargets().empty()) << "none left this tick";
}

TEST_F(PeerTableTest, AddressesFromGossipAreDialledOnlyInsideThisNodesScope) {
  auto a = Make("a"), b = Make("b");
  Exchange(*a, *b);
  IdentityListMessage message = b->MessageFor("a");
  message.identity_list.clear();
  const std::vector<std::string> addresses = {"pi-attic.lan:7420", "192.168.1.50:7420",
                                              "[2001:db8::5]:7420", "224.0.0.251:5353",
                                              "127.0.0.9:7420"};
  for (size_t i = 0; i < addresses.size(); ++i) {
    IdentityEntry row;
    row.id = "x" + std::to_string(i);
    row.counters = {1, 1};
    row.revision = 1;
    row.identity = MakeIdentity(row.id, addresses[i]);
    message.identity_list.push_back(row);
  }
  const MergeOutcome outcome = a->Merge(message, MessageOrigin::Request());
  EXPECT_EQ(outcome.dropped.size(), 4u);
  const auto urgent = a->UrgentTargets();
  ASSERT_EQ(urgent.size(), 1u);  // only the IPv4 loopback address, as A's own is
  EXPECT_EQ(urgent[0].address, "127.0.0.9:7420");
}

// An epoch out of range used to refuse the member's whole identity list,
// and with it the member: every peer saw it dead.
TEST_F(PeerTableTest, ServiceRecordsWithImpossibleEpochsCostOnlyThemselves) {
  auto a = Make("a"), b = Make("b");
  Identity with = b->self();
  with.services = {{"lights", "running", "", 3},
                   {"tally", "running", "", kMaxEpoch + 1},
                   {"speaker", "running", "", kMaxCounterLead + 10},
                   {"camera", "handing-over", "", 2, "", "a", kMaxEpoch + 1}};
  b->UpdateSelf(with);
  Call(*a, *b);
  const auto peers = a->Peers();
  ASSERT_EQ(peers.size(), 1u);
  ASSERT_EQ(peers[0].identity.services.size(), 1u);
  EXPECT_EQ(peers[0].identity.services[0].name, "lights");
}

TEST_F(PeerTableTest, UnansweringPeersCannotTakeTheSlotsOfAnsweringOnes) {
  // Six peers; three stop answering (a partition), the rest still do.
  auto hub = Make("hub");
  std::vector<std::unique_ptr<PeerTable>> others;
  for (int i = 0; i < 6; ++i) {
    others.push_back(Make("n" + std::to_string(i)));
    Exchange(*hub, *others.back());
  }
  std::map<std::string, int> picked;
  std::set<std::string> busy, failed;
  for (int tick = 0; tick < 10; ++tick) {
    clock_.Advance(Timings().heartbeat_interval);
    hub->Tick();
    const auto targets =
        hub->PickTargets({}, [&](const std::string& address) { return busy.contains(address); });
    // Until a call to it failed, a cut-off peer looks like any other.
    int known_silent = 0;
    for (const HeartbeatTarget& target : targets) {
      ++picked[target.id];
      if (target.id >= "n3") {
        known_silent += failed.contains(target.id) ? 1 : 0;
        failed.insert(target.id);
        hub->NoteUnanswered(target);
      } else {
        Call(*hub, *world_.at(target.address));
      }
    }
    EXPECT_LE(known_silent, 1) << "tick " << tick;
  }
  for (const char* id : {"n0", "n1", "n2"}) EXPECT_GE(picked[id], 4) << id;
  // A peer with a call out is skipped without using a slot.
  clock_.Advance(Timings().heartbeat_interval);
  busy = {others[0]->self().address};
  for (const HeartbeatTarget& target : hub->PickTargets({}, [&](const std::string& address) {
         return busy.contains(address);
       })) {
    EXPECT_NE(target.id, "n0");
  }
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

  void ExpectRefused(const IdentityListMessage& message, absl::StatusCode code) {
    const MergeOutcome outcome = a_->Merge(message, MessageOrigin::Request());
    ASSERT_FALSE(outcome.status.ok());
    EXPECT_EQ(outcome.status.code(), code) << StatusMessage(outcome.status);
    EXPECT_FALSE(outcome.status.message().empty());
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
  ExpectRefused(message, absl::StatusCode::kFailedPrecondition);
  // A second-hand row of another cluster poisons the whole message.
  message = b_->MessageFor("");
  for (auto& row : message.identity_list) {
    if (row.identity) row.identity->cluster = "neighbours";
  }
  ExpectRefused(message, absl::StatusCode::kFailedPrecondition);
}

TEST_F(PeerTableRefusalTest, MalformedVersion) {
  for (const char* version : {"", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3 "}) {
    auto message = b_->MessageFor("a");
    message.sender.identity->version = version;
    ExpectRefused(message, absl::StatusCode::kInvalidArgument);
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
  ExpectRefused(message, absl::StatusCode::kResourceExhausted);
}

TEST_F(PeerTableRefusalTest, SpoofedLivePeerId) {
  // Someone at another address claims to be B while B is alive.
  PeerTable impostor(MakeIdentity("b", "127.0.0.1:6666"), 99, clock_, Timings());
  ExpectRefused(impostor.MessageFor("a"), absl::StatusCode::kPermissionDenied);
  // ... or to be A itself.
  PeerTable self_impostor(MakeIdentity("a", "127.0.0.1:6667"), 99, clock_, Timings());
  ExpectRefused(self_impostor.MessageFor("a"), absl::StatusCode::kPermissionDenied);
}

TEST_F(PeerTableRefusalTest, MalformedRows) {
  auto message = b_->MessageFor("a");
  message.sender.identity.reset();
  ExpectRefused(message, absl::StatusCode::kInvalidArgument);

  message = b_->MessageFor("a");
  message.sender.identity->address = "no-port";
  ExpectRefused(message, absl::StatusCode::kInvalidArgument);

  message = b_->MessageFor("a");
  message.identity_list.push_back(message.identity_list.front());  // duplicate id
  ExpectRefused(message, absl::StatusCode::kInvalidArgument);

  message = b_->MessageFor("a");
  message.identity_list.front().id = "bad id!";
  ExpectRefused(message, absl::StatusCode::kInvalidArgument);

  message = b_->MessageFor("a");
  message.sender.counters.incarnation = 0;
  ExpectRefused(message, absl::StatusCode::kInvalidArgument);

  message = b_->MessageFor("a");
  message.sender.identity->services.assign(65, {"svc", "running", "", 1});
  ExpectRefused(message, absl::StatusCode::kResourceExhausted);

  message = b_->MessageFor("a");
  message.sender.identity->services.push_back({std::string(300, 'x'), "running", "", 1});
  ExpectRefused(message, absl::StatusCode::kInvalidArgument);
}

TEST_F(PeerTableRefusalTest, SpoofedIdFromSameAddressAfterDeathIsARestart) {
  // Once B is dead, a new B at a new address is a legitimate restart.
  Run(milliseconds(1400), {a_.get()});
  ASSERT_EQ(a_->StateOf("b"), PeerState::kDead);
  PeerTable moved(MakeIdentity("b", "127.0.0.1:6000"), 2, clock_, Timings());
  EXPECT_TRUE(a_->Merge(moved.MessageFor("a"), MessageOrigin::Request()).status.ok());
  // Its claim makes A call it there; its answer there brings it back.
  EXPECT_EQ(a_->StateOf("b"), PeerState::kDead);
  const auto urgent = a_->UrgentTargets();
  ASSERT_EQ(urgent.size(), 1u);
  EXPECT_EQ(urgent[0].address, "127.0.0.1:6000");
  Call(*a_, moved);
  EXPECT_EQ(a_->StateOf("b"), PeerState::kAlive);
}

}  // namespace
}  // namespace domian::membership
