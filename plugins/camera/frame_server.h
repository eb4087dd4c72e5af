// FrameServer: the camera over HTTP (cpp-httplib), from a FrameHub.
//
//   GET /snapshot.jpg   one frame captured after the request came in
//   GET /stream.mjpg    multipart/x-mixed-replace, one JPEG part per frame
//
// Each client waits for the hub's next frame on its own thread, so a slow
// client skips frames and never slows another; a client that stops reading
// is dropped after kClientWriteTimeout, and a stream with no frame for
// kStreamIdleLimit ends (the client reconnects; one that left is noticed).
// Streams beyond max_streams get 503, as do snapshots when no frame comes
// within kSnapshotTimeout (with the capture's reason). Requests hold a
// FrameHub::Watch, which is what starts the capture.
//
// With a signer, every request must carry a valid, unexpired signature for
// its path (url_signer.h), or it gets 403 before anything else is done:
// no watcher counted, no capture started. Loopback is no exception (other
// users of the machine are not the operator). A stream ends when its URL
// expires or is revoked.
//
// Anyone who can reach the port may connect, so requests are kept cheap: no
// body, no byte ranges (cpp-httplib would build any number of them), one
// request per connection, a read timeout; and Stop() shuts every open
// connection rather than wait for a client that reads slowly or not at all.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "plugins/camera/frame_hub.h"
#include "plugins/camera/url_signer.h"

namespace httplib {
class Server;
struct Request;
}

namespace domian::camera {

inline constexpr char kStreamPath[] = "/stream.mjpg";
inline constexpr char kSnapshotPath[] = "/snapshot.jpg";
inline constexpr char kStreamBoundary[] = "domianframe";
inline constexpr std::chrono::seconds kSnapshotTimeout{5};
inline constexpr std::chrono::seconds kClientWriteTimeout{5};
// How long a stream waits for a frame before looking again (whether the
// server is stopping, whether the client is still there).
inline constexpr std::chrono::milliseconds kStreamFrameWait{1000};
inline constexpr std::chrono::seconds kStreamIdleLimit{20};
// The kernel's send buffer per connection. Frames a slow client has not
// read wait there, old by the time it reads them: a small buffer keeps
// what it gets recent (a few frames at most), where the default grows to
// megabytes.
inline constexpr int kSendBufferBytes = 128 * 1024;
inline constexpr std::chrono::seconds kRequestReadTimeout{2};
inline constexpr size_t kMaxRequestBody = 0;
inline constexpr size_t kDefaultMaxStreams = 8;

class FrameServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    uint16_t port = 0;  // 0: any free port
    size_t max_streams = kDefaultMaxStreams;
    // Whose signatures admit a request; nullptr: anyone who reaches the
    // port may watch (auth: none). Must outlive the server.
    const UrlSigner* signer = nullptr;
    WallClock clock = &SystemWallClock;  // judges expiry
  };
  // Why there is no frame, for a 503 ("the device ... vanished").
  using WhyNoFrame = std::function<std::string()>;

  FrameServer(FrameHub& hub, Options options, WhyNoFrame why_no_frame);
  ~FrameServer();  // Stop()
  FrameServer(const FrameServer&) = delete;
  FrameServer& operator=(const FrameServer&) = delete;

  // Binds and serves on a thread of its own; throws std::runtime_error
  // naming the address when it cannot bind.
  void Start();
  // Ends every stream (the hub is closed) and stops serving.
  void Stop();

  uint16_t port() const { return port_; }
  size_t streams() const { return streams_; }
  int64_t frames_sent() const { return frames_sent_; }
  // Requests refused for want of a valid signature.
  int64_t refused() const { return refused_; }

 private:
  void Routes();
  // Why `request` (or `path` with the raw `query`) may not be served
  // ("missing", "expired", "invalid"), or "" when it may.
  std::string_view Refusal(const httplib::Request& request) const;
  std::string_view Refusal(std::string_view path, std::string_view query) const;

  FrameHub& hub_;
  const Options options_;
  WhyNoFrame why_no_frame_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<size_t> streams_{0};
  std::atomic<int64_t> frames_sent_{0};
  std::atomic<int64_t> refused_{0};
};

}  // namespace domian::camera
