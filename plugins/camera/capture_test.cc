// Capture against the scripted V4L2 driver: negotiation read back from
// the driver, buffer counts, EAGAIN, poll timeouts, bad frames, unplugs
// and absent devices, prompt stops; the real system calls on what the
// build machine has instead of a camera (/dev/null, a pipe, a memfd); and
// the scripted driver itself, which must punish what the kernel punishes
// or the rest proves nothing.
// Nothing here depends on timing except through lower bounds and
// generous deadlines, so a loaded machine under ASan only makes it slower.
#include "plugins/camera/capture.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "plugins/camera/jpeg.h"
#include "tests/support/camera/scripted_video_device.h"

namespace domian::camera {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using SteadyClock = std::chrono::steady_clock;

constexpr char kDevice[] = "/dev/v4l/by-id/usb-Scripted_Camera-video-index0";
// How long a test waits for something that should take milliseconds.
constexpr auto kPatience = 20s;
// What "promptly" means for Stop(): it should take milliseconds; this
// bound is for a loaded two-core machine running ASan.
constexpr auto kPromptStop = 1s;
// Frames kept with their bytes (a streaming test can see thousands).
constexpr size_t kFramesKept = 1100;

// Small frames, a poll timeout no test waits out unless it means to, and
// short backoffs.
CaptureConfig TestConfig() {
  CaptureConfig config;
  config.device = kDevice;
  config.width = 160;
  config.height = 120;
  config.fps = 15;
  config.timing.poll_timeout = 30s;
  config.timing.backoff_initial = 5ms;
  config.timing.backoff_max = 20ms;
  return config;
}

// A real JPEG of `width` x `height`, a smooth picture. Capture walks a
// frame's markers, so ScriptedVideoDevice's filler between FFD8 and FFD9
// does not pass for a good frame.
std::vector<uint8_t> TestJpeg(unsigned width, unsigned height) {
  constexpr int kQuality = 75;
  std::vector<uint8_t> yuyv(size_t{width} * height * 2, 128);
  for (size_t i = 0; i < yuyv.size(); i += 2) yuyv[i] = static_cast<uint8_t>(i / 2 % width);
  JpegEncoder encoder;
  return encoder.EncodeYuyv(yuyv, width, height, width * 2, kQuality);
}

// `jpeg` with a comment segment (COM) after SOI holding `number` and
// `padding` bytes more, so frames differ in content and size.
std::vector<uint8_t> Numbered(const std::vector<uint8_t>& jpeg, size_t number, size_t padding) {
  constexpr uint8_t kCom = 0xFE;
  const size_t length = 2 + 2 + padding;  // the length field counts itself
  std::vector<uint8_t> out = {0xFF, 0xD8, 0xFF, kCom, static_cast<uint8_t>(length >> 8),
                              static_cast<uint8_t>(length), static_cast<uint8_t>(number >> 8),
                              static_cast<uint8_t>(number)};
  out.insert(out.end(), padding, 0x55);
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

std::string Describe(const CaptureStatus& s) {
  return "state=" + s.state + " format=" + PixelFormatName(s.format) + " " +
         std::to_string(s.width) + "x" + std::to_string(s.height) +
         " buffers=" + std::to_string(s.buffers) +
         " captured=" + std::to_string(s.frames_captured) +
         " dropped=" + std::to_string(s.frames_dropped) + " (" + s.last_drop_reason +
         ") reopens=" + std::to_string(s.reopen_attempts) +
         " retry_in=" + std::to_string(s.retry_in.count()) + "ms error=" + s.last_error;
}

class CaptureTest : public ::testing::Test {
 protected:
  void Make(ScriptedCamera camera = {}, CaptureConfig config = TestConfig()) {
    if (!camera.mjpeg_source) {
      camera.mjpeg_source = [](unsigned width, unsigned height, uint32_t) {
        return TestJpeg(width, height);
      };
    }
    auto device = std::make_unique<ScriptedVideoDevice>(std::move(camera));
    fake_ = device.get();
    capture_ = std::make_unique<Capture>(
        std::move(config), std::move(device), [this](Frame frame) { OnFrame(std::move(frame)); },
        [this](const std::string& line) {
          std::lock_guard lock(mu_);
          log_.push_back(line);
        });
  }

  void TearDown() override {
    if (capture_ == nullptr) return;
    capture_->Stop();
    EXPECT_EQ(capture_->Status().state, "stopped");
    // Everything released, in an order the driver accepted, and no frame
    // ever found the driver without a buffer.
    EXPECT_THAT(fake_->Misuses(), IsEmpty());
    const ScriptedStats stats = fake_->Stats();
    EXPECT_EQ(stats.open_fds, 0);
    EXPECT_EQ(stats.mappings, 0);
    EXPECT_EQ(stats.buffers, 0U);
    EXPECT_EQ(stats.frames_lost, 0);
    EXPECT_LE(stats.max_held, 1U);
  }

  void OnFrame(Frame frame) {
    std::function<void(const Frame&)> hook;
    {
      std::lock_guard lock(mu_);
      if (frames_.size() >= kFramesKept) frame.data.clear();
      frames_.push_back(std::move(frame));
      hook = on_frame_;
    }
    if (hook) hook(frames_.back());
  }

  // Polls `done` until it holds or kPatience passes.
  bool WaitUntil(const std::function<bool()>& done) {
    const auto deadline = SteadyClock::now() + kPatience;
    while (!done()) {
      if (SteadyClock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
  bool WaitForFrames(size_t count) {
    return WaitUntil([&] { return FrameCount() >= count; });
  }
  bool WaitForStatus(const std::function<bool(const CaptureStatus&)>& done) {
    return WaitUntil([&] { return done(capture_->Status()); });
  }
  // The first status that satisfies `done` (the next may not: the thread
  // moves on).
  std::optional<CaptureStatus> StatusWhen(const std::function<bool(const CaptureStatus&)>& done) {
    std::optional<CaptureStatus> seen;
    WaitUntil([&] {
      CaptureStatus status = capture_->Status();
      if (done(status)) seen = std::move(status);
      return seen.has_value();
    });
    return seen;
  }

  size_t FrameCount() {
    std::lock_guard lock(mu_);
    return frames_.size();
  }
  std::vector<Frame> Frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  std::vector<std::string> Log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  size_t LogLinesWith(const std::string& text) {
    const std::vector<std::string> log = Log();
    return static_cast<size_t>(std::count_if(log.begin(), log.end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    }));
  }
  std::string Status() { return Describe(capture_->Status()); }

  ScriptedVideoDevice* fake_ = nullptr;
  std::unique_ptr<Capture> capture_;
  std::mutex mu_;
  std::vector<Frame> frames_;
  std::vector<std::string> log_;
  // Runs on the capture thread after a frame is stored; set before Start().
  std::function<void(const Frame&)> on_frame_;
};

ScriptedCamera Formats(std::vector<uint32_t> formats) {
  ScriptedCamera camera;
  camera.formats = std::move(formats);
  return camera;
}

// --- configuration

TEST(CaptureDefaults, AreTheDocumentedProductionValues) {
  const CaptureConfig config;
  EXPECT_EQ(config.width, 640U);
  EXPECT_EQ(config.height, 480U);
  EXPECT_EQ(config.fps, 15U);
  EXPECT_EQ(config.format, PixelFormat::kAuto);
  EXPECT_EQ(config.timing.poll_timeout, 2s);
  EXPECT_EQ(config.timing.max_poll_timeouts, 2);
  EXPECT_EQ(config.timing.backoff_initial, 500ms);
  EXPECT_EQ(config.timing.backoff_max, 8s);
}

TEST(CaptureDefaults, ConfigurationsThatCannotWorkAreRefusedNamingTheValue) {
  auto make = [](CaptureConfig config) {
    Capture capture(std::move(config), std::make_unique<ScriptedVideoDevice>(), nullptr, nullptr);
  };
  CaptureConfig config = TestConfig();
  config.device = "";
  EXPECT_THROW(make(config), std::invalid_argument);
  config = TestConfig();
  config.width = 0;
  try {
    make(config);
    ADD_FAILURE() << "a zero width was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("width"));
  }
  config = TestConfig();
  config.fps = 0;
  EXPECT_THROW(make(config), std::invalid_argument);
  config = TestConfig();
  config.timing.backoff_max = 1ms;
  EXPECT_THROW(make(config), std::invalid_argument);
  EXPECT_THROW(Capture(TestConfig(), nullptr, nullptr, nullptr), std::invalid_argument);
}

// --- negotiation

TEST_F(CaptureTest, StreamsMjpegAndReportsWhatWasNegotiated) {
  Make();
  fake_->Push({ScriptEvent::GoodFrame(), ScriptEvent::GoodFrame(), ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(3)) << Status();

  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.state, "streaming");
  EXPECT_EQ(status.device, kDevice);
  EXPECT_EQ(status.driver, "scripted");
  EXPECT_EQ(status.card, "Scripted camera");
  EXPECT_EQ(status.format, PixelFormat::kMjpeg);
  EXPECT_EQ(status.width, 160U);
  EXPECT_EQ(status.height, 120U);
  EXPECT_EQ(status.bytes_per_line, 0U);
  EXPECT_DOUBLE_EQ(status.fps, 15.0);
  EXPECT_EQ(status.adjusted, "");
  EXPECT_EQ(status.buffers, kWishedBuffers);
  EXPECT_EQ(status.frames_captured, 3U);
  EXPECT_EQ(status.frames_dropped, 0U);
  EXPECT_EQ(status.reopen_attempts, 0U);
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(fake_->OpenedPath(), kDevice);
  EXPECT_EQ(fake_->Stats().last_asked_fourcc, V4L2_PIX_FMT_MJPEG);

  const std::vector<Frame> frames = Frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    const Frame& frame = frames[i];
    EXPECT_EQ(frame.format, PixelFormat::kMjpeg);
    EXPECT_EQ(frame.width, 160U);
    EXPECT_EQ(frame.height, 120U);
    EXPECT_EQ(frame.sequence, i + 1);
    ASSERT_GE(frame.data.size(), 4U);
    EXPECT_EQ(frame.data[0], 0xFF);
    EXPECT_EQ(frame.data[1], 0xD8);
    EXPECT_EQ(frame.data[frame.data.size() - 2], 0xFF);
    EXPECT_EQ(frame.data.back(), 0xD9);
    EXPECT_NE(frame.captured, SteadyClock::time_point());
  }
  EXPECT_EQ(LogLinesWith("streaming MJPG 160x120 at 15 fps, 4 buffers (scripted, Scripted camera)"),
            1U);
}

TEST_F(CaptureTest, AutoPrefersMjpegEvenWhenTheDriverListsYuyvFirst) {
  Make(Formats({V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_MJPEG}));
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(fake_->Stats().last_asked_fourcc, V4L2_PIX_FMT_MJPEG);
  EXPECT_EQ(capture_->Status().format, PixelFormat::kMjpeg);
  EXPECT_EQ(Frames()[0].format, PixelFormat::kMjpeg);
}

TEST_F(CaptureTest, AutoChoosesYuyvWhenThereIsNoMjpeg) {
  Make(Formats({V4L2_PIX_FMT_H264, V4L2_PIX_FMT_YUYV}));
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(fake_->Stats().last_asked_fourcc, V4L2_PIX_FMT_YUYV);
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.format, PixelFormat::kYuyv);
  EXPECT_EQ(status.bytes_per_line, 320U);
  EXPECT_EQ(status.adjusted, "");
  const Frame frame = Frames()[0];
  EXPECT_EQ(frame.format, PixelFormat::kYuyv);
  EXPECT_EQ(frame.bytes_per_line, 320U);
  EXPECT_EQ(frame.data.size(), 320U * 120U);
}

TEST_F(CaptureTest, AnOlderDriversJpegFourccIsMjpeg) {
  Make(Formats({V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_JPEG}));
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(fake_->Stats().last_asked_fourcc, V4L2_PIX_FMT_JPEG);
  EXPECT_EQ(capture_->Status().format, PixelFormat::kMjpeg);
}

TEST_F(CaptureTest, TheFormatAndSizeTheDriverChoseAreReadBackAndReported) {
  ScriptedCamera camera;
  camera.forced_format = V4L2_PIX_FMT_YUYV;  // whatever is asked
  camera.sizes = {{320, 240}};
  CaptureConfig config = TestConfig();
  config.width = 640;
  config.height = 480;
  config.format = PixelFormat::kMjpeg;
  Make(camera, config);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();

  EXPECT_EQ(fake_->Stats().last_asked_fourcc, V4L2_PIX_FMT_MJPEG);
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.format, PixelFormat::kYuyv);
  EXPECT_EQ(status.width, 320U);
  EXPECT_EQ(status.height, 240U);
  EXPECT_EQ(status.bytes_per_line, 640U);
  EXPECT_EQ(status.adjusted, "YUYV instead of MJPEG; 320x240 instead of 640x480");
  const Frame frame = Frames()[0];
  EXPECT_EQ(frame.format, PixelFormat::kYuyv);
  EXPECT_EQ(frame.width, 320U);
  EXPECT_EQ(frame.height, 240U);
  EXPECT_EQ(frame.data.size(), 640U * 240U);
  EXPECT_EQ(LogLinesWith("the driver chose YUYV instead of MJPEG; 320x240 instead of 640x480"), 1U);
}

TEST_F(CaptureTest, PaddedYuyvLinesKeepTheDriversStride) {
  ScriptedCamera camera = Formats({V4L2_PIX_FMT_YUYV});
  camera.line_padding = 64;
  Make(camera);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  const Frame frame = Frames()[0];
  EXPECT_EQ(frame.bytes_per_line, 160U * 2 + 64);
  EXPECT_EQ(frame.data.size(), (160U * 2 + 64) * 120);
}

TEST_F(CaptureTest, AYuyvFrameWithoutTheLastLinesPaddingIsUsed) {
  ScriptedCamera camera = Formats({V4L2_PIX_FMT_YUYV});
  camera.line_padding = 64;
  Make(camera);
  constexpr size_t kStride = 160 * 2 + 64;
  constexpr size_t kPicture = kStride * (120 - 1) + 160 * 2;  // the last line unpadded
  fake_->Push({ScriptEvent::Truncated(kPicture), ScriptEvent::Truncated(kPicture - 1)});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.frames_dropped == 1; }))
      << Status();
  const Frame frame = Frames()[0];
  EXPECT_EQ(frame.bytes_per_line, kStride);
  EXPECT_EQ(frame.data.size(), kPicture);
  EXPECT_EQ(capture_->Status().last_drop_reason,
            "short YUYV frame: " + std::to_string(kPicture - 1) + " of " +
                std::to_string(kPicture) + " bytes");
  // All the encoder needs.
  JpegEncoder encoder;
  const std::vector<uint8_t> jpeg =
      encoder.EncodeYuyv(frame.data, frame.width, frame.height, frame.bytes_per_line, 75);
  EXPECT_EQ(CompleteJpegLength(jpeg), jpeg.size());
}

