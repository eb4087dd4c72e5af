// The replica subsystem's logic: the hybrid logical clock, the store of
// copies (order, bounds, files), and the Replicator over a transport the
// test answers for.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/replica/hlc.h"
#include "core/replica/replica_store.h"
#include "core/common/durable_file.h"
#include "core/replica/replicator.h"
#include "core/services/testing/temp_folder.h"

namespace domian::replica {
namespace {

using services::testing::TempFolder;

// ---- HybridClock ----

TEST(HybridClock, FollowsTheWallClockAndCountsWhenItStandsStill) {
  uint64_t wall = 1000;
  HybridClock clock([&] { return wall; });
  EXPECT_EQ(clock.Now(), (Hlc{1000, 0}));
  EXPECT_EQ(clock.Now(), (Hlc{1000, 1}));
  wall = 900;  // the wall clock stepped back: still later than before
  EXPECT_EQ(clock.Now(), (Hlc{1000, 2}));
  wall = 2000;
  EXPECT_EQ(clock.Now(), (Hlc{2000, 0}));
}

TEST(HybridClock, AChangeMadeAfterHearingOfAnotherIsLaterWhateverTheClocksSay) {
  uint64_t wall = 1000;
  HybridClock behind([&] { return wall; });
  // A peer whose clock is 30 s ahead made a change.
  const Hlc remote{31000, 5};
  ASSERT_TRUE(behind.Observe(remote));
  EXPECT_GT(behind.Now(), remote);
}

TEST(HybridClock, ATimestampFarInTheFutureIsRefused) {
  uint64_t wall = 1000;
  HybridClock clock([&] { return wall; });
  const Hlc future{1000 + static_cast<uint64_t>(kMaxHlcLead.count()) + 1, 0};
  EXPECT_FALSE(clock.Observe(future));
  EXPECT_EQ(clock.Now(), (Hlc{1000, 0})) << "a refused timestamp moves nothing";
  EXPECT_FALSE(clock.Observe({1000, kMaxHlcLogical + 1}));
}

// ---- ReplicaStore ----

StateCopy Copy(std::string bytes, Hlc hlc, std::string writer = "a", uint64_t epoch = 1,
               uint64_t seq = 1) {
  return {.service = "tally",
          .epoch = epoch,
          .seq = seq,
          .hlc = hlc,
          .writer = std::move(writer),
          .bytes = std::move(bytes)};
}

TEST(ReplicaStore, KeepsTheLaterChangeWhateverTheEpoch) {
  TempFolder dir("domian-replicas");
  ReplicaStore store(dir.path());
  ASSERT_EQ(*store.Offer(Copy("94", {2000, 0}, "a", 3, 94)), ReplicaStore::Offered::kStored);
  // A higher epoch that changed nothing since (an older change): not kept.
  EXPECT_EQ(*store.Offer(Copy("0", {1000, 0}, "b", 4, 1)), ReplicaStore::Offered::kNotNewer);
  EXPECT_EQ(store.Get("tally")->bytes, "94");
  // The same change again: not newer.
  EXPECT_EQ(*store.Offer(Copy("94", {2000, 0}, "a", 3, 94)), ReplicaStore::Offered::kNotNewer);
  // A later one.
  EXPECT_EQ(*store.Offer(Copy("95", {2000, 1}, "b", 4, 2)), ReplicaStore::Offered::kStored);
  EXPECT_EQ(store.Get("tally")->bytes, "95");
}

TEST(ReplicaStore, CopiesSurviveAReopenAndABadFileIsLeftOut) {
  TempFolder dir("domian-replicas");
  {
    ReplicaStore store(dir.path());
    ASSERT_TRUE(store.Offer(Copy(std::string("a\nb\0c", 5), {5, 0})).ok());
    StateCopy lights = Copy("{}", {6, 0});
    lights.service = "lights";
    ASSERT_TRUE(store.Offer(lights).ok());
    lights.bytes = R"({"paired":true})";
    lights.hlc = {7, 0};
    ASSERT_TRUE(store.Offer(lights).ok());
    StateCopy once = Copy("1", {8, 0});
    once.service = "once";
    ASSERT_TRUE(store.Offer(once).ok());
  }
  // Cut short, as a damaged card or a write that bypassed the rename
  // leaves a file.
  for (const char* name : {"lights", "once"}) {
    std::ifstream in(dir.path() / name);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir.path() / name, std::ios::trunc) << text.substr(0, text.size() - 1);
  }
  ReplicaStore again(dir.path());
  ASSERT_TRUE(again.Get("tally"));
  EXPECT_EQ(again.Get("tally")->bytes, std::string("a\nb\0c", 5));
  EXPECT_EQ(again.Get("tally")->hlc, (Hlc{5, 0}));
  ASSERT_TRUE(again.Get("lights")) << "the copy before the damaged one is taken";
  EXPECT_EQ(again.Get("lights")->bytes, "{}");
  EXPECT_EQ(again.Get("lights")->hlc, (Hlc{6, 0}));
  EXPECT_FALSE(again.Get("once")) << "a damaged copy with none before it is left out";
}

TEST(ReplicaStore, RefusesWhatIsOutOfBounds) {
  TempFolder dir("domian-replicas");
  ReplicaStore store(dir.path());
  EXPECT_FALSE(store.Offer(Copy(std::string(kMaxReplicaStateBytes + 1, 'x'), {1, 0})).ok());
  StateCopy bad = Copy("1", {1, 0});
  bad.service = "../etc";
  EXPECT_FALSE(store.Offer(bad).ok());
  bad = Copy("1", {1, 0});
  bad.writer = "";
  EXPECT_FALSE(store.Offer(bad).ok());
  bad = Copy("1", {1, 0});
  bad.deleted = true;
  EXPECT_FALSE(store.Offer(bad).ok()) << "a tombstone carries no bytes";
  bad = Copy("1", {5, 0});
  bad.parent = {5, 0};
  EXPECT_FALSE(store.Offer(bad).ok()) << "made on a change not before it: a forged parent";
  {
    TempFolder other("domian-replicas-parent");
    StateCopy with_parent = Copy("2", {7, 1});
    with_parent.parent = {5, 0};
    ASSERT_TRUE(ReplicaStore(other.path()).Offer(with_parent).ok());
    EXPECT_EQ(ReplicaStore(other.path()).Get("tally")->parent, (Hlc{5, 0})) << "kept on disk";
  }
  for (size_t i = 0; i < kMaxReplicaCopies; ++i) {
    StateCopy copy = Copy("1", {1, 0});
    copy.service = "s" + std::to_string(i);
    ASSERT_TRUE(store.Offer(copy).ok()) << i;
  }
  StateCopy one_more = Copy("1", {1, 0});
  one_more.service = "one-more";
  EXPECT_EQ(store.Offer(one_more).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ReplicaStore, ATombstoneKeepsAnOlderCopyFromComingBack) {
  TempFolder dir("domian-replicas");
  ReplicaStore store(dir.path());
  StateCopy gone = Copy("", {10, 0});
  gone.deleted = true;
  ASSERT_TRUE(store.Offer(gone).ok());
  EXPECT_EQ(*store.Offer(Copy("old", {9, 0})), ReplicaStore::Offered::kNotNewer);
  EXPECT_TRUE(store.Get("tally")->deleted);
}

// ---- Replicator ----

// Answers as the test says: each peer stores (or fails) and has a copy.
class FakeTransport final : public ReplicaTransport {
 public:
  void Put(const Peer& peer, const StateCopy& copy, std::chrono::milliseconds,
           PutDone done) override {
    {
      absl::MutexLock lock(&mu);
      puts.push_back({peer.id, copy});
    }
    if (silent.count(peer.id) != 0) return;  // never answers
    done(failing.count(peer.id) != 0 ? absl::UnavailableError("down") : absl::OkStatus());
  }
  void Get(const Peer& peer, const std::string& service, std::chrono::milliseconds,
           GetDone done) override {
    const auto it = held.find(peer.id);
    if (it == held.end() || it->second.service != service) {
      done(HeldCopy{});
    } else {
      done(HeldCopy{.copy = it->second});
    }
  }
  // For a test whose puts come from the sync thread.
  size_t PutCount() {
    absl::MutexLock lock(&mu);
    return puts.size();
  }
  absl::Mutex mu;
  // Read by tests whose puts are made on their own thread.
  std::vector<std::pair<std::string, StateCopy>> puts;
  std::set<std::string> failing, silent;
  std::map<std::string, StateCopy> held;
};

class ReplicatorTest : public ::testing::Test {
 protected:
  Replicator Make(std::vector<Peer> peers) {
    return Replicator({.dir = dir_.path(), .self = "a", .live_peers = [peers] { return peers; }},
                      transport_, HybridClock([this] { return wall_; }));
  }
  // Live peers as live_ says when asked; restarts recorded in adopted_.
  Replicator MakeWatched() {
    return Replicator({.dir = dir_.path(),
                       .self = "a",
                       .live_peers = [this] { return live_; },
                       .adopt =
                           [this](const std::string& service, uint64_t epoch,
                                  const std::string& bytes, uint64_t generation) {
                             adopted_.push_back(service + "@" + std::to_string(epoch) + "=" +
                                                bytes);
                             generation_ = generation;
                           }},
                      transport_, HybridClock([this] { return wall_; }));
  }
  std::string SetAsideFile() const {
    return ReadDurable(dir_.path() / "set-aside.d" / "tally", 1 << 20)->content;
  }
  std::vector<Peer> live_;
  std::vector<std::string> adopted_;
  uint64_t generation_ = 0;  // of the last restart asked for
  TempFolder dir_{"domian-replicator"};
  FakeTransport transport_;
  uint64_t wall_ = 1000;
};

TEST_F(ReplicatorTest, AChangeIsNumberedKeptHereAndSentToEveryLivePeer) {
  Replicator replicator = Make({{"b", "b:1"}, {"c", "c:1"}});
  ASSERT_TRUE(replicator.Publish("tally", 3, "1", /*wait=*/true).ok());
  ASSERT_TRUE(replicator.Publish("tally", 3, "2", /*wait=*/false).ok());
  ASSERT_EQ(transport_.puts.size(), 4u);
  EXPECT_EQ(transport_.puts[3].second.seq, 2u);
  EXPECT_EQ(transport_.puts[3].second.epoch, 3u);
  EXPECT_EQ(transport_.puts[3].second.writer, "a");
  EXPECT_GT(transport_.puts[3].second.hlc, transport_.puts[0].second.hlc);
  EXPECT_EQ(replicator.Get("tally")->bytes, "2");
  // A new epoch numbers from 1 again.
  ASSERT_TRUE(replicator.Publish("tally", 4, "3", false).ok());
  EXPECT_EQ(replicator.Get("tally")->seq, 1u);
}

TEST_F(ReplicatorTest, AWaitedChangeNeedsOnePeerAndSaysWhenNoneConfirmed) {
  Replicator alone = Make({});
  EXPECT_TRUE(alone.Publish("tally", 1, "1", true).ok()) << "no live peer: kept here";

  transport_.failing = {"b"};
  Replicator one_of_two = Make({{"b", "b:1"}, {"c", "c:1"}});
  EXPECT_TRUE(one_of_two.Publish("tally", 1, "2", true).ok());

  transport_.failing = {"b", "c"};
  const absl::Status none = one_of_two.Publish("tally", 1, "3", true);
  EXPECT_EQ(none.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(none.message()).find("kept on this node, but none of 2 live peer(s)"),
            std::string::npos)
      << none;
  EXPECT_EQ(one_of_two.Get("tally")->bytes, "3") << "kept here all the same";

  // A peer that never answers: the wait ends at kPeerAckTimeout.
  transport_.failing.clear();
  transport_.silent = {"b"};
  Replicator silent = Make({{"b", "b:1"}});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(silent.Publish("tally", 1, "4", true).code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, kPeerAckTimeout);
}

TEST_F(ReplicatorTest, AStateTooBigForPeersIsRefusedClearly) {
  Replicator replicator = Make({{"b", "b:1"}});
  const absl::Status big =
      replicator.Publish("tally", 1, std::string(kMaxReplicaStateBytes + 1, 'x'), true);
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(big.message()).find("over the 65536 a change may carry"), std::string::npos)
      << big;
  EXPECT_TRUE(transport_.puts.empty());
}

TEST_F(ReplicatorTest, TheFreshestCopyIsTakenFromWhicheverPeerHasIt) {
  Replicator replicator = Make({{"b", "b:1"}, {"c", "c:1"}});
  ASSERT_TRUE(replicator.Publish("tally", 1, "5", false).ok());  // ours, at 1000.0
  transport_.held["b"] = Copy("7", {1000, 9}, "b", 2, 2);
  transport_.held["c"] = Copy("6", {999, 0}, "c", 9, 1);  // a higher epoch, an older change
  const Replicator::Fetched fetched = replicator.Freshest("tally");
  ASSERT_TRUE(fetched.copy);
  EXPECT_EQ(fetched.copy->bytes, "7");
  EXPECT_EQ(fetched.from, "b");
  EXPECT_EQ(fetched.asked, 2u);
  EXPECT_EQ(fetched.answered, 2u);
  EXPECT_EQ(replicator.Get("tally")->bytes, "7") << "kept here";
  // Our next change comes after the one we took.
  ASSERT_TRUE(replicator.Publish("tally", 3, "8", false).ok());
  EXPECT_GT(replicator.Get("tally")->hlc, (Hlc{1000, 9}));
}

TEST_F(ReplicatorTest, AFetchedCopyFromTheFarFutureIsLeftOut) {
  Replicator replicator = Make({{"evil", "e:1"}, {"b", "b:1"}});
  transport_.held["evil"] =
      Copy("9", {wall_ + static_cast<uint64_t>(kMaxHlcLead.count()) + 1, 0}, "evil");
  transport_.held["b"] = Copy("7", {900, 0}, "b");
  const Replicator::Fetched fetched = replicator.Freshest("tally");
  ASSERT_TRUE(fetched.copy);
  EXPECT_EQ(fetched.copy->bytes, "7");
  EXPECT_EQ(fetched.from, "b");
}

TEST_F(ReplicatorTest, APeersCopyIsKeptWhenNewerAndRefusedFromTheFarFuture) {
  Replicator replicator = Make({});
  EXPECT_TRUE(*replicator.Accept(Copy("1", {900, 0}, "b")));
  EXPECT_FALSE(*replicator.Accept(Copy("0", {800, 0}, "c")));
  EXPECT_EQ(replicator.Get("tally")->bytes, "1");
  const auto future = replicator.Accept(
      Copy("9", {wall_ + static_cast<uint64_t>(kMaxHlcLead.count()) + 1, 0}, "evil"));
  EXPECT_FALSE(future.ok());
  EXPECT_EQ(replicator.Get("tally")->bytes, "1");
}

TEST_F(ReplicatorTest, AStateSavedEmptyIsATombstoneNoOlderCopyUndoes) {
  Replicator replicator = Make({{"b", "b:1"}});
  ASSERT_TRUE(replicator.Publish("tally", 2, "5", false).ok());
  ASSERT_TRUE(replicator.Publish("tally", 2, "", false).ok());
  ASSERT_TRUE(replicator.Get("tally")->deleted);
  EXPECT_TRUE(transport_.puts.back().second.deleted) << "peers hear of the deletion";
  EXPECT_FALSE(*replicator.Accept(Copy("3", {900, 0}, "c"))) << "an older copy stays out";
  transport_.held["b"] = Copy("4", {950, 0}, "b");
  const Replicator::Fetched fetched = replicator.Freshest("tally");
  ASSERT_TRUE(fetched.copy);
  EXPECT_TRUE(fetched.copy->deleted);
  EXPECT_EQ(fetched.from, "") << "this node's tombstone is the latest";
}

// ---- Heals: the state people changed is the one kept ----

// tally runs here from 3 under epoch 5, and b's later 7 comes: a restart
// from 7 is asked for (not yet made).
void QueueARestart(Replicator& replicator, uint64_t& wall) {
  ASSERT_TRUE(replicator.Accept(Copy("3", {900, 0}, "b", 1, 3)).ok());
  replicator.Began("tally", 5, "3", "its own state on this node", std::nullopt);
  wall = 2000;
  ASSERT_TRUE(*replicator.Accept(Copy("7", {1500, 0}, "b", 1, 7)));
}

TEST_F(ReplicatorTest, ASaveThatChangedNothingIsNoChange) {
  live_ = {{"b", "b:1"}};
  Replicator replicator = MakeWatched();
  ASSERT_TRUE(replicator.Accept(Copy("5", {900, 0}, "b")).ok());
  replicator.Began("tally", 2, "5", "the copy from b", std::nullopt);
  ASSERT_TRUE(replicator.Publish("tally", 2, "5", /*wait=*/true).ok());
  EXPECT_TRUE(transport_.puts.empty()) << "a stop's save of the state it began with";
  EXPECT_EQ(replicator.Get("tally")->writer, "b") << "b's change is still the latest";
  ASSERT_TRUE(replicator.Publish("tally", 2, "6", true).ok());
  ASSERT_EQ(transport_.puts.size(), 1u);
  EXPECT_EQ(replicator.Get("tally")->writer, "a");
  ASSERT_TRUE(replicator.Publish("tally", 2, "6", true).ok());
  EXPECT_EQ(transport_.puts.size(), 1u) << "saved again, unchanged";
  EXPECT_EQ(replicator.ReportOf("tally").run->origin, "the copy from b");
  EXPECT_EQ(replicator.ReportOf("tally").run->epoch, 2u);
}

// The majority side changed the state while this node ran it alone from
// an older copy (under a higher epoch) and changed nothing: it takes the
// majority's state, and nothing is set aside.
TEST_F(ReplicatorTest, ALaterChangeElsewhereReplacesARunningStateThatChangedNothing) {
  Replicator replicator = MakeWatched();
  ASSERT_NO_FATAL_FAILURE(QueueARestart(replicator, wall_));
  EXPECT_EQ(adopted_, std::vector<std::string>{"tally@5=7"});
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "set-aside.d" / "tally"));
  const Replicator::Report report = replicator.ReportOf("tally");
  EXPECT_FALSE(report.set_aside);
  EXPECT_NE(report.run->origin.find("the later change epoch 1 seq 7 at 1500.0 by b"),
            std::string::npos)
      << report.run->origin;
  // The restarted service saves what it took: no change, nothing sent.
  ASSERT_TRUE(replicator.Publish("tally", 5, "7", false).ok());
  EXPECT_TRUE(transport_.puts.empty());
  // The same copy again (from another peer) restarts nothing.
  ASSERT_FALSE(*replicator.Accept(Copy("7", {1500, 0}, "b", 1, 7)));
  EXPECT_EQ(adopted_.size(), 1u);
  // Once it stopped here, a newer copy is only kept.
  replicator.Ended("tally");
  ASSERT_TRUE(*replicator.Accept(Copy("8", {1600, 0}, "b", 1, 8)));
  EXPECT_EQ(adopted_.size(), 1u);
}

