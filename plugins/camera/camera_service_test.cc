// CameraService's sharing, on the scripted V4L2 driver and a fake wall
// clock, watched over real HTTP on 127.0.0.1: the commands an operator
// uses (share, revoke_shares), what their URLs open and for how long, and
// the key kept across restarts. tests/camera_test.cc does the same through
// a real daemon and domianctl.
#include "plugins/camera/camera_service.h"
#include "plugins/testing/recording_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "tests/support/camera/scripted_video_device.h"
#include "tests/support/cluster.h"
#include "tests/support/mjpeg_client.h"

namespace domian::camera {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::UrlTarget;
using ::testing::StartsWith;

constexpr int64_t kStartTime = 1'750'000'000;  // June 2025

// The plugin's host: keeps its log lines.
struct TestHost : testing::RecordingHost {
  explicit TestHost(std::string state_dir) : RecordingHost(std::move(state_dir), "camera") {}
};

// A webcam streaming one real picture at ~30 fps.
std::unique_ptr<VideoDevice> StreamingCamera() {
  static const std::string jpeg = testing::EncodeTestJpeg(640, 480, 1);
  ScriptedCamera camera;
  camera.mjpeg_source = [](unsigned, unsigned, uint32_t) {
    return std::vector<uint8_t>(jpeg.begin(), jpeg.end());
  };
  auto device = std::make_unique<ScriptedVideoDevice>(camera);
  device->StreamWhenIdle(33ms);
  return device;
}

class CameraSharing : public ::testing::Test {
 protected:
  std::unique_ptr<CameraService> Make(
      const std::string& config = R"({"device": "/dev/video0", "listen": "127.0.0.1:0"})") {
    auto service = std::make_unique<CameraService>(sdk::Host(&host_.table), config, &StreamingCamera, [this] {
      return std::chrono::system_clock::time_point(std::chrono::seconds(now_.load()));
    });
    service->Start();
    return service;
  }
  static uint16_t Port(CameraService& service) {
    const std::string listen = json::parse(service.Invoke("status", "{}"))["listen"];
    return static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
  }
  static json Share(CameraService& service, const std::string& args = "{}") {
    return json::parse(service.Invoke("share", args));
  }
  // The status and the first line of the body of GET `target`.
  static std::pair<int, std::string> Get(CameraService& service, const std::string& target) {
    const testing::HttpReply reply = HttpGet(Port(service), target, 10s);
    return {reply.status, reply.status == 200 ? "" : reply.body.substr(0, reply.body.find('\n'))};
  }
  // The code and message `command` fails with.
  static std::pair<domian_status, std::string> Refusal(CameraService& service, const std::string& command,
                                                       const std::string& args) {
    try {
      service.Invoke(command, args);
    } catch (const sdk::Error& e) {
      return {e.code(), e.what()};
    }
    return {DOMIAN_OK, ""};
  }

