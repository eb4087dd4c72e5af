// The camera plugin in a real domiand, on the scripted V4L2 driver (its
// test build: plugins/camera/scripted_camera_plugin.cc), watched over real
// HTTP on 127.0.0.1: snapshots and stream parts must decode as JPEGs with
// libjpeg-turbo here, and a slow client must not slow a fast one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <sstream>

#include "tests/support/cluster.h"
#include "tests/support/mjpeg_client.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr auto kSettle = 30s;
const std::filesystem::path kScriptedCamera = DOMIAN_SCRIPTED_CAMERA_DIR;

class Camera : public ::testing::Test {
 protected:
  void Start(const std::string& config) {
    MakePluginFolder(dir_.path() / "plugins", kScriptedCamera, {"camera"});
    Daemon::Options options{.id = "porch"};
    options.traits = {"camera"};
    options.extra_yaml = "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
                         "]\nservices:\n  camera:\n    config: " + config + "\n";
    node_ = std::make_unique<Daemon>(dir_.path(), options);
    node_->Start();
    ASSERT_TRUE(Eventually([&] { return Status().is_object(); }, kSettle));
    const std::string endpoint = Status()["listen"];
    port_ = static_cast<uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << node_->Log();
  }

  json Status() {
    const CommandResult result = CallService(*node_, "camera", "status");
    return result.exit_code == 0 ? json::parse(result.out, nullptr, false) : json();
  }

  TempDir dir_{"domian-camera-test"};
  std::unique_ptr<Daemon> node_;
  uint16_t port_ = 0;
};

// Kept warm long after a viewer leaves, so status read afterwards still
// shows the capture running.
constexpr char kMjpeg[] =
    "{device: /dev/v4l/by-id/usb-test-camera-video-index0, listen: \"127.0.0.1:0\", fps: 15, "
    "keep_warm_s: 60}";

TEST_F(Camera, ASnapshotIsAJpegOfTheNegotiatedSize) {
  Start(kMjpeg);
  EXPECT_EQ(Status()["state"], "stopped") << "nobody has watched yet";
  const HttpReply reply = HttpGet(port_, "/snapshot.jpg", 20s);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(reply.headers, HasSubstr("Content-Type: image/jpeg"));
  const Picture picture = DecodeJpeg(reply.body);
  EXPECT_TRUE(picture.decoded);
  EXPECT_EQ(picture.width, 640);
  EXPECT_EQ(picture.height, 480);
  const json status = Status();
  EXPECT_EQ(status["format"], "MJPEG");
  EXPECT_EQ(status["width"], 640);
  EXPECT_EQ(status["card"], "Scripted camera (test build)");
}

TEST_F(Camera, EveryStreamPartDecodesAndCutFramesNeverArrive) {
  Start(kMjpeg);
  const MjpegRead read = ReadMjpeg(port_, "/stream.mjpg", 4s);
  EXPECT_EQ(read.status, 200);
  EXPECT_THAT(read.content_type, HasSubstr("multipart/x-mixed-replace; boundary="));
  EXPECT_TRUE(read.well_formed);
  // 15 fps for 4 s, less the cut ones; generous for a loaded machine.
  EXPECT_GE(read.parts.size(), 10U);
  // Half the camera's frames came without Huffman tables: served with them.
  for (const std::string& part : read.parts) {
    const Picture picture = DecodeJpeg(part);
    ASSERT_TRUE(picture.decoded) << "a part that does not decode, of " << part.size() << " bytes";
    EXPECT_EQ(picture.width, 640);
  }
  const json status = Status();
  EXPECT_GT(status["frames_dropped"].get<int>(), 0) << "every seventh frame was cut short";
  EXPECT_THAT(status["last_drop_reason"].get<std::string>(), HasSubstr("truncated JPEG"));
  EXPECT_GT(status["measured_fps"].get<double>(), 0);
}

TEST_F(Camera, ASlowClientDoesNotSlowAFastOne) {
  Start(kMjpeg);
  auto slow = std::async(std::launch::async, [&] { return ReadMjpeg(port_, "/stream.mjpg", 6s, 100ms, 4096); });
  ASSERT_TRUE(Eventually([&] { return Status()["clients"] == 1; }, kSettle));
  const MjpegRead alone = ReadMjpeg(port_, "/stream.mjpg", 3s);
  const MjpegRead slow_read = slow.get();
  // The camera makes ~13 usable frames a second; the fast client gets most
  // of them while the slow one crawls at ~40 KiB/s.
  EXPECT_GE(alone.parts.size(), 15U);
  EXPECT_LT(slow_read.parts.size(), alone.parts.size()) << "it read for twice as long";
  EXPECT_TRUE(slow_read.well_formed);
  for (const std::string& part : slow_read.parts) ASSERT_TRUE(DecodeJpeg(part).decoded);
}

TEST_F(Camera, YuyvIsEncodedAndSnapshotsAreSaved) {
  Start("{device: /dev/video0, format: yuyv, width: 320, height: 240, listen: \"127.0.0.1:0\"}");
  const CommandResult snapshot =
      CallService(*node_, "camera", "snapshot", R"({"file": "front-door.jpg"})");
  ASSERT_EQ(snapshot.exit_code, 0) << snapshot.err;
  const json saved = json::parse(snapshot.out);
  EXPECT_EQ(saved["width"], 320);
  const std::filesystem::path path = saved["path"].get<std::string>();
  EXPECT_EQ(path.filename(), "front-door.jpg");
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const Picture picture = DecodeJpeg(bytes.str());
  EXPECT_TRUE(picture.decoded);
  EXPECT_EQ(picture.width, 320);
  EXPECT_EQ(picture.height, 240);
  EXPECT_EQ(Status()["format"], "YUYV");

  const CommandResult escape = CallService(*node_, "camera", "snapshot", R"({"file": "../../x.jpg"})");
  EXPECT_NE(escape.exit_code, 0);
  EXPECT_THAT(escape.err, HasSubstr("file must be a name like front-door.jpg"));
}

TEST_F(Camera, TheEndpointShowsWhereToWatchAndCaptureStopsWhenNobodyDoes) {
  // On every interface (IPv4; the daemon's address here is IPv4 too): the
  // endpoint names this node's address instead.
  Start("{device: /dev/video0, listen: \"0.0.0.0:0\", keep_warm_s: 1}");
  EXPECT_TRUE(Eventually(
      [&] {
        const auto services = Ctl(node_->address(), "services");
        const std::string expected = "http=127.0.0.1:" + std::to_string(port_);
        return services && services->dump().find(expected) != std::string::npos;
      },
      kSettle));
  ASSERT_EQ(ReadMjpeg(port_, "/stream.mjpg", 1s).status, 200);
  EXPECT_TRUE(Eventually([&] { return Status()["state"] == "stopped"; }, kSettle))
      << "still capturing with nobody watching, past keep_warm_s";
}

TEST_F(Camera, AConfigWithoutADeviceFailsWithTheKeyNamed) {
  MakePluginFolder(dir_.path() / "plugins", kScriptedCamera, {"camera"});
  Daemon::Options options{.id = "porch"};
  options.traits = {"camera"};
  options.extra_yaml = "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
                       "]\nservices:\n  camera:\n    config: {fps: 15}\n";
  node_ = std::make_unique<Daemon>(dir_.path(), options);
  node_->Start();
  EXPECT_TRUE(Eventually(
      [&] {
        const auto services = Ctl(node_->address(), "services");
        return services && services->dump().find("camera config: 'device' is missing") != std::string::npos;
      },
      kSettle));
  EXPECT_TRUE(node_->Running());
}

}  // namespace
}  // namespace domian::testing
