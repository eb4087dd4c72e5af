#include "core/web/web_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <climits>
#include <cstring>
#include <fstream>
#include <thread>

#include "core/common/net.h"
#include "core/web/static_files.h"

namespace domian::web {
namespace {

constexpr int kOk = 200;
constexpr int kSeeOther = 303;
constexpr int kUnauthorized = 401;
constexpr int kForbidden = 403;
constexpr int kNotFound = 404;
constexpr int kMethodNotAllowed = 405;
constexpr int kPayloadTooLarge = 413;
constexpr int kServiceUnavailable = 503;

// On every response. The dashboard is its own scripts and styles (no
// inline ones, nothing from elsewhere); images may come from any http:
// origin, since the camera plugin serves its MJPEG on a port of its own,
// on whichever node runs it. Not framed by any page (clickjacking), no
// sniffing of types, and no Referer that would carry a URL elsewhere.
constexpr char kSecurityHeaders[] =
    "Content-Security-Policy: default-src 'self'; img-src 'self' http: data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n";
// Pages are checked again on every load (a package upgrade shows at
// once); nothing else is kept at all (states, sessions, links).
constexpr char kRevalidate[] = "no-cache";
constexpr char kNoStore[] = "no-store";

constexpr char kText[] = "text/plain; charset=utf-8";
constexpr char kJson[] = "application/json";
// Prometheus' text exposition format.
constexpr char kMetricsType[] = "text/plain; version=0.0.4; charset=utf-8";

// The session cookie's life in the browser: as long as an idle session
// lives here, so a browser restart does not end it early.
constexpr auto kCookieMaxAge = std::chrono::duration_cast<std::chrono::seconds>(kSessionIdle);
// base64url of kTokenBytes, with room: a longer cookie or token is no one
// of ours.
constexpr size_t kTokenBufferBytes = 128;
// Query values the API takes (service names), with room.
constexpr size_t kQueryValueBytes = 256;
// CivetWeb's word on why it cannot start.
constexpr size_t kErrorTextBytes = 256;
// A static file is sent in pieces of this size.
constexpr size_t kFileChunkBytes = 16 * 1024;

constexpr char kNeedSession[] =
    "this needs a session of the dashboard: open a login link from `domianctl dashboard` "
    "(run on the node as root or in group domian, or with --node HOST:PORT by an operator)";

WebServer& ServerOf(const mg_connection* connection) {
  return *static_cast<WebServer*>(mg_get_user_context_data(connection));
}

int OnRequest(mg_connection* connection, void* /*data*/) {
  return ServerOf(connection).HandleRequest(connection);
}

int OnError(mg_connection* connection, int status, const char* message) {
  return ServerOf(connection).HandleError(connection, status, message);
}

// CivetWeb's own messages (a socket error, a refused request) are for
// whoever debugs it, not the daemon's log.
int OnLog(const mg_connection* /*connection*/, const char* message) {
  spdlog::debug("http: {}", message);
  return 1;
}

// The whole response: status line, headers (security ones included,
// `extra` lines ending in CRLF) and `body`. The connection closes after.
void Respond(mg_connection* connection, int status, std::string_view type,
             std::string_view body, std::string_view cache = kNoStore,
             const std::string& extra = "") {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: %.*s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: %.*s\r\n"
            "Connection: close\r\n"
            "%s%s\r\n",
            status, mg_get_response_code_text(connection, status),
            static_cast<int>(type.size()), type.data(), body.size(),
            static_cast<int>(cache.size()), cache.data(), kSecurityHeaders, extra.c_str());
  if (!body.empty()) mg_write(connection, body.data(), body.size());
}

int RespondText(mg_connection* connection, int status, std::string_view text) {
  Respond(connection, status, kText, std::string(text) + "\n");
  return status;
}

int RespondJson(mg_connection* connection, int status, const std::string& json) {
  Respond(connection, status, kJson, json);
  return status;
}

// A query parameter, decoded; empty when absent or longer than `max`.
std::string QueryValue(const mg_request_info& info, const char* name,
                       size_t max = kQueryValueBytes) {
  if (info.query_string == nullptr) return "";
  std::string value(max, '\0');
  const int length = mg_get_var(info.query_string, std::strlen(info.query_string), name,
                                value.data(), value.size());
  if (length < 0) return "";
  value.resize(static_cast<size_t>(length));
  return value;
}

// The body of a POST, up to kMaxRequestBodyBytes; nullopt when larger
// (the rest is not read: the connection closes).
std::optional<std::string> ReadBody(mg_connection* connection, const mg_request_info& info) {
  if (info.content_length > static_cast<long long>(kMaxRequestBodyBytes)) return std::nullopt;
  std::string body;
  std::array<char, kFileChunkBytes> buffer{};
  while (true) {
    const int read = mg_read(connection, buffer.data(), buffer.size());
    if (read <= 0) break;
    body.append(buffer.data(), static_cast<size_t>(read));
    if (body.size() > kMaxRequestBodyBytes) return std::nullopt;
  }
  return body;
}

// CivetWeb's listening thread sees that it must stop only when its poll
// of the listening socket returns, which it does every 2 s when nobody
// connects; connecting makes it return at once. Tried this often until
// the server stopped (a connection made before the stop was seen only
// starts another poll).
constexpr auto kKnockInterval = std::chrono::milliseconds(20);

// Connects to `address` (IPv4 host:port) and hangs up.
void Knock(const sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::close(fd);
}

std::string ThisHostName() {
  std::array<char, HOST_NAME_MAX + 1> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "";
  return name.data();
}

}  // namespace

