// Load as an attacker on the home network would make it, against real
// daemons on 127.0.0.1, with raw clients written here (issue 23, items 3,
// 4 and 12):
//  - a flood of plain TCP connections at an open-file limit of 1024: the
//    daemon keeps accepting once the flood ends, and its peers never see
//    it dead; the watchdog's probe fails when a port does not answer, and
//    a daemon that takes no new connection stops pinging its watchdog;
//  - slow-loris HTTP/2: 20 000 streams opened (request headers sent, the
//    request never finished) over connections from several hosts: the
//    daemon holds a bounded share, its memory stays bounded and comes back,
//    and its cluster sees no suspect or dead verdict. The port speaks
//    HTTP/2 only inside TLS (a plaintext client gets nothing), so these
//    raw clients do the TLS handshake first (OpenSSL), mostly with a node
//    certificate of the cluster: a member with a bug, or a stolen key;
//  - a slow service: four calls to a command that takes 20 s leave other
//    services, `services` and `explain` answering on every node.
// Attackers that pose as other hosts connect from other loopback
// addresses (127.0.0.2 and up), as a guest's device on the LAN would.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include "core/rpc/port_probe.h"
#include "core/trust/credentials.h"
#include "core/trust/pki.h"
#include "domian/v1/domian.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/notify_socket.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kSettle = 30s;
// Failure detection slow enough that a loaded two-core machine never
// causes a verdict by itself, yet a daemon starved by an attack for
// seconds still gets one.
constexpr char kPatientMembership[] = "membership:\n  suspect_after: 2s\n  dead_after: 4s\n";
const std::filesystem::path kTestPlugins = DOMIAN_TEST_PLUGIN_DIR;

// ---- measuring -------------------------------------------------------------

// Resident memory of process `pid`, in KiB (0 when unreadable).
size_t ResidentKiB(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

// The open-file limit of process `pid` ("Max open files" soft value).
std::string OpenFileLimit(int pid) {
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind("Max open files", 0) == 0) {
      std::istringstream fields(line.substr(14));
      std::string soft;
      fields >> soft;
      return soft;
    }
  }
  return "";
}

// Raises this process's soft open-file limit so it can hold `needed`
// sockets; false when the hard limit does not allow it.
bool AllowOpenFiles(rlim_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max < needed) return false;
  limit.rlim_cur = limit.rlim_max;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

// Suspect and dead verdicts in the logs of `daemons` so far.
size_t Verdicts(const std::vector<Daemon*>& daemons) {
  size_t verdicts = 0;
  for (const Daemon* daemon : daemons) {
    const std::string log = daemon->Log();
    verdicts += Occurrences(log, ") is suspect") + Occurrences(log, ") is dead");
  }
  return verdicts;
}

uint16_t PortOf(const Daemon& daemon) {
  return static_cast<uint16_t>(std::stoi(daemon.address().substr(daemon.address().rfind(':') + 1)));
}

// ---- raw clients -----------------------------------------------------------

// A TCP socket to 127.0.0.1:port from `source` (another loopback address
// poses as another host), connecting without blocking: -1 on failure.
int StartConnecting(uint16_t port, const std::string& source = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether `fd` finished connecting (within `timeout`).
bool Connected(int fd, std::chrono::milliseconds timeout) {
  pollfd ready{fd, POLLOUT, 0};
  if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) return false;
  int error = 0;
  socklen_t length = sizeof error;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  const auto until = SteadyClock::now() + 5s;
  while (sent < data.size() && SteadyClock::now() < until) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd ready{fd, POLLOUT, 0};
      ::poll(&ready, 1, 100);
    } else {
      return false;
    }
  }
  return sent == data.size();
}