TEST_F(ReplicatorTest, WhenBothSidesChangedTheLaterChangeWinsAndTheOtherIsSetAside) {
  Replicator replicator = MakeWatched();
  ASSERT_TRUE(replicator.Accept(Copy("3", {900, 0}, "b")).ok());
  replicator.Began("tally", 5, "3", "its own state on this node", std::nullopt);
  ASSERT_TRUE(replicator.Publish("tally", 5, "4", false).ok());  // ours, at 1000
  wall_ = 3000;
  // b's change at 2000, made apart from ours: it wins, ours is set aside.
  ASSERT_TRUE(*replicator.Accept(Copy("9", {2000, 0}, "b", 1, 9)));
  EXPECT_EQ(adopted_, std::vector<std::string>{"tally@5=9"});
  Replicator::Report report = replicator.ReportOf("tally");
  ASSERT_TRUE(report.set_aside);
  EXPECT_EQ(report.set_aside->version.rfind("epoch 5 seq 1 at 1000.", 0), 0u)
      << report.set_aside->version;
  EXPECT_NE(report.set_aside->lost_to.find("by b"), std::string::npos);
  absl::StatusOr<StateCopy> kept = DecodeCopy("tally", SetAsideFile());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->bytes, "4");
  EXPECT_EQ(kept->writer, "a");

  // Now ours is the later one: c's change, made apart at 2500, is older.
  ASSERT_TRUE(replicator.Publish("tally", 5, "10", false).ok());  // at 3000
  ASSERT_FALSE(*replicator.Accept(Copy("8", {2500, 0}, "c", 2, 4)));
  EXPECT_EQ(adopted_.size(), 1u) << "nothing restarted";
  EXPECT_EQ(replicator.Get("tally")->bytes, "10");
  report = replicator.ReportOf("tally");
  ASSERT_TRUE(report.set_aside);
  EXPECT_NE(report.set_aside->version.find("by c"), std::string::npos);
  kept = DecodeCopy("tally", SetAsideFile());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->bytes, "8");

  // A change the running state already includes is not set aside.
  ASSERT_FALSE(*replicator.Accept(Copy("2", {800, 0}, "d")));
  EXPECT_NE(replicator.ReportOf("tally").set_aside->version.find("by c"), std::string::npos);
  // It stays reported after the service stopped here.
  replicator.Ended("tally");
  EXPECT_FALSE(replicator.ReportOf("tally").run);
  EXPECT_TRUE(replicator.ReportOf("tally").set_aside);
}

