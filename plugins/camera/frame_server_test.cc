// FrameServer over real HTTP on 127.0.0.1, fed by a publisher thread, read
// by socket clients of controlled speed (tests/support/mjpeg_client.h).
#include "plugins/camera/frame_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <thread>

#include "plugins/camera/jpeg.h"
#include "tests/support/cluster.h"
#include "tests/support/mjpeg_client.h"

namespace domian::camera {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::HttpReply;
using testing::ReadMjpeg;

constexpr unsigned kWidth = 320;
constexpr unsigned kHeight = 240;
constexpr auto kFrameInterval = 33ms;  // ~30 frames a second

// Distinct JPEG frames of a webcam's size (tens of KiB): noise, at
// different brightness.
std::vector<std::vector<uint8_t>> TestFrames() {
  JpegEncoder encoder;
  std::vector<std::vector<uint8_t>> frames;
  for (size_t i = 0; i < 8; ++i) {
    std::vector<uint8_t> yuyv(size_t{kWidth} * kHeight * 2, 128);
    for (size_t p = 0; p < yuyv.size(); p += 2) {
      yuyv[p] = static_cast<uint8_t>(i * 25 + ((p * 2654435761U) >> 13) % 64);
    }
    frames.push_back(encoder.EncodeYuyv(yuyv, kWidth, kHeight, kWidth * 2, 80));
  }
  return frames;
}

constexpr char kFrameTag[] = "frame ";

// `jpeg` with a comment segment (COM) after SOI saying "frame N", so a
// client can tell which frames it got.
std::vector<uint8_t> Numbered(const std::vector<uint8_t>& jpeg, size_t number) {
  const std::string text = kFrameTag + std::to_string(number);
  const size_t length = text.size() + 2;
  std::vector<uint8_t> out;
  out.reserve(jpeg.size() + 4 + text.size());
  out.push_back(jpeg[0]);
  out.push_back(jpeg[1]);
  for (const uint8_t byte : {uint8_t{0xFF}, uint8_t{0xFE}, static_cast<uint8_t>(length >> 8),
                             static_cast<uint8_t>(length & 0xFF)}) {
    out.push_back(byte);
  }
  for (const char c : text) out.push_back(static_cast<uint8_t>(c));
  for (size_t i = 2; i < jpeg.size(); ++i) out.push_back(jpeg[i]);
  return out;
}

long FrameNumber(const std::string& part) {
  const size_t at = part.find(kFrameTag);
  return at == std::string::npos ? -1 : std::stol(part.substr(at + std::strlen(kFrameTag)));
}

// Without a signer (auth: none), as most tests here serve: anyone may
// watch. FrameServerSigned below serves signed URLs only.
class Serving : public ::testing::Test {
 protected:
  void StartServer(size_t max_streams = kDefaultMaxStreams, const UrlSigner* signer = nullptr) {
    server_ = std::make_unique<FrameServer>(
        hub_,
        FrameServer::Options{.host = "127.0.0.1",
                             .port = 0,
                             .max_streams = max_streams,
                             .signer = signer,
                             .clock = [this] { return std::chrono::system_clock::time_point(
                                                   std::chrono::seconds(now_.load())); }},
        [] { return std::string("the test camera is off"); });
    server_->Start();
  }
  void StartPublishing() {
    publisher_ = std::thread([this] {
      const auto frames = TestFrames();
      for (size_t i = 0; !stop_; ++i) {
        hub_.Publish(Numbered(frames[i % frames.size()], i), kWidth, kHeight);
        ++published_;
        std::this_thread::sleep_for(kFrameInterval);
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    if (publisher_.joinable()) publisher_.join();
    if (server_) server_->Stop();
  }

  std::atomic<size_t> watchers_seen_{0};
  FrameHub hub_{[this](size_t now) { watchers_seen_ = std::max<size_t>(watchers_seen_, now); }};
  std::unique_ptr<FrameServer> server_;
  std::thread publisher_;
  std::atomic<bool> stop_{false};
  std::atomic<int> published_{0};
  std::atomic<int64_t> now_{1'700'000'000};  // the server's wall clock, unix seconds
};

bool IsCompleteJpeg(const std::string& part) {
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(part.data()), part.size());
  return CompleteJpegLength(bytes) == part.size();
}

TEST_F(Serving, ASnapshotIsAFreshJpeg) {
  StartServer();
  StartPublishing();
  const testing::HttpReply reply = HttpGet(server_->port(), "/snapshot.jpg", 10s);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(reply.headers, HasSubstr("image/jpeg"));
  EXPECT_TRUE(IsCompleteJpeg(reply.body));
  EXPECT_EQ(watchers_seen_, 1U) << "the snapshot counted as a watcher";
  EXPECT_EQ(hub_.watchers(), 0U);
}

TEST_F(Serving, AStreamIsJpegPartsAtTheCameraRate) {
  StartServer();
  StartPublishing();
  const int before = published_;
  const testing::MjpegRead read = ReadMjpeg(server_->port(), "/stream.mjpg", 2s);
  const int during = published_ - before;
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.content_type, std::string("multipart/x-mixed-replace; boundary=") + kStreamBoundary);
  EXPECT_TRUE(read.well_formed);
  // Generous: a loaded machine may skip some, never most.
  EXPECT_GT(read.parts.size(), static_cast<size_t>(during) / 2) << during << " published";
  for (const std::string& part : read.parts) ASSERT_TRUE(IsCompleteJpeg(part));
  EXPECT_TRUE(testing::Eventually([&] { return hub_.watchers() == 0; }, 10s)) << "the stream let go";
}

TEST_F(Serving, ASlowClientSkipsFramesAndDoesNotSlowAFastOne) {
  StartServer();
  StartPublishing();
  // 16 KiB every 100 ms is ~160 KiB/s: a few frames a second of 30.
  auto slow = std::async(std::launch::async, [&] {
    return ReadMjpeg(server_->port(), "/stream.mjpg", 4s, 100ms, 16384);
  });
  const int first = published_;
  std::this_thread::sleep_for(500ms);
  const int before = published_;
  const testing::MjpegRead fast = ReadMjpeg(server_->port(), "/stream.mjpg", 2s);
  const int during = published_ - before;
  const testing::MjpegRead slow_read = slow.get();
  const int while_slow = published_ - first;
  EXPECT_GT(fast.parts.size(), static_cast<size_t>(during) / 2) << during << " published";
  EXPECT_LT(slow_read.parts.size(), static_cast<size_t>(while_slow) / 4)
      << "the slow client got most frames: it did not skip (" << while_slow << " published)";
  EXPECT_TRUE(slow_read.well_formed) << "skipping drops whole frames, never part of one";
  for (const std::string& part : slow_read.parts) ASSERT_TRUE(IsCompleteJpeg(part));
  // It gets the newest frame each time it is ready, not the next in line:
  // past the few its connection's buffer holds, the frames it got are far
  // apart. A server that queued frames for it would send them one after
  // another.
  ASSERT_GE(slow_read.parts.size(), 3U);
  long widest_gap = 0;
  for (size_t i = 1; i < slow_read.parts.size(); ++i) {
    widest_gap = std::max(widest_gap, FrameNumber(slow_read.parts[i]) - FrameNumber(slow_read.parts[i - 1]));
  }
  EXPECT_GT(widest_gap, 5);
}

TEST_F(Serving, StreamsBeyondTheLimitAreRefused) {
  StartServer(/*max_streams=*/1);
  StartPublishing();
  auto first = std::async(std::launch::async, [&] { return ReadMjpeg(server_->port(), "/stream.mjpg", 2s); });
  ASSERT_TRUE(testing::Eventually([&] { return server_->streams() == 1; }, 10s));
  const testing::HttpReply second = HttpGet(server_->port(), "/stream.mjpg", 5s);
  EXPECT_EQ(second.status, 503);
  EXPECT_THAT(second.body, HasSubstr("already 1 streams"));
  EXPECT_GT(first.get().parts.size(), 0U);
}

TEST_F(Serving, NoFrameMeansAClearServiceUnavailable) {
  StartServer();
  const auto asked = std::chrono::steady_clock::now();
  const testing::HttpReply reply = HttpGet(server_->port(), "/snapshot.jpg", 20s);
  EXPECT_EQ(reply.status, 503);
  EXPECT_THAT(reply.body, HasSubstr("no frame from the camera within 5 s: the test camera is off"));
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 15s);
}

TEST_F(Serving, StoppingEndsStreamsPromptly) {
  StartServer();
  StartPublishing();
  auto reading = std::async(std::launch::async, [&] { return ReadMjpeg(server_->port(), "/stream.mjpg", 30s); });
  ASSERT_TRUE(testing::Eventually([&] { return server_->streams() == 1; }, 10s));
  const auto stopping = std::chrono::steady_clock::now();
  server_->Stop();
  ASSERT_EQ(reading.wait_for(10s), std::future_status::ready) << "the stream outlived the server";
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 5s);
  EXPECT_GT(reading.get().parts.size(), 0U);
}

TEST(FrameHub, WatcherCountsArriveInTheOrderTheyHappened) {
  // The service acts on the last count it was told: viewers coming and
  // going at once must never leave it with a stale one.
  std::atomic<size_t> told{0};
  FrameHub hub([&](size_t watchers) { told = watchers; });
  const FrameHub::Watch staying(hub);
  std::vector<std::thread> churn;
  for (int t = 0; t < 4; ++t) {
    churn.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) FrameHub::Watch passing(hub);
    });
  }
  for (auto& thread : churn) thread.join();
  EXPECT_EQ(hub.watchers(), 1U);
  EXPECT_EQ(told, 1U);
}

