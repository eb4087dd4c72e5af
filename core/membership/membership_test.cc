// Membership: the heartbeat rounds, goodbyes and incarnation persistence,
// with nodes wired together in memory (no sockets) on a fake clock.
#include "core/membership/membership.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace domian::membership {
namespace {

using std::chrono::milliseconds;

constexpr size_t kSmallMessage = 1000;  // wire size reported for in-memory messages

// Delivers calls synchronously to the Membership registered at an address;
// an unregistered (or "crashed") address answers UNAVAILABLE.
class InMemoryNetwork final : public PeerTransport {
 public:
  void Attach(const std::string& address, Membership* node) { nodes_[address] = node; }
  void Detach(const std::string& address) { nodes_.erase(address); }

  void ShareIdentityList(const std::string& address, IdentityListMessage message, Millis,
                         Done done) override {
    ++calls_;
    auto it = nodes_.find(address);
    if (it != nodes_.end()) connected_.insert(address);
    if (it == nodes_.end()) {
      done(absl::UnavailableError("connection refused"));
      return;
    }
    IdentityListMessage reply;
    if (absl::Status refused = it->second->HandleShareIdentityList(message, kSmallMessage, reply);
        !refused.ok()) {
      done(refused);
      return;
    }
    done(Reply{std::move(reply), kSmallMessage});
  }
  void Forget(const std::string& address) override {
    forgotten_.push_back(address);
    connected_.erase(address);
  }
  // With a room set, an address is connected by the first call to it, and
  // a pick may connect that many at most (the gRPC transport's limit).
  size_t ConnectionRoom() override { return room_.value_or(PeerTransport::ConnectionRoom()); }
  bool NeedsConnection(const std::string& address) override {
    return room_.has_value() && !connected_.contains(address);
  }

  int calls_ = 0;
  std::vector<std::string> forgotten_;
  std::optional<size_t> room_;
  std::set<std::string> connected_;

 private:
  std::map<std::string, Membership*> nodes_;
};

class MembershipTest : public ::testing::Test {
 protected:
  Membership& Add(const std::string& id, std::vector<std::string> seeds,
                  std::vector<HeartbeatTarget> remembered = {}, uint64_t incarnation = 1,
                  MembershipObservers observers = {}) {
    Identity self{id, "home", "0.1.0", Address(id), {}, {}, {}, kProtocolVersion};
    auto node = std::make_unique<Membership>(
        self, incarnation, std::move(seeds), timings_, network_, clock_,
        [this, id](uint64_t value) { persisted_[id] = value; },
        PeerMemory{std::move(remembered), [this, id](const std::vector<HeartbeatTarget>& peers) {
                     remembered_[id] = peers;
                   }},
        std::move(observers));
    network_.Attach(self.address, node.get());
    nodes_[id] = std::move(node);
    return *nodes_[id];
  }
  // Addresses are IP literals, as real nodes advertise them: addresses
  // passed on by peers are dialled only when they are (see net.h).
  static std::string Address(const std::string& id) {
    static std::map<std::string, int> hosts;
    const int host = hosts.try_emplace(id, static_cast<int>(hosts.size()) + 1).first->second;
    return "127.0." + std::to_string(host / 250) + "." + std::to_string(host % 250 + 1) + ":7420";
  }

  void Rounds(int count) {
    for (int i = 0; i < count; ++i) {
      clock_.Advance(timings_.heartbeat_interval);
      for (auto& [id, node] : nodes_) {
        if (!paused_.contains(id)) node->RunOnce();
      }
    }
  }

  std::optional<PeerState> StateSeenBy(const std::string& observer, const std::string& id) {
    for (const PeerView& peer : nodes_.at(observer)->Peers()) {
      if (peer.identity.id == id) return peer.state;
    }
    return std::nullopt;
  }