TEST_F(ReplicatorTest, APeerBackToLifeGetsEveryCopyAtOnce) {
  Replicator replicator = MakeWatched();
  ASSERT_TRUE(replicator.Publish("tally", 1, "1", false).ok());
  StateCopy lights = Copy("key", {900, 0}, "b");
  lights.service = "lights";
  ASSERT_TRUE(replicator.Accept(lights).ok());
  live_ = {{"b", "b:1"}};
  replicator.Sync();
  ASSERT_EQ(transport_.puts.size(), 2u);
  EXPECT_EQ(transport_.puts[0].first, "b");
  replicator.Sync();
  EXPECT_EQ(transport_.puts.size(), 2u) << "b was live already";
  live_ = {{"b", "b:1"}, {"c", "c:1"}};
  replicator.Sync();
  ASSERT_EQ(transport_.puts.size(), 4u);
  EXPECT_EQ(transport_.puts[2].first, "c");
  EXPECT_EQ(transport_.puts[3].first, "c");
  // b dies and comes back (a partition healed): it is sent them again.
  live_ = {{"c", "c:1"}};
  replicator.Sync();
  live_ = {{"b", "b:1"}, {"c", "c:1"}};
  replicator.Sync();
  ASSERT_EQ(transport_.puts.size(), 6u);
  EXPECT_EQ(transport_.puts[5].first, "b");
}

