// The dashboard's live updates: the node's event journal as Server-Sent
// Events (GET /api/events, text/event-stream), one stream per open page.
//
//   retry: 2000                       once, first: how soon to reconnect
//   id: 42                            each event, in order: its sequence
//   event: member                     its kind (events::KindName)
//   data: {"seq":42,"kind":...}       EventJson, one line
//   : keep-alive                      every 15 s without events
//
// A new stream gets the last 50 events first, or, when the browser
// reconnects with Last-Event-ID, those after it that the journal still
// holds; a `lost` event (without an id) marks where events are missing,
// from a reconnection or because the page did not keep up, and the page
// should then read the API's state again. Sequence numbers start at 1 in
// every daemon run: a Last-Event-ID beyond the journal's last is from an
// earlier run, and is answered with a `lost` event and the last 50.
//
// Each stream holds a CivetWeb worker thread for as long as it is open, so
// at most max_streams are served at once (one more is refused, with
// UNAVAILABLE, before anything is written); a stream whose client stops
// reading ends when a write times out (CivetWeb's request_timeout_ms), so
// a stalled phone neither holds a thread nor makes the journal wait (its
// watcher's queue is bounded). Stop() ends every stream at once.
//
// Threads: Serve runs on the calling (worker) thread; Stop and Serve may
// be called from any thread. The journal wakes a stream under the
// journal's lock: the wake only signals the stream's condition variable.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/common/status.h"
#include "core/events/event_journal.h"

namespace domian::web {

// Streams open at once: each ties one of CivetWeb's worker threads.
inline constexpr size_t kMaxEventStreams = 4;
// A comment this often on a quiet stream, so proxies keep it open and a
// phone notices soon when it is dead.
inline constexpr std::chrono::seconds kKeepAliveInterval{15};
// Events a new stream starts with (without Last-Event-ID).
inline constexpr size_t kInitialBacklog = 50;
// How soon a browser reconnects after a stream ended (the daemon
// restarted, the network dropped): soon, since a restart takes seconds.
inline constexpr std::chrono::milliseconds kReconnectDelay{2000};

// An event as the dashboard reads it, on one line: {"seq", "unix_ms",
// "kind", "what", "node", "service", "detail", "data" (the plugin's JSON,
// when it sent some), "seconds" (when measured), "count" (lost only)}.
std::string EventJson(const events::Event& event);
// The event as an SSE message, blank line included.
std::string SseMessage(const events::Event& event);
inline constexpr char kSseKeepAlive[] = ": keep-alive\n\n";

// Last-Event-ID as the browser sent it; nullopt when absent or not a
// sequence number.
std::optional<uint64_t> ParseLastEventId(const char* header);

class EventStreams {
 public:
  struct Options {
    size_t max_streams = kMaxEventStreams;
    std::chrono::milliseconds keep_alive = kKeepAliveInterval;
    size_t backlog = kInitialBacklog;
  };

  EventStreams(events::EventJournal& journal, Options options);
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // Serves one client until it goes away (`write` fails), the journal
  // closes or Stop(). `begin` writes the HTTP response's head; it is
  // called once the stream is accepted, before any `write`. UNAVAILABLE,
  // with nothing called, when max_streams are open, the journal takes no
  // more watchers, or the server stops.
  absl::Status Serve(std::optional<uint64_t> last_event_id, const std::function<bool()>& begin,
                     const std::function<bool(std::string_view)>& write)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every open stream (each returns within moments) and refuses new ones.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  size_t open() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One open stream's wake-up: the journal's wake and Stop() signal it.
  struct Waker {
    absl::Mutex mu;
    absl::CondVar cv;
    bool woken ABSL_GUARDED_BY(mu) = false;
    bool stopping ABSL_GUARDED_BY(mu) = false;
    void Wake(bool stop);
  };

  // The stream's loop, once accepted.
  void Follow(events::EventJournal::Watcher& watcher, Waker& waker,
              std::optional<uint64_t> after, bool earlier_run,
              const std::function<bool(std::string_view)>& write);

  events::EventJournal& journal_;
  const Options options_;
  mutable absl::Mutex mu_;
  std::set<Waker*> open_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace domian::web
