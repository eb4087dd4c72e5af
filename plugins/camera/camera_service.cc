#include "plugins/camera/camera_service.h"

#include <domian/plugin_json.hpp>

#include <arpa/inet.h>

#include <cctype>
#include <filesystem>
#include <fstream>

namespace domian::camera {
namespace {

using nlohmann::json;

// "host:port" or "[v6]:port" (port 0: any free port); nullopt if malformed.
std::optional<std::pair<std::string, uint16_t>> SplitListen(const std::string& text) {
  std::string host;
  std::string port;
  if (text.starts_with('[')) {
    const size_t close = text.find("]:");
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  const unsigned long number = std::stoul(port);
  if (number > 65535) return std::nullopt;
  return std::pair{host, static_cast<uint16_t>(number)};
}

std::string JoinListen(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Whether `host` is the unspecified address (every interface): "0.0.0.0",
// "::" and their other spellings.
bool IsWildcardHost(const std::string& host) {
  in6_addr address{};
  if (::inet_pton(AF_INET6, host.c_str(), &address) == 1) {
    return std::all_of(std::begin(address.s6_addr), std::end(address.s6_addr),
                       [](uint8_t b) { return b == 0; });
  }
  in_addr v4{};
  return host.empty() || (::inet_pton(AF_INET, host.c_str(), &v4) == 1 && v4.s_addr == 0);
}

// `share`'s "host": an IP address (IPv6 with or without brackets) or a
// DNS name, as it goes into a URL; nullopt for anything else.
std::optional<std::string> UrlHost(std::string host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return "[" + host + "]";
  constexpr size_t kMaxDnsName = 253;
  if (host.empty() || host.size() > kMaxDnsName || host.front() == '.' || host.front() == '-') {
    return std::nullopt;
  }
  const bool name = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
  });
  return name ? std::optional<std::string>(host) : std::nullopt;
}

// A snapshot's file name: letters, digits, '.', '-', '_', ending in .jpg,
// so it stays inside the snapshots folder.
bool ValidSnapshotName(const std::string& name) {
  if (name.size() < 5 || name.size() > 100 || name.front() == '.' || !name.ends_with(".jpg")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

}  // namespace

sdk::PluginInfo CameraPluginInfo() {
  return sdk::PluginInfo{
      .name = "camera",
      .version = "0.1.0",
      .description = "a V4L2 camera served as JPEG snapshots and an MJPEG stream",
      .placement = DOMIAN_PLACEMENT_PER_NODE,
      .traits = {"camera"},
      .depends = {},
      .commands = {
          {"status", "{}",
           "device, negotiated format and size, measured fps, clients, dropped frames, "
           "where to watch"},
          {"snapshot", "{\"file\": \"front-door.jpg\"}",
           "save a fresh frame in the service's snapshots folder; returns its path"},
          {"share", "{\"path\": \"stream\"|\"snapshot\", \"ttl_s\": 86400, \"host\": \"192.168.1.31\"}",
           "a signed URL of the stream or a snapshot, working for ttl_s (60 to 31536000, a day "
           "by default); host only when listening on every interface"},
          {"revoke_shares", "{}", "a new signing key: every URL shared before stops working"}}};
}

CameraConfig CameraConfig::Parse(std::string_view text) {
  const sdk::ConfigReader config("camera", text);
  CameraConfig parsed;
  bool has_device = false;
  for (const auto& [key, value] : config.json().items()) {
    if (key == "device") {
      parsed.capture.device = config.String(key);
      has_device = true;
    } else if (key == "width") {
      parsed.capture.width = static_cast<unsigned>(config.Integer(key, kMinSide, kMaxWidth));
    } else if (key == "height") {
      parsed.capture.height = static_cast<unsigned>(config.Integer(key, kMinSide, kMaxHeight));
    } else if (key == "fps") {
      parsed.capture.fps = static_cast<unsigned>(config.Integer(key, 1, kMaxFps));
    } else if (key == "format") {
      const std::string format = config.String(key);
      if (format == "mjpeg") {
        parsed.capture.format = PixelFormat::kMjpeg;
      } else if (format == "yuyv") {
        parsed.capture.format = PixelFormat::kYuyv;
      } else if (format == "auto") {
        parsed.capture.format = PixelFormat::kAuto;
      } else {
        config.Fail(key, "must be mjpeg, yuyv or auto, not \"" + format + "\"");
      }
    } else if (key == "jpeg_quality") {
      parsed.jpeg_quality = static_cast<int>(config.Integer(key, 1, 100));
    } else if (key == "listen") {
      const auto listen = SplitListen(config.String(key));
      if (!listen) {
        config.Fail(key, "must be address:port, like 127.0.0.1:8080, 192.168.1.31:8080 or [::]:8080 "
                         "(port 0: any free port)");
      }
      parsed.listen_host = listen->first;
      parsed.listen_port = listen->second;
    } else if (key == "keep_warm_s") {
      parsed.keep_warm = std::chrono::seconds(config.Integer(key, 0, kMaxKeepWarm.count()));
    } else if (key == "max_streams") {
      parsed.max_streams = static_cast<size_t>(config.Integer(key, 1, kMaxMaxStreams));
    } else if (key == "auth") {
      const std::string auth = config.String(key);
      if (auth == "signed") {
        parsed.auth = Auth::kSigned;
      } else if (auth == "none") {
        parsed.auth = Auth::kNone;
      } else {
        config.Fail(key, "must be signed (only URLs from the share command) or none (anyone who reaches "
                         "the port), not \"" + auth + "\"");
      }
    } else if (key == "still_interval_s") {
      parsed.still_interval = std::chrono::seconds(config.Integer(key, 0, kMaxStillInterval.count()));
    } else {
      config.Fail(key, "is not a camera setting (device, width, height, fps, format, jpeg_quality, "
                       "listen, keep_warm_s, max_streams, auth, still_interval_s)");
    }
  }
  if (!has_device) config.Fail("device", "is missing: the camera's device, best /dev/v4l/by-id/...");
  return parsed;
}

std::vector<std::string> CameraService::ValidateConfig(std::string_view config_json) {
  try {
    CameraConfig::Parse(config_json);
    return {};
  } catch (const sdk::Error& e) {
    // "camera config: '<key>' <message>" as "<key>: <message>" (the
    // parser stops at the first problem).
    std::string message = e.what();
    const std::string prefix = "camera config: ";
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    if (!message.empty() && message.front() == '\'') {
      const size_t end = message.find("' ", 1);
      if (end != std::string::npos) {
        return {message.substr(1, end - 1) + ": " + message.substr(end + 2)};
      }
    }
    return {": " + message};
  }
}

CameraService::CameraService(sdk::Host host, std::string_view config_json, VideoDeviceFactory devices,
                             WallClock clock)
    : host_(host),
      config_(CameraConfig::Parse(config_json)),
      devices_(std::move(devices)),
      clock_(std::move(clock)) {}

ShareKey CameraService::LoadOrMakeShareKey() {
  const std::filesystem::path file = std::filesystem::path(host_.state_dir()) / kShareKeyFile;
  try {
    if (const std::optional<ShareKey> kept = ReadShareKey(file)) return *kept;
  } catch (const std::runtime_error& e) {
    host_.Warn(std::string(e.what()) + ": a new share key is made, so URLs shared before stop working");
  }
  const ShareKey key = NewShareKey();
  WriteShareKey(file, key);
  host_.Info("made a share key (" + file.string() + "): URLs from `share` are signed with it");
  return key;
}

CameraService::~CameraService() { Stop(); }

void CameraService::Start() {
  if (server_) return;
  if (config_.auth == Auth::kSigned && !signer_) {
    try {
      signer_ = std::make_unique<UrlSigner>(LoadOrMakeShareKey());
    } catch (const std::runtime_error& e) {
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, std::string("camera: no share key: ") + e.what());
    }
  }
  stopping_ = false;
  watchers_ = 0;
  hub_ = std::make_unique<FrameHub>([this](size_t watchers) { WatchersChanged(watchers); });
  capture_ = std::make_unique<Capture>(
      config_.capture, devices_(), [this](Frame frame) { OnFrame(std::move(frame)); },
      [host = host_](const std::string& line) { host.Warn(line); });
  server_ = std::make_unique<FrameServer>(
      *hub_,
      FrameServer::Options{.host = config_.listen_host,
                           .port = config_.listen_port,
                           .max_streams = config_.max_streams,
                           .signer = signer_.get(),
                           .clock = clock_},
      [this] { return WhyNoFrame(); });
  try {
    server_->Start();
  } catch (const std::runtime_error& e) {
    server_.reset();
    capture_.reset();
    hub_.reset();
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, std::string("camera: ") + e.what());
  }
  demand_ = std::thread([this] { RunDemand(); });
  still_wanted_ = false;
  viewed_ = false;
  // Stills and their URLs are for Home Assistant: a node that publishes
  // no entities wakes the camera for nobody.
  if (host_.PublishesEntities()) stills_ = std::thread([this] { RunStills(); });
  const std::string endpoint = JoinListen(config_.listen_host, server_->port());
  host_.PublishEndpoint("http", endpoint);
  host_.Info(
      "serving " + config_.capture.device + " on http://" + endpoint + kStreamPath + " and " + kSnapshotPath +
      (signer_ ? " to signed URLs (domianctl call camera share)" : " to anyone who reaches it (auth: none)"));
  if (!signer_ && config_.listen_host != "127.0.0.1" && config_.listen_host != "::1" &&
      config_.listen_host != "localhost") {
    host_.Warn("auth: none, listening on " + endpoint +
               ": every device that reaches it can watch the camera");
  }
}

void CameraService::Stop() {
  if (!server_) return;
  host_.PublishEndpoint("http", std::nullopt);
  server_->Stop();  // ends every stream and snapshot wait: no watchers left
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  demand_changed_.notify_all();
  if (demand_.joinable()) demand_.join();
  if (stills_.joinable()) stills_.join();
  capture_->Stop();
  server_.reset();
  capture_.reset();
  hub_.reset();
}

void CameraService::WatchersChanged(size_t watchers) {
  {
    std::lock_guard lock(mu_);
    watchers_ = watchers;
    if (watchers > 0) viewed_ = true;
  }
  demand_changed_.notify_all();
}

void CameraService::RunDemand() {
  std::unique_lock lock(mu_);
  bool capturing = false;
  const auto wanted = [this] { return watchers_ > 0 || still_wanted_; };
  while (!stopping_) {
    if (wanted()) {
      if (!capturing) {
        lock.unlock();
        capture_->Start();
        lock.lock();
        capturing = true;
      }
      demand_changed_.wait(lock, [&] { return stopping_ || !wanted(); });
      continue;
    }
    // Nobody watches: keep the camera warm a while for the next one. Not
    // after a still alone: with still_interval_s under keep_warm_s the
    // camera would never stop.
    const bool back = capturing && viewed_ &&
                      demand_changed_.wait_for(lock, config_.keep_warm,
                                               [&] { return stopping_ || wanted(); });
    if (!back && capturing) {
      lock.unlock();
      capture_->Stop();
      lock.lock();
      capturing = false;
      viewed_ = watchers_ > 0;
    }
    if (!back) demand_changed_.wait(lock, [&] { return stopping_ || wanted(); });
  }
}

void CameraService::RunStills() {
  std::unique_lock lock(mu_);
  attributes_due_ = true;
  auto next_still = std::chrono::steady_clock::now();
  auto next_attributes = next_still;
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    if (attributes_due_ || now >= next_attributes) {
      attributes_due_ = false;
      lock.unlock();
      const bool signed_urls = PublishAttributes();
      lock.lock();
      next_attributes = now + (signed_urls ? kAttributesRefresh : kAttributesRetry);
      continue;
    }
    if (config_.still_interval.count() > 0 && now >= next_still) {
      next_still = now + config_.still_interval;
      lock.unlock();
      PublishStill();
      lock.lock();
      continue;
    }
    auto until = next_attributes;
    if (config_.still_interval.count() > 0) until = std::min(until, next_still);
    demand_changed_.wait_until(lock, until, [this] { return stopping_ || attributes_due_; });
  }
}

