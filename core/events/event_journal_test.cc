#include "core/events/event_journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace domian::events {
namespace {

Event Plugin(std::string what) { return Event{.kind = Kind::kPlugin, .what = std::move(what)}; }

class EventJournalTest : public ::testing::Test {
 protected:
  int64_t now_ms_ = 1'700'000'000'000;
  EventJournal journal_{EventJournal::Options{.history = 4, .per_watcher = 3, .max_watchers = 2},
                        [this] { return now_ms_; }};
};

TEST_F(EventJournalTest, EventsAreNumberedAndStampedInOrder) {
  EXPECT_EQ(journal_.Publish(Plugin("a")), 1u);
  now_ms_ += 5;
  EXPECT_EQ(journal_.Publish(Plugin("b")), 2u);
  const std::vector<Event> recent = journal_.Recent(10);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].what, "a");
  EXPECT_EQ(recent[0].seq, 1u);
  EXPECT_EQ(recent[1].unix_ms, recent[0].unix_ms + 5);
}

TEST_F(EventJournalTest, HistoryKeepsOnlyTheLatest) {
  for (int i = 0; i < 10; ++i) journal_.Publish(Plugin("e" + std::to_string(i)));
  const std::vector<Event> recent = journal_.Recent(100);
  ASSERT_EQ(recent.size(), 4u);
  EXPECT_EQ(recent.front().what, "e6");
  EXPECT_EQ(recent.back().what, "e9");
  EXPECT_EQ(journal_.Recent(1).front().what, "e9");
}

TEST_F(EventJournalTest, AWatcherGetsItsBacklogThenWhatFollows) {
  journal_.Publish(Plugin("old1"));
  journal_.Publish(Plugin("old2"));
  int wakes = 0;
  auto watcher = journal_.Watch(1, [&] { ++wakes; });
  ASSERT_NE(watcher, nullptr);
  EXPECT_EQ(wakes, 1);  // the backlog is there to take
  journal_.Publish(Plugin("new"));
  EXPECT_EQ(wakes, 1);  // not drained yet: no second wake
  const std::vector<Event> taken = watcher->Take(10);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].what, "old2");
  EXPECT_EQ(taken[1].what, "new");
  EXPECT_TRUE(watcher->Take(10).empty());
  journal_.Publish(Plugin("later"));
  EXPECT_EQ(wakes, 2);  // empty to non-empty wakes again
}

TEST_F(EventJournalTest, ASlowWatcherLosesTheOldestWithAMarkerAndNothingWaits) {
  auto watcher = journal_.Watch(0, [] {});
  for (int i = 1; i <= 8; ++i) journal_.Publish(Plugin("e" + std::to_string(i)));
  const std::vector<Event> taken = watcher->Take(10);
  ASSERT_EQ(taken.size(), 4u);
  EXPECT_EQ(taken[0].kind, Kind::kLost);
  EXPECT_EQ(taken[0].count, 5u);
  EXPECT_EQ(taken[0].seq, 1u);  // the first one missed
  EXPECT_EQ(taken[1].what, "e6");
  EXPECT_EQ(taken[3].what, "e8");
  // A watcher that catches up sees no marker again.
  journal_.Publish(Plugin("e9"));
  const std::vector<Event> next = watcher->Take(10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].what, "e9");
}

TEST_F(EventJournalTest, TakeHandsOutAtMostWhatIsAskedInOrder) {
  auto watcher = journal_.Watch(0, [] {});
  journal_.Publish(Plugin("a"));
  journal_.Publish(Plugin("b"));
  EXPECT_EQ(watcher->Take(1).at(0).what, "a");
  EXPECT_EQ(watcher->Take(1).at(0).what, "b");
  EXPECT_TRUE(watcher->Take(0).empty());
}

TEST_F(EventJournalTest, WatchersAreBoundedAndAnUnwatchedOneIsNeverWokenAgain) {
  int wakes_a = 0;
  auto a = journal_.Watch(0, [&] { ++wakes_a; });
  auto b = journal_.Watch(0, [] {});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(journal_.Watch(0, [] {}), nullptr);
  journal_.Unwatch(a);
  EXPECT_EQ(journal_.watchers(), 1u);
  journal_.Publish(Plugin("x"));
  EXPECT_EQ(wakes_a, 0);
  EXPECT_TRUE(a->Finished());
  EXPECT_NE(journal_.Watch(0, [] {}), nullptr);  // the place is free again
}

TEST_F(EventJournalTest, CloseWakesEveryWatcherWhichFinishesOnceDrained) {
  int wakes = 0;
  auto watcher = journal_.Watch(0, [&] { ++wakes; });
  journal_.Publish(Plugin("last"));
  journal_.Close();
  EXPECT_EQ(wakes, 2);
  EXPECT_FALSE(watcher->Finished());  // "last" is still to be taken
  EXPECT_EQ(watcher->Take(10).size(), 1u);
  EXPECT_TRUE(watcher->Finished());
  EXPECT_EQ(journal_.Watch(0, [] {}), nullptr);
  EXPECT_TRUE(journal_.closed());
}

TEST_F(EventJournalTest, FieldsFromPluginsAndPeersAreBounded) {
  Event event = Plugin(std::string(1000, 'w'));
  event.detail = std::string(100'000, 'd');
  event.service = "bad\xff" "byte";
  event.data_json = "{not json";
  journal_.Publish(event);
  Event big = Plugin("big");
  big.data_json = "\"" + std::string(kMaxDataBytes, 'x') + "\"";
  journal_.Publish(big);
  Event fine = Plugin("fine");
  fine.data_json = R"({"temperature":21.5})";
  journal_.Publish(fine);
  const std::vector<Event> recent = journal_.Recent(3);
  EXPECT_LE(recent[0].what.size(), kMaxWhatBytes);
  EXPECT_LE(recent[0].detail.size(), kMaxDetailBytes);
  EXPECT_EQ(recent[0].service, "bad\xEF\xBF\xBD" "byte");
  EXPECT_EQ(recent[0].data_json, "{}");
  EXPECT_EQ(recent[1].data_json, "{}");
  EXPECT_EQ(recent[2].data_json, R"({"temperature":21.5})");
}

TEST(EventJournalThreads, PublishersAndAWatcherLoseNothingWhenItKeepsUp) {
  EventJournal journal(EventJournal::Options{.history = 16, .per_watcher = 100'000},
                       [] { return int64_t{0}; });
  auto watcher = journal.Watch(0, [] {});
  constexpr int kPerThread = 2000;
  std::vector<std::thread> publishers;
  for (int t = 0; t < 4; ++t) {
    publishers.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) journal.Publish(Plugin("p"));
    });
  }
  uint64_t last = 0;
  size_t seen = 0;
  while (seen < 4u * kPerThread) {
    for (const Event& event : watcher->Take(64)) {
      ASSERT_NE(event.kind, Kind::kLost);
      ASSERT_GT(event.seq, last);  // in order
      last = event.seq;
      ++seen;
    }
  }
  for (std::thread& thread : publishers) thread.join();
  EXPECT_EQ(journal.last_seq(), 4u * kPerThread);
}

}  // namespace
}  // namespace domian::events
