// WebServer: domiand's HTTP server, the home of the dashboard and of
// /metrics, on CivetWeb's C API (Debian's libcivetweb, 1.15). The node
// owns one (core/node/node.h) when http.enabled; its parts:
//
//   request ──▶ Host allowed? (request_guard.h, DNS rebinding)   else 403
//           ──▶ GET, or POST with the dashboard's own Origin (CSRF) else 405/403
//           ──▶ /metrics                      Options::metrics, no session
//               /login?token=T                SessionBook: cookie, 303 to /
//               everything else needs a session cookie             else 401
//               /api/events                   EventStreams (SSE, the journal)
//               /api/...                      DashboardApi (the node, in process)
//               /...                          static_files.h (http.static_dir)
//
// Every response carries the same security headers (a Content-Security-
// Policy that allows only the dashboard's own scripts and styles, and
// images from any http: origin for the camera's MJPEG on its own port),
// CivetWeb's own error pages included.
//
// What a sender controls is bounded: request headers (kMaxHeaderBytes),
// bodies (api.h's kMaxRequestBodyBytes), connections served at once
// (kWorkerThreads; more wait in CivetWeb's queue), time to send a request
// or take a response (kRequestTimeout), live event streams
// (event_stream.h), sessions and login links (sessions.h).
//
// Threads: Listen, Serve and Stop on the owner's thread; requests run on
// CivetWeb's workers, each blocking its worker until answered (a stream
// for as long as it is open); MakeLoginLink from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <netinet/in.h>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/events/event_journal.h"
#include "core/web/api.h"
#include "core/web/event_stream.h"
#include "core/web/request_guard.h"
#include "core/web/sessions.h"

struct mg_context;
struct mg_connection;

namespace domian::web {

// CivetWeb's worker threads: the requests served at once. Event streams
// take at most kMaxEventStreams of them, so pages and the API always have
// the rest.
inline constexpr int kWorkerThreads = 8;
static_assert(kWorkerThreads > static_cast<int>(kMaxEventStreams),
              "event streams must leave workers for pages and the API");
// Longest request line and headers: a page's requests carry a few hundred
// bytes (the cookie is 60).
inline constexpr size_t kMaxHeaderBytes = 8 * 1024;
// How long a client may take to send its request, or to take a piece of
// the response (a stalled event stream ends after it).
inline constexpr std::chrono::milliseconds kRequestTimeout{10000};

// The session cookie.
inline constexpr char kSessionCookie[] = "domian_session";

// A login link (CreateDashboardLink's answer).
struct LoginLink {
  std::string url;  // http://HOST:PORT/login?token=TOKEN
  int64_t expires_unix = 0;
};

class WebServer {
 public:
  struct Options {
    std::string listen;  // http.listen: IPv4 host:port, port 0 for any
    std::filesystem::path static_dir;
    std::vector<std::string> allowed_hosts;  // http.allowed_hosts
    // This machine's host name, allowed in Host (and as NAME.local);
    // empty: gethostname().
    std::string hostname;
    // /metrics' text (Prometheus' format); unset: /metrics is not found.
    std::function<std::string()> metrics;
    events::EventJournal& events;
    const Clock& clock;  // sessions' and links' ages
    EventStreams::Options streams = {};
  };

  // Binds options.listen and starts serving: pages, /metrics and logins
  // at once, the API once Serve() gives it the node (until then it answers
  // 503). UNAVAILABLE naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<WebServer>> Listen(Options options);
  ~WebServer();  // Stop()
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // The API asks the node through `node` (the node's own server's
  // InProcessChannel) from now on.
  void Serve(std::shared_ptr<grpc::Channel> node) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends the event streams and the API's calls in flight, then stops
  // CivetWeb (waiting for its threads). Before the node's gRPC server
  // shuts down, so no call of the API is left waiting on it.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Where it listens: host:port as bound.
  const std::string& address() const { return address_; }

  // A one-time link that opens a session (sessions.h), naming this
  // server's address (or, when it listens on every interface, an address
  // of this machine others can reach).
  absl::StatusOr<LoginLink> MakeLoginLink();

  // CivetWeb's entry points (C callbacks); not for other callers.
  int HandleRequest(mg_connection* connection) ABSL_LOCKS_EXCLUDED(mu_);
  int HandleError(mg_connection* connection, int status, const char* message);

 private:
  explicit WebServer(Options options);

  bool HasSession(const mg_connection* connection);
  int ServeMetrics(mg_connection* connection);
  int ServeLogin(mg_connection* connection);
  int ServeEvents(mg_connection* connection);
  int ServeApi(mg_connection* connection, const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);
  int ServeStaticFile(mg_connection* connection, const std::string& path);

  Options options_;
  AllowedHosts hosts_;
  SessionBook sessions_;
  EventStreams streams_;
  std::string address_;       // as bound
  std::string link_address_;  // what login links name
  sockaddr_in knock_address_{};  // where Stop() wakes CivetWeb's listener
  mg_context* context_ = nullptr;

  absl::Mutex mu_;
  std::shared_ptr<DashboardApi> api_ ABSL_GUARDED_BY(mu_);  // set by Serve
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace domian::web
