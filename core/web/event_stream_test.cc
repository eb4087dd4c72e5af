// The journal as Server-Sent Events: the message format, what a new or
// reconnecting page gets first, where it is told it missed events, and the
// bounds (streams at once, a client gone, a stopping server).
#include "core/web/event_stream.h"

#include <gtest/gtest.h>

#include <thread>

namespace domian::web {
namespace {

using namespace std::chrono_literals;

TEST(SseMessageTest, OneEventIsIdKindAndOneLineOfJson) {
  const events::Event event{.seq = 42,
                            .unix_ms = 1700000000123,
                            .kind = events::Kind::kPlugin,
                            .what = "motion",
                            .node = "porch",
                            .service = "camera",
                            .detail = "line one\nline two",
                            .data_json = R"({"zone": "door"})",
                            .seconds = 1.5};
  EXPECT_EQ(SseMessage(event),
            "id: 42\n"
            "event: plugin\n"
            R"(data: {"data":{"zone":"door"},"detail":"line one\nline two","kind":"plugin",)"
            R"("node":"porch","seconds":1.5,"seq":42,"service":"camera","unix_ms":1700000000123,)"
            R"("what":"motion"})"
            "\n\n");
}

TEST(SseMessageTest, ALostMarkerHasNoIdAndSaysHowMany) {
  const events::Event lost{.seq = 7, .kind = events::Kind::kLost, .what = "lost", .count = 3};
  const std::string message = SseMessage(lost);
  EXPECT_EQ(message.find("id:"), std::string::npos);
  EXPECT_EQ(message.rfind("event: lost\ndata: {", 0), 0u) << message;
  EXPECT_NE(message.find(R"("count":3)"), std::string::npos) << message;
}

TEST(ParseLastEventIdTest, ASequenceNumberOrNothing) {
  EXPECT_EQ(ParseLastEventId("17"), 17u);
  EXPECT_EQ(ParseLastEventId("0"), 0u);
  EXPECT_EQ(ParseLastEventId(nullptr), std::nullopt);
  for (const char* bad : {"", "x", "17x", "-1", " 17", "99999999999999999999999"}) {
    EXPECT_EQ(ParseLastEventId(bad), std::nullopt) << bad;
  }
}

// What a client received, written from the stream's thread.
class Client {
 public:
  bool Write(std::string_view text) {
    absl::MutexLock lock(&mu_);
    if (gone_) return false;
    text_ += text;
    return true;
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    gone_ = true;
  }
  std::string text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }
  // Waits (up to 5 s) until it received `needle`.
  bool Received(std::string_view needle) {
    for (int i = 0; i < 500; ++i) {
      if (text().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
};

class EventStreamsTest : public ::testing::Test {
 protected:
  ~EventStreamsTest() override {
    streams_->Stop();
    for (std::thread& thread : threads_) thread.join();
  }

  void Publish(int n) {
    for (int i = 0; i < n; ++i) {
      journal_.Publish({.kind = events::Kind::kMember, .what = "alive", .node = "n"});
    }
  }
  // A stream served on a thread of its own, as CivetWeb's worker would.
  Client& Open(std::optional<uint64_t> last_event_id = std::nullopt) {
    clients_.push_back(std::make_unique<Client>());
    Client& client = *clients_.back();
    threads_.emplace_back([this, &client, last_event_id] {
      const absl::Status served = streams_->Serve(
          last_event_id, [&client] { return client.Write("HEAD\n"); },
          [&client](std::string_view text) { return client.Write(text); });
      EXPECT_TRUE(served.ok()) << served;
    });
    return client;
  }
  // The ids a client received, in order.
  static std::vector<uint64_t> Ids(const std::string& text) {
    std::vector<uint64_t> ids;
    for (size_t at = text.find("id: "); at != std::string::npos; at = text.find("id: ", at + 1)) {
      ids.push_back(std::stoull(text.substr(at + 4)));
    }
    return ids;
  }
  void WaitOpen(size_t n) {
    for (int i = 0; i < 500 && streams_->open() != n; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(streams_->open(), n);
  }

  events::EventJournal journal_{{.history = 100}, [] { return int64_t{1000}; }};
  std::unique_ptr<EventStreams> streams_ = std::make_unique<EventStreams>(
      journal_, EventStreams::Options{.max_streams = 2, .keep_alive = 15s, .backlog = 50});
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::thread> threads_;
};

TEST_F(EventStreamsTest, ANewPageGetsTheLast50ThenFollows) {
  Publish(60);
  Client& client = Open();
  ASSERT_TRUE(client.Received("id: 60\n"));
  EXPECT_EQ(client.text().rfind("HEAD\nretry: 2000\n\nid: 11\nevent: member\n", 0), 0u)
      << client.text().substr(0, 100);
  Publish(1);
  ASSERT_TRUE(client.Received("id: 61\n"));
  std::vector<uint64_t> expected;
  for (uint64_t id = 11; id <= 61; ++id) expected.push_back(id);
  EXPECT_EQ(Ids(client.text()), expected);
}

TEST_F(EventStreamsTest, AReconnectingPageGetsWhatItMissed) {
  Publish(10);
  Client& client = Open(7);
  ASSERT_TRUE(client.Received("id: 10\n"));
  EXPECT_EQ(Ids(client.text()), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(client.text().find("event: lost"), std::string::npos);
}

TEST_F(EventStreamsTest, AReconnectingPageIsToldWhatTheJournalNoLongerHolds) {
  Publish(130);  // the journal holds 31..130
  Client& client = Open(20);
  ASSERT_TRUE(client.Received("id: 130\n"));
  const std::string text = client.text();
  const size_t lost = text.find("event: lost\n");
  ASSERT_NE(lost, std::string::npos) << text.substr(0, 200);
  EXPECT_NE(text.find(R"("count":10)", lost), std::string::npos);  // 21..30
  EXPECT_LT(lost, text.find("id: 31\n"));
  EXPECT_EQ(Ids(text).front(), 31u);
  EXPECT_EQ(Ids(text).size(), 100u);
}

TEST_F(EventStreamsTest, AnIdOfAnEarlierRunGetsALostMarkerAndTheLast50) {
  Publish(60);
  Client& client = Open(500);
  ASSERT_TRUE(client.Received("id: 60\n"));
  const std::string text = client.text();
  EXPECT_LT(text.find("event: lost\n"), text.find("id: 11\n"));
  EXPECT_NE(text.find("the daemon restarted"), std::string::npos);
  EXPECT_EQ(Ids(text).size(), 50u);
}

TEST_F(EventStreamsTest, AQuietStreamSaysItIsAlive) {
  streams_ = std::make_unique<EventStreams>(
      journal_, EventStreams::Options{.max_streams = 1, .keep_alive = 50ms});
  Client& client = Open();
  ASSERT_TRUE(client.Received(": keep-alive\n\n: keep-alive\n\n"));
}

TEST_F(EventStreamsTest, StreamsAreBoundedAndAGoneClientFreesItsSlot) {
  Client& first = Open();
  Open();
  WaitOpen(2);
  EXPECT_EQ(journal_.watchers(), 2u);
  bool began = false;
  const absl::Status refused = streams_->Serve(
      std::nullopt, [&began] { return began = true; }, [](std::string_view) { return true; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("2 live event streams at once"), std::string::npos);
  EXPECT_FALSE(began);
  // The first client goes away: its next write fails and ends its stream.
  first.Leave();
  Publish(1);
  WaitOpen(1);
  EXPECT_EQ(journal_.watchers(), 1u);
}

TEST_F(EventStreamsTest, StopEndsEveryStreamAndRefusesNewOnes) {
  Open();
  Open();
  WaitOpen(2);
  streams_->Stop();
  WaitOpen(0);
  EXPECT_EQ(journal_.watchers(), 0u);
  EXPECT_EQ(streams_
                ->Serve(std::nullopt, [] { return true; },
                        [](std::string_view) { return true; })
                .code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(EventStreamsTest, AClosedJournalEndsTheStream) {
  Client& client = Open();
  WaitOpen(1);
  Publish(1);
  ASSERT_TRUE(client.Received("id: 1\n"));
  journal_.Close();
  WaitOpen(0);
}

}  // namespace
}  // namespace domian::web