bool CameraService::PublishStill() {
  const uint64_t after = hub_->sequence();
  {
    std::lock_guard lock(mu_);
    still_wanted_ = true;
  }
  demand_changed_.notify_all();
  const std::optional<FrameHub::Frame> frame = hub_->WaitNewer(after, kStillTimeout);
  {
    std::lock_guard lock(mu_);
    still_wanted_ = false;
  }
  demand_changed_.notify_all();
  if (!frame) return false;  // a camera away says so in status and health
  if (frame->jpeg->size() > DOMIAN_ENTITY_STATE_MAX_BYTES) {
    std::lock_guard lock(mu_);
    if (!warned_oversized_) {
      host_.Warn("a still of " + std::to_string(frame->jpeg->size()) + " bytes is over the " +
                 std::to_string(DOMIAN_ENTITY_STATE_MAX_BYTES) +
                 " bytes Home Assistant's camera entity may take: stills are skipped while they "
                 "are this large (lower width/height or jpeg_quality)");
      warned_oversized_ = true;
    }
    return false;
  }
  const std::string_view bytes(reinterpret_cast<const char*>(frame->jpeg->data()), frame->jpeg->size());
  return host_.PublishEntityState(kCameraEntity, kStillState, bytes);
}

bool CameraService::PublishAttributes() {
  json attributes = json::object();
  const std::optional<std::string> host = UrlHost(config_.listen_host);
  const int64_t now = UnixSeconds(clock_);
  if (IsWildcardHost(config_.listen_host) || !host) {
    attributes["urls"] = "the camera listens on every interface (" + config_.listen_host +
                         "): make URLs with the share command and its host argument";
  } else if (signer_ && now < kClockSetAfterUnix) {
    attributes["urls"] = "this node's clock is not set: no URL can be signed yet";
    host_.PublishEntityState(kCameraEntity, kAttributesState, attributes.dump());
    return false;
  } else {
    // Viewing only: a signed URL opens the one path it was made for until
    // it expires; the share key itself never leaves the node.
    const std::string base = "http://" + *host + ":" + std::to_string(server_->port());
    const int64_t expires = now + kAttributesUrlTtl.count();
    auto url = [&](const char* path) {
      return base + path + (signer_ ? "?" + signer_->Query(path, expires) : "");
    };
    attributes["mjpeg_url"] = url(kStreamPath);
    attributes["still_image_url"] = url(kSnapshotPath);
    if (signer_) attributes["expires_unix"] = expires;
  }
  host_.PublishEntityState(kCameraEntity, kAttributesState, attributes.dump());
  return true;
}