TEST_F(CaptureTest, AFrameRateTheDriverCannotDoIsReadBack) {
  ScriptedCamera camera;
  camera.max_fps = 10;
  Make(camera);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_DOUBLE_EQ(capture_->Status().fps, 10.0);
  EXPECT_EQ(capture_->Status().adjusted, "10 fps instead of 15");
}

TEST_F(CaptureTest, ADriverWithoutFrameRatesStillStreams) {
  ScriptedCamera camera;
  camera.frame_rates = false;
  Make(camera);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(capture_->Status().fps, 0.0);
  EXPECT_EQ(capture_->Status().adjusted, "");
}

TEST_F(CaptureTest, ADriverWithoutDeviceCapsIsJudgedByItsCapabilities) {
  ScriptedCamera camera;
  camera.reports_device_caps = false;
  Make(camera);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
}

TEST_F(CaptureTest, AMetadataNodeIsRefusedSayingSo) {
  ScriptedCamera camera;
  camera.device_caps = V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING;
  Make(camera);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return !s.last_error.empty(); }));
  EXPECT_THAT(capture_->Status().last_error,
              AllOf(HasSubstr(kDevice), HasSubstr("not a video capture device"),
                    HasSubstr("metadata node")));
}

TEST_F(CaptureTest, ADeviceWithoutStreamingIsRefused) {
  ScriptedCamera camera;
  camera.device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_READWRITE;
  Make(camera);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return !s.last_error.empty(); }));
  EXPECT_THAT(capture_->Status().last_error, HasSubstr("does not support streaming I/O"));
}

