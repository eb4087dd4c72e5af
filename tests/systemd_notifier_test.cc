// domiand under a service manager (its side is SystemdNotifier): the
// sd_notify protocol as systemd runs it (Type=notify, WatchdogSec=), with
// this test as the manager, listening on the datagram socket it names in
// $NOTIFY_SOCKET.
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "tests/support/cluster.h"
#include "tests/support/notify_socket.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr auto kSettle = 30s;
// systemd's WatchdogSec= in microseconds, as it passes it.
constexpr char kWatchdogUsec[] = "1000000";

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