// The restart is queued; until it is made, the old instance's save (its
// stop, say) of the state being replaced must not become the latest.
TEST_F(ReplicatorTest, AQueuedRestartIsNotUndoneByTheOldInstancesSave) {
  live_ = {{"b", "b:1"}};
  Replicator replicator = MakeWatched();
  ASSERT_NO_FATAL_FAILURE(QueueARestart(replicator, wall_));
  ASSERT_EQ(adopted_.size(), 1u);
  EXPECT_TRUE(replicator.StillAdopting("tally", generation_));
  ASSERT_TRUE(replicator.Publish("tally", 5, "3", true).ok());  // stopped before the restart
  EXPECT_TRUE(transport_.puts.empty());
  EXPECT_EQ(replicator.Get("tally")->bytes, "7");
  // A hand-over made now carries the later state.
  EXPECT_EQ(replicator.Ended("tally"), "7");
}

TEST_F(ReplicatorTest, AChangeMadeWhileARestartIsQueuedCallsItOff) {
  live_ = {{"b", "b:1"}};
  Replicator replicator = MakeWatched();
  ASSERT_NO_FATAL_FAILURE(QueueARestart(replicator, wall_));
  const uint64_t restart = generation_;
  // A call answered by the old instance before the restart: 3 -> 4.
  ASSERT_TRUE(replicator.Publish("tally", 5, "4", true).ok());
  EXPECT_FALSE(replicator.StillAdopting("tally", restart)) << "the restart is called off";
  EXPECT_EQ(replicator.Get("tally")->bytes, "4");
  ASSERT_EQ(transport_.puts.size(), 1u);
  EXPECT_EQ(transport_.puts[0].second.parent, (Hlc{900, 0}))
      << "made on what the instance ran, not on the change it never took";
  ASSERT_TRUE(replicator.ReportOf("tally").set_aside);
  absl::StatusOr<StateCopy> kept = DecodeCopy("tally", SetAsideFile());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->bytes, "7") << "b's change lost to the later 4";
  EXPECT_EQ(replicator.Ended("tally"), std::nullopt) << "nothing queued to hand on";
}

