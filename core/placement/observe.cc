// Reading the cluster for a round: every node's offers, claims, epochs
// and configurations, as this node sees them now.
#include "core/placement/observed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace domian::placement {

Placement::Observed Placement::Observe() {
  Observed seen;
  const ClusterView view = cluster_.View();
  const MonoTime now = clock_.Now();
  seen.self = view.self.id;
  seen.address[view.self.id] = view.self.address;

  // This node, from its YAML and its plugins.
  NodeView self;
  self.id = view.self.id;
  self.traits = {view.self.traits.begin(), view.self.traits.end()};
  for (const ServiceSpec& spec : local_services_.Plugins()) {
    self.plugins.insert(spec.name);
    seen.specs[spec.name] = spec;
  }
  for (const config::ServiceConfig& service : options_.services) {
    self.preferences[service.name] = {service.run, service.weight, true};
  }
  for (auto it = gave_up_.begin(); it != gave_up_.end();) {
    if (it->second <= now) {
      spdlog::info("service {} may run here again (its failures here are {} old)", it->first,
                   Ms(options_.timings.failed_hold));
      gave_up_why_.erase(it->first);
      it = gave_up_.erase(it);
    } else {
      self.gave_up.insert(it->first);
      if (const auto why = gave_up_why_.find(it->first); why != gave_up_why_.end()) {
        self.gave_up_why[it->first] = why->second;
      }
      ++it;
    }
  }
  for (const LocalServices::Status& status : local_services_.Services()) {
    seen.local[status.name] = status;
  }
  for (const auto& [name, local] : local_) {
    seen.max_epoch[name] = std::max(seen.max_epoch[name], local.epoch);
    seen.reported_epoch[name] = std::max(seen.reported_epoch[name], local.epoch);
    std::optional<ServiceState> state;
    if (!local.handing_over.empty()) state = ServiceState::kHandingOver;
    std::string endpoint;
    if (const auto it = seen.local.find(name); it != seen.local.end()) {
      if (!state) state = it->second.state;
      endpoint = it->second.endpoint;
    }
    if (state && IsClaim(*state)) {
      seen.claims[name].push_back({self.id, view.self.address, *state, local.epoch, endpoint,
                                   local.handing_over, local.hand_over_epoch});
      seen.runs[self.id].insert(name);
      if (*state == ServiceState::kRunning) seen.running_anywhere.insert(name);
    }
  }
  seen.nodes.push_back(std::move(self));

  // Peers, from their identities. Dead ones still count for epochs (an
  // epoch must stay above every one ever used), for nothing else: not for
  // what is wanted, where, nor how it is described or configured.
  std::set<std::string> present;
  for (const membership::PeerView& peer : view.peers) {
    const Identity& identity = peer.identity;
    if (identity.id.empty()) continue;
    present.insert(identity.id);
    seen.address[identity.id] = identity.address;
    NodeView node;
    node.id = identity.id;
    node.alive = peer.state != PeerState::kDead;
    node.traits = {identity.traits.begin(), identity.traits.end()};
    for (const Offer& offer : identity.offers) {
      if (offer.has_plugin) {
        node.plugins.insert(offer.service);
        const auto kind = ParseKind(offer.placement);
        if (kind && node.alive && !seen.specs.contains(offer.service)) {
          seen.specs[offer.service] = {offer.service, *kind, offer.traits, offer.depends};
        }
      }
      if (offer.listed) {
        node.preferences[offer.service] = {ParseRunMode(offer.run).value_or(RunMode::kAllow),
                                           offer.weight, true};
      }
      if (offer.gave_up) {
        node.gave_up.insert(offer.service);
        if (!offer.gave_up_detail.empty()) node.gave_up_why[offer.service] = offer.gave_up_detail;
      }
    }
    for (const ServiceRecord& record : identity.services) {
      seen.max_epoch[record.name] = std::max(seen.max_epoch[record.name], record.epoch);
      seen.reported_epoch[record.name] = std::max(seen.reported_epoch[record.name], record.epoch);
      const ServiceState state = ParseServiceState(record.state);
      if (!node.alive && IsClaim(state)) {
        const auto known = seen.dead_claims.find(record.name);
        if (known == seen.dead_claims.end() || peer.last_heard_ago < known->second.second) {
          seen.dead_claims[record.name] = {identity.id, peer.last_heard_ago};
        }
      }
      if (!node.alive || !IsClaim(state)) continue;
      seen.claims[record.name].push_back({identity.id, identity.address, state, record.epoch,
                                          record.endpoint, record.hand_over_to,
                                          record.hand_over_epoch});
      seen.runs[identity.id].insert(record.name);
      if (state == ServiceState::kRunning) seen.running_anywhere.insert(record.name);
    }
    // Alive without a break, in the same incarnation: what migrate_after
    // is measured from.
    if (peer.state == PeerState::kAlive) {
      const auto it = alive_since_.find(identity.id);
      if (it == alive_since_.end() || it->second.incarnation != peer.counters.incarnation) {
        alive_since_[identity.id] = {peer.counters.incarnation, now};
      }
    } else {
      alive_since_.erase(identity.id);
    }
    seen.nodes.push_back(std::move(node));
  }
  std::erase_if(alive_since_, [&](const auto& entry) { return !present.contains(entry.first); });

  // The configuration a singleton carries: that of the best-ranked live
  // node listing it with settings, so every node starts it the same way.
  // It is read only when a singleton starts afresh (a first start or a
  // failover); a running one keeps the configuration it started or was
  // handed with, whatever other nodes list meanwhile.
  std::map<std::string, std::tuple<int, int64_t, std::string>> best;  // lower is better
  auto consider = [&](const std::string& node, const std::string& service, RunMode run,
                      int64_t weight, const std::string& config) {
    if (config.empty() || config == "{}") return;
    const auto rank = std::make_tuple(-static_cast<int>(run), -weight, node);
    const auto it = best.find(service);
    if (it == best.end() || rank < it->second) {
      best[service] = rank;
      seen.config[service] = config;
    }
  };
  for (const config::ServiceConfig& service : options_.services) {
    consider(seen.self, service.name, service.run, service.weight, service.config_json);
  }
  for (const membership::PeerView& peer : view.peers) {
    if (peer.state == PeerState::kDead) continue;
    for (const Offer& offer : peer.identity.offers) {
      if (!offer.listed) continue;
      consider(peer.identity.id, offer.service, ParseRunMode(offer.run).value_or(RunMode::kAllow),
               offer.weight, offer.config_json);
    }
  }
  RememberConfigs(seen, best);
  for (const auto& [name, spec] : seen.specs) {
    seen.max_epoch[name] = std::max(seen.max_epoch[name], local_services_.LastEpoch(name));
  }
  const std::vector<std::string> wanted = Wanted(seen.nodes, seen.specs);
  seen.wanted = {wanted.begin(), wanted.end()};
  return seen;
}

void Placement::RememberConfigs(
    Observed& seen, const std::map<std::string, std::tuple<int, int64_t, std::string>>& best) {
  for (const auto& [service, config] : seen.config) {
    if (last_config_.size() >= kMaxRememberedConfigs && !last_config_.contains(service)) continue;
    last_config_[service] = {std::get<2>(best.at(service)), config};
  }
  // No live node configures it now: the configuration last seen from a
  // live node, so a failover after the node that configured it died
  // still starts it that way. Unless that node is alive and lists it
  // without one now: then it was taken away on purpose.
  for (auto it = last_config_.begin(); it != last_config_.end();) {
    const auto& [service, remembered] = *it;
    if (!seen.config.contains(service)) {
      const NodeView* node = seen.Node(remembered.node);
      if (node != nullptr && node->alive) {
        it = last_config_.erase(it);
        continue;
      }
      seen.config[service] = remembered.config;
    }
    ++it;
  }
}

}  // namespace domian::placement
