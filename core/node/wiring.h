// The adapters through which the node's parts see each other: each turns
// one part's interface into what another needs, so neither knows the
// other's class. Owned by Node, built after both ends.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/discovery/discovery.h"
#include "core/membership/membership.h"
#include "core/placement/placement.h"
#include "core/services/service_host.h"

namespace domian::node {

// Discovery's findings go to Membership's inbox (which never blocks).
class DiscoveryToMembership final : public discovery::Sink {
 public:
  explicit DiscoveryToMembership(membership::Membership& membership) : membership_(membership) {}
  void Discovered(const std::string& id, const std::string& address) override;
  void Vanished(const std::string& address) override;

 private:
  membership::Membership& membership_;
};

// Placement acts on this node's services through the ServiceHost.
class ServiceHostServices final : public placement::LocalServices {
 public:
  // `node_address`: this node's address as peers use it (a plugin that
  // listens on every interface publishes a wildcard host; others need
  // this node's).
  // `freshest`: for a service started without a handed-over state, a
  // fresher state to start from (a peer's copy), or nullopt.
  ServiceHostServices(
      services::ServiceHost& host, std::function<std::string()> node_address,
      std::function<std::optional<std::string>(const std::string& service)> freshest = nullptr)
      : host_(host), node_address_(std::move(node_address)), freshest_(std::move(freshest)) {}
  void Start(const std::string& service, const std::string& config_json, uint64_t epoch,
             const std::optional<std::string>& state) override;
  std::optional<std::string> Stop(const std::string& service) override;
  std::vector<Status> Services() const override;
  std::vector<placement::ServiceSpec> Plugins() const override;
  uint64_t LastEpoch(const std::string& service) const override;

 private:
  services::ServiceHost& host_;
  std::function<std::string()> node_address_;
  std::function<std::optional<std::string>(const std::string& service)> freshest_;
};

// Placement and routing read the cluster from Membership, and ask a peer
// for its own word through it (a HandOver is checked against the
// sender's reply).
class MembershipCluster final : public placement::ClusterSource {
 public:
  explicit MembershipCluster(membership::Membership& membership) : membership_(membership) {}
  placement::ClusterView View() const override;
  std::string SelfId() const override;
  bool Confirm(const std::string& id, std::chrono::milliseconds timeout) override;

 private:
  membership::Membership& membership_;
};

}  // namespace domian::node
