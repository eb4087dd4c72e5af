// What placement tells others: this node's records and offers for its
// identity, and the answers to `domianctl explain` and `services`.
#include "core/placement/observed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "core/common/utf8.h"

namespace domian::placement {

std::vector<ServiceRecord> Placement::Records() const {
  std::map<std::string, LocalServices::Status> statuses;
  for (const LocalServices::Status& status : local_services_.Services()) {
    statuses[status.name] = status;
  }
  absl::MutexLock lock(&mu_);
  std::vector<ServiceRecord> records;
  for (const auto& [name, local] : local_) {
    ServiceRecord record{name, std::string(ServiceStateName(ServiceState::kStarting)), "",
                         local.epoch};
    if (const auto it = statuses.find(name); it != statuses.end()) {
      record.state = ServiceStateName(it->second.state);
      // Plugin text: peers refuse a whole list that is not UTF-8.
      record.endpoint = ToValidUtf8(it->second.endpoint);
      record.detail = BoundedDetail(it->second.detail);
    }
    if (!local.handing_over.empty()) {
      record.state = ServiceStateName(ServiceState::kHandingOver);
      record.hand_over_to = local.handing_over;
      record.hand_over_epoch = local.hand_over_epoch;
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<Offer> Placement::Offers() const {
  std::map<std::string, Offer> offers;
  for (const ServiceSpec& spec : local_services_.Plugins()) {
    Offer& offer = offers[spec.name];
    offer.service = spec.name;
    offer.run = RunModeName(RunMode::kAllow);
    offer.has_plugin = true;
    offer.placement = KindName(spec.kind);
    offer.traits = spec.traits;
    offer.depends = spec.depends;
  }
  for (const config::ServiceConfig& service : options_.services) {
    Offer& offer = offers[service.name];
    offer.service = service.name;
    offer.run = RunModeName(service.run);
    offer.weight = service.weight;
    offer.listed = true;
    offer.config_json = service.config_json;
  }
  absl::MutexLock lock(&mu_);
  const MonoTime now = clock_.Now();
  for (const auto& [name, until] : gave_up_) {
    if (until > now && offers.contains(name)) {
      offers[name].gave_up = true;
      if (const auto why = gave_up_why_.find(name); why != gave_up_why_.end()) {
        offers[name].gave_up_detail = why->second;
      }
    }
  }
  std::vector<Offer> out;
  for (auto& [name, offer] : offers) out.push_back(std::move(offer));
  return out;
}

Explanation Placement::Explain(const std::string& service) {
  absl::MutexLock lock(&mu_);
  Observed seen = Observe();
  Explanation out;
  out.service = service;
  out.running = seen.claims[service];
  const auto spec = seen.specs.find(service);
  if (spec == seen.specs.end()) {
    for (const NodeView& node : seen.nodes) {
      const auto it = node.preferences.find(service);
      if (node.alive && it != node.preferences.end() && it->second.listed &&
          it->second.run != RunMode::kNever) {
        out.wanted = true;
      }
    }
    out.state = out.wanted ? PlacementState::kUnplaced : PlacementState::kNotWanted;
    out.detail = "no live node has a plugin for it";
    for (const NodeView& node : seen.nodes) out.verdicts.push_back({node.id, false, "no plugin"});
    return out;
  }
  out.placement = KindName(spec->second.kind);
  out.depends = spec->second.depends;
  out.wanted = seen.wanted.contains(service);
  const Decision decision = seen.Decide(service);
  out.verdicts = decision.verdicts;
  if (!out.wanted) {
    out.state = PlacementState::kNotWanted;
    out.detail = "no live node lists it with always, prefer or allow, and no wanted service "
                 "depends on it";
    return out;
  }
  out.state = decision.state;
  out.detail = decision.detail;
  out.chosen = decision.owners;
  return out;
}

std::vector<Unrun> Placement::UnrunServices() {
  absl::MutexLock lock(&mu_);
  Observed seen = Observe();
  std::vector<Unrun> out;
  for (const std::string& name : seen.wanted) {
    if (!seen.claims[name].empty()) continue;
    const Decision decision = seen.Decide(name);
    Unrun unrun{name, decision.state, "", decision.detail};
    if (decision.state == PlacementState::kPlaced) {
      unrun.state = PlacementState::kStarting;
      unrun.node = decision.owners.front();
    }
    out.push_back(std::move(unrun));
  }
  // Listed by a live node, yet no live node has its plugin.
  std::set<std::string> listed;
  for (const NodeView& node : seen.nodes) {
    for (const auto& [name, preference] : node.preferences) {
      if (node.alive && preference.listed && preference.run != RunMode::kNever &&
          !seen.specs.contains(name)) {
        listed.insert(name);
      }
    }
  }
  for (const std::string& name : listed) {
    out.push_back({name, PlacementState::kUnplaced, "", "no live node has a plugin for it"});
  }
  return out;
}

}  // namespace domian::placement
