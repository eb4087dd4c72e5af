// DiscoveredPeers: addresses that discovery (mDNS) says a domain of this
// cluster may be reached at, and when each is worth a ShareIdentityList.
//
// An address is only an introduction. It is contacted at once, then with
// a growing pause while nobody answers there (a crashed host's record
// lingers until its TTL runs out), and not at all while the domain it
// names is already a live peer. Whoever answers says who it really is;
// liveness is never judged from here. Pure and clock-driven, like
// PeerTable; Membership owns it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/common/duration.h"
#include "core/membership/peer_table.h"

namespace domian::membership {

class DiscoveredPeers {
 public:
  // Addresses followed at once; discovery bounds its records too, this
  // bounds what a misbehaving discovery could hand over.
  static constexpr size_t kMaxAddresses = 256;
  // Longest pause between attempts at an address nobody answers at.
  static constexpr Millis kMaxRetry{std::chrono::seconds(30)};

  // `first_retry`: the pause after the first unanswered attempt, doubled
  // after each further one up to kMaxRetry.
  explicit DiscoveredPeers(Millis first_retry) : first_retry_(first_retry) {}

  // `id` as the record claims it. Known addresses are due again now: a
  // re-announced record often means the domain just restarted.
  void Add(const std::string& id, const std::string& address, MonoTime now);
  void Remove(const std::string& address);
  // A ShareIdentityList to `address` was answered by domain `id`.
  void Answered(const std::string& address, const std::string& id);
  // The address turned out to be this node: never try it again.
  void IsSelf(const std::string& address);

  // Addresses to contact now (as id-less targets, like seeds), skipping
  // those whose domain `is_live` already; marks them attempted.
  std::vector<HeartbeatTarget> Due(MonoTime now,
                                   const std::function<bool(const std::string& id)>& is_live);

  bool Contains(const std::string& address) const { return entries_.contains(address); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string id;       // as claimed, then as answered
    MonoTime next_attempt;
    Millis pause;         // before the attempt after next
    bool self = false;
  };
  Millis first_retry_;
  std::map<std::string, Entry> entries_;  // by address
};

}  // namespace domian::membership
