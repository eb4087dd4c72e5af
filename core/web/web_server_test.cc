// The server as a browser (or an attacker's page) meets it, over real
// sockets: logins, sessions, the Host and Origin checks, the API over an
// in-process channel to a stand-in node, the event stream, pages, limits
// and the headers every response carries.
#include "core/web/web_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "domian/v1/domian.grpc.pb.h"

namespace domian::web {
namespace {

using namespace std::chrono_literals;

// The node as the API sees it: a status, and service calls that succeed
// or fail the ways the router's do.
class FakeNode final : public v1::Domain::Service {
 public:
  grpc::Status GetStatus(grpc::ServerContext* /*context*/, const v1::GetStatusRequest* /*request*/,
                         v1::GetStatusResponse* response) override {
    response->mutable_identity()->set_id("n1");
    response->mutable_identity()->set_cluster("home");
    return grpc::Status::OK;
  }
  grpc::Status Invoke(grpc::ServerContext* /*context*/, const v1::InvokeRequest* request,
                      v1::InvokeResponse* response) override {
    if (request->service() == "nowhere") {
      return {grpc::StatusCode::NOT_FOUND, "service nowhere is not running on any live node"};
    }
    if (request->service() == "broken") {
      return {grpc::StatusCode::FAILED_PRECONDITION, "node b did not answer"};
    }
    response->set_reply_json(R"({"args": )" + request->args_json() + "}");
    response->set_node("n1");
    return grpc::Status::OK;
  }
};

struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  bool Has(std::string_view header_line) const {
    return head.find(std::string(header_line) + "\r\n") != std::string::npos;
  }
  std::string Header(std::string_view name) const {
    const std::string key = "\r\n" + std::string(name) + ": ";
    const size_t at = head.find(key);
    if (at == std::string::npos) return "";
    const size_t start = at + key.size();
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

// One connection to 127.0.0.1:port: sends `request` as it is, reads until
// `until` arrives or the server closes (or 5 s pass).
std::string Exchange(int port, const std::string& request, std::string_view until = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string received;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t got = 0;
    while ((until.empty() || received.find(until) == std::string::npos) &&
           (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
      received.append(buffer, static_cast<size_t>(got));
    }
  }
  ::close(fd);
  return received;
}

Response Parse(const std::string& raw) {
  Response response;
  const size_t end = raw.find("\r\n\r\n");
  response.head = raw.substr(0, end == std::string::npos ? raw.size() : end + 2);
  if (end != std::string::npos) response.body = raw.substr(end + 4);
  if (raw.rfind("HTTP/1.1 ", 0) == 0) response.status = std::stoi(raw.substr(9, 3));
  return response;
}

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pages_ = std::filesystem::temp_directory_path() /
             ("domian-web-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(pages_);
    std::filesystem::create_directories(pages_ / "dashboard");
    std::ofstream(pages_ / "dashboard" / "index.html") << "<!doctype html><title>domian</title>";
    std::ofstream(pages_ / "dashboard" / "app.js") << "start();";
    std::ofstream(pages_ / "secret.txt") << "outside";
    grpc::ServerBuilder builder;
    builder.RegisterService(&node_);
    node_server_ = builder.BuildAndStart();
    Start();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    node_server_->Shutdown();
    std::filesystem::remove_all(pages_);
  }

  void Start(std::function<std::string()> metrics = [] { return "domian_up 1\n"; }) {
    absl::StatusOr<std::unique_ptr<WebServer>> server = WebServer::Listen(
        {.listen = "127.0.0.1:0",
         .static_dir = pages_ / "dashboard",
         .allowed_hosts = {"dash.example"},
         .hostname = "kitchen",
         .metrics = std::move(metrics),
         .events = journal_,
         .clock = clock_,
         .streams = {.max_streams = 1, .keep_alive = 100ms}});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    port_ = std::stoi(server_->address().substr(server_->address().rfind(':') + 1));
    server_->Serve(node_server_->InProcessChannel(grpc::ChannelArguments()));
  }

  // A request with the Host a browser would send (unless `headers` has
  // one) and `headers` (each line ending in CRLF).
  Response Request(const std::string& method, const std::string& path,
                   const std::string& headers = "", const std::string& body = "") {
    std::string request = method + " " + path + " HTTP/1.1\r\n";
    if (headers.find("Host:") == std::string::npos) request += "Host: " + Host() + "\r\n";
    request += headers;
    if (method == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return Parse(Exchange(port_, request + "\r\n" + body));
  }
  Response Get(const std::string& path, const std::string& headers = "") {
    return Request("GET", path, headers);
  }
  // A POST from the dashboard's own page.
  Response Post(const std::string& path, const std::string& body, const std::string& headers) {
    return Request("POST", path, "Origin: http://" + Host() + "\r\n" + headers, body);
  }
  std::string Host() const { return "127.0.0.1:" + std::to_string(port_); }

  // Opens a login link; the Cookie header that carries its session.
  std::string LogIn() {
    absl::StatusOr<LoginLink> link = server_->MakeLoginLink();
    EXPECT_TRUE(link.ok()) << link.status();
    const std::string prefix = "http://" + Host();
    EXPECT_EQ(link->url.rfind(prefix + "/login?token=", 0), 0u) << link->url;
    const Response response = Get(link->url.substr(prefix.size()));
    EXPECT_EQ(response.status, 303) << response.head << response.body;
    const std::string cookie = response.Header("Set-Cookie");
    return "Cookie: " + cookie.substr(0, cookie.find(';')) + "\r\n";
  }

  static void ExpectSecurityHeaders(const Response& response) {
    EXPECT_TRUE(response.Has(
        "Content-Security-Policy: default-src 'self'; img-src 'self' http: data:; connect-src "
        "'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"))
        << response.head;
    EXPECT_TRUE(response.Has("X-Content-Type-Options: nosniff")) << response.head;
    EXPECT_TRUE(response.Has("Referrer-Policy: no-referrer")) << response.head;
    EXPECT_TRUE(response.Has("X-Frame-Options: DENY")) << response.head;
  }

  std::filesystem::path pages_;
  FakeNode node_;
  std::unique_ptr<grpc::Server> node_server_;
  FakeClock clock_;
  events::EventJournal journal_{[] { return int64_t{1700000000000}; }};
  std::unique_ptr<WebServer> server_;
  int port_ = 0;
};

TEST_F(WebServerTest, ALoginLinkOpensASessionOnce) {
  const absl::StatusOr<LoginLink> link = server_->MakeLoginLink();
  ASSERT_TRUE(link.ok());
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  EXPECT_NEAR(static_cast<double>(link->expires_unix),
              static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(now).count() +
                                  300),
              5);
  const std::string path = link->url.substr(link->url.find("/login"));
  const Response login = Get(path);
  ASSERT_EQ(login.status, 303) << login.head << login.body;
  EXPECT_EQ(login.Header("Location"), "/");
  const std::string cookie = login.Header("Set-Cookie");
  EXPECT_EQ(cookie.rfind("domian_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"),
            std::string::npos)
      << cookie;
  EXPECT_TRUE(login.Has("Cache-Control: no-store"));
  ExpectSecurityHeaders(login);

  const Response again = Get(path);
  EXPECT_EQ(again.status, 403);
  EXPECT_NE(again.body.find("`domianctl dashboard`"), std::string::npos) << again.body;
  EXPECT_EQ(again.Header("Set-Cookie"), "");
  EXPECT_EQ(Get("/login?token=" + std::string(43, 'A')).status, 403);
  EXPECT_EQ(Get("/login").status, 403);
}

TEST_F(WebServerTest, EveryPageAndApiNeedsASessionButMetrics) {
  for (const char* path : {"/", "/index.html", "/app.js", "/missing"}) {
    const Response page = Get(path);
    EXPECT_EQ(page.status, 401) << path;
    EXPECT_NE(page.body.find("domianctl dashboard"), std::string::npos) << page.body;
    ExpectSecurityHeaders(page);
  }
  for (const char* path : {"/api/status", "/api/events", "/api/nothing"}) {
    const Response api = Get(path);
    EXPECT_EQ(api.status, 401) << path;
    EXPECT_TRUE(nlohmann::json::parse(api.body).contains("error")) << api.body;
  }
  EXPECT_EQ(Get("/", "Cookie: domian_session=" + std::string(43, 'A') + "\r\n").status, 401);
  const Response metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body, "domian_up 1\n");
  EXPECT_EQ(metrics.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  ExpectSecurityHeaders(metrics);
}

TEST_F(WebServerTest, PagesAreServedWithTheirTypesAndNothingOutsideTheirFolder) {
  const std::string session = LogIn();
  const Response index = Get("/", session);
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>domian</title>");
  EXPECT_EQ(index.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.Header("Cache-Control"), "no-cache");
  ExpectSecurityHeaders(index);
  const Response script = Get("/app.js", session);
  EXPECT_EQ(script.body, "start();");
  EXPECT_EQ(script.Header("Content-Type"), "text/javascript; charset=utf-8");
  for (const char* path : {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
                           "/%2E%2E%2Fsecret.txt", "/./app.js", "/missing.js"}) {
    const Response outside = Get(path, session);
    EXPECT_EQ(outside.status, 404) << path;
    EXPECT_EQ(outside.body.find("outside"), std::string::npos) << path;
  }
}

TEST_F(WebServerTest, ASessionEndsAfterThirtyDaysIdle) {
  const std::string session = LogIn();
  clock_.Advance(kSessionIdle - 1s);
  EXPECT_EQ(Get("/", session).status, 200);
  clock_.Advance(kSessionIdle);
  EXPECT_EQ(Get("/", session).status, 401);
}

TEST_F(WebServerTest, AHostThatIsNotTheNodesIsRefused) {
  const std::string session = LogIn();
  const Response rebound = Get("/api/status", "Host: evil.example:" + std::to_string(port_) +
                                                  "\r\n" + session);
  EXPECT_EQ(rebound.status, 403);
  EXPECT_NE(rebound.body.find("refuses requests for host 'evil.example'"), std::string::npos)
      << rebound.body;
  EXPECT_EQ(rebound.body.find("\"id\""), std::string::npos);
  ExpectSecurityHeaders(rebound);
  // Neither a login nor /metrics answers it.
  EXPECT_EQ(Get("/metrics", "Host: evil.example\r\n").status, 403);
  // Without a Host at all (HTTP/1.0).
  EXPECT_EQ(Parse(Exchange(port_, "GET /metrics HTTP/1.0\r\n\r\n")).status, 403);
  for (const char* host : {"localhost", "kitchen", "kitchen.local", "dash.example", "[::1]"}) {
    EXPECT_EQ(Get("/", "Host: " + std::string(host) + ":8380\r\n" + session).status, 200)
        << host;
  }
}

TEST_F(WebServerTest, AChangeNeedsTheDashboardsOwnOrigin) {
  const std::string session = LogIn();
  const std::string call = R"({"service": "lamp", "command": "on"})";
  const Response forged = Request("POST", "/api/call", session, call);
  EXPECT_EQ(forged.status, 403);
  EXPECT_NE(forged.body.find("without an Origin header"), std::string::npos) << forged.body;
  EXPECT_EQ(Request("POST", "/api/call", "Origin: http://evil.example\r\n" + session, call).status,
            403);
  EXPECT_EQ(Request("POST", "/api/call",
                    "Origin: http://127.0.0.1:" + std::to_string(port_ + 1) + "\r\n" + session,
                    call)
                .status,
            403);
  // The right origin without a session is still nobody.
  EXPECT_EQ(Post("/api/call", call, "").status, 401);
  EXPECT_EQ(Post("/api/call", call, session).status, 200);
  // Other methods are not served at all.
  EXPECT_EQ(Request("PUT", "/api/call", "Origin: http://" + Host() + "\r\n" + session).status,
            405);
  EXPECT_EQ(Request("OPTIONS", "/api/call",
                    "Origin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n")
                .status,
            405);
}

TEST_F(WebServerTest, TheApiAnswersAsDomianctlJsonDoes) {
  const std::string session = LogIn();
  const Response status = Get("/api/status", session);
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(status.Header("Content-Type"), "application/json");
  EXPECT_EQ(status.Header("Cache-Control"), "no-store");
  ExpectSecurityHeaders(status);
  const nlohmann::json document = nlohmann::json::parse(status.body);
  EXPECT_EQ(document["id"], "n1");
  EXPECT_EQ(document["cluster"], "home");
  EXPECT_TRUE(document.contains("security"));

  const Response reply =
      Post("/api/call", R"({"service": "lamp", "command": "set", "args": {"on": true}})", session);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(nlohmann::json::parse(reply.body), nlohmann::json::parse(R"({"args": {"on": true}})"));
}

TEST_F(WebServerTest, TheApiSaysWhatWentWrongWithAFittingStatus) {
  const std::string session = LogIn();
  auto call = [&](const std::string& body) { return Post("/api/call", body, session); };
  const Response nowhere = call(R"({"service": "nowhere", "command": "on"})");
  EXPECT_EQ(nowhere.status, 404);
  EXPECT_EQ(nlohmann::json::parse(nowhere.body)["error"],
            "domiand at this node answered: service nowhere is not running on any live node");
  EXPECT_EQ(call(R"({"service": "broken", "command": "on"})").status, 502);
  EXPECT_EQ(call("not json").status, 400);
  EXPECT_EQ(call(R"({"service": "lamp"})").status, 400);
  EXPECT_EQ(call(R"({"service": 1, "command": "on"})").status, 400);
  EXPECT_EQ(Get("/api/explain", session).status, 400);
  EXPECT_EQ(Get("/api/nothing", session).status, 404);
  EXPECT_EQ(Get("/api/call", session).status, 405);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kResourceExhausted), 503);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kAborted), 502);
}