// The TLS every client of a daemon speaks before its first HTTP/2 byte,
// done here with OpenSSL rather than gRPC, so that what follows it is raw.
// As a node of cluster "test" (a certificate of the test CA): a member
// with a bug, which the server lets make calls. With no node named, a
// stranger with no certificate; with kAnotherCa, a stranger with a
// certificate of a CA of its own naming a node of cluster "test". The
// server's TLS door turns both away before HTTP/2.
class RawTls {
 public:
  enum class Ca { kCluster, kAnotherCa };
  // `dir`: a folder for the node's credentials (written there).
  RawTls(const std::filesystem::path& dir, const std::string& node, Ca ca = Ca::kCluster)
      : context_(::SSL_CTX_new(::TLS_client_method())) {
    if (context_ == nullptr) throw std::runtime_error("SSL_CTX_new failed");
    ::SSL_CTX_set_min_proto_version(context_, TLS1_2_VERSION);
    // HTTP/2 over TLS is negotiated with ALPN, as gRPC's clients do.
    static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
    ::SSL_CTX_set_alpn_protos(context_, kAlpn, sizeof kAlpn);
    ::SSL_CTX_set_mode(context_, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (node.empty()) return;
    const std::filesystem::path folder = dir / ("raw-tls-" + node);
    if (ca == Ca::kCluster) {
      WriteNodeCredentials(folder, "test", node);
    } else {
      const trust::Authority authority = *trust::NewAuthority("test");
      const trust::Subject subject{"test", trust::Role::kNode, node};
      const std::string key = *trust::NewPrivateKey();
      const trust::Credentials stranger{
          .self = subject,
          .roots_pem = authority.cert_pem,
          .cert_pem = *trust::Issue(authority, *trust::NewCsr(key, subject), subject),
          .key_pem = key};
      if (!trust::SaveCredentials(folder, stranger).ok()) {
        throw std::runtime_error("cannot write a stranger's credentials to " + folder.string());
      }
    }
    if (::SSL_CTX_use_certificate_chain_file(context_, (folder / "cert.pem").c_str()) != 1 ||
        ::SSL_CTX_use_PrivateKey_file(context_, (folder / "key.pem").c_str(), SSL_FILETYPE_PEM) !=
            1) {
      throw std::runtime_error("cannot load the raw client's credentials from " + folder.string());
    }
    // A member checks the daemon against the cluster's CA; a stranger
    // takes whatever server it finds.
    if (ca == Ca::kCluster) {
      if (::SSL_CTX_load_verify_locations(context_, (folder / "ca.pem").c_str(), nullptr) != 1) {
        throw std::runtime_error("cannot load the cluster's CA from " + folder.string());
      }
      ::SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, nullptr);
    }
  }
  ~RawTls() { ::SSL_CTX_free(context_); }
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  SSL_CTX* context() const { return context_; }

 private:
  SSL_CTX* context_;
};

// One TLS connection of a raw client, on a non-blocking socket.
class RawConnection {
 public:
  // Connected from `source` and through the TLS handshake; nullptr when
  // the server refused or closed it.
  static std::unique_ptr<RawConnection> Open(const RawTls& tls, uint16_t port,
                                             const std::string& source) {
    const int fd = StartConnecting(port, source);
    if (fd < 0) return nullptr;
    std::unique_ptr<RawConnection> connection(new RawConnection(fd, ::SSL_new(tls.context())));
    if (connection->ssl_ == nullptr || !Connected(fd, 3s) ||
        ::SSL_set_fd(connection->ssl_, fd) != 1 || !connection->Handshake()) {
      return nullptr;
    }
    return connection;
  }

  ~RawConnection() {
    if (ssl_ != nullptr) ::SSL_free(ssl_);  // no close_notify: the client just goes
    ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool Send(const std::string& data) {
    size_t sent = 0;
    const auto until = SteadyClock::now() + 5s;
    while (sent < data.size() && SteadyClock::now() < until) {
      const int n = ::SSL_write(ssl_, data.data() + sent, static_cast<int>(data.size() - sent));
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (!Wait(n)) {
        return false;
      }
    }
    return sent == data.size();
  }

  // Appends what the server sent so far to `into`, without waiting; false
  // once the server closed the connection.
  bool Receive(std::string& into) {
    char buffer[4096];
    while (true) {
      const int n = ::SSL_read(ssl_, buffer, sizeof buffer);
      if (n > 0) {
        into.append(buffer, static_cast<size_t>(n));
        continue;
      }
      const int error = ::SSL_get_error(ssl_, n);
      ::ERR_clear_error();
      return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE;
    }
  }

  int fd() const { return fd_; }

 private:
  RawConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}

  bool Handshake() {
    const auto until = SteadyClock::now() + 3s;
    while (SteadyClock::now() < until) {
      const int done = ::SSL_connect(ssl_);
      if (done == 1) return true;
      if (!Wait(done)) return false;
    }
    return false;
  }