  testing::TempDir dir_{"domian-camera-service-test"};
  TestHost host_{dir_.path().string()};
  std::atomic<int64_t> now_{kStartTime};
};

// ---------------------------------------------------------------------
// Home Assistant: the camera entity, its stills and its attributes.

static_assert(sdk::detail::HasEntities<CameraService>, "offers domian.entities/1");

TEST_F(CameraSharing, DescribesACameraWhoseStillAndUrlsArePublished) {
  auto camera = Make();
  const json description = json::parse(camera->DescribeEntities());
  ASSERT_EQ(description["entities"].size(), 1U);
  const json& entity = description["entities"][0];
  EXPECT_EQ(entity["id"], "camera");
  EXPECT_EQ(entity["platform"], "camera");
  EXPECT_TRUE(entity["name"].is_null());
  EXPECT_EQ(entity["states"], json({{"topic", "still"}, {"json_attributes_topic", "attributes"}}));
  EXPECT_TRUE(entity["config"].empty());
  // A still at start: a whole JPEG.
  const auto still = host_.WaitForState("camera", "still", [](const std::string&) { return true; }, 10s);
  ASSERT_TRUE(still);
  ASSERT_GT(still->size(), 4U);
  EXPECT_EQ(static_cast<uint8_t>((*still)[0]), 0xFF);
  EXPECT_EQ(static_cast<uint8_t>((*still)[1]), 0xD8);
  // The attributes: URLs that open the stream and a snapshot, for a day.
  const auto text = host_.WaitForState("camera", "attributes", [](const std::string&) { return true; }, 5s);
  ASSERT_TRUE(text);
  const json attributes = json::parse(*text);
  EXPECT_EQ(attributes["expires_unix"], kStartTime + 86400);
  EXPECT_EQ(Get(*camera, UrlTarget(attributes["still_image_url"])).first, 200);
  const testing::MjpegRead read = testing::ReadMjpeg(Port(*camera), UrlTarget(attributes["mjpeg_url"]), 1s);
  EXPECT_EQ(read.status, 200);
  EXPECT_THAT(*text, ::testing::Not(HasSubstr("share_key")));

  // revoke_shares ends them too: new ones are published at once.
  camera->Invoke("revoke_shares", "{}");
  const auto renewed = host_.WaitForState(
      "camera", "attributes", [&](const std::string& now) { return now != *text; }, 5s);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(Get(*camera, UrlTarget(attributes["still_image_url"])).first, 403);
  EXPECT_EQ(Get(*camera, UrlTarget(json::parse(*renewed)["still_image_url"])).first, 200);
}

TEST_F(CameraSharing, StillsDoNotKeepTheCameraCapturing) {
  auto camera = Make(R"({"device": "/dev/video0", "listen": "127.0.0.1:0", "still_interval_s": 1,
                         "keep_warm_s": 3600})");
  ASSERT_TRUE(host_.WaitForState("camera", "still", [](const std::string&) { return true; }, 10s));
  // Kept warm for an hour after a viewer; after a still alone it stops.
  EXPECT_TRUE(testing::Eventually(
      [&] { return json::parse(camera->Invoke("status", "{}"))["state"] != "streaming"; }, 5s))
      << camera->Invoke("status", "{}");
  const int stills = host_.PublishCount("camera", "still");
  EXPECT_TRUE(testing::Eventually([&] { return host_.PublishCount("camera", "still") > stills; }, 5s))
      << "one still a second";
}

TEST_F(CameraSharing, StillIntervalZeroPublishesNoStill) {
  auto camera = Make(R"({"device": "/dev/video0", "listen": "127.0.0.1:0", "still_interval_s": 0})");
  ASSERT_TRUE(host_.WaitForState("camera", "attributes", [](const std::string&) { return true; }, 5s));
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(host_.Latest("camera", "still").has_value());
}

TEST(CameraConfig, StillIntervalIsBoundedAndNamedWhenWrong) {
  EXPECT_EQ(CameraConfig::Parse(R"({"device": "/dev/video0"})").still_interval, kDefaultStillInterval);
  EXPECT_TRUE(CameraService::ValidateConfig(R"({"device": "/dev/video0", "still_interval_s": 0})").empty());
  for (const char* bad : {"-1", "86401", "\"10\"", "1.5"}) {
    const auto problems = CameraService::ValidateConfig(
        std::string(R"({"device": "/dev/video0", "still_interval_s": )") + bad + "}");
    ASSERT_EQ(problems.size(), 1U) << bad;
    EXPECT_THAT(problems[0], StartsWith("still_interval_s: must be a whole number from 0 to 86400"));
  }
  EXPECT_THAT(CameraService::ValidateConfig("{}"), ::testing::ElementsAre(StartsWith("device: is missing")));
}

TEST(CameraConfig, ByDefaultOnlyThisMachineCanConnectAndOnlyWithASignedUrl) {
  const CameraConfig config = CameraConfig::Parse(R"({"device": "/dev/video0"})");
  EXPECT_EQ(config.listen_host, "127.0.0.1");
  EXPECT_EQ(config.listen_port, 8080);
  EXPECT_EQ(config.auth, Auth::kSigned);
  EXPECT_EQ(CameraConfig::Parse(R"({"device": "/dev/video0", "auth": "none"})").auth, Auth::kNone);
  EXPECT_EQ(CameraConfig::Parse(R"({"device": "/dev/video0", "auth": "signed"})").auth, Auth::kSigned);
  try {
    CameraConfig::Parse(R"({"device": "/dev/video0", "auth": "basic"})");
    ADD_FAILURE() << "auth: basic was taken";
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("camera config: 'auth' must be signed"));
  }
}

