// Accepting connections for the gRPC server (see listener.h for why).
#include "core/rpc/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "core/common/net.h"

namespace domian::rpc {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// Closes a connection with a reset rather than a FIN: a refused flood then
// leaves no socket lingering in TIME_WAIT or FIN_WAIT on this side.
void CloseNow(int fd) {
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);
}

int OpenSpare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

// The IP address bytes of `address`, IPv4-mapped IPv6 as IPv4.
std::string AddressBytes(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    return std::string(reinterpret_cast<const char*>(&v4->sin_addr), sizeof v4->sin_addr);
  }
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      return std::string(reinterpret_cast<const char*>(&v6->sin6_addr.s6_addr[12]), 4);
    }
    return std::string(reinterpret_cast<const char*>(&v6->sin6_addr), sizeof v6->sin6_addr);
  }
  return {};
}

bool StillOpen(int fd, uint64_t inode) {
  struct stat status {};
  return ::fstat(fd, &status) == 0 && S_ISSOCK(status.st_mode) && status.st_ino == inode;
}

// A listening socket bound to `address` with `port` (0: any), or -1 with
// `problem` set.
int ListenOn(const sockaddr* address, socklen_t length, bool dual_stack, std::string& problem) {
  const int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    problem = std::strerror(errno);
    return -1;
  }
  const int on = 1;
  const int v6only = dual_stack ? 0 : 1;
  // SO_REUSEADDR (a restart need not wait out TIME_WAIT), never
  // SO_REUSEPORT: a second domiand on the same port must fail to start,
  // not start "fine" and take half the connections.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // Accepted sockets inherit it: small calls are not held back (Nagle).
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (address->sa_family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(fd, address, length) != 0 || ::listen(fd, kListenBacklog) != 0) {
    problem = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

sockaddr_storage BoundAddress(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return bound;
}

uint16_t BoundPort(int fd) {
  const sockaddr_storage bound = BoundAddress(fd);
  if (bound.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
}

std::string BoundHost(int fd) {
  const sockaddr_storage bound = BoundAddress(fd);
  char text[INET6_ADDRSTRLEN] = {};
  if (bound.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&bound)->sin_addr, text,
                sizeof text);
  } else {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_addr, text,
                sizeof text);
  }
  return text;
}

void SetPort(sockaddr_storage& address, uint16_t port) {
  if (address.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  }
}

struct Candidate {
  sockaddr_storage address{};
  socklen_t length = 0;
  bool dual_stack = false;
};

// Where to listen for `host`: [::] (dual stack) then 0.0.0.0 for a
// wildcard, else whatever the host resolves to.
std::vector<Candidate> Candidates(const std::string& host, std::string& problem) {
  std::vector<Candidate> out;
  if (IsWildcardHost(host)) {
    Candidate v6;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&v6.address);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_any;
    v6.length = sizeof(sockaddr_in6);
    v6.dual_stack = true;
    Candidate v4;
    auto* in4 = reinterpret_cast<sockaddr_in*>(&v4.address);
    in4->sin_family = AF_INET;
    in4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4.length = sizeof(sockaddr_in);
    return {v6, v4};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int error = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); error != 0) {
    problem = ::gai_strerror(error);
    return out;
  }
  for (const addrinfo* it = found; it != nullptr; it = it->ai_next) {
    if (it->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Candidate candidate;
    std::memcpy(&candidate.address, it->ai_addr, it->ai_addrlen);
    candidate.length = it->ai_addrlen;
    out.push_back(candidate);
  }
  ::freeaddrinfo(found);
  return out;
}

}  // namespace

std::string HostKey(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const std::string bytes = AddressBytes(address);
  if (bytes.size() == 4) {
    ::inet_ntop(AF_INET, bytes.data(), text, sizeof text);
    return text;
  }
  if (bytes.size() == 16) {
    in6_addr prefix{};
    std::memcpy(&prefix, bytes.data(), 8);  // the /64; the interface half zeroed
    ::inet_ntop(AF_INET6, &prefix, text, sizeof text);
    return std::string(text) + "/64";
  }
  return "(unknown address family)";
}

int DescriptorCeiling(uint64_t open_file_limit) {
  const uint64_t limit = std::min<uint64_t>(open_file_limit, INT_MAX);
  const uint64_t headroom = std::min<uint64_t>(kDescriptorHeadroom, limit / 4);
  return static_cast<int>(limit - headroom);
}