  // After an SSL call returned `result` <= 0: waits (100 ms at most) for
  // what it wants; false when it failed for good.
  bool Wait(int result) {
    const int error = ::SSL_get_error(ssl_, result);
    ::ERR_clear_error();
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return false;
    pollfd ready{fd_, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    ::poll(&ready, 1, 100);
    return true;
  }

  int fd_;
  SSL* ssl_;
};

// Just enough HTTP/2 (RFC 9113) and HPACK (RFC 7541) to open gRPC calls as
// a client of any language would, without the library.
namespace http2 {

constexpr uint8_t kHeaders = 0x1;
constexpr uint8_t kSettings = 0x4;
constexpr uint8_t kEndHeaders = 0x4;
constexpr uint8_t kAck = 0x1;
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  const auto length = static_cast<uint32_t>(payload.size());
  std::string frame;
  for (const int shift : {16, 8, 0}) frame += static_cast<char>((length >> shift) & 0xff);
  frame += static_cast<char>(type);
  frame += static_cast<char>(flags);
  for (const int shift : {24, 16, 8, 0}) frame += static_cast<char>((stream >> shift) & 0xff);
  return frame + payload;
}

// A literal header field (not indexed) with a name from the static table,
// or with a literal name (index 0). Strings shorter than 127 bytes.
std::string Literal(uint8_t name_index, const std::string& name, const std::string& value) {
  std::string field(1, static_cast<char>(name_index < 15 ? name_index : 15));
  if (name_index >= 15) field += static_cast<char>(name_index - 15);
  if (name_index == 0) field += static_cast<char>(name.size()) + name;
  return field + static_cast<char>(value.size()) + value;
}

// The request headers of a gRPC call to `path` over TLS (no END_STREAM:
// the request message never comes).
std::string CallHeaders(const std::string& path) {
  std::string block;
  block += static_cast<char>(0x83);  // :method POST (static index 3)
  block += static_cast<char>(0x87);  // :scheme https (static index 7)
  block += Literal(4, "", path);     // :path
  block += Literal(1, "", "victim"); // :authority
  block += Literal(31, "", "application/grpc");  // content-type
  block += Literal(0, "te", "trailers");
  return block;
}

// Reads frames until the server's SETTINGS (not an ACK); false when the
// connection closed or nothing came in time.
bool AwaitServerSettings(RawConnection& connection) {
  std::string in;
  const auto until = SteadyClock::now() + 3s;
  while (SteadyClock::now() < until) {
    pollfd ready{connection.fd(), POLLIN, 0};
    ::poll(&ready, 1, 100);
    if (!connection.Receive(in)) return false;
    for (size_t at = 0; at + 9 <= in.size();) {
      const auto byte = [&](size_t i) { return static_cast<uint8_t>(in[at + i]); };
      if (byte(3) == kSettings && (byte(4) & kAck) == 0) return true;
      at += 9 + ((size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2));
    }
  }
  return false;
}

}  // namespace http2

// One connection over `tls` holding `streams` calls open: preface and
// SETTINGS, acknowledges the server's SETTINGS (as a gRPC client does,
// which puts it under the server's stream limit), then the request headers
// of each call and nothing more. nullptr when the server refused or closed
// it.
std::unique_ptr<RawConnection> HoldStreams(const RawTls& tls, uint16_t port,
                                           const std::string& source, int streams) {
  std::unique_ptr<RawConnection> connection = RawConnection::Open(tls, port, source);
  if (connection == nullptr ||
      !connection->Send(std::string(http2::kPreface) + http2::Frame(http2::kSettings, 0, 0, "")) ||
      !http2::AwaitServerSettings(*connection) ||
      !connection->Send(http2::Frame(http2::kSettings, http2::kAck, 0, ""))) {
    return nullptr;
  }
  const std::string headers = http2::CallHeaders("/domian.v1.Domain/Invoke");
  std::string calls;
  for (int i = 0; i < streams; ++i) {
    calls += http2::Frame(http2::kHeaders, http2::kEndHeaders, static_cast<uint32_t>(1 + 2 * i),
                          headers);
  }
  if (!connection->Send(calls)) return nullptr;
  return connection;
}

// Whether the server still keeps `connection` open (nothing says it
// closed); what it sent (pings, settings) is read and dropped.
bool StillOpen(RawConnection& connection) {
  std::string ignored;
  return connection.Receive(ignored);
}

// ---- fixture ---------------------------------------------------------------

class HostileLoad : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& daemon : daemons_) {
      std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
    }
  }

  // A victim and two peers that see each other alive. The victim runs
  // under `wrapper`.
  void StartTrio(std::vector<std::string> wrapper = {}) {
    Daemon::Options victim{.id = "victim", .extra_yaml = kPatientMembership};
    victim.wrapper = std::move(wrapper);
    daemons_.push_back(std::make_unique<Daemon>(dir_.path(), victim));
    for (const std::string id : {"peer-a", "peer-b"}) {
      daemons_.push_back(std::make_unique<Daemon>(
          dir_.path(), Daemon::Options{.id = id,
                                       .seeds = {daemons_.front()->address()},
                                       .extra_yaml = kPatientMembership}));
    }
    for (const auto& daemon : daemons_) daemon->Start();
    ASSERT_TRUE(AllSeeEachOtherAlive(All(), kSettle));
  }

  std::vector<Daemon*> All() {
    std::vector<Daemon*> all;
    for (const auto& daemon : daemons_) all.push_back(daemon.get());
    return all;
  }
  Daemon& victim() { return *daemons_.front(); }

  TempDir dir_{"domian-hostile-load"};
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