std::string CameraService::DescribeEntities() {
  json camera = {{"id", kCameraEntity},
                 {"platform", "camera"},
                 {"name", nullptr},
                 {"config", json::object()},
                 {"states", {{"topic", kStillState}, {"json_attributes_topic", kAttributesState}}},
                 {"commands", json::object()}};
  return json{{"entities", json::array({camera})}}.dump();
}

void CameraService::OnFrame(Frame frame) {
  {
    std::lock_guard lock(mu_);
    if (watchers_ == 0 && !still_wanted_) return;  // kept warm: captured, not encoded
  }
  std::vector<uint8_t> jpeg;
  if (frame.format == PixelFormat::kMjpeg) {
    auto servable = ServableJpeg(frame.data);
    if (!servable) {
      std::lock_guard lock(mu_);
      ++frames_invalid_;
      last_frame_error_ = "an MJPEG frame of " + std::to_string(frame.data.size()) +
                          " bytes whose markers are broken";
      return;
    }
    jpeg = std::move(*servable);
  } else {
    try {
      jpeg = encoder_.EncodeYuyv(frame.data, frame.width, frame.height, frame.bytes_per_line,
                                 config_.jpeg_quality);
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      ++encode_errors_;
      last_frame_error_ = e.what();
      return;
    }
  }
  hub_->Publish(std::move(jpeg), frame.width, frame.height);
}

