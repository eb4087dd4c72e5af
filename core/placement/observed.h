// What placement's files share and nobody else needs: one round's
// reading of the cluster (Placement::Observed) and small helpers.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/placement/placement.h"

namespace domian::placement {

inline std::optional<Kind> ParseKind(std::string_view text) {
  if (text == "singleton") return Kind::kSingleton;
  if (text == "per-node") return Kind::kPerNode;
  return std::nullopt;
}

inline std::string_view KindName(Kind kind) {
  return kind == Kind::kSingleton ? "singleton" : "per-node";
}

inline Preference PreferenceOf(const NodeView& node, const std::string& service) {
  const auto it = node.preferences.find(service);
  return it == node.preferences.end() ? Preference{} : it->second;
}

// Ordering of (run, weight): the only differences worth moving a running
// service for. Tie-breakers (load, id) choose a first owner, never a move.
inline bool StrictlyBetter(const Preference& a, const Preference& b) {
  return std::pair(a.run, a.weight) > std::pair(b.run, b.weight);
}

inline std::string Ms(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// One round's reading of the cluster: every node's offers and claims.
struct Placement::Observed {
  std::string self;
  std::vector<NodeView> nodes;
  std::map<std::string, std::set<std::string>> runs;  // node -> services it claims
  std::map<std::string, ServiceSpec> specs;
  std::map<std::string, std::vector<Claim>> claims;   // service -> live claims
  std::map<std::string, uint64_t> max_epoch;          // service -> highest seen anywhere
  // service -> highest in any node's records (this node's included), not
  // counting this node's saved history (LocalServices::LastEpoch)
  std::map<std::string, uint64_t> reported_epoch;
  std::set<std::string> running_anywhere;
  // service -> a dead node whose last word claimed it, and how long ago
  // that node was last heard: a start here is then a failover.
  std::map<std::string, std::pair<std::string, Millis>> dead_claims;
  std::map<std::string, std::string> config;          // service -> config that travels
  std::map<std::string, std::string> address;         // node -> address
  std::set<std::string> wanted;
  std::map<std::string, LocalServices::Status> local;  // this node's services

  const NodeView* Node(const std::string& id) const {
    for (const NodeView& node : nodes) {
      if (node.id == id) return &node;
    }
    return nullptr;
  }
  Preference PreferenceOn(const std::string& node, const std::string& service) const {
    const NodeView* view = Node(node);
    return view ? PreferenceOf(*view, service) : Preference{};
  }
  Decision Decide(const std::string& service) const {
    std::vector<NodeView> ranked = nodes;
    for (NodeView& node : ranked) {
      const auto it = runs.find(node.id);
      node.running = it == runs.end() ? 0 : it->second.size() - it->second.count(service);
    }
    return placement::Decide(specs.at(service), ranked, running_anywhere);
  }
};


}  // namespace domian::placement