// ---- item 3: connection floods -----------------------------------------

TEST_F(HostileLoad, AConnectionFloodAtTheOpenFileLimitLeavesTheDaemonReachable) {
  constexpr int kFlood = 5000;
  if (!AllowOpenFiles(kFlood + 200)) GTEST_SKIP() << "this process cannot open " << kFlood << " sockets";
  StartTrio({"/usr/bin/prlimit", "--nofile=1024:1024", "--"});
  ASSERT_EQ(OpenFileLimit(victim().Pid()), "1024");
  const size_t verdicts_before = Verdicts(All());

  // Peers' view of the victim, watched for the whole flood.
  std::atomic<bool> watching{true};
  std::vector<std::string> seen;
  std::thread watcher([&] {
    while (watching) {
      for (Daemon* peer : {daemons_[1].get(), daemons_[2].get()}) {
        const std::string state = PeerState(*peer, "victim");
        if (!state.empty()) seen.push_back(state);
      }
      std::this_thread::sleep_for(200ms);
    }
  });

  // Plain TCP connections, opened and held, never a byte sent.
  std::vector<int> flood;
  for (int i = 0; i < kFlood; ++i) {
    const int fd = StartConnecting(PortOf(victim()));
    if (fd >= 0) flood.push_back(fd);
  }
  size_t connected = 0;
  for (const int fd : flood) connected += Connected(fd, 0ms) ? 1u : 0u;
  // Held past the server's handshake timeout (5 s).
  std::this_thread::sleep_for(6s);
  for (const int fd : flood) ::close(fd);
  const auto ended = SteadyClock::now();

  bool answered = false;
  while (!answered && SteadyClock::now() - ended < 5s) answered = Ctl(victim().address(), "status").has_value();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - ended);
  std::this_thread::sleep_for(2s);  // a late verdict would show up by now
  watching = false;
  watcher.join();

  std::cout << "flood: " << flood.size() << " sockets opened, " << connected
            << " connected at once; status answered " << took.count()
            << " ms after the flood ended\n";
  EXPECT_TRUE(answered) << "domianctl status did not answer within 5 s of the flood's end";
  EXPECT_THAT(seen, Not(::testing::Contains("dead")));
  EXPECT_EQ(Verdicts(All()), verdicts_before);
  EXPECT_TRUE(victim().Running());
  const std::string log = victim().Log();
  EXPECT_THAT(log, Not(HasSubstr("Failed accept4")));
  EXPECT_THAT(log, HasSubstr("incoming connection(s) since the last report"));
  // It still takes new peers' and tools' connections, again and again.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Ctl(victim().address(), "peers").has_value());
}

TEST_F(HostileLoad, TheWatchdogProbeFailsWhenThePortDoesNotAnswer) {
  // A port whose connections complete (the kernel's backlog) but that
  // never speaks: a deaf listener.
  const int deaf = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(deaf, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(deaf, 16), 0);
  ASSERT_EQ(::getsockname(deaf, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string deaf_address = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  // The node's own credentials, as the watchdog probes with.
  const auto own = TestCredentials("test", "answering");
  const auto began = SteadyClock::now();
  const auto problem = rpc::ProbePort(deaf_address, 500ms, own);
  const auto took = SteadyClock::now() - began;
  ::close(deaf);
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr(deaf_address + " did not answer GetStatus within 500 ms"));
  EXPECT_LT(took, 5s);  // it gives up at its deadline, not never

  // Nobody listening at all.
  EXPECT_TRUE(rpc::ProbePort(deaf_address, 500ms, own));

  // A daemon answers, over a connection of the probe's own.
  Daemon daemon(dir_.path(), {.id = "answering"});
  daemon.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(daemon.address(), "status").has_value(); }, kSettle));
  EXPECT_EQ(rpc::ProbePort(daemon.address(), 5s, own), std::nullopt);
  EXPECT_EQ(rpc::ProbeAddress("0.0.0.0:7420", 7420), "127.0.0.1:7420");
  EXPECT_EQ(rpc::ProbeAddress("[::]:0", 7421), "127.0.0.1:7421");  // dual-stack
  EXPECT_EQ(rpc::ProbeAddress("192.168.1.20:7420", 7420), "192.168.1.20:7420");
}