std::string CameraService::WhyNoFrame() const {
  const CaptureStatus status = capture_->Status();
  if (!status.last_error.empty() && status.state != "streaming") return status.last_error;
  return "the camera is " + status.state;
}

std::string CameraService::Invoke(std::string_view command, std::string_view args_json) {
  const json args = sdk::ParseArgs(args_json);
  if (!server_) throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "the camera is not running");
  if (command == "status") {
    const CaptureStatus status = capture_->Status();
    json reply = {{"device", status.device},
                  {"state", status.state},
                  {"driver", status.driver},
                  {"card", status.card},
                  {"format", PixelFormatName(status.format)},
                  {"width", status.width},
                  {"height", status.height},
                  {"fps", status.fps},
                  {"adjusted", status.adjusted},
                  {"buffers", status.buffers},
                  {"measured_fps", std::round(status.measured_fps * 10) / 10},
                  {"frames_captured", status.frames_captured},
                  {"frames_dropped", status.frames_dropped},
                  {"last_drop_reason", status.last_drop_reason},
                  {"reopen_attempts", status.reopen_attempts},
                  {"retry_in_ms", status.retry_in.count()},
                  {"last_error", status.last_error},
                  {"clients", server_->streams()},
                  {"frames_served", server_->frames_sent()},
                  // Where it listens; `domianctl services` shows the address to use.
                  {"listen", JoinListen(config_.listen_host, server_->port())},
                  {"auth", signer_ ? "signed" : "none"},
                  // Requests without a valid signature (an expired URL in
                  // Home Assistant shows up here).
                  {"refused", server_->refused()}};
    std::lock_guard lock(mu_);
    reply["watchers"] = watchers_;
    reply["frames_unusable"] = frames_invalid_ + encode_errors_;
    reply["last_frame_error"] = last_frame_error_;
    return reply.dump();
  }
  if (command == "snapshot") return Snapshot(args);
  if (command == "share") return Share(args);
  if (command == "revoke_shares") return RevokeShares();
  throw sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "unknown command \"" + std::string(command) +
                                                   "\" (status, snapshot, share, revoke_shares)");
}