WebServer::WebServer(Options options)
    : options_(std::move(options)),
      hosts_(options_.hostname.empty() ? ThisHostName() : options_.hostname,
             options_.allowed_hosts),
      sessions_(options_.clock),
      streams_(options_.events, options_.streams) {}

absl::StatusOr<std::unique_ptr<WebServer>> WebServer::Listen(Options options) {
  const std::optional<HostPort> listen = SplitHostPort(options.listen);
  if (!listen) return absl::InvalidArgumentError("http.listen: not host:port: " + options.listen);
  std::unique_ptr<WebServer> server(new WebServer(std::move(options)));
  const std::string threads = std::to_string(kWorkerThreads);
  const std::string header_bytes = std::to_string(kMaxHeaderBytes);
  const std::string timeout_ms = std::to_string(kRequestTimeout.count());
  const std::string ports = server->options_.listen;
  const std::array<const char*, 21> settings = {
      "listening_ports", ports.c_str(),
      "num_threads", threads.c_str(),
      "max_request_size", header_bytes.c_str(),
      "request_timeout_ms", timeout_ms.c_str(),
      // One request per connection: an idle connection would hold a
      // worker.
      "enable_keep_alive", "no",
      // No folder listing or CORS of CivetWeb's own (without a
      // document_root it serves no file or script): every request comes
      // to HandleRequest, which allows no other origin.
      "enable_directory_listing", "no",
      "access_control_allow_origin", "",
      "access_control_allow_methods", "",
      "access_control_allow_headers", "",
      // Events go out as they happen.
      "tcp_nodelay", "1",
      nullptr,
  };
  mg_callbacks callbacks{};
  callbacks.http_error = OnError;
  callbacks.log_message = OnLog;
  mg_init_library(0);
  mg_init_data init{.callbacks = &callbacks,
                    .user_data = server.get(),
                    .configuration_options = const_cast<const char**>(settings.data())};
  unsigned code = 0;
  std::array<char, kErrorTextBytes> why{};
  mg_error_data error{.code = &code, .text = why.data(), .text_buffer_size = why.size()};
  // CivetWeb ignores SIGCHLD process-wide when it starts (for CGI, unused
  // here): the kernel would then reap the daemon's plugin hosts before it
  // can wait for them, and their exit status would be lost. SIGPIPE stays
  // ignored, as CivetWeb needs.
  struct sigaction child {};
  ::sigaction(SIGCHLD, nullptr, &child);
  server->context_ = mg_start2(&init, &error);
  ::sigaction(SIGCHLD, &child, nullptr);
  if (server->context_ == nullptr) {
    mg_exit_library();
    return absl::UnavailableError("cannot listen for HTTP (the dashboard, /metrics) on " +
                                  server->options_.listen + " (http.listen in " +
                                  "node.yaml): " + why.data());
  }
  std::array<mg_server_port, 1> bound{};
  if (mg_get_server_ports(server->context_, static_cast<int>(bound.size()), bound.data()) < 1) {
    return absl::InternalError("CivetWeb does not say which port it listens on");
  }
  const auto port = static_cast<uint16_t>(bound[0].port);
  server->address_ = JoinHostPort(listen->host, port);
  server->link_address_ = IsWildcardHost(listen->host)
                              ? DeriveAdvertiseAddress(listen->host, port)
                              : server->address_;
  server->knock_address_.sin_family = AF_INET;
  server->knock_address_.sin_port = htons(port);
  if (IsWildcardHost(listen->host) ||
      ::inet_pton(AF_INET, listen->host.c_str(), &server->knock_address_.sin_addr) != 1) {
    server->knock_address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  mg_set_request_handler(server->context_, "/", OnRequest, nullptr);
  return server;
}

WebServer::~WebServer() { Stop(); }

void WebServer::Serve(std::shared_ptr<grpc::Channel> node) {
  auto api = std::make_shared<DashboardApi>(std::move(node));
  absl::MutexLock lock(&mu_);
  if (!stopping_) api_ = std::move(api);
}

void WebServer::Stop() {
  std::shared_ptr<DashboardApi> api;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    api = api_;
  }
  streams_.Stop();
  if (api) api->CancelCalls();
  if (context_ == nullptr) return;
  std::atomic<bool> stopped = false;
  std::thread knocker([this, &stopped] {
    while (!stopped) {
      Knock(knock_address_);
      std::this_thread::sleep_for(kKnockInterval);
    }
  });
  mg_stop(context_);  // waits for every worker
  stopped = true;
  knocker.join();
  context_ = nullptr;
  mg_exit_library();
}