TEST_F(Serving, StoppingDoesNotWaitForClientsThatDripOrDoNotRead) {
  StartServer();
  StartPublishing();
  // One sends half a request and then nothing; one streams and never reads.
  const int dripping = ::socket(AF_INET, SOCK_STREAM, 0);
  const int stalled = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  ::setsockopt(stalled, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server_->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(dripping, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::connect(stalled, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string half = "GET /snapshot.jpg HTTP/1.1\r\nHost: x\r\n";
  const std::string stream = "GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(::send(dripping, half.data(), half.size(), MSG_NOSIGNAL), 0);
  ASSERT_GT(::send(stalled, stream.data(), stream.size(), MSG_NOSIGNAL), 0);
  ASSERT_TRUE(testing::Eventually([&] { return server_->streams() == 1; }, 10s));
  std::this_thread::sleep_for(1s);  // the stream's socket buffers fill
  const auto stopping = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 2s);
  ::close(dripping);
  ::close(stalled);
}

TEST_F(Serving, RequestsThatWouldCostMuchAreRefused) {
  StartServer();
  StartPublishing();
  // Hundreds of byte ranges of one snapshot would be built in memory.
  std::string ranges = "bytes=0-1";
  for (int i = 1; i < 500; ++i) ranges += "," + std::to_string(i * 10) + "-" + std::to_string(i * 10 + 5);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server_->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request = "GET /snapshot.jpg HTTP/1.1\r\nHost: x\r\nRange: " + ranges +
                              "\r\nConnection: close\r\n\r\n";
  ASSERT_GT(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), 0);
  std::string reply(4096, '\0');
  const ssize_t got = ::recv(fd, reply.data(), reply.size(), 0);
  ::close(fd);
  ASSERT_GT(got, 12);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 416");
}

class FrameServerSigned : public Serving {
 protected:
  void SetUp() override {
    StartServer(kDefaultMaxStreams, &signer_);
    StartPublishing();
  }
  // `path` with a query signed to expire `ttl` seconds from now.
  std::string Signed(const std::string& path, int64_t ttl = 3600) {
    return path + "?" + signer_.Query(path, now_ + ttl);
  }
  void ExpectRefused(const std::string& target, const std::string& word) {
    const HttpReply reply = HttpGet(server_->port(), target, 10s);
    EXPECT_EQ(reply.status, 403) << target.substr(0, 200);
    EXPECT_EQ(reply.body.substr(0, 100), "forbidden: signature " + word + "\n") << target.substr(0, 200);
  }

  UrlSigner signer_{NewShareKey()};
};

TEST_F(FrameServerSigned, WithoutASignatureNothingIsServedAndTheCameraStaysOff) {
  ExpectRefused("/snapshot.jpg", "missing");
  ExpectRefused("/stream.mjpg", "missing");
  // Not even which paths exist.
  ExpectRefused("/", "missing");
  ExpectRefused("/snapshot.jpg?expires=1700003600", "missing");
  EXPECT_EQ(watchers_seen_, 0U) << "a refused request started the capture";
  EXPECT_EQ(server_->refused(), 4);
}

TEST_F(FrameServerSigned, AGoodSignatureGetsSnapshotsAndFrames) {
  const HttpReply snapshot = HttpGet(server_->port(), Signed(kSnapshotPath), 10s);
  ASSERT_EQ(snapshot.status, 200) << snapshot.body;
  EXPECT_TRUE(IsCompleteJpeg(snapshot.body));
  const testing::MjpegRead read = ReadMjpeg(server_->port(), Signed(kStreamPath), 1s);
  EXPECT_EQ(read.status, 200);
  EXPECT_GT(read.parts.size(), 5U);
  for (const std::string& part : read.parts) ASSERT_TRUE(IsCompleteJpeg(part));
  EXPECT_EQ(server_->refused(), 0);
}

TEST_F(FrameServerSigned, ATamperedSignatureAnotherPathOrAnExpiredUrlIsRefused) {
  std::string tampered = Signed(kSnapshotPath);
  tampered.back() = tampered.back() == 'f' ? 'e' : 'f';
  ExpectRefused(tampered, "invalid");
  // A snapshot URL does not open the stream.
  const std::string snapshot = Signed(kSnapshotPath);
  ExpectRefused(kStreamPath + snapshot.substr(snapshot.find('?')), "invalid");
  // Valid for a minute, on the server's clock.
  const std::string minute = Signed(kSnapshotPath, 60);
  ASSERT_EQ(HttpGet(server_->port(), minute, 10s).status, 200);
  now_ += 60;
  ExpectRefused(minute, "expired");
  EXPECT_EQ(watchers_seen_, 1U) << "only the good request watched";
}

TEST_F(FrameServerSigned, ANewKeyRefusesEveryUrlSignedBefore) {
  const std::string before = Signed(kSnapshotPath);
  ASSERT_EQ(HttpGet(server_->port(), before, 10s).status, 200);
  signer_.Replace(NewShareKey());
  ExpectRefused(before, "invalid");
  EXPECT_EQ(HttpGet(server_->port(), Signed(kSnapshotPath), 10s).status, 200);
}

TEST_F(FrameServerSigned, AStreamEndsWhenItsUrlIsRevokedOrExpires) {
  for (const bool revoke : {true, false}) {
    auto reading = std::async(std::launch::async,
                              [&] { return ReadMjpeg(server_->port(), Signed(kStreamPath, 60), 30s); });
    ASSERT_TRUE(testing::Eventually([&] { return server_->streams() == 1; }, 10s));
    std::this_thread::sleep_for(300ms);
    const auto ended = std::chrono::steady_clock::now();
    if (revoke) {
      signer_.Replace(NewShareKey());
    } else {
      now_ += 60;
    }
    ASSERT_EQ(reading.wait_for(10s), std::future_status::ready) << "still streaming, revoke " << revoke;
    EXPECT_LT(std::chrono::steady_clock::now() - ended, 2s);
    const testing::MjpegRead read = reading.get();
    EXPECT_GT(read.parts.size(), 0U);
    EXPECT_TRUE(read.well_formed) << "it ends between frames";
    ASSERT_TRUE(testing::Eventually([&] { return server_->streams() == 0; }, 10s));
  }
}

TEST_F(FrameServerSigned, MalformedAndOversizedQueriesAreRefusedAndTheServerCarriesOn) {
  const std::string good = Signed(kSnapshotPath);
  const std::string query = good.substr(good.find('?') + 1);
  for (const std::string& bad : {good + "&sig=" + query.substr(query.find("sig=") + 4), good + "&",
                                 good + "&x=1", std::string(kSnapshotPath) + "?expires=%00&sig=00",
                                 std::string(kSnapshotPath) + "?" + std::string(4000, 'a')}) {
    ExpectRefused(bad, "invalid");
  }
  // Past the request line's limit httplib answers on its own; either way
  // nothing is served.
  const HttpReply huge =
      HttpGet(server_->port(), std::string(kSnapshotPath) + "?" + std::string(20000, 'a'), 10s);
  EXPECT_THAT(huge.status, ::testing::AnyOf(400, 403, 414));
  EXPECT_EQ(watchers_seen_, 0U);
  EXPECT_EQ(HttpGet(server_->port(), good, 10s).status, 200) << "the server is still serving";
}

}  // namespace
}  // namespace domian::camera