TEST_F(HostileLoad, ADaemonThatTakesNoNewConnectionStopsPingingTheWatchdog) {
  constexpr int kLocalPlaces = 512;  // connections this machine may hold
  if (!AllowOpenFiles(kLocalPlaces + 200)) GTEST_SKIP() << "this process cannot open enough sockets";
  NotifySocket manager(dir_.path() / "notify");
  ASSERT_TRUE(manager.bound());
  Daemon::Options options{.id = "watched"};
  // systemd's WatchdogSec=2s: a ping (after a probe) every second.
  options.env = {{"NOTIFY_SOCKET", manager.path().string()}, {"WATCHDOG_USEC", "2000000"}};
  daemons_.push_back(std::make_unique<Daemon>(dir_.path(), options));
  victim().Start();
  ASSERT_TRUE(manager.WaitFor("READY=1", kSettle));
  ASSERT_TRUE(manager.WaitFor("WATCHDOG=1", kSettle));

  // Every place for connections from this machine taken by idle HTTP/2
  // connections (over TLS, as a member with a bug would hold them): the
  // daemon accepts no new one, though it runs.
  const RawTls member(dir_.path(), "idler");
  std::vector<std::unique_ptr<RawConnection>> held;
  // Opens connections until the daemon refuses them. On a loaded machine a
  // handshake of ours can time out after the daemon took the connection:
  // its place comes free once the daemon notices, and a watchdog probe
  // would take it. A refusal comes at once (the listener closes the
  // socket before any TLS), a timeout after seconds, so only quick
  // failures, or three of any kind in a row, mean the daemon is full.
  const auto take_every_place = [&] {
    int failures = 0;
    for (int attempt = 0; attempt < kLocalPlaces + 64 && failures < 3; ++attempt) {
      const auto began = SteadyClock::now();
      if (auto connection = HoldStreams(member, PortOf(victim()), "", 0)) {
        held.push_back(std::move(connection));
        failures = 0;
        continue;
      }
      if (SteadyClock::now() - began < 1s) return true;
      ++failures;
    }
    return failures >= 3;
  };
  ASSERT_TRUE(take_every_place()) << "the daemon took every connection offered";
  // Pings already sent, or from a probe under way, drain (a quiet spell
  // longer than the interval), each place that came free since being
  // taken again; then none comes.
  for (int i = 0; i < 10 && manager.WaitFor("WATCHDOG=1", 2500ms); ++i) take_every_place();
  EXPECT_FALSE(manager.WaitFor("WATCHDOG=1", 4s)) << "pinged while no connection was taken";
  EXPECT_TRUE(victim().Running());
  EXPECT_THAT(victim().Log(), HasSubstr("watchdog: " + victim().address() + " did not answer"));

  const size_t idle = held.size();
  held.clear();  // closes them
  EXPECT_TRUE(manager.WaitFor("WATCHDOG=1", kSettle));
  EXPECT_TRUE(Eventually([&] { return Occurrences(victim().Log(), "watchdog: the daemon answers again") > 0; },
                         kSettle));
  std::cout << "watchdog: " << idle << " idle connections held; no ping while they were\n";
}

// ---- item 4: slow-loris ------------------------------------------------

// Whether the daemon's resident size says anything about a user's. A
// sanitizer build's allocator keeps freed memory in quarantine and pads
// every block, so the daemon of this test's own ASan build cannot be held
// to the bounds below; scripts/test runs these tests again against the
// packaged release daemon (DOMIAN_TEST_DOMIAND), where they are judged.
bool MemoryIsJudged() {
#if defined(__SANITIZE_ADDRESS__)
  const char* other = std::getenv("DOMIAN_TEST_DOMIAND");
  return other != nullptr && *other != '\0';
#else
  return true;
#endif
}

constexpr char kMemoryNotJudged[] =
    "RSS not judged: the daemon is a sanitizer build (scripts/test judges it on the release "
    "daemon)\n";

