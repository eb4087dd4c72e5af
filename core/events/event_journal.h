// EventJournal: what happened on this node, in order, for whoever watches
// (`domianctl events -f`, the dashboard, /metrics).
//
// Producers (membership, placement, the service host, plugins) publish
// from their own threads; Publish never waits for a watcher. Each watcher
// has a bounded queue of its own: one that does not keep up loses its
// oldest events and is told how many with a `lost` event at the point of
// the gap, so a stalled client never slows the daemon nor grows its memory.
//
// Threads: every method may be called from any thread. A watcher's wake
// callback runs on the publishing thread with the journal's and the
// watcher's locks held, so it must only note that there is something to
// take (set a flag, arm a grpc::Alarm); after Unwatch returns it is never
// called again.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/clock.h"

namespace domian::events {

// What an event is about. The names are part of the wire contract
// (WatchEvents, `domianctl events --json`, the dashboard).
enum class Kind {
  kMember,     // a peer changed state: alive, suspect, dead, left, forgotten
  kPlacement,  // this node started, stopped, moved or took over a service
  kHealth,     // a service's plugin on this node: running, failed, restarting, stopped
  kPlugin,     // an event a plugin emitted (domian_host_api_t.emit_event)
  kLost,       // marker: this watcher missed `count` events here
};
const char* KindName(Kind kind);

struct Event {
  uint64_t seq = 0;         // set by the journal: 1, 2, ... per daemon run
  int64_t unix_ms = 0;      // set by the journal: wall-clock time of publishing
  Kind kind = Kind::kPlugin;
  std::string what;         // e.g. "dead", "moved", "failed", or the plugin's event name
  std::string node;         // the node it concerns (a peer for kMember; this node otherwise)
  std::string service;      // the service it concerns, if any
  std::string detail;       // why, in words ("silent for 1.6s", "a better node for it")
  std::string data_json;    // kPlugin: the plugin's JSON payload
  // A duration the event measured, if any: kMember dead: how long the
  // peer was silent before it was declared dead (the detection time);
  // kPlacement moved/started after a failover: stop-to-running.
  std::optional<double> seconds;
  uint64_t count = 0;       // kLost: how many events this watcher missed
};

// Bounds on what a sender may make the journal hold (plugins and peers are
// not trusted to be brief).
inline constexpr size_t kMaxWhatBytes = 64;
inline constexpr size_t kMaxNameBytes = 128;        // node, service
inline constexpr size_t kMaxDetailBytes = 1024;
inline constexpr size_t kMaxDataBytes = 4 * 1024;   // a plugin's payload; longer is cut to "{}"

class EventJournal {
 public:
  struct Options {
    // Recent events kept for a new watcher (and `domianctl events`
    // without -f): about a day of a quiet house, minutes of a busy one.
    size_t history = 512;
    // Events one watcher may have waiting before the oldest are dropped:
    // a burst (a node dying takes its services along: tens of events)
    // fits many times over.
    size_t per_watcher = 1024;
    // Watchers at once; one more is refused (RESOURCE_EXHAUSTED): each
    // may hold per_watcher events of at most ~5 KiB.
    size_t max_watchers = 16;
  };

  class Watcher;

  // `wall_ms`: the wall clock in ms since the epoch (injectable for tests).
  EventJournal(Options options, std::function<int64_t()> wall_ms);
  explicit EventJournal(std::function<int64_t()> wall_ms)
      : EventJournal(Options{}, std::move(wall_ms)) {}
  EventJournal(const EventJournal&) = delete;
  EventJournal& operator=(const EventJournal&) = delete;

  // Stamps, bounds and records `event`, and queues it for every watcher.
  // Returns its sequence number.
  uint64_t Publish(Event event) ABSL_LOCKS_EXCLUDED(mu_);

  // A new watcher, or nullptr when max_watchers are watching or the
  // journal was closed. `backlog`: how many of the recent events it gets
  // first (0: only what happens from now). `wake` is called (see the
  // thread rules above) whenever its queue goes from empty to non-empty,
  // and once when the journal closes.
  std::shared_ptr<Watcher> Watch(size_t backlog, std::function<void()> wake)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unwatch(const std::shared_ptr<Watcher>& watcher) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every watch (their Take reports closed once drained) and refuses
  // new ones: the daemon is stopping.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // The last `n` events, oldest first.
  std::vector<Event> Recent(size_t n) const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t last_seq() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t watchers() const ABSL_LOCKS_EXCLUDED(mu_);
  bool closed() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Options options_;
  const std::function<int64_t()> wall_ms_;
  mutable absl::Mutex mu_;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Event> history_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// One client's view of the journal, with a lock of its own: taking events
// never waits for a publisher's other watchers. Lock order: the journal's,
// then a watcher's. Take from one thread at a time.
class EventJournal::Watcher {
 public:
  // Up to `max` events, oldest first, with a kLost marker where events
  // were dropped. Empty when there is nothing (yet).
  std::vector<Event> Take(size_t max) ABSL_LOCKS_EXCLUDED(mu_);
  // The journal closed (or this watcher was unwatched) and nothing is left.
  bool Finished() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class EventJournal;
  Watcher(size_t capacity, std::function<void()> wake)
      : capacity_(capacity), wake_(std::move(wake)) {}
  // Queues `event`, dropping the oldest when full; wakes when it was empty.
  void Push(const Event& event) ABSL_LOCKS_EXCLUDED(mu_);
  // No more events: wakes once more when `wake` (the journal closes),
  // then never again.
  void End(bool wake) ABSL_LOCKS_EXCLUDED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
  std::deque<Event> queue_ ABSL_GUARDED_BY(mu_);
  // Dropped since the last Take, and the sequence of the first dropped one.
  uint64_t lost_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lost_from_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace domian::events