void CameraService::RequireSigned(std::string_view command) const {
  if (signer_) return;
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                   std::string(command) + ": this camera's config says auth: none, so anyone who reaches " +
                       JoinListen(config_.listen_host, server_->port()) +
                       " can watch and there is nothing to share or revoke");
}

std::string CameraService::Share(const json& args) {
  RequireSigned("share");
  for (const auto& [key, value] : args.items()) {
    if (key != "path" && key != "ttl_s" && key != "host") {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                       "share: '" + key + "' is not an argument (path, ttl_s, host)");
    }
  }
  std::string path = kStreamPath;
  if (const auto it = args.find("path"); it != args.end()) {
    if (*it == "snapshot") {
      path = kSnapshotPath;
    } else if (*it != "stream") {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                       "share: path must be \"stream\" or \"snapshot\", not " + it->dump());
    }
  }
  int64_t ttl = kDefaultShareTtl.count();
  if (const auto it = args.find("ttl_s"); it != args.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < kMinShareTtl.count() ||
        it->get<int64_t>() > kMaxShareTtl.count()) {
      const std::string range =
          std::to_string(kMinShareTtl.count()) + " to " + std::to_string(kMaxShareTtl.count());
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                       "share: ttl_s must be a whole number of seconds from " + range + " (a year), not " +
                           it->dump());
    }
    ttl = it->get<int64_t>();
  }
  std::string host;
  if (const auto it = args.find("host"); it != args.end()) {
    const std::optional<std::string> given = it->is_string() ? UrlHost(it->get<std::string>()) : std::nullopt;
    if (!given) {
      throw sdk::Error(
          DOMIAN_ERR_INVALID_ARGUMENT,
          "share: host must be an IP address or a DNS name, like 192.168.1.31 or porch.local, not " +
              it->dump());
    }
    host = *given;
  } else if (IsWildcardHost(config_.listen_host)) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                     "share: the camera listens on every interface (" +
                         JoinListen(config_.listen_host, server_->port()) +
                         "): say which address viewers use, e.g. {\"host\": \"192.168.1.31\"}");
  } else if (const std::optional<std::string> listen_host = UrlHost(config_.listen_host)) {
    host = *listen_host;
  } else {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                     "share: the listen host \"" + config_.listen_host +
                         "\" cannot go into a URL: say which address viewers use, e.g. {\"host\": "
                         "\"192.168.1.31\"}");
  }
  const int64_t now = UnixSeconds(clock_);
  if (now < kClockSetAfterUnix) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                     "share: this node's clock is not set (it says " + std::to_string(now) +
                         " s after 1970; NTP has not answered?): a URL made now would expire at the wrong "
                         "time; try again once the clock is right");
  }
  const int64_t expires = now + ttl;
  // Never the URL itself: whoever reads the log could watch.
  host_.Info("shared " + path + " for " + std::to_string(ttl) + " s (until unix time " +
             std::to_string(expires) + ")");
  return json{{"url", "http://" + host + ":" + std::to_string(server_->port()) + path + "?" +
                          signer_->Query(path, expires)},
              {"expires_unix", expires}}
      .dump();
}

