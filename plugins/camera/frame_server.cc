#include "plugins/camera/frame_server.h"

#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <stdexcept>

namespace domian::camera {
namespace {

// Threads beyond the streams', for snapshots and refusals.
constexpr size_t kSpareThreads = 8;
constexpr auto kStartTimeout = std::chrono::seconds(5);
constexpr auto kStartPoll = std::chrono::milliseconds(5);

// A stream's claim on one of max_streams, released when the stream ends
// (the content provider holding it is destroyed).
class StreamSlot {
 public:
  explicit StreamSlot(std::atomic<size_t>& streams) : streams_(streams) {}
  ~StreamSlot() {
    if (held_) --streams_;
  }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

  // Claims a slot unless `limit` are taken (counted first, so two requests
  // racing for the last slot cannot both get it).
  bool Claim(size_t limit) {
    if (++streams_ <= limit) return held_ = true;
    --streams_;
    return false;
  }

 private:
  std::atomic<size_t>& streams_;
  bool held_ = false;
};

// Shuts down this process's accepted connections on `port` (httplib keeps
// no list of them): a worker blocked reading a client that drips its
// request, or writing to one that stopped reading, returns at once.
void ShutdownConnections(uint16_t port) {
  DIR* fds = ::opendir("/proc/self/fd");
  if (fds == nullptr) return;
  while (const dirent* entry = ::readdir(fds)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == ::dirfd(fds)) continue;
    const int socket = static_cast<int>(fd);
    int listening = 0;
    socklen_t length = sizeof listening;
    if (::getsockopt(socket, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening != 0) {
      continue;  // not a socket, or a listening one
    }
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    if (::getsockname(socket, reinterpret_cast<sockaddr*>(&local), &size) != 0) continue;
    uint16_t local_port = 0;
    if (local.ss_family == AF_INET) {
      local_port = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
    } else if (local.ss_family == AF_INET6) {
      local_port = ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
    }
    if (local_port == port) ::shutdown(socket, SHUT_RDWR);
  }
  ::closedir(fds);
}

}  // namespace

FrameServer::FrameServer(FrameHub& hub, Options options, WhyNoFrame why_no_frame)
    : hub_(hub), options_(std::move(options)), why_no_frame_(std::move(why_no_frame)) {}

FrameServer::~FrameServer() { Stop(); }

std::string_view FrameServer::Refusal(std::string_view path, std::string_view query) const {
  if (options_.signer == nullptr) return "";
  return RefusalWord(options_.signer->Check(path, query, UnixSeconds(options_.clock)));
}

std::string_view FrameServer::Refusal(const httplib::Request& request) const {
  // The query as sent (httplib's params are decoded and merged, which
  // would hide duplicates and odd encodings); the path as routed.
  const std::string_view target = request.target;
  const size_t mark = target.find('?');
  return Refusal(request.path, mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1));
}

void FrameServer::Routes() {
  server_->Get(kSnapshotPath, [this](const httplib::Request&, httplib::Response& response) {
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

  server_->Get(kStreamPath, [this](const httplib::Request& request, httplib::Response& response) {
    auto slot = std::make_shared<StreamSlot>(streams_);
    if (!slot->Claim(options_.max_streams)) {
      response.status = 503;
      response.set_content("already " + std::to_string(options_.max_streams) + " streams; try later\n",
                           "text/plain");
      return;
    }
    auto watch = std::make_shared<FrameHub::Watch>(hub_);
    auto last = std::make_shared<uint64_t>(0);
    auto last_sent = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    // Admitted already; looked at again before every frame, so a stream
    // ends when its URL expires or is revoked, not when the viewer leaves.
    const size_t mark = request.target.find('?');
    auto query = std::make_shared<const std::string>(
        mark == std::string::npos ? std::string() : request.target.substr(mark + 1));
    response.set_header("Cache-Control", "no-store");
    response.set_content_provider(
        std::string("multipart/x-mixed-replace; boundary=") + kStreamBoundary,
        [this, slot, watch, last, last_sent, query](size_t /*offset*/, httplib::DataSink& sink) {
          const auto frame = hub_.WaitNewer(*last, kStreamFrameWait);
          if (!frame) {
            // Nothing yet: look again, unless stopping or it has been long
            // (the camera is gone; a client that left is let go too).
            return !hub_.closed() && std::chrono::steady_clock::now() - *last_sent < kStreamIdleLimit;
          }
          if (!Refusal(kStreamPath, *query).empty()) return false;
          *last = frame->sequence;
          *last_sent = std::chrono::steady_clock::now();
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
  server_->set_read_timeout(kRequestReadTimeout);
  server_->set_keep_alive_max_count(1);
  // Set on the listening socket, inherited by every accepted one.
  server_->set_socket_options([](int socket) {
    httplib::default_socket_options(socket);
    ::setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &kSendBufferBytes, sizeof kSendBufferBytes);
  });
  server_->set_payload_max_length(kMaxRequestBody);
  server_->set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (const std::string_view refusal = Refusal(request); !refusal.empty()) {
      ++refused_;
      response.status = 403;
      response.set_header("Cache-Control", "no-store");
      response.set_content("forbidden: signature " + std::string(refusal) + "\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (request.has_header("Range")) {
      response.status = 416;
      response.set_content("byte ranges are not served\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
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
  // httplib's stop() does nothing before the accept loop runs: wait for it,
  // or the server could never be stopped.
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kStartPoll);
  }
  if (!server_->is_running()) {
    thread_.detach();  // not joinable safely; its server object is leaked on purpose
    (void)server_.release();
    throw std::runtime_error("the HTTP server on " + where + " did not start within " +
                             std::to_string(kStartTimeout.count()) + " s");
  }
}

void FrameServer::Stop() {
  if (!server_) return;
  hub_.Close();  // streams waiting for a frame end now
  server_->stop();
  ShutdownConnections(port_);  // and those blocked on a client
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace domian::camera
