// CameraService: the `camera` service, one V4L2 camera on this node served
// over HTTP. Per-node (every node with a camera offers one) and needs the
// trait `camera`. Its HTTP address is published as the endpoint "http", so
// `domianctl services` shows where it listens:
//
//   http://HOST:PORT/stream.mjpg     MJPEG (multipart/x-mixed-replace)
//   http://HOST:PORT/snapshot.jpg    one fresh frame
//
// It listens on loopback unless told otherwise, and by default serves only
// URLs an operator made with the `share` command (signed and expiring, see
// url_signer.h); `revoke_shares` replaces the key they were signed with.
// The key lives in the service's folder (kShareKeyFile), written the
// moment it is made or replaced, not in the saved state: the host saves
// state only when the service stops cleanly, so a crash or a power cut
// after revoke_shares would bring back the key just revoked.
//
// The camera captures, and frames are encoded, only while someone watches
// or asks for a snapshot, and for keep_warm_s after (so the next request
// does not wait for the camera to start). MJPEG frames are served as the
// camera makes them (with Huffman tables added where it leaves them out);
// YUYV frames are encoded with libjpeg-turbo.
#pragma once

#include <domian/plugin.hpp>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plugins/camera/capture.h"
#include "plugins/camera/frame_hub.h"
#include "plugins/camera/frame_server.h"
#include "plugins/camera/jpeg.h"
#include "plugins/camera/url_signer.h"

namespace domian::camera {

inline constexpr int kDefaultJpegQuality = 80;
inline constexpr std::chrono::seconds kDefaultKeepWarm{10};
inline constexpr std::chrono::seconds kMaxKeepWarm{3600};
inline constexpr unsigned kMinSide = 16;
inline constexpr unsigned kMaxWidth = 4096;
inline constexpr unsigned kMaxHeight = 3072;
inline constexpr unsigned kMaxFps = 120;
inline constexpr size_t kMaxMaxStreams = 64;
// `snapshot` waits this long for a frame.
inline constexpr std::chrono::seconds kSnapshotCommandTimeout{10};
// The share key's file in the service's folder.
inline constexpr char kShareKeyFile[] = "share_key";
// How long a URL from `share` works: a day unless asked, from a minute to
// a year (Home Assistant keeps one in its configuration).
inline constexpr std::chrono::seconds kDefaultShareTtl{86400};
inline constexpr std::chrono::seconds kMinShareTtl{60};
inline constexpr std::chrono::seconds kMaxShareTtl{31536000};
// A wall clock before 2024-01-01 has not been set (a Pi without a
// battery-backed clock, before NTP answered): a URL made from it would
// expire at the wrong time, so `share` refuses.
inline constexpr int64_t kClockSetAfterUnix = 1704067200;
// Home Assistant (README.md, "Home Assistant"): a still published every
// still_interval_s (0: never), from 0 to a day.
inline constexpr std::chrono::seconds kDefaultStillInterval{10};
inline constexpr std::chrono::seconds kMaxStillInterval{86400};
// A still waits this long for a frame from a camera that was idle.
inline constexpr std::chrono::seconds kStillTimeout{10};
// The URLs in the camera entity's attributes are signed for a day and
// signed again every half day, so the published ones always work for
// at least twelve hours and a leaked one for at most a day.
inline constexpr std::chrono::seconds kAttributesUrlTtl{86400};
inline constexpr std::chrono::seconds kAttributesRefresh{kAttributesUrlTtl / 2};
// Signing waits for the clock (NTP after a boot): tried again this soon.
inline constexpr std::chrono::seconds kAttributesRetry{60};
// Entity ids and state names: part of each entity's unique id.
inline constexpr char kCameraEntity[] = "camera";
inline constexpr char kStillState[] = "still";
inline constexpr char kAttributesState[] = "attributes";

enum class Auth {
  kSigned,  // only URLs made by `share`
  kNone,    // anyone who reaches the port
};

struct CameraConfig {
  CaptureConfig capture;
  int jpeg_quality = kDefaultJpegQuality;
  // Loopback: this machine only (Home Assistant on the same Pi, with host
  // networking). IPv4, since a Pi may run with IPv6 off.
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;  // 0: any free port
  std::chrono::seconds keep_warm = kDefaultKeepWarm;
  size_t max_streams = kDefaultMaxStreams;
  Auth auth = Auth::kSigned;
  std::chrono::seconds still_interval = kDefaultStillInterval;
  // Throws domian::sdk::Error(INVALID_ARGUMENT) naming the key.
  static CameraConfig Parse(std::string_view json);
};

// Makes the device layer: the kernel's in the plugin, a scripted driver in
// tests.
using VideoDeviceFactory = std::function<std::unique_ptr<VideoDevice>()>;

// What the plugin tells the host about itself (camera.so and its test
// build alike).
sdk::PluginInfo CameraPluginInfo();

class CameraService {
 public:
  // `clock`: the wall clock share URLs expire by.
  CameraService(sdk::Host host, std::string_view config_json,
                VideoDeviceFactory devices = &MakeLinuxVideoDevice, WallClock clock = &SystemWallClock);
  ~CameraService();  // Stop()
  CameraService(const CameraService&) = delete;
  CameraService& operator=(const CameraService&) = delete;