TEST_F(CameraSharing, AShareIsASignedUrlOfTheListenAddressThatOpensTheStream) {
  auto camera = Make();
  const uint16_t port = Port(*camera);
  EXPECT_EQ(Get(*camera, "/stream.mjpg"), std::pair(403, std::string("forbidden: signature missing")));
  const json share = Share(*camera);
  EXPECT_EQ(share["expires_unix"], kStartTime + 86400) << "a day by default";
  const std::string url = share["url"];
  EXPECT_THAT(url, StartsWith("http://127.0.0.1:" + std::to_string(port) +
                              "/stream.mjpg?expires=" + std::to_string(kStartTime + 86400) + "&sig="));
  const testing::MjpegRead read = testing::ReadMjpeg(port, UrlTarget(url), 1s);
  EXPECT_EQ(read.status, 200);
  EXPECT_GT(read.parts.size(), 3U);
  const json status = json::parse(camera->Invoke("status", "{}"));
  EXPECT_EQ(status["auth"], "signed");
  EXPECT_EQ(status["refused"], 1);
  EXPECT_THAT(host_.Log(), HasSubstr("shared /stream.mjpg for 86400 s"));
  EXPECT_THAT(host_.Log(), ::testing::Not(HasSubstr(url.substr(url.find("sig=")))))
      << "the log must not hold a working URL";
}

TEST_F(CameraSharing, ASnapshotShareWorksUntilItExpiresOnTheNodesClock) {
  auto camera = Make();
  const std::string url = Share(*camera, R"({"path": "snapshot", "ttl_s": 60})")["url"];
  EXPECT_THAT(url, HasSubstr("/snapshot.jpg?expires=" + std::to_string(kStartTime + 60) + "&"));
  EXPECT_EQ(Get(*camera, UrlTarget(url)).first, 200);
  const std::string query = UrlTarget(url).substr(UrlTarget(url).find('?'));
  EXPECT_EQ(Get(*camera, "/stream.mjpg" + query).second, "forbidden: signature invalid")
      << "a snapshot's URL does not open the stream";
  now_ += 59;
  EXPECT_EQ(Get(*camera, UrlTarget(url)).first, 200);
  now_ += 1;
  EXPECT_EQ(Get(*camera, UrlTarget(url)).second, "forbidden: signature expired");
}

TEST_F(CameraSharing, BadArgumentsAreRefusedNamingWhatIsWrong) {
  auto camera = Make();
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {R"({"path": "video"})", "path must be \"stream\" or \"snapshot\""},
           {R"({"ttl_s": 59})", "ttl_s must be a whole number of seconds from 60 to 31536000"},
           {R"({"ttl_s": 31536001})", "from 60 to 31536000"},
           {R"({"ttl_s": "3600"})", "from 60 to 31536000"},
           {R"({"ttl_s": 3600.5})", "from 60 to 31536000"},
           {R"({"ttl": 3600})", "'ttl' is not an argument (path, ttl_s, host)"},
           {R"({"host": "evil.example/x?"})", "host must be an IP address or a DNS name"},
           {R"({"host": ""})", "host must be"},
       }) {
    const auto [code, message] = Refusal(*camera, "share", args);
    EXPECT_EQ(code, DOMIAN_ERR_INVALID_ARGUMENT) << args;
    EXPECT_THAT(message, HasSubstr(says)) << args;
  }
  EXPECT_EQ(Share(*camera, R"({"ttl_s": 31536000})")["expires_unix"], kStartTime + 31536000)
      << "a year is allowed";
}

TEST_F(CameraSharing, RevokingEndsEveryUrlSharedBeforeAndOnlyThose) {
  auto camera = Make();
  const std::string stream = Share(*camera)["url"];
  const std::string snapshot = Share(*camera, R"({"path": "snapshot"})")["url"];
  ASSERT_EQ(Get(*camera, UrlTarget(snapshot)).first, 200);
  EXPECT_EQ(json::parse(camera->Invoke("revoke_shares", "{}")), json({{"revoked", true}}));
  EXPECT_EQ(Get(*camera, UrlTarget(stream)).second, "forbidden: signature invalid");
  EXPECT_EQ(Get(*camera, UrlTarget(snapshot)).second, "forbidden: signature invalid");
  EXPECT_EQ(Get(*camera, UrlTarget(Share(*camera, R"({"path": "snapshot"})")["url"])).first, 200);
  EXPECT_THAT(host_.Log(), HasSubstr("revoked every shared URL"));
}

