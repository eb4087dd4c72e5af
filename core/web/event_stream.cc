#include "core/web/event_stream.h"

#include <absl/cleanup/cleanup.h>
#include <absl/time/time.h>

#include <charconv>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/cli/control_client.h"

namespace domian::web {
namespace {

// Every event the journal still holds: what a reconnecting page may have
// missed.
constexpr size_t kEveryHeldEvent = std::numeric_limits<size_t>::max();
// Events taken from the journal (and written) at a time.
constexpr size_t kEventsPerWrite = 64;

events::Event LostMarker(uint64_t count, std::string detail) {
  return events::Event{.kind = events::Kind::kLost,
                       .what = "lost",
                       .detail = std::move(detail),
                       .count = count};
}

}  // namespace

std::string EventJson(const events::Event& event) {
  nlohmann::json json{{"seq", event.seq},         {"unix_ms", event.unix_ms},
                      {"kind", events::KindName(event.kind)},
                      {"what", event.what},       {"node", event.node},
                      {"service", event.service}, {"detail", event.detail}};
  // The journal keeps only a payload that is JSON.
  if (!event.data_json.empty() && nlohmann::json::accept(event.data_json)) {
    json["data"] = nlohmann::json::parse(event.data_json);
  }
  if (event.seconds) json["seconds"] = *event.seconds;
  if (event.kind == events::Kind::kLost) json["count"] = event.count;
  // One line: JSON text escapes the newlines inside strings.
  return cli::JsonText(json);
}

std::string SseMessage(const events::Event& event) {
  std::string message;
  // A marker has no place in the sequence: a reconnection goes on from the
  // last real event.
  if (event.kind != events::Kind::kLost) message += "id: " + std::to_string(event.seq) + "\n";
  message += std::string("event: ") + events::KindName(event.kind) + "\n";
  message += "data: " + EventJson(event) + "\n\n";
  return message;
}

std::optional<uint64_t> ParseLastEventId(const char* header) {
  if (header == nullptr) return std::nullopt;
  const char* end = header + std::strlen(header);
  uint64_t id = 0;
  const auto [parsed, error] = std::from_chars(header, end, id);
  if (error != std::errc() || parsed != end || parsed == header) return std::nullopt;
  return id;
}

void EventStreams::Waker::Wake(bool stop) {
  absl::MutexLock lock(&mu);
  woken = true;
  stopping = stopping || stop;
  cv.Signal();
}

EventStreams::EventStreams(events::EventJournal& journal, Options options)
    : journal_(journal), options_(options) {}

absl::Status EventStreams::Serve(std::optional<uint64_t> last_event_id,
                                 const std::function<bool()>& begin,
                                 const std::function<bool(std::string_view)>& write) {
  Waker waker;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::UnavailableError("the daemon is stopping");
    if (open_.size() >= options_.max_streams) {
      return absl::UnavailableError(
          "the dashboard serves " + std::to_string(options_.max_streams) +
          " live event streams at once, and all are open (close a page or tab of it)");
    }
    open_.insert(&waker);
  }
  // Whatever happens next, the stream's slot is given back.
  const absl::Cleanup release_slot = [this, &waker] {
    absl::MutexLock lock(&mu_);
    open_.erase(&waker);
  };
  // Which events the page gets first.
  size_t backlog = options_.backlog;
  std::optional<uint64_t> after;
  bool earlier_run = false;
  if (last_event_id) {
    if (*last_event_id > journal_.last_seq()) {
      earlier_run = true;
    } else {
      backlog = kEveryHeldEvent;
      after = *last_event_id;
    }
  }
  const std::shared_ptr<events::EventJournal::Watcher> watcher =
      journal_.Watch(backlog, [&waker] { waker.Wake(/*stop=*/false); });
  if (!watcher) return absl::UnavailableError("the daemon's event journal takes no more watchers");
  if (begin()) Follow(*watcher, waker, after, earlier_run, write);
  // The wake is never called after this: `waker` may go.
  journal_.Unwatch(watcher);
  return absl::OkStatus();
}

void EventStreams::Follow(events::EventJournal::Watcher& watcher, Waker& waker,
                          std::optional<uint64_t> after, bool earlier_run,
                          const std::function<bool(std::string_view)>& write) {
  std::string pending = "retry: " + std::to_string(kReconnectDelay.count()) + "\n\n";
  if (earlier_run) {
    pending += SseMessage(LostMarker(
        0, "the daemon restarted: what happened before, and while it was down, is not known"));
  }
  auto keep_alive_due = std::chrono::steady_clock::now() + options_.keep_alive;
  while (true) {
    const std::vector<events::Event> taken = watcher.Take(kEventsPerWrite);
    for (const events::Event& event : taken) {
      if (after && event.kind != events::Kind::kLost) {
        // Replaying after Last-Event-ID: what the page has, then where
        // the journal no longer reaches back.
        if (event.seq <= *after) continue;
        if (event.seq > *after + 1) {
          const uint64_t missed = event.seq - *after - 1;
          pending += SseMessage(LostMarker(missed, std::to_string(missed) +
                                                       " event(s) since the last one this page "
                                                       "saw are no longer kept"));
        }
        after.reset();
      }
      pending += SseMessage(event);
    }
    if (!pending.empty()) {
      if (!write(pending)) return;
      pending.clear();
      keep_alive_due = std::chrono::steady_clock::now() + options_.keep_alive;
    }
    if (taken.size() == kEventsPerWrite) continue;  // more may be waiting
    if (watcher.Finished()) return;                  // the journal closed
    bool woken = false;
    {
      absl::MutexLock lock(&waker.mu);
      if (!waker.woken && !waker.stopping) {
        const auto left = keep_alive_due - std::chrono::steady_clock::now();
        waker.cv.WaitWithTimeout(&waker.mu, absl::FromChrono(left));
      }
      if (waker.stopping) return;
      woken = waker.woken;
      waker.woken = false;
    }
    if (!woken && std::chrono::steady_clock::now() >= keep_alive_due) {
      if (!write(kSseKeepAlive)) return;
      keep_alive_due = std::chrono::steady_clock::now() + options_.keep_alive;
    }
  }
}

void EventStreams::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  for (Waker* waker : open_) waker->Wake(/*stop=*/true);
}

size_t EventStreams::open() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

}  // namespace domian::web