  void Start();
  void Stop();
  std::string Invoke(std::string_view command, std::string_view args_json);
  std::optional<std::string> CheckHealth();
  // Home Assistant: a camera entity (the last still, and the URLs of the
  // stream and of a snapshot as attributes).
  std::string DescribeEntities();
  // The configuration's problems, "key: message" (no instance).
  static std::vector<std::string> ValidateConfig(std::string_view config_json);

 private:
  // Publishes a still every still_interval, and the attributes every
  // kAttributesRefresh; the stills thread.
  void RunStills();
  // One fresh frame published as the still; false when none came.
  bool PublishStill();
  // The stream and snapshot URLs (signed for kAttributesUrlTtl), or why
  // there are none; false when they could not be signed yet (the clock).
  bool PublishAttributes();
  // The capture thread's sink: a JPEG for the hub.
  void OnFrame(Frame frame);
  // Starts the capture while anyone watches, stops it keep_warm after the
  // last one left.
  void RunDemand();
  void WatchersChanged(size_t watchers);
  std::string Snapshot(const nlohmann::json& args);
  std::string Share(const nlohmann::json& args);
  std::string RevokeShares();
  // Throws unless URLs are signed here (auth: signed).
  void RequireSigned(std::string_view command) const;
  // The key kept in the service's folder, or a new one kept there.
  ShareKey LoadOrMakeShareKey();
  std::string WhyNoFrame() const;

  sdk::Host host_;
  const CameraConfig config_;
  VideoDeviceFactory devices_;
  WallClock clock_;
  std::unique_ptr<UrlSigner> signer_;  // auth: signed, from Start
  std::unique_ptr<FrameHub> hub_;
  std::unique_ptr<FrameServer> server_;
  std::unique_ptr<Capture> capture_;
  JpegEncoder encoder_;  // the capture thread's only

  mutable std::mutex mu_;
  std::condition_variable demand_changed_;
  size_t watchers_ = 0;
  bool stopping_ = false;
  uint64_t frames_invalid_ = 0;  // MJPEG frames that would not serve
  uint64_t encode_errors_ = 0;
  std::string last_frame_error_;
  std::thread demand_;
  // Stills: a still wants a frame (the camera runs for it, and stops
  // right after unless a viewer came: kept warm between stills, it
  // would capture for good); whether a viewer came since the camera
  // started; the attributes are due again.
  std::thread stills_;
  bool still_wanted_ = false;
  bool viewed_ = false;
  bool attributes_due_ = false;
  bool warned_oversized_ = false;
};

}  // namespace domian::camera
