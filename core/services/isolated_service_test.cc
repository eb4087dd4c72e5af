// IsolatedService's supervision on a FakeClock. Its plugin host cannot
// be started at all (there is no such program), so every launch fails at
// once and only the restart pauses decide when the next one comes: the
// test moves the clock and watches the launches follow it.
#include "core/services/isolated_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/services/testing/temp_folder.h"

namespace domian::services {
namespace {

using std::chrono::milliseconds;
using ::testing::EndsWith;
using ::testing::StartsWith;
using testing::TempFolder;

// Long enough for a launch that is due to happen, even on a loaded
// machine; never waited for in a passing test.
constexpr milliseconds kDue{10000};
// How long a launch that is not due is given to happen anyway: a few
// times the first restart pause in real time.
constexpr milliseconds kNotDue{300};

// Counts the service's reports; each failed launch makes one.
class Reports {
 public:
  void Add() {
    {
      std::lock_guard lock(mu_);
      ++count_;
    }
    cv_.notify_all();
  }
  // True once there have been `count` reports, within `timeout`.
  bool Reach(int count, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= count; });
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

class IsolatedServiceTest : public ::testing::Test {
 protected:
  IsolatedServiceTest()
      : service_({.service = "echo-c",
                  .plugin = folder_.path() / "echo-c.so",
                  .state_dir = folder_.path(),
                  .host_binary = folder_.path() / "no-such-plugin-host",
                  .make_safe =
                      [this](const absl::Status&) {
                        // Counted before the end is reported, so a test
                        // that saw a report sees its safe state.
                        ++safe_states_;
                        return std::string("hardware set safe");
                      }},
                 [this] { reports_.Add(); }, clock_) {}

  FakeClock clock_;
  std::atomic<int> safe_states_{0};
  TempFolder folder_{"domian-isolated-service"};
  Reports reports_;
  IsolatedService service_;
};

TEST_F(IsolatedServiceTest, RestartsFollowTheInjectedClock) {
  service_.Start();
  ASSERT_TRUE(reports_.Reach(1, kDue));
  IsolatedService::Snapshot status = service_.Status();
  EXPECT_EQ(status.state, ServiceState::kRestarting);
  EXPECT_THAT(status.detail,
              StartsWith("cannot start " + (folder_.path() / "no-such-plugin-host").string()));

  // Each pause is waited on the clock: not a launch before it is over,
  // one as soon as it is.
  int launches = 1;
  for (const milliseconds pause :
       {milliseconds(100), milliseconds(200), milliseconds(400), milliseconds(800)}) {
    clock_.Advance(pause - milliseconds(1));
    EXPECT_FALSE(reports_.Reach(launches + 1, kNotDue))
        << "launched before " << pause.count() << " ms had passed on the clock";
    clock_.Advance(milliseconds(1));
    ASSERT_TRUE(reports_.Reach(++launches, kDue))
        << "not launched once " << pause.count() << " ms had passed on the clock";
  }

  // The fifth failure within a minute on the clock gives up.
  status = service_.Status();
  EXPECT_EQ(status.state, ServiceState::kFailed);
  EXPECT_THAT(status.detail, StartsWith("failed 5 times in 60 s, giving up on this node; last: "
                                        "cannot start "));
  clock_.Advance(kMaxRestartDelay * 10);
  EXPECT_FALSE(reports_.Reach(launches + 1, kNotDue));

  service_.Stop();
  EXPECT_EQ(service_.Status().state, ServiceState::kStopped);
}

TEST_F(IsolatedServiceTest, EveryEndIsMadeSafeBeforeTheNextLaunchAndBeforeGivingUp) {
  service_.Start();
  ASSERT_TRUE(reports_.Reach(1, kDue));
  EXPECT_EQ(safe_states_, 1);
  EXPECT_THAT(service_.Status().detail, EndsWith("; hardware set safe"));
  int launches = 1;
  for (const milliseconds pause :
       {milliseconds(100), milliseconds(200), milliseconds(400), milliseconds(800)}) {
    clock_.Advance(pause);
    ASSERT_TRUE(reports_.Reach(++launches, kDue));
    EXPECT_EQ(safe_states_, launches) << "each failed launch is made safe once";
  }
  const IsolatedService::Snapshot status = service_.Status();
  EXPECT_EQ(status.state, ServiceState::kFailed);
  EXPECT_THAT(status.detail, EndsWith("; hardware set safe"));
  service_.Stop();
  EXPECT_EQ(safe_states_, 5) << "a stop is its owner's to make safe";
}

TEST_F(IsolatedServiceTest, AStopEndsAPauseAtOnce) {
  service_.Start();
  ASSERT_TRUE(reports_.Reach(1, kDue));
  // The clock never moves: only the stop can end the pause.
  service_.Stop();
  EXPECT_EQ(service_.Status().state, ServiceState::kStopped);
  EXPECT_EQ(reports_.count(), 2);  // the failed launch, and the stop
}

TEST_F(IsolatedServiceTest, ACallWhileRestartingSaysWhy) {
  service_.Start();
  ASSERT_TRUE(reports_.Reach(1, kDue));
  const absl::StatusOr<std::string> reply = service_.Invoke("echo", "{}");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(reply.status().message()),
              StartsWith("the service is restarting on this node: cannot start "));
  service_.Stop();
}

}  // namespace
}  // namespace domian::services