  config::MembershipTimings timings_;
  FakeClock clock_;
  InMemoryNetwork network_;
  std::map<std::string, std::unique_ptr<Membership>> nodes_;
  std::set<std::string> paused_;
  std::map<std::string, uint64_t> persisted_;
  std::map<std::string, std::vector<HeartbeatTarget>> remembered_;
};

TEST_F(MembershipTest, NodesThatKnowOnlyTheSeedLearnEachOther) {
  Add("b", {});
  Add("a", {Address("b")});
  Add("c", {Address("b")});
  Rounds(3);
  for (const char* observer : {"a", "b", "c"}) {
    for (const char* peer : {"a", "b", "c"}) {
      if (std::string(observer) == peer) continue;
      EXPECT_EQ(StateSeenBy(observer, peer), PeerState::kAlive) << observer << " sees " << peer;
    }
    EXPECT_FALSE(nodes_.at(observer)->Status().lonely);
  }
}

TEST_F(MembershipTest, CrashedNodeIsDeclaredDeadByAllWithinTheDeadTimeout) {
  Add("b", {});
  Add("a", {Address("b")});
  Add("c", {Address("b")});
  Add("d", {Address("b")});
  Rounds(5);
  network_.Detach(Address("c"));
  paused_.insert("c");
  int rounds = 0;
  while ((StateSeenBy("a", "c") != PeerState::kDead || StateSeenBy("b", "c") != PeerState::kDead ||
          StateSeenBy("d", "c") != PeerState::kDead) &&
         rounds < 50) {
    Rounds(1);
    ++rounds;
  }
  const auto elapsed = milliseconds(rounds * timings_.heartbeat_interval.count());
  EXPECT_GE(elapsed, timings_.dead_after);
  // dead_after plus a couple of rounds of relay lag at most.
  EXPECT_LE(elapsed, timings_.dead_after + 3 * timings_.heartbeat_interval);
  EXPECT_EQ(StateSeenBy("a", "b"), PeerState::kAlive);
  EXPECT_EQ(StateSeenBy("a", "d"), PeerState::kAlive);
}

TEST_F(MembershipTest, HeartbeatTrafficIsBoundedByFanout) {
  Add("seed", {});
  for (int i = 0; i < 12; ++i) Add("n" + std::to_string(i), {Address("seed")});
  Rounds(20);  // converge
  const int before = network_.calls_;
  Rounds(10);
  const int per_node_per_round = (network_.calls_ - before) / (13 * 10);
  EXPECT_LE(per_node_per_round, static_cast<int>(timings_.fanout));
  for (auto& [id, node] : nodes_) EXPECT_EQ(node->Peers().size(), 12u) << id;
}

TEST_F(MembershipTest, LeaveTellsPeersAtOnce) {
  Add("b", {});
  Add("a", {Address("b")});
  Add("c", {Address("b")});
  Rounds(3);
  nodes_.at("c")->Leave();
  paused_.insert("c");
  for (const char* observer : {"a", "b"}) {
    EXPECT_EQ(StateSeenBy(observer, "c"), PeerState::kDead) << observer;
    const auto peers = nodes_.at(observer)->Peers();
    EXPECT_TRUE(std::any_of(peers.begin(), peers.end(),
                            [](const PeerView& p) { return p.identity.id == "c" && p.left; }));
  }
}

TEST_F(MembershipTest, RefutationIsPersisted) {
  Add("b", {});
  Add("a", {Address("b")});
  Rounds(3);
  paused_.insert("b");  // b stops running rounds but still answers
  network_.Detach(Address("b"));
  Rounds(8);
  ASSERT_EQ(StateSeenBy("a", "b"), PeerState::kDead);
  // b answers again before its own rounds resume: a's probe of the dead b
  // tells b the rumour, and b refutes it in its reply.
  network_.Attach(Address("b"), nodes_.at("b").get());
  Rounds(8);
  EXPECT_EQ(StateSeenBy("a", "b"), PeerState::kAlive);
  ASSERT_TRUE(persisted_.contains("b"));
  EXPECT_EQ(persisted_.at("b"), nodes_.at("b")->Status().counters.incarnation);
  EXPECT_GT(persisted_.at("b"), 1u);
}

TEST_F(MembershipTest, ExchangeReturnsOnceThePeersOwnWordIsMerged) {
  Membership& a = Add("a", {});
  Membership& b = Add("b", {Address("a")});
  Rounds(3);
  ASSERT_EQ(StateSeenBy("a", "b"), PeerState::kAlive);
  Identity changed = b.Status().self;
  changed.traits = {"w1"};
  b.UpdateSelf(changed);
  auto traits_of_b = [&] {
    for (const PeerView& peer : a.Peers()) {
      if (peer.identity.id == "b") return peer.identity.traits;
    }
    return std::vector<std::string>{};
  };
  ASSERT_TRUE(traits_of_b().empty());  // no round ran since
  EXPECT_TRUE(a.Exchange("b", milliseconds(500)));
  EXPECT_EQ(traits_of_b(), std::vector<std::string>{"w1"});
  // Nobody to ask: an unknown id, or a peer that does not answer.
  EXPECT_FALSE(a.Exchange("nobody", milliseconds(500)));
  network_.Detach(Address("b"));
  EXPECT_FALSE(a.Exchange("b", milliseconds(500)));
}

TEST_F(MembershipTest, EachNodeRemembersItsPeersForItsNextLife) {
  Add("a", {});
  Add("b", {Address("a")});
  Add("c", {Address("a")});
  Rounds(static_cast<int>(Membership::kRememberInterval / timings_.heartbeat_interval) + 1);
  ASSERT_TRUE(remembered_.contains("c"));
  std::set<std::string> ids;
  for (const HeartbeatTarget& peer : remembered_.at("c")) {
    ids.insert(peer.id);
    EXPECT_EQ(peer.address, Address(peer.id));
  }
  EXPECT_EQ(ids, (std::set<std::string>{"a", "b"}));
}

TEST_F(MembershipTest, ANodeThatLeftAndRestartsWithNoSeedIsTakenInByThePeersItRemembers) {
  Add("a", {});
  Add("b", {Address("a")});
  Add("c", {Address("a")});
  Rounds(3);
  // c leaves cleanly; a and b stop calling it (it said goodbye).
  nodes_.at("c")->Leave();
  network_.Detach(Address("c"));
  nodes_.erase("c");
  Rounds(10);
  ASSERT_EQ(StateSeenBy("a", "c"), PeerState::kDead);
  // c comes back with only a seed that is gone, but remembers a and b.
  Add("c", {"127.0.222.1:7420"}, {{"a", Address("a")}, {"b", Address("b")}}, 2);
  Rounds(3);
  for (const char* observer : {"a", "b"}) {
    EXPECT_EQ(StateSeenBy(observer, "c"), PeerState::kAlive) << observer;
    EXPECT_EQ(StateSeenBy("c", observer), PeerState::kAlive) << observer;
  }
  // Not lonely any more: remembered peers are not called on top of the
  // heartbeats.
  const int before = network_.calls_;
  Rounds(10);
  EXPECT_LE(network_.calls_ - before, 3 * 10 * static_cast<int>(timings_.fanout));
}

TEST_F(MembershipTest, AGoodbyeForgedInALiveNodesNameIsCheckedWithThatNode) {
  Membership& a = Add("a", {});
  Add("b", {Address("a")});
  Rounds(3);
  // A request in b's name, from b's address, with a newer heartbeat and a
  // goodbye: a asks b, which is not leaving.
  Identity b_self = nodes_.at("b")->Status().self;
  PeerTable forger(b_self, nodes_.at("b")->Status().counters.incarnation, clock_, timings_);
  for (int i = 0; i < 100; ++i) forger.Tick();
  forger.Leave();
  IdentityListMessage reply;
  EXPECT_TRUE(a.HandleShareIdentityList(forger.MessageFor("a"), kSmallMessage, reply).ok());
  EXPECT_EQ(StateSeenBy("a", "b"), PeerState::kAlive);
  Rounds(10);
  EXPECT_EQ(StateSeenBy("a", "b"), PeerState::kAlive);
}

TEST_F(MembershipTest, SeedThatIsThisNodeIsDropped) {
  Membership& a = Add("a", {Address("a")});
  Rounds(2);
  EXPECT_EQ(network_.calls_, 0);  // its own advertised address is never a target
  EXPECT_TRUE(a.Status().lonely);
}

TEST_F(MembershipTest, AnAddressWaitsForRoomToConnectWithoutCountingAsUnanswered) {
  network_.room_ = 0;
  Add("b", {});
  Add("a", {Address("b")});
  Rounds(10);
  EXPECT_EQ(network_.calls_, 0) << "no room for a new connection: the seed waits";
  EXPECT_TRUE(network_.forgotten_.empty()) << "a seed that waits was not found unanswered";
  network_.room_ = 1;
  for (int i = 0; i < 8; ++i) Add("n" + std::to_string(i), {Address("b")});
  Rounds(40);
  for (const auto& [observer, node] : nodes_) {
    EXPECT_EQ(node->Peers().size(), nodes_.size() - 1)
        << observer << " learned every peer, one new connection a pick";
  }
}

TEST_F(MembershipTest, AnAddressCalledTwiceInOnePickTakesOnePlaceForItsConnection) {
  network_.room_ = 2;
  // c's seed is gone and is also a peer it remembers: calling it twice
  // must not use up the room that its other remembered peer needs. The
  // gone one comes first in address order, as remembered peers are due.
  std::string gone = "p1", live = "p2";
  if (Address(live) < Address(gone)) std::swap(gone, live);
  Add(live, {});
  Add("c", {Address(gone)}, {{gone, Address(gone)}, {live, Address(live)}});
  Rounds(10);
  EXPECT_EQ(StateSeenBy("c", live), PeerState::kAlive);
}

TEST_F(MembershipTest, ForgottenPeersReleaseTheirChannel) {
  timings_.forget_after = std::chrono::seconds(2);
  Add("b", {});
  Add("a", {Address("b")});
  Rounds(3);
  network_.Detach(Address("b"));
  paused_.insert("b");
  Rounds(20);
  EXPECT_EQ(StateSeenBy("a", "b"), std::nullopt);
  EXPECT_NE(std::find(network_.forgotten_.begin(), network_.forgotten_.end(), Address("b")),
            network_.forgotten_.end());
}

TEST_F(MembershipTest, DeadPeersAndUnansweredSeedsReleaseTheirChannels) {
  Add("b", {});
  Add("a", {Address("b"), "nowhere.local:7420"});
  Rounds(3);
  auto released = [this](const std::string& address) {
    return std::count(network_.forgotten_.begin(), network_.forgotten_.end(), address);
  };
  EXPECT_GE(released("nowhere.local:7420"), 1) << "a seed that did not answer";
  EXPECT_EQ(released(Address("b")), 0) << "b is alive";
  network_.Detach(Address("b"));
  paused_.insert("b");
  Rounds(4);  // 800 ms: suspect, its channel still wanted
  ASSERT_EQ(StateSeenBy("a", "b"), PeerState::kSuspect);
  EXPECT_EQ(released(Address("b")), 0);
  Rounds(4);
  ASSERT_EQ(StateSeenBy("a", "b"), PeerState::kDead);
  const auto at_death = released(Address("b"));
  EXPECT_GE(at_death, 1) << "declared dead, long before it is forgotten";
  Rounds(15);  // 3 s: the dead peer is probed every second
  EXPECT_GT(released(Address("b")), at_death) << "each failed probe lets go again";
}

TEST_F(MembershipTest, OversizedMessagesAreRefusedBeforeMerging) {
  Membership& a = Add("a", {});
  Identity stranger{"s", "home", "0.1.0", "s.local:7420", {}, {}, {}, kProtocolVersion};
  PeerTable sender(stranger, 1, clock_, timings_);
  IdentityListMessage reply;
  const auto refusal =
      a.HandleShareIdentityList(sender.MessageFor("a"), kMaxMessageBytes + 1, reply);
  ASSERT_FALSE(refusal.ok());
  EXPECT_EQ(refusal.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(a.Peers().empty());
  const int calls = network_.calls_;
  EXPECT_TRUE(a.HandleShareIdentityList(sender.MessageFor("a"), kMaxMessageBytes, reply).ok());
  // Accepted; the stranger is a peer once it answers a call back, which
  // nobody does at its address here.
  EXPECT_EQ(network_.calls_, calls + 1);
  EXPECT_TRUE(a.Peers().empty());
}

TEST_F(MembershipTest, NodesFoundByDiscoveryLearnEachOther) {
  Membership& a = Add("a", {});
  Membership& b = Add("b", {});
  Membership& c = Add("c", {});
  // As mDNS would report them: each record claims its id.
  a.NoteDiscovered("b", Address("b"));
  c.NoteDiscovered("a", Address("a"));
  Rounds(3);
  for (const char* observer : {"a", "b", "c"}) {
    for (const char* peer : {"a", "b", "c"}) {
      if (std::string(observer) == peer) continue;
      EXPECT_EQ(StateSeenBy(observer, peer), PeerState::kAlive) << observer << " sees " << peer;
    }
  }
  EXPECT_FALSE(b.Status().lonely);
}

TEST_F(MembershipTest, ADiscoveredAddressOfALivePeerCostsNoExtraCalls) {
  Membership& a = Add("a", {});
  Add("b", {});
  a.NoteDiscovered("b", Address("b"));
  Rounds(3);
  ASSERT_EQ(StateSeenBy("a", "b"), PeerState::kAlive);
  int before = network_.calls_;
  Rounds(10);
  const int heartbeats = network_.calls_ - before;
  ASSERT_GT(heartbeats, 0);
  // The same domain at a second address (IPv6, say): not contacted while
  // the peer is alive.
  a.NoteDiscovered("b", "[fd00::b]:7420");
  before = network_.calls_;
  Rounds(10);
  EXPECT_EQ(network_.calls_ - before, heartbeats);
}

TEST_F(MembershipTest, AnUnansweredDiscoveredAddressIsRetriedLessAndLessOften) {
  Membership& a = Add("a", {});
  a.NoteDiscovered("ghost", "ghost.local:7420");  // a record that outlived its host
  int calls = 0;
  std::vector<int> attempts_at;
  for (int round = 1; round <= 400; ++round) {  // 80 s of heartbeats
    Rounds(1);
    if (network_.calls_ > calls) attempts_at.push_back(round);
    calls = network_.calls_;
  }
  ASSERT_GE(attempts_at.size(), 5u);
  EXPECT_EQ(attempts_at[0], 1);  // at once
  // Pauses of 1 s, 2 s, 4 s, ... (5, 10, 20 rounds), capped at 30 s.
  EXPECT_EQ(attempts_at[1] - attempts_at[0], 5);
  EXPECT_EQ(attempts_at[2] - attempts_at[1], 10);
  EXPECT_EQ(attempts_at[3] - attempts_at[2], 20);
  EXPECT_EQ(attempts_at.back() - attempts_at[attempts_at.size() - 2], 150);
  EXPECT_LE(attempts_at.size(), 8u);
  // Once the record is gone, never again.
  a.NoteVanished("ghost.local:7420");
  calls = network_.calls_;
  Rounds(400);
  EXPECT_EQ(network_.calls_, calls);
  EXPECT_TRUE(a.Peers().empty());
}

TEST_F(MembershipTest, AVanishedRecordNeverMakesAPeerDead) {
  Membership& a = Add("a", {});
  Add("b", {});
  a.NoteDiscovered("b", Address("b"));
  Rounds(3);
  a.NoteVanished(Address("b"));  // e.g. avahi-daemon restarted
  Rounds(20);
  EXPECT_EQ(StateSeenBy("a", "b"), PeerState::kAlive);
}

TEST_F(MembershipTest, ADiscoveredAddressThatIsThisNodeIsDropped) {
  Membership& a = Add("a", {});
  // A record that lies about its id but points at us.
  a.NoteDiscovered("someone", "127.0.99.1:7420");
  network_.Attach("127.0.99.1:7420", &a);
  Rounds(1);
  const int calls = network_.calls_;
  EXPECT_EQ(calls, 1);
  Rounds(100);
  EXPECT_EQ(network_.calls_, calls);
  EXPECT_TRUE(a.Status().lonely);
}

TEST_F(MembershipTest, TheLonelyObserverHearsEveryFlipInOrder) {
  std::vector<bool> heard;
  Add("a", {}, {}, 1, {.lonely = [&](bool lonely) { heard.push_back(lonely); }});
  Add("b", {Address("a")});
  Rounds(3);
  network_.Detach(Address("b"));
  paused_.insert("b");
  Rounds(20);
  EXPECT_EQ(heard, (std::vector<bool>{false, true}));
}

TEST_F(MembershipTest, ThePeerChangeObserverHearsOfADeathInTheRoundItIsDeclared) {
  int heard = 0;
  Add("a", {}, {}, 1, {.peers_changed = [&] { ++heard; }});
  Add("b", {Address("a")});
  Rounds(3);
  EXPECT_EQ(heard, 1) << "learning of b is a change";
  network_.Detach(Address("b"));
  paused_.insert("b");
  for (int round = 0; round < 50 && StateSeenBy("a", "b") != PeerState::kDead; ++round) {
    const int before = heard;
    Rounds(1);
    if (StateSeenBy("a", "b") == PeerState::kSuspect && before == 1) {
      EXPECT_EQ(heard, 2) << "suspect is a change";
    }
  }
  EXPECT_EQ(StateSeenBy("a", "b"), PeerState::kDead);
  EXPECT_EQ(heard, 3) << "learned, suspect, dead";
}

TEST(RefusalLog, OneLinePerSenderAndIntervalWithACountOfTheRest) {
  FakeClock clock;
  RefusalLog log(clock);
  EXPECT_EQ(log.Admit("in 10.0.0.9 wrong-cluster"), std::optional<size_t>(0));
  EXPECT_EQ(log.Admit("in 10.0.0.9 wrong-cluster"), std::nullopt);
  EXPECT_EQ(log.Admit("in 10.0.0.9 wrong-cluster"), std::nullopt);
  // Another sender is not held back by the first.
  EXPECT_EQ(log.Admit("in 10.0.0.7 wrong-cluster"), std::optional<size_t>(0));
  clock.Advance(RefusalLog::kInterval);
  EXPECT_EQ(log.Admit("in 10.0.0.9 wrong-cluster"), std::optional<size_t>(2));
  EXPECT_EQ(RefusalLog::Suffix(2), " (2 more like it not logged)");
  EXPECT_EQ(RefusalLog::Suffix(0), "");
}

}  // namespace
}  // namespace domian::membership
