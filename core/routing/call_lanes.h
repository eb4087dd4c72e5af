// CallLanes: where service calls wait and run, so that no service can
// starve another.
//
// Before, Invoke, GetServices, Explain and HandOver shared four worker
// threads: four calls to a plugin that takes 40 s (a Hue pairing waits up
// to 30 s for its button) held all four, and every other service,
// `domianctl services` and `explain` waited behind them on every node the
// calls passed through. Now each lane (a service's calls; reading
// placement; hand-overs) runs its calls one at a time, in order, on a
// thread of its own that lives while the lane has work, so a slow lane
// holds only itself. A plugin runs one call at a time anyway, so its calls
// lose nothing by waiting in its lane.
//
// What any caller can pile up is bounded: calls per lane (running, waiting
// or forwarded), calls per calling host, lanes busy at once (each is a
// thread) and the bytes of the requests held. A call beyond a bound is
// refused at once with RESOURCE_EXHAUSTED naming the bound; a call that
// waited past its caller's deadline (or kMaxLaneWait) is answered without
// running.
#pragma once

#include "core/common/status.h"

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace domian::routing {

// A plugin call may wait for a person (30 s for a Hue button), so a few
// such calls queue behind each other; more are a client's mistake.
inline constexpr size_t kMaxCallsPerLane = 8;
// From one calling host, over every lane: a node that forwards its users'
// calls counts as one caller, domianctl on a laptop as another.
inline constexpr size_t kMaxCallsPerCaller = 32;
// Lanes with calls at once: each has a thread while it has work.
inline constexpr size_t kMaxBusyLanes = 32;
// Requests held by calls in progress (an Invoke's arguments may be 1 MiB).
inline constexpr size_t kMaxHeldRequestBytes = 16 * 1024 * 1024;
// Longest a call waits in its lane when its caller set no deadline.
inline constexpr std::chrono::seconds kMaxLaneWait{60};

// Who made a call, and until when its answer is of use.
struct CallInfo {
  std::string caller;  // the calling host (an IP address), or "" if unknown
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
};

class CallLanes {
 public:
  using Done = std::function<void(absl::Status)>;
  // A call's place in the bounds, held until the last copy is destroyed:
  // a forwarded call keeps it until its answer came back.
  class Slot;
  using SlotRef = std::shared_ptr<Slot>;
  // Runs on the lane's thread; must call `done` exactly once, now or
  // later (from any thread).
  using Job = std::function<void(SlotRef slot, Done done)>;

  struct Limits {
    size_t per_lane = kMaxCallsPerLane;
    size_t per_caller = kMaxCallsPerCaller;
    size_t busy_lanes = kMaxBusyLanes;
    size_t held_bytes = kMaxHeldRequestBytes;
    std::chrono::milliseconds max_wait = kMaxLaneWait;
  };

  CallLanes() : CallLanes(Limits{}) {}
  explicit CallLanes(Limits limits);
  ~CallLanes();  // Stop()
  CallLanes(const CallLanes&) = delete;
  CallLanes& operator=(const CallLanes&) = delete;

  // Queues `job` on `lane`, behind the calls already there; `bytes` is
  // the size of the request it holds. When a bound is reached, or the
  // lanes are stopping, `done` gets the refusal at once instead.
  void Submit(const std::string& lane, const CallInfo& call, size_t bytes, Job job, Done done);

  // Refuses every waiting call (UNAVAILABLE), waits for the running ones
  // and joins the lane threads. Slots still held (forwarded calls) are
  // released when their holders let go.
  void Stop();

  // Calls admitted and not yet released, in `lane` / from `caller`.
  size_t InLane(const std::string& lane) const;
  size_t FromCaller(const std::string& caller) const;

 private:
  struct Waiting {
    CallInfo call;
    SlotRef slot;
    Job job;
    Done done;
    std::chrono::steady_clock::time_point queued;
  };
  struct Lane {
    std::deque<Waiting> waiting;
    size_t admitted = 0;   // waiting, running or still holding a Slot
    bool running = false;  // its thread is alive
  };

  std::optional<std::string> Refusal(const std::string& lane, const CallInfo& call,
                                     size_t bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const std::string& lane, const std::string& caller, size_t bytes)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RunLane(const std::string& lane) ABSL_LOCKS_EXCLUDED(mu_);

  Limits limits_;
  // Held to admit, hand over and release calls; never while a job runs.
  mutable absl::Mutex mu_;
  absl::CondVar idle_;  // a lane thread finished
  std::map<std::string, Lane> lanes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> callers_ ABSL_GUARDED_BY(mu_);
  size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t busy_lanes_ ABSL_GUARDED_BY(mu_) = 0;  // lanes with admitted > 0
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Running lane threads.
  std::map<std::string, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  // Returned, to be joined.
  std::vector<std::thread> finished_ ABSL_GUARDED_BY(mu_);

  friend class Slot;
};

class CallLanes::Slot {
 public:
  Slot(CallLanes& owner, std::string lane, std::string caller, size_t bytes)
      : owner_(owner), lane_(std::move(lane)), caller_(std::move(caller)), bytes_(bytes) {}
  ~Slot() { owner_.Release(lane_, caller_, bytes_); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  CallLanes& owner_;
  std::string lane_;
  std::string caller_;
  size_t bytes_;
};

}  // namespace domian::routing