TEST_F(CaptureTest, AnUnsupportedFormatIsAClearErrorListingWhatIsOffered) {
  Make(Formats({V4L2_PIX_FMT_H264, V4L2_PIX_FMT_NV12}));
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.reopen_attempts >= 2; }));
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.last_error, "the camera offers neither MJPEG nor YUYV (it offers H264, NV12)");
  EXPECT_EQ(status.frames_captured, 0U);
  // Logged once, not at every retry.
  EXPECT_EQ(LogLinesWith("neither MJPEG nor YUYV"), 1U);
}

TEST_F(CaptureTest, AFormatAskedForThatIsNotOfferedIsAnError) {
  CaptureConfig config = TestConfig();
  config.format = PixelFormat::kMjpeg;
  Make(Formats({V4L2_PIX_FMT_YUYV}), config);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return !s.last_error.empty(); }));
  EXPECT_EQ(capture_->Status().last_error, "the camera does not offer MJPEG (it offers YUYV)");
}

TEST_F(CaptureTest, AnUnusableFormatTheDriverSwitchesToIsAnErrorNamingItsFourcc) {
  ScriptedCamera camera = Formats({V4L2_PIX_FMT_MJPEG});
  camera.forced_format = V4L2_PIX_FMT_H264;
  Make(camera);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return !s.last_error.empty(); }));
  EXPECT_EQ(capture_->Status().last_error,
            "asked for MJPG, the driver chose H264, which is neither MJPEG nor YUYV");
}

// --- buffers

TEST_F(CaptureTest, TwoBuffersGrantedAreEnough) {
  ScriptedCamera camera;
  camera.max_buffers = 2;
  Make(camera);
  fake_->Push(std::vector<ScriptEvent>(200, ScriptEvent::GoodFrame()));
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(200)) << Status();
  EXPECT_EQ(capture_->Status().buffers, 2U);
  EXPECT_EQ(capture_->Status().frames_dropped, 0U);
}

TEST_F(CaptureTest, OneBufferGrantedIsAnErrorAndEverythingIsReleased) {
  ScriptedCamera camera;
  camera.max_buffers = 1;
  Make(camera);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.reopen_attempts >= 2; }));
  EXPECT_EQ(capture_->Status().last_error,
            "VIDIOC_REQBUFS granted 1 buffer(s) of 4 asked; capture needs at least 2");
  EXPECT_EQ(capture_->Status().state, "reopening");
  EXPECT_EQ(fake_->Stats().streamons, 0);
  // Each attempt gave its buffer back (REQBUFS(0)); TearDown checks the rest.
  EXPECT_GE(fake_->Stats().free_requests, 2);
}

