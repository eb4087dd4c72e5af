// ProbeOrder: whom this node probes next.
//
// SWIM picks a random member each period; then a member can go unprobed
// for many periods by bad luck, and its failure with it. Like memberlist,
// this walks the members in a shuffled order instead, a lap at a time, and
// shuffles again after each lap: every member is probed by this node once
// per lap (N-1 periods at most), and with every member walking its own
// order, each is probed about once per period by somebody, at random
// phases. A member that joins mid-lap goes to a random place among those
// not yet probed, so it is probed within this lap without being first.
//
// Pure: PeerTable owns it; the random generator is seeded by its owner
// (tests seed it with a constant).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace domian::membership {

class ProbeOrder {
 public:
  explicit ProbeOrder(uint64_t seed) : random_(seed) {}

  // A member to probe from now on; adding one already here does nothing.
  void Add(const std::string& id);
  // No longer probed (forgotten, or gone for good).
  void Remove(const std::string& id);

  // The next member to probe for which `eligible` is true (a dead member
  // is not probed in turn; see PeerTable), or nullopt when none is (after
  // considering each member at least once).
  std::optional<std::string> Next(const std::function<bool(const std::string& id)>& eligible);

  size_t size() const { return order_.size(); }

 private:
  void Shuffle();

  std::mt19937_64 random_;
  std::vector<std::string> order_;
  size_t next_ = 0;  // order_[next_] is the next to consider
};

}  // namespace domian::membership