TEST_F(WebServerTest, ABodyOverTheLimitIsRefusedUnread) {
  const std::string session = LogIn();
  const std::string big = R"({"service": "lamp", "command": "on", "args": ")" +
                          std::string(kMaxRequestBodyBytes, 'x') + "\"}";
  const Response refused = Post("/api/call", big, session);
  EXPECT_EQ(refused.status, 413);
  EXPECT_NE(refused.body.find("over the limit of 65536 bytes"), std::string::npos)
      << refused.body;
  // Just under the limit is a call like any other.
  const std::string fits = R"({"service": "lamp", "command": "on", "args": ")" +
                           std::string(kMaxRequestBodyBytes - 64, 'x') + "\"}";
  EXPECT_EQ(Post("/api/call", fits, session).status, 200);
}

TEST_F(WebServerTest, HeadersOverTheLimitAreRefused) {
  const Response refused = Get("/metrics", "X-Big: " + std::string(kMaxHeaderBytes, 'x') + "\r\n");
  EXPECT_GE(refused.status, 400);
  EXPECT_LT(refused.status, 500);
  ExpectSecurityHeaders(refused);
}

TEST_F(WebServerTest, TheEventStreamFollowsTheJournal) {
  const std::string session = LogIn();
  journal_.Publish({.kind = events::Kind::kMember, .what = "dead", .node = "b"});
  std::thread later([this] {
    std::this_thread::sleep_for(300ms);
    journal_.Publish({.kind = events::Kind::kPlacement, .what = "moved", .service = "lights"});
  });
  const std::string raw =
      Exchange(port_,
               "GET /api/events HTTP/1.1\r\nHost: " + Host() + "\r\n" + session + "\r\n",
               "event: placement\n");
  later.join();
  const Response stream = Parse(raw);
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(stream.Header("Content-Type"), "text/event-stream");
  ExpectSecurityHeaders(stream);
  EXPECT_EQ(stream.body.rfind("retry: 2000\n\nid: 1\nevent: member\ndata: {", 0), 0u)
      << stream.body;
  EXPECT_NE(stream.body.find(": keep-alive\n\n"), std::string::npos) << stream.body;
  EXPECT_NE(stream.body.find("id: 2\nevent: placement\n"), std::string::npos) << stream.body;
}