TEST_F(CaptureTest, MoreBuffersThanAskedAreAllUsed) {
  ScriptedCamera camera;
  camera.min_buffers = 6;
  Make(camera);
  fake_->Push(std::vector<ScriptEvent>(20, ScriptEvent::GoodFrame()));
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(20)) << Status();
  EXPECT_EQ(capture_->Status().buffers, 6U);
}

TEST_F(CaptureTest, EveryBufferIsQueuedAgainOverAThousandFrames) {
  Make();
  constexpr size_t kFrames = 1000;
  const std::vector<uint8_t> jpeg = TestJpeg(160, 120);
  std::vector<std::vector<uint8_t>> sent;
  std::vector<ScriptEvent> script;
  for (size_t i = 0; i < kFrames; ++i) {
    sent.push_back(Numbered(jpeg, i, i % 50));
    script.push_back(ScriptEvent::FrameOf(sent.back()));
  }
  fake_->Push(script);
  // The buffer is the driver's again before the sink sees the frame.
  auto most_held_in_sink = std::make_shared<std::atomic<unsigned>>(0);
  on_frame_ = [fake = fake_, most_held_in_sink](const Frame&) {
    *most_held_in_sink = std::max(most_held_in_sink->load(), fake->Stats().held);
  };
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(kFrames)) << Status();
  EXPECT_EQ(most_held_in_sink->load(), 0U);

  const std::vector<Frame> frames = Frames();
  ASSERT_EQ(frames.size(), kFrames);
  for (size_t i = 0; i < kFrames; ++i) {
    ASSERT_EQ(frames[i].sequence, i + 1);
    ASSERT_EQ(frames[i].data, sent[i]) << "frame " << i;
  }
  const ScriptedStats stats = fake_->Stats();
  EXPECT_EQ(stats.frames_filled, static_cast<int>(kFrames));
  EXPECT_EQ(stats.frames_lost, 0);
  EXPECT_LE(stats.max_held, 1U);  // one buffer at a time, only while copying
  EXPECT_EQ(capture_->Status().frames_captured, kFrames);
  EXPECT_EQ(capture_->Status().reopen_attempts, 0U);
  EXPECT_GT(capture_->Status().measured_fps, 0.0);
}

// --- waiting for frames

TEST_F(CaptureTest, EagainAfterPollMeansPollAgain) {
  Make();
  fake_->Push({ScriptEvent::Eagain(), ScriptEvent::GoodFrame(), ScriptEvent::Eagain(),
               ScriptEvent::Eagain(), ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(2)) << Status();
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.frames_dropped, 0U);
  EXPECT_EQ(status.poll_timeouts, 0U);
  EXPECT_EQ(status.reopen_attempts, 0U);
  EXPECT_EQ(status.state, "streaming");
}

TEST_F(CaptureTest, OnePollTimeoutIsToleratedTwoInARowReopen) {
  CaptureConfig config = TestConfig();
  config.timing.poll_timeout = 20ms;
  Make({}, config);
  // Frames flow whenever the script is empty, so the only silences are
  // the scripted ones.
  fake_->StreamWhenIdle(2ms);
  fake_->Push({ScriptEvent::GoodFrame(), ScriptEvent::PollTimeout(), ScriptEvent::GoodFrame(),
               ScriptEvent::PollTimeout(), ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitUntil([&] { return fake_->ScriptLeft() == 0 && FrameCount() >= 4; }));
  EXPECT_EQ(capture_->Status().poll_timeouts, 2U);
  EXPECT_EQ(capture_->Status().reopen_attempts, 0U);

  fake_->Push({ScriptEvent::PollTimeout(), ScriptEvent::PollTimeout()});
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) {
    return s.reopen_attempts == 1 && s.state == "streaming";
  })) << Status();
  const size_t frames = FrameCount();
  ASSERT_TRUE(WaitForFrames(frames + 5)) << Status();
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.poll_timeouts, 4U);
  EXPECT_EQ(status.reopen_attempts, 1U);
  EXPECT_EQ(status.last_error, "no frame for 40 ms (2 poll timeouts in a row)");
  EXPECT_EQ(fake_->Stats().streamons, 2);
  EXPECT_EQ(fake_->Stats().streamoffs, 1);
}

TEST_F(CaptureTest, ASilentCameraIsReopenedAgainAndAgain) {
  CaptureConfig config = TestConfig();
  config.timing.poll_timeout = 10ms;
  Make({}, config);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.reopen_attempts >= 3; }));
  EXPECT_GE(fake_->Stats().streamons, 3);
  // Logged once: a camera that never delivers is one piece of news.
  EXPECT_EQ(LogLinesWith("poll timeouts in a row"), 1U);
  EXPECT_EQ(LogLinesWith("streaming MJPG"), 1U);
}

// --- bad frames

TEST_F(CaptureTest, ErrorFlaggedTruncatedAndEmptyFramesAreDroppedAndCounted) {
  Make();
  std::vector<uint8_t> not_jpeg(300, 0x11);
  fake_->Push({ScriptEvent::ErrorFrame(), ScriptEvent::GoodFrame(), ScriptEvent::Empty(),
               ScriptEvent::FrameOf(not_jpeg), ScriptEvent::Truncated(400),
               ScriptEvent::Truncated(60), ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(2)) << Status();
  ASSERT_TRUE(WaitUntil([&] { return fake_->ScriptLeft() == 0; }));
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.frames_captured, 2U);
  EXPECT_EQ(status.frames_dropped, 5U);
  EXPECT_EQ(status.last_drop_reason, "truncated JPEG: 60 bytes");
  EXPECT_EQ(status.reopen_attempts, 0U);
  EXPECT_EQ(Frames()[1].sequence, 2U);  // dropped frames take no sequence number

  EXPECT_EQ(
      LogLinesWith("dropped a frame: corrupt frame: the driver flagged it V4L2_BUF_FLAG_ERROR"),
      1U);
  EXPECT_EQ(LogLinesWith("dropped a frame: empty frame: bytesused 0"), 1U);
  EXPECT_EQ(LogLinesWith("dropped a frame: not a JPEG: no FFD8 start marker"), 1U);
  EXPECT_EQ(LogLinesWith("dropped a frame: truncated JPEG: no FFD9 end marker after its scan in "
                         "400 bytes"),
            1U);
  // The second truncated frame within kDropLogInterval is only counted.
  EXPECT_EQ(LogLinesWith("truncated JPEG: 60 bytes"), 0U);
}