TEST_F(HostileLoad, SlowLorisStreamsAreCappedAndTheirMemoryComesBack) {
  constexpr int kStreams = 20000;
  constexpr int kStreamsPerConnection = 8;  // what the server allows one connection
  constexpr int kConnections = kStreams / kStreamsPerConnection;
  constexpr int kAttackers = 8;  // hosts 127.0.0.2 to .9
  constexpr size_t kBudgetKiB = 32 * 1024;
  constexpr size_t kReturnedKiB = 8 * 1024;  // "near the baseline" after
  if (!AllowOpenFiles(kConnections + 200)) GTEST_SKIP() << "this process cannot open enough sockets";
  StartTrio();
  const int pid = victim().Pid();
  // Baseline: once start-up settled and a heap trim has run.
  std::this_thread::sleep_for(8s);
  size_t baseline = ResidentKiB(pid);
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(200ms);
    baseline = std::max(baseline, ResidentKiB(pid));
  }
  const size_t verdicts_before = Verdicts(All());

  // Over TLS with a node's certificate: a member with a bug. (Without TLS
  // there is no HTTP/2 at all, see PlaintextHttp2GetsNothing; TLS without
  // a certificate meets the same stream limit, see below.)
  const RawTls member(dir_.path(), "loris");
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < kConnections; ++i) {
    const std::string host = "127.0.0." + std::to_string(2 + i % kAttackers);
    if (auto connection = HoldStreams(member, PortOf(victim()), host, kStreamsPerConnection)) {
      held.push_back(std::move(connection));
    }
  }
  size_t peak = 0;
  size_t kept = 0;
  const auto hold_until = SteadyClock::now() + 10s;
  while (SteadyClock::now() < hold_until) {
    peak = std::max(peak, ResidentKiB(pid));
    std::this_thread::sleep_for(250ms);
  }
  for (const auto& connection : held) kept += StillOpen(*connection) ? 1u : 0u;
  // The daemon still answers its operator during the attack.
  const bool answered_during = Ctl(victim().address(), "status").has_value();
  const size_t verdicts_during = Verdicts(All());
  const size_t taken = held.size();
  held.clear();  // closes them

  size_t after = ResidentKiB(pid);
  Eventually(
      [&] {
        after = ResidentKiB(pid);
        return after <= baseline + kReturnedKiB;
      },
      30s);
  std::cout << "slow-loris: " << kStreams << " streams offered on " << kConnections
            << " connections from " << kAttackers << " hosts; " << taken
            << " connections taken, " << kept << " still open after 10 s; RSS baseline "
            << baseline / 1024 << " MiB, peak " << peak / 1024 << " MiB, after "
            << after / 1024 << " MiB\n";
  if (MemoryIsJudged()) {
    EXPECT_LE(peak, baseline + kBudgetKiB);
    EXPECT_LE(after, baseline + kReturnedKiB);
  } else {
    std::cout << kMemoryNotJudged;
  }
  EXPECT_TRUE(answered_during);
  EXPECT_EQ(verdicts_during, verdicts_before) << "a suspect or dead verdict during the attack";
  EXPECT_THAT(victim().Log(), HasSubstr("connections from other hosts are open (limit 128)"));
}

TEST_F(HostileLoad, ConnectionsThatIgnoreTheStreamLimitAreClosed) {
  StartTrio();
  // A member with a bug: strangers never get this far (see
  // StrangersNeverSpeakHttp2).
  for (const std::string node : {"greedy"}) {
    const std::string who = node;
    const RawTls tls(dir_.path(), node);
    const std::unique_ptr<RawConnection> greedy =
        HoldStreams(tls, PortOf(victim()), "127.0.0.2", 100);
    ASSERT_NE(greedy, nullptr) << who;
    // The same client within the limit is kept: it is the streams over
    // it that close the other, not the raw client's TLS.
    const std::unique_ptr<RawConnection> modest =
        HoldStreams(tls, PortOf(victim()), "127.0.0.2", 8);
    ASSERT_NE(modest, nullptr) << who;
    EXPECT_TRUE(Eventually([&] { return !StillOpen(*greedy); }, 10s)) << who;
    EXPECT_TRUE(StillOpen(*modest)) << who;
  }
  EXPECT_TRUE(Ctl(victim().address(), "status").has_value());
}

