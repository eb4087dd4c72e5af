#include "plugins/camera/frame_server.h"

#include <httplib.h>

#include <stdexcept>

namespace domian::camera {
namespace {

// Threads beyond the streams', for snapshots and refusals.
constexpr size_t kSpareThreads = 4;
constexpr auto kStartTimeout = std::chrono::seconds(5);
constexpr auto kStartPoll = std::chrono::milliseconds(5);

// A stream's claim on one of max_streams, released when the stream ends
// (the content provider holding it is destroyed).
class StreamSlot {
 public:
  explicit StreamSlot(std::atomic<size_t>& streams) : streams_(streams) { ++streams_; }
  ~StreamSlot() { --streams_; }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  std::atomic<size_t>& streams_;
};

}  // namespace

FrameServer::FrameServer(FrameHub& hub, Options options, WhyNoFrame why_no_frame)
    : hub_(hub), options_(std::move(options)), why_no_frame_(std::move(why_no_frame)) {}

FrameServer::~FrameServer() { Stop(); }

void FrameServer::Routes() {
  server_->Get("/snapshot.jpg", [this](const httplib::Request&, httplib::Response& response) {
    FrameHub::Watch watch(hub_);
    const auto frame = hub_.WaitNewer(hub_.sequence(), kSnapshotTimeout);
    if (!frame) {
      response.status = 503;
      response.set_content("no frame from the camera within " + std::to_string(kSnapshotTimeout.count()) +
                               " s: " + (why_no_frame_ ? why_no_frame_() : std::string("unknown")) + "\n",
                           "text/plain");
      return;
    }
    response.set_header("Cache-Control", "no-store");
    response.set_content(reinterpret_cast<const char*>(frame->jpeg->data()), frame->jpeg->size(),
                         "image/jpeg");
    ++frames_sent_;
  });

  server_->Get("/stream.mjpg", [this](const httplib::Request&, httplib::Response& response) {
    if (streams_ >= options_.max_streams) {
      response.status = 503;
      response.set_content("already " + std::to_string(options_.max_streams) + " streams; try later\n",
                           "text/plain");
      return;
    }
    auto slot = std::make_shared<StreamSlot>(streams_);
    auto watch = std::make_shared<FrameHub::Watch>(hub_);
    auto last = std::make_shared<uint64_t>(0);
    response.set_header("Cache-Control", "no-store");
    response.set_content_provider(
        std::string("multipart/x-mixed-replace; boundary=") + kStreamBoundary,
        [this, slot, watch, last](size_t /*offset*/, httplib::DataSink& sink) {
          const auto frame = hub_.WaitNewer(*last, kStreamFrameWait);
          if (!frame) return !hub_.closed();  // nothing yet: look again
          *last = frame->sequence;
          const std::string head = std::string("--") + kStreamBoundary +
                                   "\r\nContent-Type: image/jpeg\r\nContent-Length: " +
                                   std::to_string(frame->jpeg->size()) + "\r\n\r\n";
          if (!sink.write(head.data(), head.size()) ||
              !sink.write(reinterpret_cast<const char*>(frame->jpeg->data()), frame->jpeg->size()) ||
              !sink.write("\r\n", 2)) {
            return false;  // the client left, or stopped reading
          }
          ++frames_sent_;
          return true;
        });
  });
}

void FrameServer::Start() {
  if (server_) return;
  server_ = std::make_unique<httplib::Server>();
  const size_t threads = options_.max_streams + kSpareThreads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_write_timeout(kClientWriteTimeout);
  Routes();
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (options_.port == 0) {
    const int port = server_->bind_to_any_port(options_.host);
    if (port <= 0) {
      server_.reset();
      throw std::runtime_error("cannot listen on " + where);
    }
    port_ = static_cast<uint16_t>(port);
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      server_.reset();
      throw std::runtime_error("cannot listen on " + where + " (in use, or not an address of this host)");
    }
    port_ = options_.port;
  }
  httplib::Server* raw = server_.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // httplib's stop() does nothing before the accept loop runs: wait for it.
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kStartPoll);
  }
}

void FrameServer::Stop() {
  if (!server_) return;
  hub_.Close();  // streams waiting for a frame end now
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace domian::camera
