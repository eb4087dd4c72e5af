// ViewDigest: one 64-bit number that says whether two members see the
// same cluster.
//
// Every probe and answer carries the sender's digest. Rumours are told a
// bounded number of times (rumours.h), so one can be missed, most often by
// a member that was cut off while it spread; two members whose digests
// stay different after the rumours in flight have settled run a full
// exchange of identity lists (ShareIdentityList), which repairs whatever
// was missed in both directions: SWIM's anti-entropy, as memberlist's
// push-pull, but only when something differs.
//
// What goes in is what every member should agree on once the cluster is
// quiet: each member's id, incarnation and identity revision, and whether
// it is dead. A suspicion is a member's own passing doubt, so a suspect
// counts as alive; counters that grow on every heartbeat stay out.
//
// The digest is FNV-1a (64 bit) over the entries sorted by id, each as
// the id's bytes, a zero byte, the incarnation and the revision as 8
// little-endian bytes each, and one byte 1 (dead) or 0: simple enough for
// a peer written in another language to compute the same number.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace domian::membership {

struct DigestEntry {
  std::string id;
  uint64_t incarnation = 0;
  uint64_t revision = 0;
  bool dead = false;
};

// The same for the same entries, in any order.
uint64_t ViewDigest(std::vector<DigestEntry> entries);

}  // namespace domian::membership
