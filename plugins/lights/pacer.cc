#include "plugins/lights/pacer.h"

#include <algorithm>

namespace domian::lights {

std::string Target::Path() const {
  return (kind == Kind::kLight ? "lights/" + id + "/state" : "groups/" + id + "/action");
}

std::string Target::Name() const {
  switch (kind) {
    case Kind::kLight: return "light " + id;
    case Kind::kGroup: return "group " + id;
    case Kind::kScene: return "scene in group " + id;
  }
  return id;
}

Pacer::Pacer(PacerLimits limits, uint64_t seed) : limits_(limits), random_(seed) {}

Pacer::Submitted Pacer::Submit(const Target& target, const StateChange& change, SteadyTime now) {
  const uint64_t ticket = next_ticket_++;
  // Into the latest pending change for the target, unless a command that
  // may change the same light comes between: merging would move this
  // change ahead of it.
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->target == target) {
      it->change = Merge(it->change, change);
      it->tickets.push_back(ticket);
      return {ticket, true};
    }
    if (it->target.Overlaps(target)) break;
  }
  pending_.push_back(Pending{target, change, {ticket}, now, 1});
  return {ticket, false};
}

void Pacer::Insert(Pending entry) {
  const auto at = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
    return p.order() > entry.order();
  });
  pending_.insert(at, std::move(entry));
}

std::optional<SteadyTime> Pacer::FullUntil(std::deque<SteadyTime>& sends, int limit,
                                           SteadyTime now) const {
  const Millis span = limits_.window + limits_.window_margin;
  while (!sends.empty() && now - sends.front() >= span) sends.pop_front();
  if (static_cast<int>(sends.size()) < limit) return std::nullopt;
  // Room again once enough of the oldest sends have left the window.
  return sends[sends.size() - static_cast<size_t>(limit)] + span;
}

std::deque<SteadyTime>& Pacer::SendsFor(const Target& target) {
  return target.is_light() ? light_sends_ : group_sends_;
}

int Pacer::LimitFor(const Target& target) const {
  return target.is_light() ? limits_.light_commands_per_window : limits_.group_commands_per_window;
}

std::variant<Pacer::Job, Pacer::Wait> Pacer::Next(SteadyTime now) {
  if (pending_.empty() || in_flight() >= limits_.max_in_flight) return Wait{};
  if (now < paused_until_) return Wait{paused_until_};
  std::optional<SteadyTime> earliest;
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    // Whatever may change the same light and came first goes first.
    const auto overlaps = [&](const Target& other) { return other.Overlaps(it->target); };
    if (std::any_of(in_flight_.begin(), in_flight_.end(),
                    [&](const auto& flying) { return overlaps(flying.first); }) ||
        std::any_of(pending_.begin(), it, [&](const Pending& p) { return overlaps(p.target); })) {
      continue;
    }
    if (const auto full = FullUntil(SendsFor(it->target), LimitFor(it->target), now)) {
      earliest = earliest ? std::min(*earliest, *full) : *full;
      continue;
    }
    SendsFor(it->target).push_back(now);
    in_flight_[it->target] = it->order();
    Job job{it->target, it->change, std::move(it->tickets), it->attempt, it->since, now};
    pending_.erase(it);
    return job;
  }
  return Wait{earliest};
}

void Pacer::Started(const Job& job, SteadyTime when) {
  std::deque<SteadyTime>& sends = SendsFor(job.target);
  const auto it = std::find(sends.rbegin(), sends.rend(), job.sent);
  if (it == sends.rend() || when <= job.sent) return;  // already out of the window
  *it = when;
  std::sort(sends.begin(), sends.end());
}

void Pacer::Finish(const Job& job, Outcome outcome, SteadyTime now) {
  in_flight_.erase(job.target);
  if (outcome == Outcome::kAnswered) {
    failures_ = 0;
    return;
  }
  ++failures_;
  paused_until_ = std::max(paused_until_, now + Backoff());
  // Send it again, in its old place in the line, merged with a change for
  // the same target submitted meanwhile when nothing overlapping lies
  // between them.
  Pending again{job.target, job.change, job.tickets, job.since, job.attempt + 1};
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.order() > again.order(); });
  for (; it != pending_.end(); ++it) {
    if (it->target == job.target) {
      again.change = Merge(job.change, it->change);
      again.tickets.insert(again.tickets.end(), it->tickets.begin(), it->tickets.end());
      again.since = std::min(again.since, it->since);
      pending_.erase(it);
      break;
    }
    if (it->target.Overlaps(job.target)) break;
  }
  Insert(std::move(again));
}

std::vector<uint64_t> Pacer::Expire(SteadyTime now) {
  std::vector<uint64_t> expired;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->since >= limits_.expiry) {
      expired.insert(expired.end(), it->tickets.begin(), it->tickets.end());
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

void Pacer::Resume() {
  paused_until_ = {};
  failures_ = 0;
}

Millis Pacer::PausedFor(SteadyTime now) const {
  if (now >= paused_until_) return Millis(0);
  return std::chrono::duration_cast<Millis>(paused_until_ - now);
}

Millis Pacer::Backoff() {
  // Doubling from first_backoff, capped; "equal jitter" (half fixed, half
  // random) so clients that failed together do not retry together.
  const int doublings = std::min(failures_ - 1, 16);
  const auto base = std::min<int64_t>(limits_.max_backoff.count(),
                                      limits_.first_backoff.count() << doublings);
  std::uniform_int_distribution<int64_t> half(0, base / 2);
  return Millis(base - base / 2 + half(random_));
}

}  // namespace domian::lights
