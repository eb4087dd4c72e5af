#include "core/routing/call_lanes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

namespace domian::routing {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // generous: each step takes microseconds

// A gate a job waits at until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Collects the answers of calls.
class Answers {
 public:
  CallLanes::Done For(const std::string& name) {
    return [this, name](absl::Status status) {
      std::lock_guard lock(mu_);
      answers_[name] = status;
      cv_.notify_all();
    };
  }
  std::optional<absl::Status> Await(const std::string& name) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return answers_.contains(name); })) return std::nullopt;
    return answers_[name];
  }
  bool Has(const std::string& name) {
    std::lock_guard lock(mu_);
    return answers_.contains(name);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, absl::Status> answers_;
};

CallLanes::Job Waits(Gate& gate) {
  return [&gate](const CallLanes::SlotRef&, CallLanes::Done done) {
    gate.Wait();
    done(absl::OkStatus());
  };
}

CallLanes::Job Quick() {
  return [](const CallLanes::SlotRef&, CallLanes::Done done) { done(absl::OkStatus()); };
}

const CallInfo kLaptop{.caller = "192.168.1.9"};

// In each test, what the jobs use is declared before the lanes: destroying
// the lanes waits for their jobs.

TEST(CallLanes, ASlowLaneHoldsOnlyItself) {
  Gate slow;
  Answers answers;
  CallLanes lanes;
  for (int i = 0; i < 4; ++i) {
    lanes.Submit("service slow", kLaptop, 10, Waits(slow), answers.For("slow" + std::to_string(i)));
  }
  lanes.Submit("service other", kLaptop, 10, Quick(), answers.For("other"));
  lanes.Submit("placement queries", kLaptop, 10, Quick(), answers.For("services"));
  ASSERT_TRUE(answers.Await("other"));
  ASSERT_TRUE(answers.Await("services"));
  EXPECT_FALSE(answers.Has("slow0"));
  slow.Open();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(answers.Await("slow" + std::to_string(i)));
}

TEST(CallLanes, ALaneRunsItsCallsOneAtATimeInOrder) {
  std::mutex mu;
  std::vector<int> order;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  Answers answers;
  CallLanes lanes;
  for (int i = 0; i < 5; ++i) {
    lanes.Submit("service one", kLaptop, 10,
                 [&, i](const CallLanes::SlotRef&, CallLanes::Done done) {
                   most = std::max(most.load(), ++running);
                   std::this_thread::sleep_for(2ms);
                   {
                     std::lock_guard lock(mu);
                     order.push_back(i);
                   }
                   --running;
                   done(absl::OkStatus());
                 },
                 answers.For(std::to_string(i)));
  }
  ASSERT_TRUE(answers.Await("4"));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(most, 1);
}

TEST(CallLanes, ALaneTakesABoundedNumberOfCalls) {
  Gate gate;
  Answers answers;
  CallLanes lanes({.per_lane = 2});
  lanes.Submit("service slow", kLaptop, 10, Waits(gate), answers.For("a"));
  lanes.Submit("service slow", kLaptop, 10, Waits(gate), answers.For("b"));
  lanes.Submit("service slow", kLaptop, 10, Waits(gate), answers.For("c"));
  const auto refused = answers.Await("c");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused->message(),
            "the limit of 2 calls at once for service slow is reached on this node; try again "
            "later");
  gate.Open();
  EXPECT_TRUE(answers.Await("b"));
  // Room again once they are answered.
  lanes.Submit("service slow", kLaptop, 10, Quick(), answers.For("d"));
  const auto later = answers.Await("d");
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->ok());
}

TEST(CallLanes, OneCallerTakesABoundedNumberOfCalls) {
  Gate gate;
  Answers answers;
  CallLanes lanes({.per_caller = 2});
  lanes.Submit("service a", kLaptop, 10, Waits(gate), answers.For("a"));
  lanes.Submit("service b", kLaptop, 10, Waits(gate), answers.For("b"));
  lanes.Submit("service c", kLaptop, 10, Quick(), answers.For("c"));
  lanes.Submit("service c", {.caller = "192.168.1.10"}, 10, Quick(), answers.For("other"));
  const auto refused = answers.Await("c");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->message(),
            "the limit of 2 calls at once from 192.168.1.9 is reached on this node; try again "
            "later");
  const auto other = answers.Await("other");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->ok());
  gate.Open();
}

