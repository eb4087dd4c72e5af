#include "core/routing/call_lanes.h"

#include <optional>
#include <utility>

namespace domian::routing {
namespace {

std::string Size(size_t bytes) {
  constexpr size_t kMib = 1 << 20;
  if (bytes >= kMib && bytes % kMib == 0) return std::to_string(bytes / kMib) + " MiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

CallLanes::CallLanes(Limits limits) : limits_(limits) {}

CallLanes::~CallLanes() { Stop(); }

size_t CallLanes::InLane(const std::string& lane) const {
  absl::MutexLock lock(&mu_);
  const auto it = lanes_.find(lane);
  return it == lanes_.end() ? 0 : it->second.admitted;
}

size_t CallLanes::FromCaller(const std::string& caller) const {
  absl::MutexLock lock(&mu_);
  const auto it = callers_.find(caller);
  return it == callers_.end() ? 0 : it->second;
}

std::optional<std::string> CallLanes::Refusal(const std::string& lane, const CallInfo& call,
                                              size_t bytes) const {
  const auto in_lane = lanes_.find(lane);
  const size_t admitted = in_lane == lanes_.end() ? 0 : in_lane->second.admitted;
  if (admitted >= limits_.per_lane) {
    return "the limit of " + std::to_string(limits_.per_lane) + " calls at once for " + lane +
           " is reached on this node; try again later";
  }
  if (const auto it = callers_.find(call.caller);
      it != callers_.end() && it->second >= limits_.per_caller) {
    return "the limit of " + std::to_string(limits_.per_caller) + " calls at once from " +
           (call.caller.empty() ? "an unknown caller" : call.caller) +
           " is reached on this node; try again later";
  }
  if (admitted == 0 && busy_lanes_ >= limits_.busy_lanes) {
    return "the limit of " + std::to_string(limits_.busy_lanes) +
           " services with calls at once is reached on this node; try again later";
  }
  if (held_bytes_ + bytes > limits_.held_bytes) {
    return "the requests of the calls in progress on this node would exceed " +
           Size(limits_.held_bytes) + "; try again later";
  }
  return std::nullopt;
}

void CallLanes::Submit(const std::string& lane, const CallInfo& call, size_t bytes, Job job,
                       Done done) {
  std::vector<std::thread> finished;
  std::optional<absl::Status> refused;
  {
    absl::MutexLock lock(&mu_);
    finished.swap(finished_);
    if (stopping_) {
      refused = absl::Status(absl::StatusCode::kUnavailable, "the node is shutting down");
    } else if (auto why = Refusal(lane, call, bytes)) {
      refused = absl::Status(absl::StatusCode::kResourceExhausted, *why);
    } else {
      Lane& target = lanes_[lane];
      if (target.admitted++ == 0) ++busy_lanes_;
      ++callers_[call.caller];
      held_bytes_ += bytes;
      target.waiting.push_back({call, std::make_shared<Slot>(*this, lane, call.caller, bytes),
                                std::move(job), std::move(done),
                                std::chrono::steady_clock::now()});
      if (!target.running) {
        target.running = true;
        threads_[lane] = std::thread([this, lane] { RunLane(lane); });
      }
    }
  }
  // Lane threads that returned: each is past its last use of the lock.
  for (std::thread& thread : finished) thread.join();
  if (refused) done(*refused);
}

void CallLanes::Release(const std::string& lane, const std::string& caller, size_t bytes) {
  absl::MutexLock lock(&mu_);
  if (const auto it = lanes_.find(lane); it != lanes_.end() && --it->second.admitted == 0) {
    --busy_lanes_;
    if (!it->second.running && it->second.waiting.empty()) lanes_.erase(it);
  }
  if (const auto it = callers_.find(caller); it != callers_.end() && --it->second == 0) {
    callers_.erase(it);
  }
  held_bytes_ -= bytes;
}

void CallLanes::RunLane(const std::string& lane) {
  while (true) {
    // Destroyed (its Slot released, which takes the lock) at the end of
    // the iteration, before the lock is taken again.
    std::optional<Waiting> next;
    {
      absl::MutexLock lock(&mu_);
      std::deque<Waiting>& waiting = lanes_[lane].waiting;
      if (waiting.empty()) {
        Lane& done = lanes_[lane];
        done.running = false;
        if (done.admitted == 0) lanes_.erase(lane);
        // A thread cannot join itself: the next Submit (or Stop) joins it.
        const auto self = threads_.find(lane);
        finished_.push_back(std::move(self->second));
        threads_.erase(self);
        idle_.SignalAll();
        return;
      }
      next.emplace(std::move(waiting.front()));
      waiting.pop_front();
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - next->queued);
    const bool too_late = std::chrono::system_clock::now() >= next->call.deadline;
    if (too_late || waited >= limits_.max_wait) {
      next->done(absl::Status(
          absl::StatusCode::kDeadlineExceeded,
          "waited " + std::to_string(waited.count()) + " ms behind other calls for " + lane +
              (too_late ? ", past the caller's deadline"
                        : ", the longest a call may wait (" +
                              std::to_string(limits_.max_wait.count()) + " ms)")));
    } else {
      next->job(std::move(next->slot), std::move(next->done));
    }
  }
}

void CallLanes::Stop() {
  std::vector<Waiting> refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [name, lane] : lanes_) {
      for (Waiting& waiting : lane.waiting) refused.push_back(std::move(waiting));
      lane.waiting.clear();
    }
  }
  for (Waiting& waiting : refused) {
    waiting.done(absl::Status(absl::StatusCode::kUnavailable, "the node is shutting down"));
  }
  refused.clear();
  std::vector<std::thread> finished;
  {
    absl::MutexLock lock(&mu_);
    while (!threads_.empty()) idle_.Wait(&mu_);
    finished.swap(finished_);
  }
  for (std::thread& thread : finished) thread.join();
}

}  // namespace domian::routing
