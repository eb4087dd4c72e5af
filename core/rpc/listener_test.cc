#include "core/rpc/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <set>
#include <thread>

namespace domian::rpc {
namespace {

using namespace std::chrono_literals;
using Connection = ConnectionTable::Connection;

constexpr auto kWait = 10s;  // generous: each step takes milliseconds

// ---- ConnectionTable -------------------------------------------------------

class Table : public ::testing::Test {
 protected:
  Table()
      : table_({.max_remote = 4, .max_per_host = 2, .max_local = 3, .descriptor_ceiling = 100,
                .open_file_limit = 128},
               [this](int fd, uint64_t inode) { return open_.contains({fd, inode}); }) {}

  // A connection on descriptor `fd`, still open.
  std::optional<std::string> Admit(int fd, const std::string& host, bool local = false) {
    const uint64_t inode = next_inode_++;
    open_.insert({fd, inode});
    auto refusal = table_.Admit({.fd = fd, .inode = inode, .host = host, .local = local}, now_);
    if (refusal) open_.erase({fd, inode});
    return refusal;
  }
  void Close(int fd) {
    std::erase_if(open_, [fd](const auto& entry) { return entry.first == fd; });
  }

  std::set<std::pair<int, uint64_t>> open_;
  uint64_t next_inode_ = 1000;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
  ConnectionTable table_;
};

TEST_F(Table, OneHostGetsItsShareAndNoMore) {
  EXPECT_FALSE(Admit(10, "192.168.1.9"));
  EXPECT_FALSE(Admit(11, "192.168.1.9"));
  const auto refusal = Admit(12, "192.168.1.9");
  ASSERT_TRUE(refusal);
  EXPECT_EQ(*refusal, "2 connections from 192.168.1.9 are open (limit 2 per host)");
  // Another host still gets in.
  EXPECT_FALSE(Admit(13, "192.168.1.10"));
  EXPECT_EQ(table_.remote(), 3u);
}

TEST_F(Table, AllOtherHostsTogetherAreCapped) {
  EXPECT_FALSE(Admit(10, "10.0.0.1"));
  EXPECT_FALSE(Admit(11, "10.0.0.2"));
  EXPECT_FALSE(Admit(12, "10.0.0.3"));
  EXPECT_FALSE(Admit(13, "10.0.0.4"));
  const auto refusal = Admit(14, "10.0.0.5");
  ASSERT_TRUE(refusal);
  EXPECT_EQ(*refusal, "4 connections from other hosts are open (limit 4)");
}

TEST_F(Table, ThisMachineIsCountedApart) {
  EXPECT_FALSE(Admit(10, "10.0.0.1"));
  EXPECT_FALSE(Admit(11, "10.0.0.1"));
  EXPECT_FALSE(Admit(20, "127.0.0.1", true));
  EXPECT_FALSE(Admit(21, "127.0.0.1", true));
  EXPECT_FALSE(Admit(22, "127.0.0.1", true));
  const auto refusal = Admit(23, "127.0.0.1", true);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(*refusal, "3 connections from this machine are open (limit 3)");
  EXPECT_EQ(table_.local(), 3u);
  EXPECT_EQ(table_.remote(), 2u);
}

TEST_F(Table, DescriptorsNearTheLimitAreRefusedWhoeverAsks) {
  const auto refusal = Admit(100, "127.0.0.1", true);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(*refusal,
            "101 files are open; connections are taken only below 100 (the open-file limit, "
            "128, less what the daemon keeps for itself)");
  EXPECT_FALSE(Admit(99, "127.0.0.1", true));
}

TEST_F(Table, ClosedConnectionsStopCountingOnTheNextSweep) {
  EXPECT_FALSE(Admit(10, "192.168.1.9"));
  EXPECT_FALSE(Admit(11, "192.168.1.9"));
  Close(10);
  now_ += kConnectionSweepInterval;
  EXPECT_FALSE(Admit(12, "192.168.1.9"));
  EXPECT_EQ(table_.from_host("192.168.1.9"), 2u);
}

TEST_F(Table, SweepsAreRateLimited) {
  EXPECT_FALSE(Admit(10, "192.168.1.9"));
  EXPECT_FALSE(Admit(11, "192.168.1.9"));
  EXPECT_TRUE(Admit(12, "192.168.1.9"));  // swept: both still open
  Close(10);
  // Within the sweep interval the closed one still counts...
  EXPECT_TRUE(Admit(12, "192.168.1.9"));
  // ...and is forgotten after it.
  now_ += kConnectionSweepInterval;
  EXPECT_FALSE(Admit(12, "192.168.1.9"));
}

TEST_F(Table, ADescriptorNumberHandedOutAgainReplacesTheOldConnection) {
  EXPECT_FALSE(Admit(10, "192.168.1.9"));
  Close(10);
  EXPECT_FALSE(Admit(10, "192.168.1.10"));  // the kernel reused 10
  EXPECT_EQ(table_.from_host("192.168.1.9"), 0u);
  EXPECT_EQ(table_.remote(), 1u);
}

TEST(HostKey, IPv4IsTheAddressAndIPv6ItsPrefix) {
  sockaddr_storage address{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  v4->sin_family = AF_INET;
  inet_pton(AF_INET, "192.168.1.20", &v4->sin_addr);
  EXPECT_EQ(HostKey(address), "192.168.1.20");

  address = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  v6->sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:192.168.1.20", &v6->sin6_addr);
  EXPECT_EQ(HostKey(address), "192.168.1.20");
  inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &v6->sin6_addr);
  EXPECT_EQ(HostKey(address), "2001:db8:1:2::/64");
}

TEST(DescriptorCeiling, KeepsAHeadroomBelowTheLimit) {
  EXPECT_EQ(DescriptorCeiling(1024), 1024 - kDescriptorHeadroom);
  EXPECT_EQ(DescriptorCeiling(4096), 4096 - kDescriptorHeadroom);
  EXPECT_EQ(DescriptorCeiling(64), 48);  // a quarter of a small limit
  EXPECT_GT(DescriptorCeiling(RLIM_INFINITY), 0);
}

// ---- Listener --------------------------------------------------------------

// Stands in for gRPC: keeps what it is handed.
class Keeper final : public grpc::experimental::ExternalConnectionAcceptor {
 public:
  struct Handed {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int> fds;
  };
  explicit Keeper(std::shared_ptr<Handed> handed) : handed_(std::move(handed)) {}
  void HandleNewConnection(NewConnectionParameters* p) override {
    std::lock_guard lock(handed_->mu);
    handed_->fds.push_back(p->fd);
    handed_->cv.notify_all();
  }

