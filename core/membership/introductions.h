// Introductions: domains this node has only heard of, never heard from.
//
// A relayed row for an id this node does not know, or a call from a
// stranger, introduces a domain: an id and the address it is said to
// answer at. Nothing about it is believed until it answers a call at that
// address as that id; until then it is not a peer (not listed, not ranked
// by placement, not counted for gossip pacing or loneliness). This is what
// keeps made-up rows from joining the cluster: a thousand fake peers in one
// message cost a few bounded calls, not a place in every table.
//
// An introduction is called at once, then after kFirstRetry, twice that,
// ... and dropped after kMaxAttempts unanswered calls. Their number is
// bounded; when full, a newcomer waits for a place (a flood of junk can
// delay a real newcomer by a few seconds, never displace a peer). Pure and
// clock-driven, like PeerTable, which owns it.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/common/duration.h"

namespace domian::membership {

class Introductions {
 public:
  // Domains being introduced at once. A household has tens of nodes; a
  // join introduces one at a time.
  static constexpr size_t kMaxIntroductions = 64;
  // Unanswered calls before an introduction is dropped.
  static constexpr int kMaxAttempts = 3;
  static constexpr Millis kFirstRetry{std::chrono::seconds(1)};

  struct Target {
    std::string id;
    std::string address;
  };

  // `own_claim`: the domain itself called us, saying it is `id` at
  // `address`. It replaces what somebody else said of the same id (a
  // relayed row may carry an old or a false address), while a relayed row
  // never overwrites an introduction. False when there is no room.
  bool Add(const std::string& id, const std::string& address, bool own_claim, MonoTime now);
  // It answered (it is a peer now), or it is no longer worth calling.
  void Remove(const std::string& id);
  // A call to it went unanswered: try again later, or give it up. True
  // when given up.
  bool Unanswered(const std::string& id, MonoTime now);
  // Up to `budget` introductions due for a call now, skipping addresses
  // `busy` says already have a call out; marks them attempted.
  std::vector<Target> Due(MonoTime now, size_t budget,
                          const std::function<bool(const std::string& address)>& busy);

  bool Contains(const std::string& id) const { return entries_.contains(id); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string address;
    MonoTime next_attempt;
    int attempts = 0;
  };
  std::map<std::string, Entry> entries_;  // by id
};

}  // namespace domian::membership
