#include "core/placement/ranking.h"

#include <algorithm>
#include <tuple>

namespace domian::placement {

std::string_view PlacementStateName(PlacementState state) {
  switch (state) {
    case PlacementState::kPlaced: return "placed";
    case PlacementState::kWaiting: return "waiting";
    case PlacementState::kUnplaced: return "unplaced";
    case PlacementState::kNotWanted: return "not wanted";
    case PlacementState::kStarting: return "starting";
  }
  return "unplaced";
}
namespace {

// The node's preference for `service`: as written, or `allow` with
// weight 0 when it only has the plugin.
Preference PreferenceOf(const NodeView& node, const std::string& service) {
  const auto it = node.preferences.find(service);
  return it == node.preferences.end() ? Preference{} : it->second;
}

// Empty when `node` can host `service`, else why not.
std::string WhyNot(const NodeView& node, const ServiceSpec& service) {
  if (!node.alive) return "not alive";
  if (!node.plugins.contains(service.name)) return "no plugin";
  for (const std::string& trait : service.traits) {
    if (!node.traits.contains(trait)) return "missing trait " + trait;
  }
  if (PreferenceOf(node, service.name).run == RunMode::kNever) return "never";
  if (node.gave_up.contains(service.name)) {
    const auto why = node.gave_up_why.find(service.name);
    return why == node.gave_up_why.end() || why->second.empty()
               ? "failed here recently"
               : "failed here recently: " + why->second;
  }
  return "";
}

}  // namespace

std::vector<std::string> Wanted(const std::vector<NodeView>& nodes,
                                const std::map<std::string, ServiceSpec>& specs) {
  std::set<std::string> wanted;
  for (const NodeView& node : nodes) {
    if (!node.alive) continue;
    for (const auto& [service, preference] : node.preferences) {
      if (preference.listed && preference.run != RunMode::kNever && specs.contains(service)) {
        wanted.insert(service);
      }
    }
  }
  // Dependencies of wanted services are wanted, transitively (a cycle
  // just stops growing the set).
  std::vector<std::string> pending(wanted.begin(), wanted.end());
  while (!pending.empty()) {
    const std::string service = pending.back();
    pending.pop_back();
    for (const std::string& dependency : specs.at(service).depends) {
      if (specs.contains(dependency) && wanted.insert(dependency).second) {
        pending.push_back(dependency);
      }
    }
  }
  return {wanted.begin(), wanted.end()};
}

Decision Decide(const ServiceSpec& service, const std::vector<NodeView>& nodes,
                const std::set<std::string>& running_anywhere) {
  Decision decision;
  decision.service = service.name;
  struct Ranked {
    const NodeView* node;
    Preference preference;
  };
  std::vector<Ranked> candidates;
  std::vector<Verdict> refused;
  for (const NodeView& node : nodes) {
    const std::string why = WhyNot(node, service);
    if (!why.empty()) {
      refused.push_back({node.id, false, why});
      continue;
    }
    const Preference preference = PreferenceOf(node, service.name);
    // A per-node service runs only where it is asked for.
    if (service.kind == Kind::kPerNode && !preference.listed) {
      refused.push_back({node.id, false, "not listed in its node.yaml"});
      continue;
    }
    candidates.push_back({&node, preference});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Ranked& a, const Ranked& b) {
    // Higher mode, higher weight, fewer running, lower id.
    return std::make_tuple(-static_cast<int>(a.preference.run), -a.preference.weight,
                           a.node->running, a.node->id) <
           std::make_tuple(-static_cast<int>(b.preference.run), -b.preference.weight,
                           b.node->running, b.node->id);
  });
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Ranked& ranked = candidates[i];
    decision.verdicts.push_back(
        {ranked.node->id, true,
         std::string(i == 0 ? "rank " : "lower rank ") + std::to_string(i + 1) + " (" +
             std::string(RunModeName(ranked.preference.run)) + ", weight " +
             std::to_string(ranked.preference.weight) + ", running " +
             std::to_string(ranked.node->running) + ")"});
  }
  std::sort(refused.begin(), refused.end(),
            [](const Verdict& a, const Verdict& b) { return a.node < b.node; });
  decision.verdicts.insert(decision.verdicts.end(), refused.begin(), refused.end());

  for (const std::string& dependency : service.depends) {
    if (!running_anywhere.contains(dependency)) {
      decision.state = PlacementState::kWaiting;
      decision.detail = "waiting for " + dependency;
      return decision;
    }
  }
  if (candidates.empty()) {
    decision.state = PlacementState::kUnplaced;
    decision.detail = "no node can host it";
    // The plugin's own reason is what a person needs when it kept
    // failing (a configuration it refuses, a device it cannot open).
    for (const Verdict& verdict : refused) {
      if (verdict.reason.starts_with("failed here recently: ")) {
        decision.detail += "; " + verdict.node + " " + verdict.reason;
      }
    }
    return decision;
  }
  decision.state = PlacementState::kPlaced;
  if (service.kind == Kind::kSingleton) {
    decision.owners.push_back(candidates.front().node->id);
  } else {
    for (const Ranked& ranked : candidates) decision.owners.push_back(ranked.node->id);
  }
  return decision;
}

}  // namespace domian::placement