// A torn frame is well formed JPEG on the outside; only the driver's
// record of the buffer shows that it was written while being read.
TEST_F(CaptureTest, AFrameTheDriverRefilledWhileItWasReadIsDropped) {
  const std::vector<uint8_t> picture = TestJpeg(160, 120);
  ScriptedCamera camera;
  camera.sizes = {{160, 120}};
  camera.mjpeg_source = [&picture](unsigned, unsigned, uint32_t sequence) {
    return Numbered(picture, sequence, 0);
  };
  Make(camera);
  fake_->Push({ScriptEvent::GoodFrame(), ScriptEvent::OverwrittenWhileRead(),
               ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(2)) << Status();
  ASSERT_TRUE(WaitUntil([&] { return fake_->ScriptLeft() == 0; }));
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.frames_captured, 2U);
  EXPECT_EQ(status.frames_dropped, 1U);
  EXPECT_THAT(status.last_drop_reason, HasSubstr("overwritten while read: the driver refilled "
                                                 "buffer"));
  EXPECT_THAT(status.last_drop_reason, HasSubstr("(frame 1, now 2)"));
  EXPECT_EQ(LogLinesWith("dropped a frame: overwritten while read"), 1U);
  const std::vector<Frame> frames = Frames();
  EXPECT_EQ(frames[0].data, Numbered(picture, 0, 0));
  // Frame 2 went into the torn buffer; the next one is whole.
  EXPECT_EQ(frames[1].data, Numbered(picture, 3, 0));
}

// v4l2loopback writes a buffer's record after its bytes; a writer
// preempted in between leaves a torn frame whose record, checked right
// after the copy, still looks untouched. From that driver a frame is
// handed on only once the driver has its next frame (or goes quiet), when
// the record has caught up.
// A cut frame over an older frame's tail, under the older frame's record:
// every marker and record check passes, and only decoding finds it. From a
// loopback feed, frames are decoded before they are handed on.
TEST_F(CaptureTest, ALoopbackFrameThatDoesNotDecodeIsDropped) {
  const std::vector<uint8_t> picture = TestJpeg(160, 120);
  // Another picture of the same size and headers: other pixels.
  std::vector<uint8_t> yuyv(size_t{160} * 120 * 2, 128);
  for (size_t i = 0; i < yuyv.size(); i += 2) yuyv[i] = static_cast<uint8_t>((i / 2 / 160) * 2);
  const std::vector<uint8_t> other = JpegEncoder().EncodeYuyv(yuyv, 160, 120, 320, 75);
  std::vector<uint8_t> spliced(other.begin(), other.begin() + static_cast<long>(other.size() * 3 / 5));
  spliced.insert(spliced.end(), picture.begin() + static_cast<long>(spliced.size()), picture.end());
  ASSERT_GT(CompleteJpegLength(spliced), 0U) << "the markers must not give it away";
  ScriptedCamera camera;
  camera.driver = "v4l2 loopback";
  camera.max_buffers = 8;
  camera.sizes = {{160, 120}};
  camera.mjpeg_source = [&picture](unsigned, unsigned, uint32_t) { return picture; };
  CaptureConfig config = TestConfig();
  config.timing.poll_timeout = 100ms;
  config.timing.max_poll_timeouts = 1000;
  Make(camera, config);
  fake_->Push({ScriptEvent::FrameOf(spliced), ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  ASSERT_TRUE(WaitUntil([&] { return fake_->ScriptLeft() == 0; }));
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.frames_dropped, 1U);
  EXPECT_THAT(status.last_drop_reason, HasSubstr("corrupt frame: it does not decode"));
  EXPECT_EQ(Frames()[0].data, picture);
}

TEST_F(CaptureTest, ALoopbackFrameWhoseRecordCameLateIsDropped) {
  const std::vector<uint8_t> picture = TestJpeg(160, 120);
  ScriptedCamera camera;
  camera.driver = "v4l2 loopback";
  camera.max_buffers = 8;  // its max_buffers module parameter
  camera.sizes = {{160, 120}};
  camera.mjpeg_source = [&picture](unsigned, unsigned, uint32_t sequence) {
    return Numbered(picture, sequence, 0);
  };
  // Quiet after the script: a short poll timeout, never taken for a stall.
  CaptureConfig config = TestConfig();
  config.timing.poll_timeout = 100ms;
  config.timing.max_poll_timeouts = 1000;
  Make(camera, config);
  fake_->Push({ScriptEvent::GoodFrame(), ScriptEvent::TornWithLateRecord(),
               ScriptEvent::GoodFrame()});
  capture_->Start();
  // The last frame is handed on when the driver goes quiet (a poll timeout).
  ASSERT_TRUE(WaitForFrames(2)) << Status();
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.frames_captured, 2U);
  EXPECT_EQ(status.frames_dropped, 1U);
  EXPECT_THAT(status.last_drop_reason, HasSubstr("(frame 1, now 2)"));
  // Every buffer it has: asking fewer breaks its ring (see capture.cc).
  EXPECT_EQ(status.buffers, 8U);
  const std::vector<Frame> frames = Frames();
  EXPECT_EQ(frames[0].data, Numbered(picture, 0, 0));
  EXPECT_EQ(frames[1].data, Numbered(picture, 3, 0));
}

