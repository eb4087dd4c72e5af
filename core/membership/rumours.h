// Rumours: what this node tells others about members, a few at a time,
// piggybacked on the probes and answers it sends anyway (SWIM's
// dissemination component).
//
// A rumour is retold a bounded number of times, lambda * ceil(log10(N+1)):
// with every member retelling what it heard, that many tellings reach the
// whole cluster with high probability (SWIM, section 4.1), and then the
// rumour is dropped instead of riding on every message for ever. Rumours
// told fewest times go first, the newest among equals, so fresh news is
// never starved by old. Only the latest rumour about a member is kept: a
// refutation replaces the suspicion it refutes.
//
// What is lost is repaired by the digest exchange (see membership.h); what
// a rumour may change in a receiver's table is PeerTable's business. Pure:
// PeerTable owns it; no clock, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace domian::membership {

struct Rumour {
  enum class Kind : uint8_t {
    kAlive,    // `about` answers at `incarnation` (a join, a refutation)
    kSuspect,  // `from` could not reach `about` at `incarnation`
    kDead,     // a suspicion of `about` at `incarnation` ran out
    kLeft,     // `about` said goodbye at `incarnation`
  };
  std::string about;
  Kind kind = Kind::kAlive;
  uint64_t incarnation = 0;
  // The identity revision the teller holds (kAlive): a receiver with an
  // older one fetches the identity from `about` itself.
  uint64_t revision = 0;
  std::string from;     // kSuspect: the suspector, counted once as a confirmation
  std::string address;  // kAlive: where `about` answers (an introduction, for strangers)

  bool operator==(const Rumour&) const = default;
};

class Rumours {
 public:
  // How many times each rumour is retold, per ceil(log10(N+1)):
  // memberlist's RetransmitMult.
  static constexpr int kRetellFactor = 3;
  // One rumour per member at most, and members are bounded by
  // PeerTable::kMaxPeers; this is the same bound, kept here too so the
  // queue stays bounded whoever fills it.
  static constexpr size_t kMaxRumours = 1024;

  // Times a rumour is told in a cluster of `members`.
  static int TellingsFor(size_t members);

  // Queues `rumour`, replacing any earlier one about the same member, and
  // tells it afresh. A queue that is full drops the rumour told most
  // often to make room.
  void Add(Rumour rumour);
  // Drops what is queued about `about` (a member forgotten).
  void Forget(const std::string& about);
  // Up to `count` rumours to piggyback on one message in a cluster of
  // `members`: the least told first, the newest among equals. Each taken
  // counts as told; one told TellingsFor(members) times is dropped.
  std::vector<Rumour> Take(size_t count, size_t members);
  // What is queued about `about`, without telling it (a probe of a
  // suspect carries its suspicion, so it can refute at once).
  const Rumour* About(const std::string& about) const;

  size_t size() const { return queued_.size(); }
  bool empty() const { return queued_.empty(); }

 private:
  struct Queued {
    Rumour rumour;
    int told = 0;
    uint64_t sequence = 0;  // order of Add: higher is newer
  };
  std::map<std::string, Queued> queued_;  // by member
  uint64_t next_sequence_ = 0;
};

}  // namespace domian::membership