// gRPC 1.51 holds a client to the stream limit only once it acknowledged
// the limit (server_limits.h): a stranger that got to speak HTTP/2 could
// make the daemon hold memory without bound. The TLS door closes its
// connection in the handshake: whatever it sends, the server's SETTINGS
// never come, and the connection is closed.
TEST_F(HostileLoad, StrangersNeverSpeakHttp2) {
  // Writing to a connection the server closed is the point here, not the
  // end of the test process.
  std::signal(SIGPIPE, SIG_IGN);
  StartTrio();
  const RawTls none(dir_.path(), "");
  const RawTls other(dir_.path(), "mallory", RawTls::Ca::kAnotherCa);
  // The member's raw client is let in: the checks below can tell.
  const RawTls member(dir_.path(), "member");
  {
    std::unique_ptr<RawConnection> in = RawConnection::Open(member, PortOf(victim()), "127.0.0.2");
    ASSERT_NE(in, nullptr);
    ASSERT_TRUE(in->Send(std::string(http2::kPreface) + http2::Frame(http2::kSettings, 0, 0, "")));
    EXPECT_TRUE(http2::AwaitServerSettings(*in)) << "a member's connection got no SETTINGS";
  }
  const std::string headers = http2::CallHeaders("/domian.v1.Domain/Join");
  for (const auto& [who, tls] : {std::pair{"no certificate", &none},
                                  std::pair{"another CA's certificate", &other}}) {
    for (int i = 0; i < 8; ++i) {
      std::unique_ptr<RawConnection> connection =
          RawConnection::Open(*tls, PortOf(victim()), "127.0.0.2");
      if (connection == nullptr) continue;  // refused within the handshake itself
      // What a flooder sends without waiting: preface, SETTINGS and its
      // ACK, and calls that never end (sending may fail once it closed).
      std::string flood = std::string(http2::kPreface) + http2::Frame(http2::kSettings, 0, 0, "") +
                          http2::Frame(http2::kSettings, http2::kAck, 0, "");
      for (uint32_t stream = 1; stream < 200; stream += 2) {
        flood += http2::Frame(http2::kHeaders, http2::kEndHeaders, stream, headers);
      }
      connection->Send(flood);
      EXPECT_FALSE(http2::AwaitServerSettings(*connection)) << who << ": SETTINGS came back";
      EXPECT_TRUE(Eventually([&] { return !StillOpen(*connection); }, 10s))
          << who << ": the connection stayed open";
    }
  }
  EXPECT_TRUE(Ctl(victim().address(), "status").has_value());
  const std::string log = victim().Log();
  // Another CA's certificate: the door's own line says why.
  EXPECT_THAT(log, HasSubstr("in the TLS handshake; the last: the certificate is not signed by"));
  // No certificate at all fails in OpenSSL, which gRPC logs for every
  // connection: rationed to one line per interval (the eight came within
  // a few seconds).
  size_t failures = 0;
  for (size_t at = log.find("Handshake failed"); at != std::string::npos;
       at = log.find("Handshake failed", at + 1)) {
    ++failures;
  }
  EXPECT_GE(failures, 1u) << log;
  EXPECT_LE(failures, 2u) << log;
}

// Without TLS there is no HTTP/2 at all: the preface and SETTINGS of a
// plaintext client get no SETTINGS back, only a closed connection.
TEST_F(HostileLoad, PlaintextHttp2GetsNothing) {
  StartTrio();
  const int fd = StartConnecting(PortOf(victim()), "127.0.0.2");
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(Connected(fd, 3s));
  // The server may close before all of it is sent: what matters is below.
  SendAll(fd, std::string(http2::kPreface) + http2::Frame(http2::kSettings, 0, 0, ""));
  std::string in;
  bool closed = false;
  const auto until = SteadyClock::now() + 10s;
  while (!closed && SteadyClock::now() < until) {
    pollfd ready{fd, POLLIN, 0};
    ::poll(&ready, 1, 100);
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) in.append(buffer, static_cast<size_t>(n));
    closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  ::close(fd);
  EXPECT_TRUE(closed) << "the server kept a plaintext HTTP/2 connection open";
  // Nothing came back but a TLS alert (a record of content type 21).
  EXPECT_TRUE(in.empty() || in[0] == '\x15') << in.size() << " bytes back, not a TLS alert";
  EXPECT_TRUE(Ctl(victim().address(), "status").has_value());
}

TEST_F(HostileLoad, OversizeMessagesLeaveNoMemoryBehind) {
  constexpr size_t kReturnedKiB = 8 * 1024;
  daemons_.push_back(std::make_unique<Daemon>(dir_.path(), Daemon::Options{.id = "victim"}));
  victim().Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(victim().address(), "status").has_value(); }, kSettle));
  const int pid = victim().Pid();

  // Messages the transport takes (under its 4 MiB) that membership then
  // refuses (over 512 KiB), and messages the transport refuses; from a
  // member with a bug, with the certificate of the node they name, so
  // that they get as far as membership.
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  const auto stub = v1::Domain::NewStub(grpc::CreateCustomChannel(
      victim().address(), TestCredentials("test", "oversize"), args));
  // The sender's connection is in the baseline: what its TLS session
  // holds stays while it is open, and is not what the messages leave.
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::GetStatusResponse status;
    ASSERT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
  }
  std::this_thread::sleep_for(6s);
  const size_t baseline = ResidentKiB(pid);
  // Eight senders at once, as several devices would: each message is
  // held by a different thread while it is parsed and refused.
  constexpr int kSenders = 8;
  constexpr int kEach = 5;
  std::vector<std::future<std::map<grpc::StatusCode, int>>> senders;
  for (int sender = 0; sender < kSenders; ++sender) {
    senders.push_back(std::async(std::launch::async, [&stub] {
      std::map<grpc::StatusCode, int> codes;
      for (const size_t size : {size_t{3} << 20, size_t{5} << 20}) {
        for (int i = 0; i < kEach; ++i) {
          v1::ShareIdentityListRequest request;
          request.mutable_sender()->set_id("oversize");
          for (int row = 0; row < 4; ++row) {
            request.add_identity_list()->set_id(std::string(size / 4, static_cast<char>('a' + row)));
          }
          v1::ShareIdentityListResponse response;
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + 20s);
          ++codes[stub->ShareIdentityList(&context, request, &response).error_code()];
        }
      }
      return codes;
    }));
  }
  std::map<grpc::StatusCode, int> answers;
  for (auto& sender : senders) {
    for (const auto& [code, count] : sender.get()) answers[code] += count;
  }
  EXPECT_EQ(answers[grpc::StatusCode::OK], 0);
  EXPECT_EQ(answers[grpc::StatusCode::RESOURCE_EXHAUSTED], kSenders * kEach * 2);
  const size_t right_after = ResidentKiB(pid);
  size_t after = 0;
  const bool returned = Eventually(
      [&] {
        after = ResidentKiB(pid);
        return after <= baseline + kReturnedKiB;
      },
      MemoryIsJudged() ? 30s : 0s);
  if (MemoryIsJudged()) {
    EXPECT_TRUE(returned) << "RSS " << after / 1024 << " MiB, baseline " << baseline / 1024
                          << " MiB";
  } else {
    std::cout << kMemoryNotJudged;
  }
  EXPECT_TRUE(Ctl(victim().address(), "status").has_value());
  std::cout << "oversize messages: RSS baseline " << baseline / 1024 << " MiB, right after "
            << right_after / 1024 << " MiB, later " << after / 1024 << " MiB\n";
}

