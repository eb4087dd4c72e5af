// domiand under a service manager: the sd_notify protocol as systemd runs
// it (Type=notify, WatchdogSec=), with this test as the manager, listening
// on the datagram socket it names in $NOTIFY_SOCKET.
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr auto kSettle = 30s;
// systemd's WatchdogSec= in microseconds, as it passes it.
constexpr char kWatchdogUsec[] = "1000000";

// The manager's end: a datagram socket bound to a path.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.string().copy(address.sun_path, sizeof address.sun_path - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool bound() const { return bound_; }
  const std::filesystem::path& path() const { return path_; }

  // The next message, or "" when none came within `timeout`.
  std::string Next(std::chrono::milliseconds timeout) {
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buffer[4096];
    const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
    return got > 0 ? std::string(buffer, static_cast<size_t>(got)) : "";
  }

  // Messages until one contains `wanted`; whether it came within `timeout`.
  bool WaitFor(const std::string& wanted, std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (Next(left).find(wanted) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

class UnderAServiceManager : public ::testing::Test {
 protected:
  void Start() {
    ASSERT_TRUE(manager_.bound());
    Daemon::Options options{.id = "managed"};
    options.env = {{"NOTIFY_SOCKET", manager_.path().string()}, {"WATCHDOG_USEC", kWatchdogUsec}};
    node_ = std::make_unique<Daemon>(dir_.path(), options);
    node_->Start();
  }
  void TearDown() override {
    if (HasFailure() && node_) std::cerr << node_->Log();
  }

  TempDir dir_{"domian-notify-test"};
  NotifySocket manager_{dir_.path() / "notify"};
  std::unique_ptr<Daemon> node_;
};

TEST_F(UnderAServiceManager, ReadyOnlyOnceItAnswers) {
  Start();
  std::string ready;
  const auto until = Clock::now() + kSettle;
  while (ready.empty() && Clock::now() < until) {
    const std::string message = manager_.Next(1s);
    if (message.find("READY=1") != std::string::npos) ready = message;
  }
  ASSERT_THAT(ready, HasSubstr("READY=1"));
  EXPECT_THAT(ready, HasSubstr("STATUS=domain managed of cluster 'test' on " + node_->address()));
  // Ready means ready: domianctl is answered at once.
  EXPECT_TRUE(Ctl(node_->address(), "status").has_value());
}

TEST_F(UnderAServiceManager, WatchdogPingsWhileAliveAndStoppingOnSigterm) {
  Start();
  ASSERT_TRUE(manager_.WaitFor("READY=1", kSettle));
  // Every half interval (0.5 s): three within 3 s, even on a loaded machine.
  int pings = 0;
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    if (manager_.Next(500ms).find("WATCHDOG=1") != std::string::npos) ++pings;
  }
  EXPECT_GE(pings, 3);
  EXPECT_THAT(node_->Log(), HasSubstr("service manager watchdog: 1000 ms"));

  // A stopped process pings no more: systemd would restart it.
  node_->Signal(SIGSTOP);
  while (!manager_.Next(200ms).empty()) {
  }
  EXPECT_EQ(manager_.Next(2s), "");
  node_->Signal(SIGCONT);
  EXPECT_TRUE(manager_.WaitFor("WATCHDOG=1", kSettle));

  node_->Signal(SIGTERM);
  EXPECT_TRUE(manager_.WaitFor("STOPPING=1", kSettle));
  EXPECT_EQ(node_->WaitExit(kSettle), 0);
}

TEST(WithoutAServiceManager, ItRunsAndNoWatchdogIsStarted) {
  TempDir dir("domian-notify-test");
  Daemon::Options options{.id = "by-hand"};
  // As asked for by a unit, but with nobody to tell.
  options.env = {{"WATCHDOG_USEC", kWatchdogUsec}, {"NOTIFY_SOCKET", ""}};
  Daemon node(dir.path(), options);
  node.Start();
  ASSERT_TRUE(Eventually([&] { return Ctl(node.address(), "status").has_value(); }, kSettle));
  EXPECT_THAT(node.Log(), ::testing::Not(HasSubstr("watchdog")));
}

}  // namespace
}  // namespace domian::testing
