#include "core/events/event_journal.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/common/utf8.h"

namespace domian::events {
namespace {

// A plugin's payload kept only when it is JSON (what emit_event promises)
// and small: the dashboard and `--json` embed it as is.
std::string BoundedJson(std::string data) {
  if (data.empty()) return data;
  if (data.size() > kMaxDataBytes || !nlohmann::json::accept(data)) return "{}";
  return data;
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kMember:
      return "member";
    case Kind::kPlacement:
      return "placement";
    case Kind::kHealth:
      return "health";
    case Kind::kPlugin:
      return "plugin";
    case Kind::kLost:
      return "lost";
  }
  return "?";
}

EventJournal::EventJournal(Options options, std::function<int64_t()> wall_ms)
    : options_(options), wall_ms_(std::move(wall_ms)) {}

uint64_t EventJournal::Publish(Event event) {
  event.what = BoundedText(std::move(event.what), kMaxWhatBytes);
  event.node = BoundedText(std::move(event.node), kMaxNameBytes);
  event.service = BoundedText(std::move(event.service), kMaxNameBytes);
  event.detail = BoundedText(std::move(event.detail), kMaxDetailBytes);
  event.data_json = BoundedJson(std::move(event.data_json));
  const int64_t now = wall_ms_();
  absl::MutexLock lock(&mu_);
  event.seq = ++seq_;
  event.unix_ms = now;
  for (const std::shared_ptr<Watcher>& watcher : watchers_) watcher->Push(event);
  history_.push_back(std::move(event));
  while (history_.size() > options_.history) history_.pop_front();
  return seq_;
}

std::shared_ptr<EventJournal::Watcher> EventJournal::Watch(size_t backlog,
                                                           std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  if (closed_ || watchers_.size() >= options_.max_watchers) return nullptr;
  // Not make_shared: the constructor is private to the journal.
  std::shared_ptr<Watcher> watcher(
      new Watcher(std::max<size_t>(options_.per_watcher, 1), std::move(wake)));
  const size_t first = history_.size() - std::min(backlog, history_.size());
  for (size_t i = first; i < history_.size(); ++i) watcher->Push(history_[i]);
  watchers_.push_back(watcher);
  return watcher;
}

void EventJournal::Unwatch(const std::shared_ptr<Watcher>& watcher) {
  if (!watcher) return;
  absl::MutexLock lock(&mu_);
  std::erase(watchers_, watcher);
  watcher->End(/*wake=*/false);
}

void EventJournal::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (const std::shared_ptr<Watcher>& watcher : watchers_) watcher->End(/*wake=*/true);
  watchers_.clear();
}

std::vector<Event> EventJournal::Recent(size_t n) const {
  absl::MutexLock lock(&mu_);
  const size_t first = history_.size() - std::min(n, history_.size());
  return {history_.begin() + static_cast<std::ptrdiff_t>(first), history_.end()};
}

uint64_t EventJournal::last_seq() const {
  absl::MutexLock lock(&mu_);
  return seq_;
}

size_t EventJournal::watchers() const {
  absl::MutexLock lock(&mu_);
  return watchers_.size();
}

bool EventJournal::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void EventJournal::Watcher::Push(const Event& event) {
  absl::MutexLock lock(&mu_);
  const bool was_empty = queue_.empty() && lost_ == 0;
  if (queue_.size() >= capacity_) {
    if (lost_ == 0) lost_from_ = queue_.front().seq;
    queue_.pop_front();
    ++lost_;
  }
  queue_.push_back(event);
  if (was_empty && wake_) wake_();
}

void EventJournal::Watcher::End(bool wake) {
  absl::MutexLock lock(&mu_);
  ended_ = true;
  if (wake && wake_) wake_();
  wake_ = nullptr;
}

std::vector<Event> EventJournal::Watcher::Take(size_t max) {
  absl::MutexLock lock(&mu_);
  std::vector<Event> out;
  if (max == 0) return out;
  if (lost_ > 0) {
    // Where the gap is: just before the oldest event still queued.
    Event marker{.seq = lost_from_,
                 .unix_ms = queue_.empty() ? 0 : queue_.front().unix_ms,
                 .kind = Kind::kLost,
                 .what = "lost",
                 .detail = std::to_string(lost_) + " event(s) dropped: this watcher fell behind",
                 .count = lost_};
    out.push_back(std::move(marker));
    lost_ = 0;
  }
  while (out.size() < max && !queue_.empty()) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return out;
}

bool EventJournal::Watcher::Finished() const {
  absl::MutexLock lock(&mu_);
  return ended_ && queue_.empty() && lost_ == 0;
}

}  // namespace domian::events