TEST_F(CaptureTest, AShortYuyvFrameIsDropped) {
  Make(Formats({V4L2_PIX_FMT_YUYV}));
  fake_->Push({ScriptEvent::Truncated(1000), ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(capture_->Status().frames_dropped, 1U);
  EXPECT_EQ(capture_->Status().last_drop_reason, "short YUYV frame: 1000 of 38400 bytes");
}

TEST_F(CaptureTest, ATooLargeFrameTheDriverCutAndFlaggedIsDropped) {
  Make();
  fake_->Push({ScriptEvent::FrameOf(ScriptedVideoDevice::JpegFrame(160 * 120 + 1, 0x22)),
               ScriptEvent::GoodFrame()});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(capture_->Status().frames_dropped, 1U);
  EXPECT_THAT(capture_->Status().last_drop_reason, HasSubstr("V4L2_BUF_FLAG_ERROR"));
}

TEST_F(CaptureTest, BytesAfterTheJpegEndMarkerAreCutOff) {
  Make();
  const std::vector<uint8_t> jpeg = TestJpeg(160, 120);
  std::vector<uint8_t> padded = jpeg;
  padded.insert(padded.end(), 100, 0x00);
  // Over what an older, longer frame left in the buffer: the rest of its
  // scan data and its end marker.
  std::vector<uint8_t> over_older = Numbered(jpeg, 1, 500);
  std::copy(jpeg.begin(), jpeg.end(), over_older.begin());
  fake_->Push({ScriptEvent::FrameOf(padded), ScriptEvent::FrameOf(over_older)});
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(2)) << Status();
  EXPECT_EQ(Frames()[0].data, jpeg);
  EXPECT_EQ(Frames()[1].data, jpeg);
}

// --- failures and reopening

TEST_F(CaptureTest, UnpluggedMidStreamReopensWithBackoffUntilTheCameraIsBack) {
  Make();
  fake_->StreamWhenIdle(2ms);
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(3)) << Status();
  const auto unplugged = SteadyClock::now();
  fake_->Push(ScriptEvent::Unplug(kUntilReplug));

  // 5, 10, 20, 20 ms: at the fourth wait the backoff is at its maximum.
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) {
    return s.state == "reopening" && s.reopen_attempts >= 4 && s.retry_in == 20ms;
  })) << Status();
  EXPECT_GE(SteadyClock::now() - unplugged, 5ms + 10ms + 20ms);
  CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.last_error,
            std::string("cannot open ") + kDevice + ": No such file or directory");
  EXPECT_EQ(LogLinesWith("waiting for a frame failed: No such device; retrying in 5 ms"), 1U);
  EXPECT_EQ(LogLinesWith("No such file or directory; retrying in 10 ms"), 1U);
  EXPECT_EQ(LogLinesWith("No such file or directory"), 1U);  // once, not at every attempt
  EXPECT_EQ(status.measured_fps, 0.0);

  const size_t frames = FrameCount();
  fake_->Replug();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.state == "streaming"; }));
  ASSERT_TRUE(WaitForFrames(frames + 3)) << Status();
  status = capture_->Status();
  EXPECT_EQ(status.retry_in, 0ms);
  EXPECT_GE(fake_->Stats().failed_opens, 3);
  EXPECT_EQ(fake_->Stats().opens, 2);
  EXPECT_EQ(status.reopen_attempts, static_cast<uint64_t>(fake_->Stats().failed_opens) + 1);
  EXPECT_EQ(LogLinesWith("streaming MJPG"), 2U);
}

TEST_F(CaptureTest, AQueueErrorMidStreamReopens) {
  Make();
  fake_->StreamWhenIdle(2ms);
  fake_->Push({ScriptEvent::GoodFrame(), ScriptEvent::IoError()});
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) {
    return s.reopen_attempts == 1 && s.state == "streaming";
  })) << Status();
  EXPECT_EQ(capture_->Status().last_error, "VIDIOC_DQBUF failed: Input/output error");
  const size_t frames = FrameCount();
  ASSERT_TRUE(WaitForFrames(frames + 3)) << Status();
}

TEST_F(CaptureTest, AFailedStreamOnIsRetriedAfterReleasingEverything) {
  Make();
  // uvcvideo answers ENOSPC when the USB bus has no bandwidth left.
  fake_->FailNext(VIDIOC_STREAMON, ENOSPC);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(capture_->Status().last_error, "VIDIOC_STREAMON failed: No space left on device");
  EXPECT_EQ(capture_->Status().reopen_attempts, 1U);
  EXPECT_EQ(fake_->Stats().opens, 2);
}

TEST_F(CaptureTest, AnAbsentDeviceIsRetriedUntilItAppears) {
  Make();
  fake_->SetAbsent(3);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  const CaptureStatus status = capture_->Status();
  EXPECT_EQ(status.state, "streaming");
  EXPECT_EQ(status.reopen_attempts, 3U);
  EXPECT_EQ(fake_->Stats().failed_opens, 3);
  EXPECT_EQ(LogLinesWith("cannot open"), 1U);
}

TEST_F(CaptureTest, ANodeThatMayNotBeOpenedSaysWhatToDo) {
  Make();
  fake_->SetAbsent(kUntilReplug, EACCES);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return !s.last_error.empty(); }));
  EXPECT_EQ(capture_->Status().last_error,
            std::string("cannot open ") + kDevice +
                ": Permission denied (the service's user must be in the video group)");
}

TEST_F(CaptureTest, ACameraBusyWithAnotherProgramSaysSo) {
  Make();
  fake_->FailNext(VIDIOC_S_FMT, EBUSY);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  EXPECT_EQ(capture_->Status().last_error,
            "VIDIOC_S_FMT failed: Device or resource busy (is another program capturing from it?)");
}

TEST_F(CaptureTest, TheBackoffDoublesUpToItsMaximum) {
  CaptureConfig config = TestConfig();
  config.timing.backoff_initial = 10ms;
  config.timing.backoff_max = 40ms;
  Make({}, config);
  fake_->SetAbsent(kUntilReplug);
  const auto started = SteadyClock::now();
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.reopen_attempts >= 5; }));
  // Waited 10 + 20 + 40 + 40 + 40 ms at least before the fifth attempt.
  EXPECT_GE(SteadyClock::now() - started, 150ms);
  const std::optional<CaptureStatus> waiting =
      StatusWhen([](const CaptureStatus& s) { return s.retry_in > 0ms; });
  ASSERT_TRUE(waiting.has_value()) << Status();
  EXPECT_EQ(waiting->state, "reopening");
  EXPECT_EQ(waiting->retry_in, 40ms);
}

// --- starting and stopping

TEST_F(CaptureTest, StopDuringABackoffReturnsPromptly) {
  CaptureConfig config = TestConfig();
  config.timing.backoff_initial = 60s;
  config.timing.backoff_max = 60s;
  Make({}, config);
  fake_->SetAbsent(kUntilReplug);
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.retry_in == 60s; }));
  const auto stopping = SteadyClock::now();
  capture_->Stop();
  EXPECT_LT(SteadyClock::now() - stopping, kPromptStop);
  EXPECT_EQ(capture_->Status().state, "stopped");
}

