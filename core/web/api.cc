#include "core/web/api.h"

#include <nlohmann/json.hpp>

namespace domian::web {
namespace {

// How the node is named in messages ("domiand at this node answered: ...").
constexpr char kNodeName[] = "this node";

constexpr int kOk = 200;
constexpr int kBadRequest = 400;
constexpr int kNotFound = 404;
constexpr int kMethodNotAllowed = 405;

ApiReply Error(int status, std::string_view message) {
  return {status, cli::JsonText({{"error", message}})};
}

ApiReply Reply(const absl::StatusOr<nlohmann::json>& result) {
  if (!result.ok()) {
    return Error(HttpStatusOf(result.status().code()), StatusMessage(result.status()));
  }
  return {kOk, cli::JsonText(*result)};
}

std::string QueryValue(const ApiRequest& request, const std::string& key) {
  const auto found = request.query.find(key);
  return found == request.query.end() ? std::string() : found->second;
}

}  // namespace

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:  // a command the service does not know
      return kBadRequest;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:  // no such service, or it runs nowhere
      return kNotFound;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    // The service failed its command, or the node running it did not
    // answer (the router's FAILED_PRECONDITION).
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 502;
    // The node cannot take it now: stopping, its lanes full, cancelled.
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kCancelled:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

DashboardApi::DashboardApi(std::shared_ptr<grpc::Channel> node)
    : queries_(node, kNodeName, kQueryTimeout), calls_(node, kNodeName, kCallTimeout) {}

void DashboardApi::CancelCalls() {
  queries_.CancelCalls();
  calls_.CancelCalls();
}

ApiReply DashboardApi::Handle(const ApiRequest& request) {
  const std::string& path = request.path;
  if (path == "/api/call") {
    if (request.method != "POST") return Error(kMethodNotAllowed, "/api/call takes POST");
    return Call(request.body);
  }
  if (request.method != "GET") return Error(kMethodNotAllowed, path + " takes GET");
  if (path == "/api/status") return Reply(queries_.Status());
  if (path == "/api/peers") return Reply(queries_.Peers());
  if (path == "/api/services") return Reply(queries_.Services(QueryValue(request, "name")));
  if (path == "/api/plugins") return Reply(queries_.Plugins());
  if (path == "/api/explain") {
    const std::string service = QueryValue(request, "service");
    if (service.empty()) return Error(kBadRequest, "/api/explain needs ?service=NAME");
    return Reply(queries_.Explain(service));
  }
  return Error(kNotFound, "no such API: " + path);
}

ApiReply DashboardApi::Call(const std::string& body) {
  const nlohmann::json request = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object()) {
    return Error(kBadRequest, R"(expected a JSON object {"service", "command", "args"})");
  }
  const auto service = request.find("service");
  const auto command = request.find("command");
  if (service == request.end() || !service->is_string() || command == request.end() ||
      !command->is_string()) {
    return Error(kBadRequest, R"("service" and "command" must be strings)");
  }
  const auto args = request.find("args");
  const std::string args_json = args == request.end() ? "{}" : cli::JsonText(*args);
  return Reply(calls_.Call(service->get<std::string>(), command->get<std::string>(), args_json));
}

}  // namespace domian::web
