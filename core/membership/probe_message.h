// ProbeMessage: what membership v2 sends on every probe, relay request and
// answer (the Probe RPC; see prober.h for the rounds, rumours.h for what
// rides along). It is small on purpose: the sender's own counters, whom
// the probe is for, a few rumours and one view digest, never a row per
// member; identities still travel only in identity lists
// (ShareIdentityList), fetched when a revision or the digests differ.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/membership/rumours.h"

namespace domian::membership {

struct ProbeMessage {
  std::string cluster;
  std::string sender;        // the node id of whoever sends it
  uint64_t incarnation = 0;  // the sender's
  uint64_t revision = 0;     // of the sender's identity: a receiver holding less fetches it
  bool leaving = false;      // the sender is saying goodbye
  // A request: the member expected to answer (a direct probe), or, with
  // `relay`, the member to probe for the sender. Empty: rumours only (a
  // push of news). An answer: the member it is about.
  std::string target;
  bool relay = false;
  bool ack = false;  // an answer: the target answered (itself, or the relay's probe)
  std::vector<Rumour> rumours;
  uint64_t digest = 0;  // the sender's ViewDigest
};

}  // namespace domian::membership