// ---- item 12: a slow service -------------------------------------------

TEST_F(HostileLoad, ASlowServiceStarvesNoOtherServiceOrQuery) {
  const auto plugins = dir_.path() / "plugins";
  MakePluginFolder(plugins, kTestPlugins, {"echo-c", "counter-cpp"});
  Daemon::Options owner{.id = "node-a",
                        .extra_yaml = "plugins:\n  dirs: [" + plugins.string() +
                                      "]\nservices:\n  echo-c: {}\n  counter-cpp: {}\n"};
  owner.traits = {"test"};
  daemons_.push_back(std::make_unique<Daemon>(dir_.path(), owner));
  daemons_.push_back(std::make_unique<Daemon>(
      dir_.path(), Daemon::Options{.id = "node-b", .seeds = {daemons_[0]->address()}}));
  for (const auto& daemon : daemons_) daemon->Start();
  Daemon& a = *daemons_[0];
  Daemon& b = *daemons_[1];
  ASSERT_TRUE(AllSeeEachOtherAlive(All(), kSettle));
  ASSERT_TRUE(Eventually(
      [&] {
        return ServiceOwners(b, "counter-cpp").contains("node-a") &&
               ServiceOwners(b, "echo-c").contains("node-a");
      },
      kSettle));

  // Four slow calls, through b (forwarded to a, where they queue behind
  // each other in counter-cpp's lane).
  std::vector<std::future<CommandResult>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::async(std::launch::async, [&b] {
      return CallService(b, "counter-cpp", "sleep", R"({"ms": 20000})", 120s);
    }));
  }
  std::this_thread::sleep_for(2s);  // all four have arrived
  constexpr auto kPrompt = 5s;
  // counter-cpp itself is busy: a fifth call waits its turn.
  EXPECT_NE(CallService(a, "counter-cpp", "get", "{}", 3s).exit_code, 0);

  for (Daemon* asked : {&b, &a}) {
    const auto began = SteadyClock::now();
    const CommandResult echo = CallService(*asked, "echo-c", "echo", R"({"still":"here"})", kPrompt);
    EXPECT_EQ(echo.exit_code, 0) << asked->id() << ": " << echo.err;
    EXPECT_EQ(echo.out, "{\"still\":\"here\"}\n");
    std::vector<std::string> services_args = CtlAccess(asked->address());
    services_args.insert(services_args.end(), {"services", "--json"});
    const CommandResult services = RunCommand(DomianctlPath(), services_args, kPrompt);
    EXPECT_EQ(services.exit_code, 0) << asked->id() << ": " << services.err;
    std::vector<std::string> explain_args = CtlAccess(asked->address());
    explain_args.insert(explain_args.end(), {"explain", "counter-cpp", "--json"});
    const CommandResult explain = RunCommand(DomianctlPath(), explain_args, kPrompt);
    EXPECT_EQ(explain.exit_code, 0) << asked->id() << ": " << explain.err;
    std::cout << asked->id() << ": echo, services and explain answered in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - began)
                     .count()
              << " ms while counter-cpp was busy\n";
  }
  // The slow calls are still running: nothing above waited for them.
  for (auto& call : slow) EXPECT_EQ(call.wait_for(0s), std::future_status::timeout);

  for (const auto& daemon : daemons_) daemon->Signal(SIGKILL);
  for (auto& call : slow) call.wait();
}

}  // namespace
}  // namespace domian::testing