TEST(CallLanes, BusyLanesAndHeldBytesAreBounded) {
  Gate gate;
  Answers answers;
  CallLanes lanes({.busy_lanes = 2, .held_bytes = 100});
  lanes.Submit("service a", kLaptop, 10, Waits(gate), answers.For("a"));
  lanes.Submit("service b", kLaptop, 10, Waits(gate), answers.For("b"));
  lanes.Submit("service c", kLaptop, 10, Quick(), answers.For("c"));
  lanes.Submit("service a", kLaptop, 90, Quick(), answers.For("big"));
  EXPECT_EQ(answers.Await("c")->message(),
            "the limit of 2 services with calls at once is reached on this node; try again later");
  EXPECT_EQ(answers.Await("big")->message(),
            "the requests of the calls in progress on this node would exceed 100 bytes; try again "
            "later");
  gate.Open();
}

TEST(CallLanes, AForwardedCallKeepsItsPlaceUntilItsSlotIsLetGo) {
  Answers answers;
  CallLanes::SlotRef kept;
  CallLanes::Done kept_done;
  std::promise<void> started;
  CallLanes lanes({.per_lane = 1});
  lanes.Submit("service remote", kLaptop, 10,
               [&](CallLanes::SlotRef slot, CallLanes::Done done) {
                 kept = std::move(slot);  // as an asynchronous forward does
                 kept_done = std::move(done);
                 started.set_value();
               },
               answers.For("forwarded"));
  ASSERT_EQ(started.get_future().wait_for(kWait), std::future_status::ready);
  lanes.Submit("service remote", kLaptop, 10, Quick(), answers.For("second"));
  EXPECT_EQ(answers.Await("second")->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(lanes.InLane("service remote"), 1u);
  kept_done(absl::OkStatus());
  kept.reset();
  EXPECT_EQ(lanes.InLane("service remote"), 0u);
  EXPECT_EQ(lanes.FromCaller(kLaptop.caller), 0u);
}

TEST(CallLanes, ACallWhoseCallerGaveUpIsNotRun) {
  Gate gate;
  Answers answers;
  std::atomic<bool> ran{false};
  CallLanes lanes;
  lanes.Submit("service slow", kLaptop, 10, Waits(gate), answers.For("first"));
  lanes.Submit("service slow",
               {.caller = kLaptop.caller, .deadline = std::chrono::system_clock::now() + 50ms},
               10,
               [&](const CallLanes::SlotRef&, CallLanes::Done done) {
                 ran = true;
                 done(absl::OkStatus());
               },
               answers.For("late"));
  std::this_thread::sleep_for(100ms);
  gate.Open();
  const auto late = answers.Await("late");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(late->message().find("behind other calls for service slow, past the caller's "
                                       "deadline"),
            std::string::npos)
      << late->message();
  EXPECT_FALSE(ran);
}

TEST(CallLanes, StopRefusesWaitingCallsAndLaterOnes) {
  Gate gate;
  Answers answers;
  {
    std::promise<void> started;
    CallLanes lanes;
    lanes.Submit("service slow", kLaptop, 10,
                 [&](const CallLanes::SlotRef&, CallLanes::Done done) {
                   started.set_value();
                   gate.Wait();
                   done(absl::OkStatus());
                 },
                 answers.For("running"));
    lanes.Submit("service slow", kLaptop, 10, Quick(), answers.For("waiting"));
    ASSERT_EQ(started.get_future().wait_for(kWait), std::future_status::ready);
    // Stop waits for the running call: open the gate once it is refusing.
    std::thread stopper([&] { lanes.Stop(); });
    const auto waiting = answers.Await("waiting");
    ASSERT_TRUE(waiting);
    EXPECT_EQ(waiting->code(), absl::StatusCode::kUnavailable);
    gate.Open();
    stopper.join();
    EXPECT_TRUE(answers.Await("running")->ok());
    lanes.Submit("service slow", kLaptop, 10, Quick(), answers.For("after"));
    EXPECT_EQ(answers.Await("after")->code(), absl::StatusCode::kUnavailable);
  }
}

}  // namespace
}  // namespace domian::routing