TEST_F(CameraSharing, UrlsAndRevocationsOutliveARestart) {
  std::string kept;
  std::string revoked;
  {
    auto camera = Make();
    revoked = Share(*camera, R"({"path": "snapshot"})")["url"];
    camera->Invoke("revoke_shares", "{}");
    kept = Share(*camera, R"({"path": "snapshot"})")["url"];
    // The service has no saved state for the host to keep at stop: each
    // key was written when it was made, so a crash or a power cut now
    // would keep it too.
  }
  auto camera = Make();
  EXPECT_EQ(Get(*camera, UrlTarget(kept)).first, 200);
  EXPECT_EQ(Get(*camera, UrlTarget(revoked)).second, "forbidden: signature invalid");
  struct stat info {};
  ASSERT_EQ(::stat((dir_.path() / kShareKeyFile).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U) << "the key is the service's secret";
}

TEST_F(CameraSharing, AKeyFileThatIsNotAKeyIsReplacedSayingSo) {
  std::ofstream(dir_.path() / kShareKeyFile) << "not a key";
  auto camera = Make();
  EXPECT_EQ(Get(*camera, UrlTarget(Share(*camera, R"({"path": "snapshot"})")["url"])).first, 200);
  EXPECT_THAT(host_.Log(), HasSubstr("a new share key is made, so URLs shared before stop working"));
}

TEST_F(CameraSharing, OnEveryInterfaceAShareNamesTheHostViewersUse) {
  auto camera = Make(R"({"device": "/dev/video0", "listen": "0.0.0.0:0"})");
  const uint16_t port = Port(*camera);
  const auto [code, message] = Refusal(*camera, "share", "{}");
  EXPECT_EQ(code, DOMIAN_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr("say which address viewers use, e.g. {\"host\": \"192.168.1.31\"}"));
  EXPECT_THAT(Share(*camera, R"({"host": "192.168.1.31"})")["url"].get<std::string>(),
              StartsWith("http://192.168.1.31:" + std::to_string(port) + "/stream.mjpg?"));
  EXPECT_THAT(Share(*camera, R"({"host": "fd00::7"})")["url"].get<std::string>(),
              StartsWith("http://[fd00::7]:" + std::to_string(port) + "/"));
  EXPECT_THAT(Share(*camera, R"({"host": "porch.local"})")["url"].get<std::string>(),
              StartsWith("http://porch.local:" + std::to_string(port) + "/"));
  // The host is not signed: the URL works by any name of the machine.
  EXPECT_EQ(
      Get(*camera, UrlTarget(Share(*camera, R"({"host": "porch.local", "path": "snapshot"})")["url"])).first,
      200);
}

TEST_F(CameraSharing, NoShareWhileTheClockIsUnset) {
  now_ = 120;  // two minutes after 1970: a Pi booted without NTP
  auto camera = Make();
  const auto [code, message] = Refusal(*camera, "share", "{}");
  EXPECT_EQ(code, DOMIAN_ERR_UNAVAILABLE);
  EXPECT_THAT(message, HasSubstr("this node's clock is not set"));
}

TEST_F(CameraSharing, WithAuthNoneAnyoneMayWatchAndThereIsNothingToShare) {
  auto camera = Make(R"({"device": "/dev/video0", "listen": "127.0.0.1:0", "auth": "none"})");
  EXPECT_EQ(Get(*camera, "/snapshot.jpg").first, 200);
  EXPECT_EQ(json::parse(camera->Invoke("status", "{}"))["auth"], "none");
  for (const char* command : {"share", "revoke_shares"}) {
    const auto [code, message] = Refusal(*camera, command, "{}");
    EXPECT_EQ(code, DOMIAN_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(message, HasSubstr("auth: none, so anyone who reaches"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / kShareKeyFile)) << "no key is made for nothing";
}

}  // namespace
}  // namespace domian::camera
