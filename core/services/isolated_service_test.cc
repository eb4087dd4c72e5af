// IsolatedService's supervision on a FakeClock. Its plugin host cannot
// be started at all (there is no such program), so every launch fails at
// once and only the restart pauses decide when the next one comes: the
// test moves the clock and watches the launches follow it.
//
// Then entities through real plugin hosts (domian-plugin-host and the
// test plugins), on the real clock.
#include "core/services/isolated_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "core/services/testing/temp_folder.h"

#include <thread>

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

const std::filesystem::path kPlugins = DOMIAN_TEST_PLUGIN_DIR;

// What an EntitySink heard, in order: "described <json>", "state
// <entity>/<state>=<data>", "gone <service>".
class SinkRecord {
 public:
  EntitySink Sink() {
    return {.described =
                [this](const EntityDescription& description) {
                  EXPECT_EQ(description.service, description.plugin);
                  EXPECT_EQ(description.plugin_version, "0.3.0");
                  Add("described " + description.json);
                },
            .state = [this](const std::string&, const std::string& entity,
                            const std::string& state,
                            const std::string& data) { Add("state " + entity + "/" + state + "=" + data); },
            .gone = [this](const std::string& service) { Add("gone " + service); }};
  }
  // True once `count` events start with `prefix`, within `timeout`.
  bool Reach(const std::string& prefix, int count, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return CountLocked(prefix) >= count; });
  }
  int Count(const std::string& prefix) {
    std::lock_guard lock(mu_);
    return CountLocked(prefix);
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  void Add(std::string event) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }
  int CountLocked(const std::string& prefix) {
    int count = 0;
    for (const std::string& event : events_) count += event.starts_with(prefix) ? 1 : 0;
    return count;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

// The index of the first event that starts with `prefix` from `from` on
// (events.size() when none).
size_t Find(const std::vector<std::string>& events, const std::string& prefix, size_t from = 0) {
  for (size_t i = from; i < events.size(); ++i) {
    if (events[i].starts_with(prefix)) return i;
  }
  return events.size();
}

class IsolatedEntitiesTest : public ::testing::Test {
 protected:
  std::unique_ptr<IsolatedService> Service(const std::string& plugin) {
    return std::make_unique<IsolatedService>(
        IsolatedService::Options{.service = plugin,
                                 .plugin = kPlugins / (plugin + ".so"),
                                 .state_dir = folder_.path(),
                                 .host_binary = DOMIAN_PLUGIN_HOST_BUILT,
                                 .entities = sink_.Sink(),
                                 .plugin_name = plugin,
                                 .plugin_version = "0.3.0"},
        nullptr);
  }
  static bool Running(IsolatedService& service) {
    for (const auto until = std::chrono::steady_clock::now() + kDue;
         std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(milliseconds(10))) {
      if (service.Status().state == ServiceState::kRunning) return true;
    }
    return false;
  }

  TempFolder folder_{"domian-isolated-entities"};
  SinkRecord sink_;
};

TEST_F(IsolatedEntitiesTest, DescribedStatesPushedGoneAtEveryEndAndDescribedAgain) {
  std::unique_ptr<IsolatedService> service = Service("entity-probe");
  service->Start();
  ASSERT_TRUE(sink_.Reach("described ", 1, kDue));
  EXPECT_NE(sink_.events()[0].find(R"("id":"lamp")"), std::string::npos) << sink_.events()[0];
  ASSERT_TRUE(Running(*service));

  // A command's state comes at once (pushed, not at the next health
  // check); the bound is for a loaded machine, far below what polling
  // would take only on a quiet one.
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(service->Invoke("set", R"({"value":"ON"})").value_or("(failed)"), R"({"status":0})");
  ASSERT_TRUE(sink_.Reach("state lamp/state=ON", 1, kDue));
  EXPECT_LT(std::chrono::steady_clock::now() - sent, kDue);

  // Its host dies: gone, then the relaunched host describes again (the
  // state it published before is that host's, not the new one's).
  EXPECT_FALSE(service->Invoke("die", "{}").ok());
  ASSERT_TRUE(sink_.Reach("described ", 2, kDue));
  ASSERT_TRUE(Running(*service));
  ASSERT_EQ(service->Invoke("set", R"({"value":"OFF"})").value_or("(failed)"), R"({"status":0})");
  ASSERT_TRUE(sink_.Reach("state lamp/state=OFF", 1, kDue));

  // Stop: the watch ends with the host, promptly, and gone comes once more.
  const auto stopping = std::chrono::steady_clock::now();
  service->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, kStopDeadline)
      << "the host exited by itself, not killed at the stop deadline";
  const std::vector<std::string> events = sink_.events();
  const size_t first = Find(events, "described ");
  const size_t on = Find(events, "state lamp/state=ON");
  const size_t gone = Find(events, "gone entity-probe");
  const size_t again = Find(events, "described ", first + 1);
  const size_t off = Find(events, "state lamp/state=OFF");
  const size_t gone_again = Find(events, "gone entity-probe", gone + 1);
  EXPECT_LT(first, on);
  EXPECT_LT(on, gone);
  EXPECT_LT(gone, again) << "gone once for the host that died, before the next one described";
  EXPECT_LT(again, off);
  EXPECT_EQ(gone_again, events.size() - 1) << "gone at the stop, and nothing after it";
  EXPECT_EQ(sink_.Count("gone "), 2);
}

TEST_F(IsolatedEntitiesTest, APluginWithoutEntitiesIsNeitherDescribedNorGone) {
  std::unique_ptr<IsolatedService> service = Service("counter-cpp");
  service->Start();
  ASSERT_TRUE(Running(*service));
  EXPECT_TRUE(service->Invoke("inc", "{}").ok());
  service->Stop();
  EXPECT_TRUE(sink_.events().empty()) << sink_.events().front();
}

}  // namespace
}  // namespace domian::services
