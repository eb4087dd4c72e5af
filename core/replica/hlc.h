// A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks",
// 2014): timestamps that follow the wall clock when it moves on, and a
// counter when it does not or when a peer's timestamp is ahead, so a
// change made after hearing of another is always later than it, even
// between nodes whose clocks disagree. It orders the changes of a
// service's state (Replicator): "the later acknowledged change wins"
// without trusting any node's clock to be right.
//
// A peer's timestamp is taken only when it is at most kMaxHlcLead ahead
// of this node's wall clock: otherwise one hostile or broken node could
// push every clock of the cluster into the far future for good.
//
// Not thread-safe: its owner (Replicator) locks it.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace domian::replica {

struct Hlc {
  uint64_t wall_ms = 0;   // milliseconds since the Unix epoch
  uint32_t logical = 0;   // orders events within one wall_ms
  auto operator<=>(const Hlc&) const = default;
  std::string ToString() const;  // "1765000000000.3"
};

// How far ahead of this node's wall clock a peer's timestamp may be: more
// than any two NTP-synchronised nodes disagree by, far less than would
// let a bad clock outlive its correction.
inline constexpr std::chrono::milliseconds kMaxHlcLead{60'000};
// The counter's bound: past it, the clock waits for the wall clock
// (never reached at a few thousand changes per millisecond).
inline constexpr uint32_t kMaxHlcLogical = 1u << 30;

class HybridClock {
 public:
  using WallClock = std::function<uint64_t()>;  // ms since the Unix epoch
  explicit HybridClock(WallClock wall);
  HybridClock();  // the system clock

  // A timestamp for a change made now: later than every one it gave or
  // observed before.
  Hlc Now();
  // A peer's timestamp (a change it made) was received: later Now()s are
  // after it. False, and nothing changes, when it is more than
  // kMaxHlcLead ahead of the wall clock.
  bool Observe(const Hlc& remote);
  // Whether `remote` may be taken (see Observe), without taking it.
  bool Acceptable(const Hlc& remote) const;

 private:
  WallClock wall_;
  Hlc last_;
};

}  // namespace domian::replica