ConnectionLimits DefaultConnectionLimits() {
  rlimit open_files{};
  ::getrlimit(RLIMIT_NOFILE, &open_files);
  return ConnectionLimits{.descriptor_ceiling = DescriptorCeiling(open_files.rlim_cur),
                          .open_file_limit = open_files.rlim_cur};
}

ConnectionTable::ConnectionTable(ConnectionLimits limits,
                                 std::function<bool(int, uint64_t)> still_open)
    : limits_(limits), still_open_(std::move(still_open)) {}

size_t ConnectionTable::from_host(const std::string& host) const {
  const auto it = per_host_.find(host);
  return it == per_host_.end() ? 0 : it->second;
}

std::optional<std::string> ConnectionTable::Check(const Connection& connection) const {
  if (connection.fd >= limits_.descriptor_ceiling) {
    return std::to_string(connection.fd + 1) + " files are open; connections are taken only "
           "below " + std::to_string(limits_.descriptor_ceiling) + " (the open-file limit, " +
           std::to_string(limits_.open_file_limit) + ", less what the daemon keeps for itself)";
  }
  if (connection.local) {
    if (local_ < limits_.max_local) return std::nullopt;
    return std::to_string(local_) + " connections from this machine are open (limit " +
           std::to_string(limits_.max_local) + ")";
  }
  if (const size_t held = from_host(connection.host); held >= limits_.max_per_host) {
    return std::to_string(held) + " connections from " + connection.host + " are open (limit " +
           std::to_string(limits_.max_per_host) + " per host)";
  }
  if (remote_ >= limits_.max_remote) {
    return std::to_string(remote_) + " connections from other hosts are open (limit " +
           std::to_string(limits_.max_remote) + ")";
  }
  return std::nullopt;
}

void ConnectionTable::Forget(int fd) {
  const auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  if (it->second.local) {
    --local_;
  } else {
    --remote_;
    if (--per_host_[it->second.host] == 0) per_host_.erase(it->second.host);
  }
  by_fd_.erase(it);
}

void ConnectionTable::Sweep() {
  std::vector<int> closed;
  for (const auto& [fd, connection] : by_fd_) {
    if (!still_open_(fd, connection.inode)) closed.push_back(fd);
  }
  for (const int fd : closed) Forget(fd);
}

std::optional<std::string> ConnectionTable::Admit(const Connection& connection,
                                                  SteadyTime now) {
  // The kernel handed this number out again: whatever had it is closed.
  Forget(connection.fd);
  std::optional<std::string> refusal = Check(connection);
  if (refusal && now - last_sweep_ >= kConnectionSweepInterval) {
    last_sweep_ = now;
    Sweep();
    refusal = Check(connection);
  }
  if (refusal) return refusal;
  by_fd_[connection.fd] = connection;
  if (connection.local) {
    ++local_;
  } else {
    ++remote_;
    ++per_host_[connection.host];
  }
  return std::nullopt;
}

std::unique_ptr<Listener> Listener::Open(const std::string& address,
                                         std::optional<ConnectionLimits> limits) {
  const std::optional<HostPort> split = SplitHostPort(address);
  if (!split) throw std::runtime_error("cannot listen on " + address + ": not host:port");
  std::string problem = "no address to listen on";
  std::vector<int> sockets;
  uint16_t port = split->port;
  for (Candidate& candidate : Candidates(split->host, problem)) {
    SetPort(candidate.address, port);
    const int fd = ListenOn(reinterpret_cast<const sockaddr*>(&candidate.address),
                            candidate.length, candidate.dual_stack, problem);
    if (fd < 0) continue;
    sockets.push_back(fd);
    port = BoundPort(fd);
    // A dual-stack [::] already takes IPv4; 0.0.0.0 is only the fallback.
    if (candidate.dual_stack) break;
  }
  if (sockets.empty()) throw std::runtime_error("cannot listen on " + address + ": " + problem);
  return std::unique_ptr<Listener>(
      new Listener(std::move(sockets), port, limits ? *limits : DefaultConnectionLimits()));
}

Listener::Listener(std::vector<int> sockets, uint16_t port, ConnectionLimits limits)
    : sockets_(std::move(sockets)),
      port_(port),
      address_(JoinHostPort(BoundHost(sockets_.front()), port)),
      limits_(limits),
      table_(limits, StillOpen),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  OpenSpares();
}

void Listener::OpenSpares() {
  for (int& spare : spares_) {
    if (spare < 0) spare = OpenSpare();
  }
}