 private:
  std::shared_ptr<Handed> handed_;
};

class Accepting : public ::testing::Test {
 protected:
  void SetUp() override {
    handed_ = std::make_shared<Keeper::Handed>();
    ConnectionLimits limits = DefaultConnectionLimits();
    limits.descriptor_ceiling = INT_MAX;  // only the process's own limit applies
    listener_ = Listener::Open("127.0.0.1:0", limits);
    listener_->Start(std::make_unique<Keeper>(handed_));
  }
  void TearDown() override {
    listener_->Stop();
    for (const int fd : handed_->fds) ::close(fd);
    for (const int fd : clients_) ::close(fd);
  }

  // A client socket, made now, connected later (Connect).
  int MakeClient() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    clients_.push_back(fd);
    return fd;
  }
  bool Connect(int fd) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(listener_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  bool HandedAtLeast(size_t count) {
    std::unique_lock lock(handed_->mu);
    return handed_->cv.wait_for(lock, kWait, [&] { return handed_->fds.size() >= count; });
  }
  // Whether the server closed `fd` (EOF or reset) within the wait.
  static bool ClosedByServer(int fd) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(std::chrono::milliseconds(kWait).count())) != 1) {
      return false;
    }
    char byte = 0;
    return ::recv(fd, &byte, 1, 0) <= 0;
  }

  std::shared_ptr<Keeper::Handed> handed_;
  std::unique_ptr<Listener> listener_;
  std::vector<int> clients_;
};

TEST_F(Accepting, ConnectionsAreHandedOver) {
  ASSERT_NE(listener_->port(), 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Connect(MakeClient()));
  EXPECT_TRUE(HandedAtLeast(3));
  EXPECT_EQ(listener_->accepted(), 3u);
  // Each handed descriptor is a connected, non-blocking socket.
  std::lock_guard lock(handed_->mu);
  for (const int fd : handed_->fds) EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
}

TEST_F(Accepting, RunningOutOfDescriptorsIsSurvived) {
  const int refused_client = MakeClient();
  const int later_client = MakeClient();
  // Use up every descriptor this process may open.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  ::close(probe);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(probe) + 16;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> fillers;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
  ASSERT_EQ(errno, EMFILE);

  // accept4 fails with EMFILE: the waiting connection is taken off the
  // queue with the spare descriptor and closed, and the listener goes on.
  ASSERT_TRUE(Connect(refused_client));
  EXPECT_TRUE(ClosedByServer(refused_client));
  EXPECT_EQ(listener_->accepted(), 0u);
  EXPECT_GE(listener_->refused(), 1u);

  for (const int fd : fillers) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(Connect(later_client));
  EXPECT_TRUE(HandedAtLeast(1));
}

TEST(Listener, ABusyPortIsNamedInTheError) {
  auto first = Listener::Open("127.0.0.1:0");
  const std::string address = "127.0.0.1:" + std::to_string(first->port());
  try {
    Listener::Open(address);
    FAIL() << "a second listener on " << address;
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "cannot listen on " + address + ": Address already in use");
  }
}

TEST(Listener, ANameListensOnWhatItResolvesTo) {
  auto listener = Listener::Open("localhost:0");
  EXPECT_THAT(listener->address(),
              ::testing::AnyOf("127.0.0.1:" + std::to_string(listener->port()),
                               "[::1]:" + std::to_string(listener->port())));
}

TEST(Listener, AWildcardHostListensForIPv4Too) {
  auto listener = Listener::Open("0.0.0.0:0");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(listener->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::close(fd);
}

}  // namespace
}  // namespace domian::rpc