TEST_F(ReplicatorTest, AChangeMadeOnThisNodesOwnIsNoRival) {
  Replicator replicator = MakeWatched();
  ASSERT_TRUE(replicator.Accept(Copy("3", {900, 0}, "b")).ok());
  replicator.Began("tally", 5, "3", "its own state on this node", std::nullopt);
  ASSERT_TRUE(replicator.Publish("tally", 5, "4", false).ok());  // ours, at 1000
  const Hlc ours = replicator.Get("tally")->hlc;
  wall_ = 3000;
  // b took our 4 (a paused owner's successor, say) and changed it.
  StateCopy theirs = Copy("9", {2000, 0}, "b", 6, 1);
  theirs.parent = ours;
  ASSERT_TRUE(*replicator.Accept(theirs));
  EXPECT_EQ(adopted_, std::vector<std::string>{"tally@5=9"});
  EXPECT_FALSE(replicator.ReportOf("tally").set_aside) << "our change is in theirs";
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "set-aside.d" / "tally"));
  replicator.Adopted("tally", generation_);
  EXPECT_FALSE(replicator.StillAdopting("tally", generation_));
  EXPECT_EQ(replicator.Ended("tally"), std::nullopt);
}

TEST_F(ReplicatorTest, ALaterCopyThatCameBeforeTheStartIsTheOneToStartFrom) {
  Replicator replicator = MakeWatched();
  ASSERT_TRUE(replicator.Accept(Copy("3", {900, 0}, "b")).ok());
  // Fetched 3; b's 5 came before the service began.
  ASSERT_TRUE(*replicator.Accept(Copy("5", {950, 0}, "b", 1, 2)));
  const std::optional<StateCopy> later =
      replicator.Began("tally", 5, "3", "the copy from b", Hlc{900, 0});
  ASSERT_TRUE(later);
  EXPECT_EQ(later->bytes, "5");
  EXPECT_NE(replicator.ReportOf("tally").run->origin.find("came as it started"),
            std::string::npos);
  EXPECT_TRUE(adopted_.empty()) << "it starts from it: nothing to restart";
  ASSERT_TRUE(replicator.Publish("tally", 5, "5", false).ok());
  EXPECT_TRUE(transport_.puts.empty()) << "5 is what it began with";
}

TEST_F(ReplicatorTest, APeerThatFailedToTakeTheCopiesIsSentThemAgain) {
  Replicator replicator = MakeWatched();
  ASSERT_TRUE(replicator.Publish("tally", 1, "1", false).ok());
  live_ = {{"b", "b:1"}};
  transport_.failing = {"b"};  // its channel still reconnecting
  replicator.Sync();
  ASSERT_EQ(transport_.puts.size(), 1u);
  replicator.Sync();
  ASSERT_EQ(transport_.puts.size(), 2u) << "tried again";
  transport_.failing.clear();
  replicator.Sync();
  ASSERT_EQ(transport_.puts.size(), 3u);
  replicator.Sync();
  EXPECT_EQ(transport_.puts.size(), 3u) << "in step now";
}

TEST_F(ReplicatorTest, TheSyncThreadSendsCopiesWhenPeersChange) {
  Replicator replicator = MakeWatched();
  ASSERT_TRUE(replicator.Publish("tally", 1, "1", false).ok());
  live_ = {{"b", "b:1"}};
  replicator.Start();
  replicator.PeersChanged();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (transport_.PutCount() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  replicator.Stop();
  EXPECT_EQ(transport_.PutCount(), 1u);
}

}  // namespace
}  // namespace domian::replica
