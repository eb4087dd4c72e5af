#include "core/node/wiring.h"

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
  // A hand-over brings the state the old owner stopped with; otherwise
  // (a failover, a first start) the freshest copy the peers hold, so a
  // node that never ran the service does not start it from nothing.
  if (!state && freshest_) {
    host_.StartService(service, config_json, epoch, freshest_(service));
    return;
  }
  host_.StartService(service, config_json, epoch, state);
}

std::optional<std::string> ServiceHostServices::Stop(const std::string& service) {
  return host_.StopService(service);
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
