#include "core/node/wiring.h"

#include <spdlog/spdlog.h>

#include "core/common/net.h"

namespace domian::node {

void DiscoveryToMembership::Discovered(const std::string& id, const std::string& address) {
  membership_.NoteDiscovered(id, address);
}

void DiscoveryToMembership::Vanished(const std::string& address) {
  membership_.NoteVanished(address);
}

void ServiceHostServices::Start(const std::string& service, const std::string& config_json,
                                uint64_t epoch, const std::optional<std::string>& state) {
  if (!replicas_ || !host_.Replicated(service)) {
    host_.StartService(service, config_json, epoch, state);
    return;
  }
  // A hand-over brings the state the old owner stopped with; otherwise
  // (a failover, a first start) the freshest copy the peers hold, so a
  // node that never ran the service does not start it from nothing.
  StartingState starting{state, "the state handed over with it"};
  if (!state) starting = Freshest(service);
  // A later copy that came meanwhile (say, pushed by a peer back from a
  // partition between the fetch and now) is the one to start from.
  if (std::optional<replica::StateCopy> later = replicas_->Began(
          service, epoch, starting.state ? *starting.state : host_.SavedState(service),
          starting.origin, starting.base)) {
    starting.state = later->bytes;
  }
  host_.StartService(service, config_json, epoch, starting.state);
}

// The freshest copy, unless this node made it: then the service's state
// file here holds it already (or a newer state too big to copy).
ServiceHostServices::StartingState ServiceHostServices::Freshest(const std::string& service) {
  const replica::Replicator::Fetched fetched = replicas_->Freshest(service);
  const std::string asked = std::to_string(fetched.asked) + " live peer(s) asked, " +
                            std::to_string(fetched.answered) + " answered";
  if (!fetched.copy || fetched.copy->writer == replicas_->self()) {
    std::string origin = "its own state on this node";
    if (fetched.copy) origin += " (" + fetched.copy->Version() + ")";
    if (fetched.asked > 0) {
      spdlog::info("service {}: no copy of its state fresher than this node's own among {}",
                   service, asked);
      origin += ", the freshest of " + asked;
    }
    return {std::nullopt, origin,
            fetched.copy ? std::optional<replica::Hlc>(fetched.copy->hlc) : std::nullopt};
  }
  if (fetched.copy->deleted) {
    spdlog::info("service {}: its state was deleted ({})", service, fetched.copy->Version());
    return {std::string(), "nothing: its state was deleted (" + fetched.copy->Version() + ")",
            fetched.copy->hlc};
  }
  const std::string from = fetched.from.empty() ? std::string("this node") : fetched.from;
  const std::string copy = " (" + fetched.copy->Version() + "), the freshest of " + asked;
  spdlog::info("service {}: starting from the copy of its state from {}{}", service, from, copy);
  const std::string origin = "the copy from " + from + copy;
  return {fetched.copy->bytes, origin, fetched.copy->hlc};
}

std::optional<std::string> ServiceHostServices::Stop(const std::string& service) {
  std::optional<std::string> saved = host_.StopService(service);
  // Stopped before a queued restart from a later change was made: that
  // change's state is the one to hand on, not the one it stopped with.
  if (replicas_) {
    if (std::optional<std::string> adopted = replicas_->Ended(service)) return adopted;
  }
  return saved;
}

std::vector<placement::LocalServices::Status> ServiceHostServices::Services() const {
  std::vector<Status> out;
  const std::string node_address = node_address_();
  for (const services::ServiceStatus& status : host_.Services()) {
    std::string endpoints;
    for (const auto& [name, endpoint] : status.endpoints) {
      endpoints += (endpoints.empty() ? "" : ",") + name + "=" +
                   ReachableEndpoint(endpoint, node_address);
    }
    out.push_back({status.name, status.state, status.detail, endpoints});
  }
  return out;
}

std::vector<placement::ServiceSpec> ServiceHostServices::Plugins() const {
  std::vector<placement::ServiceSpec> out;
  for (const services::CatalogEntry& entry : host_.Plugins()) {
    if (!entry.library) continue;
    const services::PluginDescription& d = entry.library->description();
    out.push_back({d.name,
                   d.placement == services::Placement::kSingleton ? placement::Kind::kSingleton
                                                                 : placement::Kind::kPerNode,
                   d.traits, d.depends});
  }
  return out;
}

uint64_t ServiceHostServices::LastEpoch(const std::string& service) const {
  return host_.LastEpoch(service);
}

placement::ClusterView MembershipCluster::View() const {
  return {membership_.Status().self, membership_.Peers()};
}

std::string MembershipCluster::SelfId() const { return membership_.Status().self.id; }

bool MembershipCluster::Confirm(const std::string& id, std::chrono::milliseconds timeout) {
  return membership_.Exchange(id, timeout);
}

}  // namespace domian::node