std::string CameraService::RevokeShares() {
  RequireSigned("revoke_shares");
  const std::filesystem::path file = std::filesystem::path(host_.state_dir()) / kShareKeyFile;
  const ShareKey key = NewShareKey();
  try {
    WriteShareKey(file, key);
  } catch (const std::runtime_error& e) {
    // Not replaced in memory either: after a restart the old key would
    // be back, and the operator would believe the URLs dead.
    throw sdk::Error(DOMIAN_ERR_FAILED,
                     std::string("revoke_shares: the URLs shared before still work: ") + e.what());
  }
  signer_->Replace(key);
  host_.Info("revoked every shared URL: a new share key");
  {
    std::lock_guard lock(mu_);
    attributes_due_ = true;  // the published URLs stopped working too
  }
  demand_changed_.notify_all();
  return json{{"revoked", true}}.dump();
}

std::string CameraService::Snapshot(const json& args) {
  std::string name = "snapshot.jpg";
  if (const auto it = args.find("file"); it != args.end()) {
    if (!it->is_string() || !ValidSnapshotName(it->get<std::string>())) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                       "file must be a name like front-door.jpg (letters, digits, . - _), "
                       "saved in the service's snapshots folder");
    }
    name = it->get<std::string>();
  }
  std::optional<FrameHub::Frame> frame;
  {
    FrameHub::Watch watch(*hub_);
    frame = hub_->WaitNewer(hub_->sequence(), kSnapshotCommandTimeout);
  }
  if (!frame) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "no frame from the camera within " +
                                                 std::to_string(kSnapshotCommandTimeout.count()) +
                                                 " s: " + WhyNoFrame());
  }
  const std::filesystem::path folder = std::filesystem::path(host_.state_dir()) / "snapshots";
  const std::filesystem::path path = folder / name;
  const std::filesystem::path partial = folder / ("." + name + ".partial");
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(frame->jpeg->data()), static_cast<std::streamsize>(frame->jpeg->size()));
    if (!out.flush()) {
      throw sdk::Error(DOMIAN_ERR_FAILED, "cannot write " + partial.string());
    }
  }
  std::filesystem::rename(partial, path, error);
  if (error) throw sdk::Error(DOMIAN_ERR_FAILED, "cannot save " + path.string() + ": " + error.message());
  return json{{"path", path.string()},
              {"bytes", frame->jpeg->size()},
              {"width", frame->width},
              {"height", frame->height}}
      .dump();
}

std::optional<std::string> CameraService::CheckHealth() {
  if (!capture_) return std::nullopt;
  const CaptureStatus status = capture_->Status();
  if (status.state != "reopening") return std::nullopt;
  return "camera " + status.device + ": " + status.last_error + " (retrying in " +
         std::to_string(status.retry_in.count()) + " ms)";
}

}  // namespace domian::camera