absl::StatusOr<LoginLink> WebServer::MakeLoginLink() {
  absl::StatusOr<std::string> token = sessions_.NewLoginToken();
  if (!token.ok()) return token.status();
  const auto expires = std::chrono::system_clock::now() + kLoginLinkTtl;
  return LoginLink{
      .url = "http://" + link_address_ + "/login?token=" + *token,
      .expires_unix = std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch())
                          .count()};
}

int WebServer::HandleRequest(mg_connection* connection) {
  const mg_request_info& info = *mg_get_request_info(connection);
  const absl::Status host = hosts_.Check(mg_get_header(connection, "Host"));
  if (!host.ok()) return RespondText(connection, kForbidden, StatusMessage(host));
  const std::string method = info.request_method;
  if (method != "GET" && method != "POST") {
    Respond(connection, kMethodNotAllowed, kText, "only GET and POST are served\n", kNoStore,
            "Allow: GET, POST\r\n");
    return kMethodNotAllowed;
  }
  if (method != "GET") {
    const absl::Status origin =
        CheckOrigin(mg_get_header(connection, "Origin"), mg_get_header(connection, "Host"));
    if (!origin.ok()) return RespondText(connection, kForbidden, StatusMessage(origin));
  }
  // URL-decoded, not cleaned: a path that climbs is refused, not mended.
  const std::string path = info.local_uri_raw != nullptr ? info.local_uri_raw : "";
  if (path == "/metrics") return ServeMetrics(connection);
  if (path == "/login") return ServeLogin(connection);
  const bool api = path.starts_with("/api/");
  if (!HasSession(connection)) {
    return api ? RespondJson(connection, kUnauthorized, cli::JsonText({{"error", kNeedSession}}))
               : RespondText(connection, kUnauthorized, kNeedSession);
  }
  if (path == "/api/events") return ServeEvents(connection);
  if (api) return ServeApi(connection, path);
  return ServeStaticFile(connection, path);
}

int WebServer::HandleError(mg_connection* connection, int status, const char* message) {
  Respond(connection, status, kText, std::string(message != nullptr ? message : "") + "\n");
  return 0;  // answered here
}

bool WebServer::HasSession(const mg_connection* connection) {
  const char* cookies = mg_get_header(connection, "Cookie");
  if (cookies == nullptr) return false;
  std::array<char, kTokenBufferBytes> session{};
  if (mg_get_cookie(cookies, kSessionCookie, session.data(), session.size()) <= 0) return false;
  return sessions_.Use(session.data());
}

int WebServer::ServeMetrics(mg_connection* connection) {
  if (mg_get_request_info(connection)->request_method != std::string_view("GET")) {
    return RespondText(connection, kMethodNotAllowed, "/metrics takes GET");
  }
  if (!options_.metrics) return RespondText(connection, kNotFound, "no metrics on this node");
  Respond(connection, kOk, kMetricsType, options_.metrics());
  return kOk;
}

