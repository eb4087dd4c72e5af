// The dashboard's JSON API: what `domianctl --json` prints, over HTTP.
// A thin layer: each endpoint is one cli::ControlClient request to the
// node's own gRPC server, over its in-process channel, so a page goes
// through the very handlers and permission checks domianctl does (as a
// local operator: its session came from an operator's login link), and
// sees the documents docs/domianctl.md describes.
//
//   GET  /api/status                   ControlClient::Status
//   GET  /api/peers                    Peers
//   GET  /api/services[?name=NAME]     Services
//   GET  /api/plugins                  Plugins
//   GET  /api/explain?service=NAME     Explain
//   POST /api/call {"service", "command", "args"}   Call: the service's reply
//
// A failure is {"error": "..."} with the HTTP status HttpStatusOf gives
// its code: 400 bad input, 404 an unknown service or page, 502 the
// service (or the node running it) failed, 503 the node cannot take it
// now, 504 it took too long.
//
// Threads: Handle may be called from many threads at once (CivetWeb's
// workers); each call blocks its thread until the node answers.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/cli/control_client.h"
#include "core/common/status.h"

namespace domian::web {

// Largest body of a POST: a call's name and arguments. A call's arguments
// may be up to 1 MiB from domianctl; the dashboard's controls send a few
// bytes, and a page has no business sending more.
inline constexpr size_t kMaxRequestBodyBytes = 64 * 1024;
// How long a query (status, services...) may take: as domianctl's.
inline constexpr std::chrono::milliseconds kQueryTimeout = cli::kDefaultControlTimeout;
// How long a service call may take: a Hue bridge's pairing waits ~30 s for
// its button; the node forwards a call for up to 45 s, plus room (as
// `domianctl call`).
inline constexpr std::chrono::milliseconds kCallTimeout{50000};

struct ApiRequest {
  std::string method;  // GET, POST...
  std::string path;    // "/api/status"
  std::map<std::string, std::string> query;  // decoded
  std::string body;
};

struct ApiReply {
  int status = 200;
  std::string json;  // one document
};

// The HTTP status of a failed request, by the node's code.
int HttpStatusOf(absl::StatusCode code);

class DashboardApi {
 public:
  // `node`: a channel to the node's own server (InProcessChannel).
  explicit DashboardApi(std::shared_ptr<grpc::Channel> node);

  ApiReply Handle(const ApiRequest& request);

  // Ends the calls in flight and fails later ones: the server is stopping.
  void CancelCalls();

 private:
  ApiReply Call(const std::string& body);

  cli::ControlClient queries_;
  cli::ControlClient calls_;
};

}  // namespace domian::web
