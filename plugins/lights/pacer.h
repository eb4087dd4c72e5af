// Pacer: which command goes to the bridge next, and when. A Hue bridge
// takes about 10 light commands and 1 group command per second and
// answers 503 to more than ~3 requests at once; clients that ignore this
// lose commands or start retry storms. The Pacer keeps
//
//   - one pending change per light or group: a newer change is merged into
//     the pending one (Merge() in hue_api.h), so a burst ends with the
//     newest state and not with a backlog;
//   - the order people asked for: a group command (which may change any
//     light) is never overtaken by a light command asked for after it, nor
//     overtakes one asked for before it, and a change is not merged across
//     such a command; changes to different lights go out in parallel;
//   - at most one command in flight per target and at most
//     `max_in_flight` in all;
//   - a sliding window per kind (light, group) a little wider than the
//     bridge's, so request timing jitter never lands a command over the
//     limit;
//   - after a 429/503 or a connection failure, a pause for every target
//     with exponential backoff and jitter, the failed change queued again;
//   - an expiry: a change not sent within `expiry` (bridge down) is
//     dropped and reported instead of surprising someone minutes later.
//
// It only decides; the caller's threads send. Time is passed in, so the
// limits are tested with a fake clock (pacer_test.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "plugins/lights/hue_api.h"

namespace domian::lights {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

// The bridge's limits (shared/guides/hardware.md) and how to back off.
struct PacerLimits {
  int light_commands_per_window = 10;
  int group_commands_per_window = 1;
  Millis window{1000};
  // Added to the window: the bridge counts arrivals, the pacer counts
  // sends, and a request can overtake the one sent before it.
  Millis window_margin{100};
  // Commands in flight; the bridge allows ~3 requests, one is left for
  // reads (status, lights) so they never wait behind commands.
  int max_in_flight = 2;
  Millis first_backoff{500};
  Millis max_backoff{8000};
  Millis expiry{30000};
};

// A light ("lights/<id>/state") or a group ("groups/<id>/action"). A
// group's scene recall is a target of its own, so a scene and a later
// group_set are both sent, in order.
struct Target {
  enum class Kind { kLight, kGroup, kScene };
  Kind kind = Kind::kLight;
  std::string id;
  std::string Path() const;  // below /api/<user>/
  std::string Name() const;  // "light 3", "group 0"
  bool is_light() const { return kind == Kind::kLight; }
  // Whether the two may change the same light, so their order matters:
  // the same target, or any pair but two different lights.
  bool Overlaps(const Target& other) const { return *this == other || !(is_light() && other.is_light()); }
  auto operator<=>(const Target&) const = default;
};

class Pacer {
 public:
  // What happened to a sent command.
  enum class Outcome {
    kAnswered,     // the bridge answered (items say what it did)
    kThrottled,    // HTTP 429 or 503: back off, send again
    kUnreachable,  // no answer (refused, timeout): back off, send again
  };
  // A command to send now. `tickets` are every submission merged into it.
  struct Job {
    Target target;
    StateChange change;
    std::vector<uint64_t> tickets;
    int attempt = 1;
    SteadyTime since;  // when the oldest change in it was submitted
    SteadyTime sent;   // when Next() counted it against the window
  };
  // Nothing to send before `until` (nullopt: until a command finishes or
  // one is submitted).
  struct Wait {
    std::optional<SteadyTime> until;
  };
  struct Submitted {
    uint64_t ticket;
    bool merged;  // into a change that was already pending
  };

  explicit Pacer(PacerLimits limits, uint64_t seed = std::random_device{}());

  Submitted Submit(const Target& target, const StateChange& change, SteadyTime now);
  std::variant<Job, Wait> Next(SteadyTime now);
  // The request actually left at `when` (after waiting for a connection
  // slot): the window counts that time instead of the one Next() chose.
  void Started(const Job& job, SteadyTime when);
  void Finish(const Job& job, Outcome outcome, SteadyTime now);
  // Drops changes pending longer than the expiry; returns their tickets.
  std::vector<uint64_t> Expire(SteadyTime now);
  // The bridge answers again: end the pause now rather than after the
  // backoff.
  void Resume();

  size_t pending() const { return pending_.size(); }
  int in_flight() const { return static_cast<int>(in_flight_.size()); }
  // How long sends stay paused (zero when not paused).
  Millis PausedFor(SteadyTime now) const;
  int consecutive_failures() const { return failures_; }
  const PacerLimits& limits() const { return limits_; }

 private:
  struct Pending {
    Target target;
    StateChange change;
    std::vector<uint64_t> tickets;  // ascending; the first orders the entry
    SteadyTime since;  // when the oldest merged change was submitted
    int attempt = 1;
    uint64_t order() const { return tickets.front(); }
  };
  // Puts `entry` at its place in the line (by order()).
  void Insert(Pending entry);
  // Sends within the window (older entries dropped), and the time the
  // window has room again, if it is full.
  std::optional<SteadyTime> FullUntil(std::deque<SteadyTime>& sends, int limit, SteadyTime now) const;
  std::deque<SteadyTime>& SendsFor(const Target& target);
  int LimitFor(const Target& target) const;
  Millis Backoff();

  PacerLimits limits_;
  std::mt19937_64 random_;
  uint64_t next_ticket_ = 1;
  std::deque<Pending> pending_;  // by order(): the line
  std::map<Target, uint64_t> in_flight_;  // -> its order()
  std::deque<SteadyTime> light_sends_;
  std::deque<SteadyTime> group_sends_;
  SteadyTime paused_until_{};
  int failures_ = 0;
};

}  // namespace domian::lights