void Listener::CloseSpares() {
  for (int& spare : spares_) {
    if (spare >= 0) ::close(spare);
    spare = -1;
  }
}

Listener::~Listener() { Stop(); }

void Listener::Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor) {
  acceptor_ = std::move(acceptor);
  thread_ = std::thread([this] { Run(); });
}

void Listener::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  for (const int fd : sockets_) ::close(fd);
  sockets_.clear();
  if (wake_ >= 0) ::close(wake_);
  wake_ = -1;
  CloseSpares();
}

void Listener::Run() {
  std::vector<pollfd> waits;
  for (const int fd : sockets_) waits.push_back({fd, POLLIN, 0});
  waits.push_back({wake_, POLLIN, 0});
  while (!stopping_) {
    // Refusals not yet logged are logged when their interval is over.
    int timeout = -1;
    if (refused_unlogged_ > 0) {
      const auto due = last_log_ + kRefusalLogInterval - std::chrono::steady_clock::now();
      timeout = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(due).count() + 1));
    }
    const int ready = ::poll(waits.data(), waits.size(), timeout);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("listener: poll failed: {}; retrying", std::strerror(errno));
      Pause(kAcceptRetryDelay);
      continue;
    }
    if (refused_unlogged_ > 0) Refused("");
    for (size_t i = 0; i + 1 < waits.size() && !stopping_; ++i) {
      if (waits[i].revents != 0) AcceptFrom(waits[i].fd);
    }
  }
}

void Listener::AcceptFrom(int socket) {
  while (!stopping_) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const int fd = ::accept4(socket, reinterpret_cast<sockaddr*>(&peer), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (HandleAcceptError(socket, errno)) continue;
      return;
    }
    sockaddr_storage local{};
    socklen_t local_length = sizeof local;
    struct stat status {};
    if (::fstat(fd, &status) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0) {
      CloseNow(fd);
      continue;
    }
    const ConnectionTable::Connection connection{
        .fd = fd,
        .inode = status.st_ino,
        .host = HostKey(peer),
        // Its source address is the address it reached us at: this machine.
        .local = AddressBytes(peer) == AddressBytes(local)};
    if (auto refusal = table_.Admit(connection, std::chrono::steady_clock::now())) {
      Refused((connection.local ? "" : "from " + connection.host + ": ") + *refusal);
      CloseNow(fd);
      continue;
    }
    ++accepted_;
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters parameters;
    parameters.listener_fd = socket;
    parameters.fd = fd;
    acceptor_->HandleNewConnection(&parameters);
  }
}

bool Listener::HandleAcceptError(int socket, int error) {
  switch (error) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return false;
    // The connection went away before it was taken, or (accept(2)) an
    // error of the network that accept4 passes on: try the next one.
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    case EMFILE:
      // Out of descriptors (something besides connections used them up):
      // the spare one makes room to take the waiting connection off the
      // queue and close it, so its client hears at once rather than
      // waiting on a queue nobody drains.
      if (spares_.front() >= 0) {
        CloseSpares();
        const int fd = ::accept4(socket, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          // Reported while the other spares leave room to report it.
          Refused("this process reached its open-file limit (accept4: " +
                  std::string(std::strerror(error)) + ")");
          CloseNow(fd);
        }
        OpenSpares();
        return fd >= 0;
      }
      OpenSpares();
      break;
    default:
      break;
  }
  // ENFILE, ENOBUFS, ENOMEM, or no spare descriptor: nothing frees up by
  // retrying at once; wait a little, then accept again.
  Refused("accept4: " + std::string(std::strerror(error)));
  Pause(kAcceptRetryDelay);
  return false;
}

// Counted before the connection is closed: whoever sees it closed sees it
// counted.
void Listener::Refused(const std::string& why) {
  if (!why.empty()) {
    ++refused_;
    ++refused_unlogged_;
    last_refusal_ = why;
  }
  const auto now = std::chrono::steady_clock::now();
  if (refused_unlogged_ == 0 || now - last_log_ < kRefusalLogInterval) return;
  spdlog::warn("refused {} incoming connection(s) since the last report; the latest: {}",
               refused_unlogged_, last_refusal_);
  refused_unlogged_ = 0;
  last_log_ = now;
}

void Listener::Pause(std::chrono::milliseconds delay) {
  pollfd wake{wake_, POLLIN, 0};
  ::poll(&wake, 1, static_cast<int>(delay.count()));
}

}  // namespace domian::rpc