TEST_F(WebServerTest, EventStreamsAreBoundedAndEndWhenTheServerStops) {
  const std::string session = LogIn();
  std::string first;
  std::thread open([&] {
    first = Exchange(port_, "GET /api/events HTTP/1.1\r\nHost: " + Host() + "\r\n" + session +
                                "\r\n");
  });
  for (int i = 0; i < 250 && journal_.watchers() == 0; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(journal_.watchers(), 1u);
  // The one stream allowed is open: another is refused.
  const Response second = Get("/api/events", session);
  EXPECT_EQ(second.status, 503);
  EXPECT_NE(second.body.find("1 live event streams at once"), std::string::npos) << second.body;
  const auto stopping = std::chrono::steady_clock::now();
  server_->Stop();
  open.join();  // the stream ended, the connection closed
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 3s);
  EXPECT_EQ(Parse(first).status, 200);
}

TEST_F(WebServerTest, TheApiWaitsForTheNodeAndMetricsForTheirSource) {
  server_->Stop();
  Start(nullptr);
  const std::string session = LogIn();
  EXPECT_EQ(Get("/metrics").status, 404);
  server_->Stop();
  absl::StatusOr<std::unique_ptr<WebServer>> starting = WebServer::Listen(
      {.listen = "127.0.0.1:0", .static_dir = pages_, .events = journal_, .clock = clock_});
  ASSERT_TRUE(starting.ok());
  server_ = *std::move(starting);
  port_ = std::stoi(server_->address().substr(server_->address().rfind(':') + 1));
  const Response early = Get("/api/status", LogIn());
  EXPECT_EQ(early.status, 503);
  EXPECT_NE(early.body.find("starting"), std::string::npos);
}

TEST_F(WebServerTest, TheDaemonStillReapsItsOwnChildren) {
  // CivetWeb ignores SIGCHLD when it starts; the daemon waits for its
  // plugin hosts, which the kernel would then reap first.
  struct sigaction child {};
  ASSERT_EQ(::sigaction(SIGCHLD, nullptr, &child), 0);
  EXPECT_EQ(child.sa_handler, SIG_DFL);
}

TEST_F(WebServerTest, ATakenPortIsAnErrorNamingTheAddress) {
  const std::string taken = server_->address();
  const absl::StatusOr<std::unique_ptr<WebServer>> second =
      WebServer::Listen({.listen = taken, .static_dir = pages_, .events = journal_,
                         .clock = clock_});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("cannot listen for HTTP (the dashboard, /metrics) on " +
                                           taken),
            std::string::npos)
      << second.status();
}

}  // namespace
}  // namespace domian::web