TEST_F(CaptureTest, StopDuringAPollReturnsPromptly) {
  CaptureConfig config = TestConfig();
  config.timing.poll_timeout = 60s;
  Make({}, config);
  fake_->Push(ScriptEvent::GoodFrame());
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(1)) << Status();
  ASSERT_TRUE(WaitUntil([&] { return fake_->WaitingInPoll(); }));
  const auto stopping = SteadyClock::now();
  capture_->Stop();
  EXPECT_LT(SteadyClock::now() - stopping, kPromptStop);
  EXPECT_EQ(capture_->Status().state, "stopped");
  EXPECT_EQ(fake_->Stats().streamoffs, 1);
  EXPECT_EQ(fake_->Stats().free_requests, 1);
}

TEST_F(CaptureTest, StartAndStopAreIdempotentAndRepeatable) {
  Make();
  fake_->StreamWhenIdle(2ms);
  capture_->Stop();  // before any Start
  constexpr int kRounds = 5;
  for (int round = 1; round <= kRounds; ++round) {
    capture_->Start();
    capture_->Start();
    const size_t frames = FrameCount();
    ASSERT_TRUE(WaitForFrames(frames + 3)) << "round " << round << ": " << Status();
    capture_->Stop();
    capture_->Stop();
    EXPECT_EQ(capture_->Status().state, "stopped");
    const ScriptedStats stats = fake_->Stats();
    EXPECT_EQ(stats.opens, round);
    EXPECT_EQ(stats.streamoffs, round);
    EXPECT_EQ(stats.free_requests, round);
    EXPECT_EQ(stats.open_fds, 0);
    EXPECT_EQ(stats.mappings, 0);
  }
  // Sequence numbers keep counting across sessions.
  const std::vector<Frame> frames = Frames();
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].sequence, i + 1);
  EXPECT_EQ(capture_->Status().reopen_attempts, 0U);
}

TEST_F(CaptureTest, StopFromTheSinkEndsTheCaptureAndStartWorksAgain) {
  Make();
  fake_->StreamWhenIdle(2ms);
  on_frame_ = [this](const Frame& frame) {
    if (frame.sequence == 3) capture_->Stop();
  };
  capture_->Start();
  ASSERT_TRUE(WaitForStatus([](const CaptureStatus& s) { return s.state == "stopped"; }))
      << Status();
  EXPECT_EQ(FrameCount(), 3U);
  EXPECT_EQ(fake_->Stats().open_fds, 0);
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(6)) << Status();
}

TEST_F(CaptureTest, AThrowingSinkNeitherStopsTheCaptureNorFloodsTheLog) {
  Make();
  fake_->StreamWhenIdle(2ms);
  on_frame_ = [](const Frame&) { throw std::runtime_error("no room"); };
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(10)) << Status();
  EXPECT_EQ(capture_->Status().state, "streaming");
  EXPECT_EQ(capture_->Status().reopen_attempts, 0U);
  EXPECT_EQ(LogLinesWith("the frame consumer failed: no room"), 1U);
}

TEST_F(CaptureTest, MeasuredFpsFollowsTheCamerasPace) {
  Make();
  fake_->StreamWhenIdle(20ms);  // at most 50 fps: the fake waits at least that long
  capture_->Start();
  ASSERT_TRUE(WaitForFrames(10)) << Status();
  const double fps = capture_->Status().measured_fps;
  EXPECT_GT(fps, 0.0);
  EXPECT_LE(fps, 55.0);
}

// --- the real system calls, on what the build machine has instead of a camera

TEST(LinuxVideoDevice, OpensAndIoctlsReportErrno) {
  const std::unique_ptr<VideoDevice> device = MakeLinuxVideoDevice();
  EXPECT_EQ(device->Open("/nonexistent/video0"), -ENOENT);
  const int fd = device->Open("/dev/null");
  ASSERT_GE(fd, 0);
  v4l2_capability caps{};
  EXPECT_EQ(device->Ioctl(fd, VIDIOC_QUERYCAP, &caps), -ENOTTY);
  device->Close(fd);
}