int WebServer::ServeLogin(mg_connection* connection) {
  const mg_request_info& info = *mg_get_request_info(connection);
  if (info.request_method != std::string_view("GET")) {
    return RespondText(connection, kMethodNotAllowed, "/login takes GET");
  }
  const std::string token = QueryValue(info, "token", kTokenBufferBytes);
  absl::StatusOr<std::string> session = sessions_.Redeem(token);
  if (!session.ok()) return RespondText(connection, kForbidden, StatusMessage(session.status()));
  spdlog::info("dashboard: a login link opened a session (from {})", info.remote_addr);
  // SameSite=Strict: the browser sends it only with requests the
  // dashboard's own pages make. HttpOnly: no script reads it. No Secure:
  // the dashboard is plain HTTP.
  Respond(connection, kSeeOther, kText, "logged in\n", kNoStore,
          "Location: /\r\n"
          "Set-Cookie: " +
              std::string(kSessionCookie) + "=" + *session +
              "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
              std::to_string(kCookieMaxAge.count()) + "\r\n");
  return kSeeOther;
}

int WebServer::ServeEvents(mg_connection* connection) {
  if (mg_get_request_info(connection)->request_method != std::string_view("GET")) {
    return RespondText(connection, kMethodNotAllowed, "/api/events takes GET");
  }
  const absl::Status served = streams_.Serve(
      ParseLastEventId(mg_get_header(connection, "Last-Event-ID")),
      [connection] {
        return mg_printf(connection,
                         "HTTP/1.1 200 OK\r\n"
                         "Content-Type: text/event-stream\r\n"
                         "Cache-Control: no-store\r\n"
                         "Connection: close\r\n"
                         "%s\r\n",
                         kSecurityHeaders) > 0;
      },
      [connection](std::string_view text) {
        return mg_write(connection, text.data(), text.size()) > 0;
      });
  if (!served.ok()) {
    return RespondJson(connection, kServiceUnavailable,
                       cli::JsonText({{"error", StatusMessage(served)}}));
  }
  return kOk;
}

int WebServer::ServeApi(mg_connection* connection, const std::string& path) {
  const mg_request_info& info = *mg_get_request_info(connection);
  std::shared_ptr<DashboardApi> api;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return RespondJson(connection, kServiceUnavailable,
                         cli::JsonText({{"error", "the daemon is stopping"}}));
    }
    api = api_;
  }
  if (!api) {
    return RespondJson(connection, kServiceUnavailable,
                       cli::JsonText({{"error", "the daemon is starting"}}));
  }
  ApiRequest request{.method = info.request_method, .path = path};
  for (const char* key : {"service", "name"}) {
    if (std::string value = QueryValue(info, key); !value.empty()) request.query[key] = value;
  }
  if (request.method == "POST") {
    std::optional<std::string> body = ReadBody(connection, info);
    if (!body) {
      return RespondJson(connection, kPayloadTooLarge,
                         cli::JsonText({{"error", "the request's body is over the limit of " +
                                                      std::to_string(kMaxRequestBodyBytes) +
                                                      " bytes"}}));
    }
    request.body = *std::move(body);
  }
  const ApiReply reply = api->Handle(request);
  return RespondJson(connection, reply.status, reply.json);
}

int WebServer::ServeStaticFile(mg_connection* connection, const std::string& path) {
  if (mg_get_request_info(connection)->request_method != std::string_view("GET")) {
    return RespondText(connection, kMethodNotAllowed, "pages take GET");
  }
  const absl::StatusOr<std::filesystem::path> file =
      ResolveStaticFile(options_.static_dir, path);
  if (!file.ok()) return RespondText(connection, kNotFound, "no such page");
  std::ifstream in(*file, std::ios::binary);
  if (!in) return RespondText(connection, kNotFound, "no such page");
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(*file, error);
  if (error) return RespondText(connection, kNotFound, "no such page");
  const std::string_view type = ContentType(*file);
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: %.*s\r\n"
            "Content-Length: %ju\r\n"
            "Cache-Control: %s\r\n"
            "Connection: close\r\n"
            "%s\r\n",
            static_cast<int>(type.size()), type.data(), size, kRevalidate, kSecurityHeaders);
  std::array<char, kFileChunkBytes> buffer{};
  // A file that shrank meanwhile ends the response early (and the
  // connection with it).
  for (uintmax_t left = size; left > 0;) {
    in.read(buffer.data(),
            static_cast<std::streamsize>(std::min<uintmax_t>(left, buffer.size())));
    const auto got = static_cast<size_t>(in.gcount());
    if (got == 0 || mg_write(connection, buffer.data(), got) <= 0) break;
    left -= got;
  }
  return kOk;
}

}  // namespace domian::web
