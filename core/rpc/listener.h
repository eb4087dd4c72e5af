// Listener: the daemon's listening sockets. Connections are accepted here
// and handed to the gRPC server through its external connection acceptor
// (ServerBuilder::experimental().AddExternalConnectionAcceptor), instead of
// letting gRPC listen itself.
//
// Why: gRPC 1.51's own listener (src/core/lib/iomgr/tcp_server_posix.cc,
// on_read) treats every accept4() error but EINTR, EAGAIN, EWOULDBLOCK
// and ECONNABORTED as the end of that socket: it logs "Failed accept4: Too
// many open files" and never waits on the socket again. One burst of
// connections that reaches the open-file limit left the daemon deaf until
// it was restarted. Here:
//  - a connection is refused (closed at once) when accepting it would
//    leave fewer than a headroom of descriptors for the rest of the daemon
//    (peer connections, plugin hosts, state files, the watchdog's probe),
//    or when its host, or all other hosts together, already hold their
//    share of connections; so a burst costs a bounded number of sockets;
//  - if accept4() fails anyway (EMFILE because something else used the
//    descriptors, ENFILE, ENOBUFS, ...), the pending connection is taken
//    off the queue with a spare descriptor and closed, the error is
//    logged (at most once per interval), and accepting goes on.
// gRPC still owns each connection it is handed, so the server's
// credentials (TLS included) apply to it exactly as to a connection its
// own listener accepted.
#pragma once

#include <grpcpp/server_builder.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace domian::rpc {

// Connections held at once from other machines: a home cluster of tens of
// nodes needs one or two per peer (heartbeats; forwarded calls and
// hand-overs) plus a few domianctl. With the server's streams per
// connection (server_limits.h) this bounds what strangers can make the
// daemon hold: 128 x 8 held streams, ~15 MiB.
inline constexpr size_t kMaxRemoteConnections = 128;
// From any one other host (an IPv4 address, or an IPv6 /64: one machine
// can hold many addresses of its prefix): one host cannot take every
// place from the others.
inline constexpr size_t kMaxConnectionsPerHost = 32;
// From this machine itself: domianctl, the watchdog's probe, and on a
// test or benchmark host every other daemon (200 of them in bench/).
inline constexpr size_t kMaxLocalConnections = 512;
// Descriptors below the open-file limit that incoming connections never
// take (at most a quarter of a small limit).
inline constexpr int kDescriptorHeadroom = 128;
// Completed TCP handshakes the kernel queues until accepted.
inline constexpr int kListenBacklog = 1024;
// Closed connections are noticed (and stop counting) on a sweep, at most
// this often, when a connection would otherwise be refused.
inline constexpr std::chrono::milliseconds kConnectionSweepInterval{100};
// After an accept error that a retry cannot fix at once (no descriptor
// or kernel memory), accepting resumes after this pause.
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
// Refusals and accept errors are logged at most this often, with a count.
inline constexpr std::chrono::seconds kRefusalLogInterval{10};

struct ConnectionLimits {
  size_t max_remote = kMaxRemoteConnections;
  size_t max_per_host = kMaxConnectionsPerHost;
  size_t max_local = kMaxLocalConnections;
  // An accepted descriptor numbered this or higher is refused: descriptors
  // are handed out lowest first, so all below it are in use.
  int descriptor_ceiling = 0;
  uint64_t open_file_limit = 0;  // for messages
};

// The connections handed to gRPC and still open, as far as the listener can
// tell: it does not hear when gRPC closes one, so it checks, on a sweep,
// that each recorded descriptor still refers to the same socket (inode).
class ConnectionTable {
 public:
  struct Connection {
    int fd = -1;
    uint64_t inode = 0;
    std::string host;    // per-host key (see HostKey)
    bool local = false;  // from this machine: counted apart (max_local)
  };
  // `still_open(fd, inode)`: whether descriptor fd is still socket inode.
  ConnectionTable(ConnectionLimits limits, std::function<bool(int, uint64_t)> still_open);

  // Records `connection` and returns nullopt, or returns why it is refused
  // (naming the limit). Sweeps first when a limit is reached and the last
  // sweep is older than kConnectionSweepInterval.
  std::optional<std::string> Admit(const Connection& connection,
                                   std::chrono::steady_clock::time_point now);

  size_t remote() const { return remote_; }
  size_t local() const { return local_; }
  size_t from_host(const std::string& host) const;

 private:
  std::optional<std::string> Check(const Connection& connection) const;
  void Sweep();
  void Forget(int fd);

  ConnectionLimits limits_;
  std::function<bool(int, uint64_t)> still_open_;
  std::unordered_map<int, Connection> by_fd_;
  std::unordered_map<std::string, size_t> per_host_;
  size_t remote_ = 0;
  size_t local_ = 0;
  std::chrono::steady_clock::time_point last_sweep_{};
};

// The key connections are counted under: the IPv4 address (also for an
// IPv4-mapped IPv6 address), or the IPv6 /64 prefix.
std::string HostKey(const sockaddr_storage& address);

// The descriptor ceiling for an open-file limit: the limit minus the
// headroom (kDescriptorHeadroom, at most a quarter of the limit).
int DescriptorCeiling(uint64_t open_file_limit);
// The default limits for this process's open-file limit.
ConnectionLimits DefaultConnectionLimits();

class Listener {
 public:
  // Binds and listens on `address` (node.listen: "host:port"; a wildcard
  // host, 0.0.0.0 or [::], listens on IPv6 and IPv4 where it can, as gRPC
  // did; a name listens on every address it resolves to). Throws
  // std::runtime_error naming the address and why. `limits` defaults to
  // the constants above with the ceiling from this process's open-file
  // limit.
  static std::unique_ptr<Listener> Open(const std::string& address,
                                        std::optional<ConnectionLimits> limits = std::nullopt);
  ~Listener();  // Stop()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  uint16_t port() const { return port_; }
  // Where it listens, numeric ("[::]:7420", "192.168.1.20:7420"; for a
  // name, the first address it resolved to).
  const std::string& address() const { return address_; }
  const ConnectionLimits& limits() const { return limits_; }

  // Accepts on a thread of its own from now on; every admitted connection
  // goes to `acceptor`. Only once the server is started: gRPC drops
  // connections handed to it before (or after it shut down) without
  // closing them.
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor);
  // Stops accepting and closes the listening sockets. Before the server
  // shuts down.
  void Stop();

  uint64_t accepted() const { return accepted_; }
  uint64_t refused() const { return refused_; }

 private:
  Listener(std::vector<int> sockets, uint16_t port, ConnectionLimits limits);
  void Run();
  void AcceptFrom(int socket);
  bool HandleAcceptError(int socket, int error);  // false: back to waiting
  void Refused(const std::string& why);
  void Pause(std::chrono::milliseconds delay);

  std::vector<int> sockets_;
  uint16_t port_ = 0;
  std::string address_;
  ConnectionLimits limits_;
  ConnectionTable table_;
  int wake_ = -1;    // eventfd: Stop() wakes the accept thread
  void OpenSpares();
  void CloseSpares();
  // Descriptors held in reserve and given up on EMFILE: one to take the
  // waiting connection off the queue, the others for what reporting the
  // refusal may open (a log sink; a sanitizer's checks open a pipe).
  static constexpr size_t kSpareDescriptors = 3;
  std::array<int, kSpareDescriptors> spares_{-1, -1, -1};
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  // Refusals since the last log line (accept thread only).
  uint64_t refused_unlogged_ = 0;
  std::string last_refusal_;
  std::chrono::steady_clock::time_point last_log_{};
};

}  // namespace domian::rpc
