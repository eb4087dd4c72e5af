// Ranking: where each wanted service should run, computed from one
// node's view of the cluster. It is pure (no I/O, no clock): every node
// that holds the same view computes the same answer, which is what lets
// the cluster place services without a leader.
//
// The rules:
//  - A node can host a service when it is alive, has the plugin, has every
//    trait the plugin needs, does not say `never`, and has not given up on
//    the service recently (its plugin host kept crashing there). A plugin
//    present but not listed counts as `allow` with weight 0.
//  - A service is wanted when a live node lists it (always, prefer or
//    allow), or when a wanted service depends on it.
//  - A per-node service runs on every node that lists it and can host it.
//    A singleton runs on the best candidate: always before prefer before
//    allow, then the higher weight, then fewer running services, then the
//    lower node id.
//  - A service whose dependency runs nowhere is `waiting`; one with no
//    candidate is `unplaced`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/values.h"

namespace domian::placement {

using domian::RunMode;

struct Preference {
  RunMode run = RunMode::kAllow;
  int64_t weight = 0;
  bool listed = false;  // written in the node's YAML (not just a plugin present)
};

// One node as this node sees it.
struct NodeView {
  std::string id;
  bool alive = true;
  std::set<std::string> traits;
  std::set<std::string> plugins;                   // services it has a plugin for
  std::map<std::string, Preference> preferences;   // by service
  std::set<std::string> gave_up;                   // services that kept crashing there
  std::map<std::string, std::string> gave_up_why;  // of those, why (when the node says)
  size_t running = 0;  // services it runs now, not counting the one being placed
};

enum class Kind { kSingleton, kPerNode };

// What the plugin says about a service.
struct ServiceSpec {
  std::string name;
  Kind kind = Kind::kSingleton;
  std::vector<std::string> traits;
  std::vector<std::string> depends;
};

// Why a node is or is not a candidate, for `domianctl explain`.
struct Verdict {
  std::string node;
  bool candidate = false;
  std::string reason;  // e.g. "no plugin", "missing trait camera", "never", "rank 2"
};

// Where a wanted service stands in the cluster, as `domianctl explain`
// and `domianctl services` show it.
enum class PlacementState {
  kPlaced,     // it has its node(s)
  kWaiting,    // a dependency runs nowhere yet
  kUnplaced,   // no node can run it
  kNotWanted,  // no live node lists it, and nothing wanted depends on it
  kStarting,   // placed, about to start on its node (runs nowhere yet)
};
// "placed", "waiting", "unplaced", "not wanted", "starting".
std::string_view PlacementStateName(PlacementState state);

struct Decision {
  std::string service;
  PlacementState state = PlacementState::kUnplaced;  // placed, waiting or unplaced
  std::vector<std::string> owners;  // the best first; one for a singleton
  std::vector<Verdict> verdicts;    // every node, candidates in rank order first
  std::string detail;               // e.g. "waiting for hue-bridge"
};

// The services that are wanted, dependencies included, sorted by name;
// only those with a spec are considered.
std::vector<std::string> Wanted(const std::vector<NodeView>& nodes,
                                const std::map<std::string, ServiceSpec>& specs);

// Where `service` should run. `running_anywhere`: services that run on
// some live node now (for dependencies).
Decision Decide(const ServiceSpec& service, const std::vector<NodeView>& nodes,
                const std::set<std::string>& running_anywhere);

}  // namespace domian::placement
