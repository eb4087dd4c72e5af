// camera.so as the tests build it: the real CameraService, HTTP server and
// JPEG handling, on the scripted V4L2 driver (no build machine has a
// camera, and containers cannot load vivid). The driver streams at the
// configured rate, MJPEG or YUYV as negotiated; its MJPEG frames are real
// pictures as webcams send them: every other one without Huffman tables,
// and every seventh cut short (which must never reach a client).
#include <domian/plugin.hpp>

#include <map>
#include <mutex>

#include "plugins/camera/camera_service.h"
#include "tests/support/camera/scripted_video_device.h"

namespace domian::camera {
namespace {

constexpr uint32_t kTruncatedEvery = 7;
constexpr int kQuality = 75;

// A test picture of `width` x `height`, its brightness by `sequence`.
std::vector<uint8_t> Picture(JpegEncoder& encoder, unsigned width, unsigned height, uint32_t sequence) {
  std::vector<uint8_t> yuyv(size_t{width} * height * 2, 128);
  for (size_t p = 0; p < yuyv.size(); p += 2) {
    yuyv[p] = static_cast<uint8_t>(16 + (sequence * 9) % 128 + ((p * 2654435761U) >> 13) % 64);
  }
  return encoder.EncodeYuyv(yuyv, width, height, width * 2, kQuality);
}

std::unique_ptr<VideoDevice> MakeScriptedCamera(unsigned fps) {
  auto encoder = std::make_shared<JpegEncoder>();
  auto mu = std::make_shared<std::mutex>();
  ScriptedCamera camera;
  camera.card = "Scripted camera (test build)";
  camera.mjpeg_source = [encoder, mu](unsigned width, unsigned height, uint32_t sequence) {
    std::lock_guard lock(*mu);
    std::vector<uint8_t> jpeg = Picture(*encoder, width, height, sequence);
    if (sequence % 2 == 1) jpeg = TablelessJpeg(jpeg);
    if (sequence % kTruncatedEvery == kTruncatedEvery - 1) jpeg.resize(jpeg.size() / 2);
    return jpeg;
  };
  auto device = std::make_unique<ScriptedVideoDevice>(camera);
  device->StreamWhenIdle(std::chrono::milliseconds(1000 / fps));
  return device;
}

class ScriptedCameraService : public CameraService {
 public:
  ScriptedCameraService(sdk::Host host, std::string_view config_json)
      : CameraService(host, config_json, [fps = CameraConfig::Parse(config_json).capture.fps] {
          return MakeScriptedCamera(fps);
        }) {}
};

}  // namespace
}  // namespace domian::camera

DOMIAN_SDK_PLUGIN(domian::camera::ScriptedCameraService, (domian::camera::CameraPluginInfo()))