TEST(LinuxVideoDevice, PollReportsReadyWokenTimedOutAndHungUp) {
  const std::unique_ptr<VideoDevice> device = MakeLinuxVideoDevice();
  int pipe[2];
  ASSERT_EQ(::pipe2(pipe, O_CLOEXEC | O_NONBLOCK), 0);
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(wake, 0);
  EXPECT_EQ(device->Poll(pipe[0], wake, 10), kPollTimedOut);
  ASSERT_EQ(::write(pipe[1], "x", 1), 1);
  EXPECT_EQ(device->Poll(pipe[0], wake, 10000), kPollReady);
  const uint64_t one = 1;
  ASSERT_EQ(::write(wake, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  EXPECT_EQ(device->Poll(pipe[0], wake, 10000), kPollWoken);  // wins over a ready frame
  uint64_t drained;
  ASSERT_EQ(::read(wake, &drained, sizeof drained), static_cast<ssize_t>(sizeof drained));
  char byte;
  ASSERT_EQ(::read(pipe[0], &byte, 1), 1);
  ::close(pipe[1]);
  EXPECT_EQ(device->Poll(pipe[0], wake, 10000), -ENODEV);  // POLLHUP, as an unplug
  ::close(pipe[0]);
  ::close(wake);
}

TEST(LinuxVideoDevice, MapsSharedMemory) {
  const std::unique_ptr<VideoDevice> device = MakeLinuxVideoDevice();
  const int fd = ::memfd_create("domian-capture-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  void* address = device->Map(fd, 4096, 0);
  ASSERT_NE(address, nullptr);
  static_cast<uint8_t*>(address)[4095] = 0x5A;
  device->Unmap(address, 4096);
  EXPECT_EQ(device->Map(-1, 4096, 0), nullptr);
  EXPECT_EQ(errno, EBADF);
  ::close(fd);
}

TEST(CaptureOnLinux, ANodeThatIsNotAVideoDeviceIsReportedAndRetried) {
  CaptureConfig config = TestConfig();
  config.device = "/dev/null";
  Capture capture(config, MakeLinuxVideoDevice(), nullptr, nullptr);
  capture.Start();
  const auto deadline = SteadyClock::now() + kPatience;
  while (capture.Status().reopen_attempts < 2 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  const CaptureStatus status = capture.Status();
  EXPECT_GE(status.reopen_attempts, 2U);
  EXPECT_EQ(status.last_error, "VIDIOC_QUERYCAP failed: Inappropriate ioctl for device");
  capture.Stop();
  EXPECT_EQ(capture.Status().state, "stopped");
}

// --- the scripted driver itself

// Drives the fake the way a capture program does, step by step.
class ScriptedDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(wake_fd_, 0);
    fd_ = fake_.Open(kDevice);
    ASSERT_GE(fd_, 0);
    v4l2_format format{};
    format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    format.fmt.pix.width = 160;
    format.fmt.pix.height = 120;
    format.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
    ASSERT_EQ(fake_.Ioctl(fd_, VIDIOC_S_FMT, &format), 0);
    v4l2_requestbuffers request{};
    request.count = 2;
    request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    request.memory = V4L2_MEMORY_MMAP;
    ASSERT_EQ(fake_.Ioctl(fd_, VIDIOC_REQBUFS, &request), 0);
    ASSERT_EQ(request.count, 2U);
    for (uint32_t index = 0; index < 2; ++index) {
      v4l2_buffer buffer = Buffer(index);
      ASSERT_EQ(fake_.Ioctl(fd_, VIDIOC_QUERYBUF, &buffer), 0);
      void* address = fake_.Map(fd_, buffer.length, static_cast<off_t>(buffer.m.offset));
      ASSERT_NE(address, nullptr);
      maps_.push_back({address, buffer.length});
    }
  }
  void TearDown() override { ::close(wake_fd_); }

  static v4l2_buffer Buffer(uint32_t index) {
    v4l2_buffer buffer{};
    buffer.index = index;
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    return buffer;
  }
  int Queue(uint32_t index) {
    v4l2_buffer buffer = Buffer(index);
    return fake_.Ioctl(fd_, VIDIOC_QBUF, &buffer);
  }
  int Dequeue() {
    v4l2_buffer buffer = Buffer(0);
    return fake_.Ioctl(fd_, VIDIOC_DQBUF, &buffer);
  }
  int StreamOn() {
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    return fake_.Ioctl(fd_, VIDIOC_STREAMON, &type);
  }
  int StreamOff() {
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    return fake_.Ioctl(fd_, VIDIOC_STREAMOFF, &type);
  }
  void Release() {
    ASSERT_EQ(StreamOff(), 0);
    for (const auto& [address, length] : maps_) fake_.Unmap(address, length);
    v4l2_requestbuffers request{};
    request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    request.memory = V4L2_MEMORY_MMAP;
    ASSERT_EQ(fake_.Ioctl(fd_, VIDIOC_REQBUFS, &request), 0);
    fake_.Close(fd_);
  }

  ScriptedVideoDevice fake_;
  int wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int fd_ = -1;
  std::vector<std::pair<void*, size_t>> maps_;
};

TEST_F(ScriptedDriver, StallsLikeHardwareWhenTheApplicationHoldsEveryBuffer) {
  ASSERT_EQ(Queue(0), 0);
  ASSERT_EQ(Queue(1), 0);
  ASSERT_EQ(StreamOn(), 0);
  fake_.Push({ScriptEvent::GoodFrame(), ScriptEvent::GoodFrame(), ScriptEvent::GoodFrame()});
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(fake_.Poll(fd_, wake_fd_, 1000), kPollReady);
    ASSERT_EQ(Dequeue(), 0);  // and never queued again
  }
  EXPECT_EQ(fake_.Poll(fd_, wake_fd_, 20), kPollTimedOut);
  EXPECT_EQ(fake_.Stats().frames_lost, 1);
  EXPECT_EQ(fake_.Stats().held, 2U);
  EXPECT_EQ(Dequeue(), -EAGAIN);
  Release();
  EXPECT_THAT(fake_.Misuses(), IsEmpty());
}

TEST_F(ScriptedDriver, RefusesWhatTheKernelRefuses) {
  EXPECT_EQ(Dequeue(), -EINVAL);                // not streaming yet
  EXPECT_EQ(fake_.Map(fd_, 4096, 0), nullptr);  // an offset no buffer has
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(Queue(0), 0);
  EXPECT_EQ(Queue(0), -EINVAL);  // already queued
  ASSERT_EQ(StreamOn(), 0);
  v4l2_requestbuffers request{};
  request.count = 4;
  request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  request.memory = V4L2_MEMORY_MMAP;
  EXPECT_EQ(fake_.Ioctl(fd_, VIDIOC_REQBUFS, &request), -EBUSY);  // while streaming
  ASSERT_EQ(StreamOff(), 0);
  EXPECT_EQ(Dequeue(), -EINVAL);  // after STREAMOFF
  request.count = 0;
  EXPECT_EQ(fake_.Ioctl(fd_, VIDIOC_REQBUFS, &request), -EBUSY);  // still mapped
  EXPECT_EQ(fake_.Poll(fd_, wake_fd_, 1000), -EIO);               // POLLERR: not streaming
  Release();
  EXPECT_THAT(fake_.Misuses(),
              ::testing::ElementsAre(
                  HasSubstr("DQBUF while not streaming"), HasSubstr("mmap of offset 0"),
                  HasSubstr("QBUF of buffer 0, which the driver has"),
                  HasSubstr("REQBUFS while streaming"), HasSubstr("DQBUF while not streaming"),
                  HasSubstr("REQBUFS(0) while buffers are mapped")));
}

TEST_F(ScriptedDriver, AnUnpluggedCameraFailsEveryCallAndIsAbsentForAWhile) {
  ASSERT_EQ(Queue(0), 0);
  ASSERT_EQ(Queue(1), 0);
  ASSERT_EQ(StreamOn(), 0);
  fake_.Push(ScriptEvent::Unplug(1));
  EXPECT_EQ(fake_.Poll(fd_, wake_fd_, 1000), -ENODEV);
  EXPECT_EQ(Dequeue(), -ENODEV);
  EXPECT_EQ(StreamOff(), -ENODEV);
  for (const auto& [address, length] : maps_) fake_.Unmap(address, length);
  fake_.Close(fd_);
  EXPECT_EQ(fake_.Open(kDevice), -ENOENT);
  const int fd = fake_.Open(kDevice);
  EXPECT_GE(fd, 0);
  fake_.Close(fd);
  EXPECT_THAT(fake_.Misuses(), IsEmpty());
}

TEST_F(ScriptedDriver, APollIsWokenByTheWakeFd) {
  ASSERT_EQ(Queue(0), 0);
  ASSERT_EQ(StreamOn(), 0);
  const uint64_t one = 1;
  ASSERT_EQ(::write(wake_fd_, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  EXPECT_EQ(fake_.Poll(fd_, wake_fd_, 60000), kPollWoken);
  Release();
}

}  // namespace
}  // namespace domian::camera
