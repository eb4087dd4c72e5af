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
#include "core/replica/replicator.h"
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
  // `replicas` (may be null: states stay on this node): a singleton
  // started without a handed-over state starts from the freshest copy of
  // its state among this node's and the live peers', and each run is
  // told to it (Began, Ended) so a later change made elsewhere replaces
  // the running state.
  ServiceHostServices(services::ServiceHost& host, std::function<std::string()> node_address,
                      replica::Replicator* replicas = nullptr)
      : host_(host), node_address_(std::move(node_address)), replicas_(replicas) {}
  void Start(const std::string& service, const std::string& config_json, uint64_t epoch,
             const std::optional<std::string>& state) override;
  std::optional<std::string> Stop(const std::string& service) override;
  std::vector<Status> Services() const override;
  std::vector<placement::ServiceSpec> Plugins() const override;
  uint64_t LastEpoch(const std::string& service) const override;

 private:
  // What a singleton starting here without a handed-over state starts
  // from: a fresher copy than this node's own state file (nullopt: that
  // file), and where its state came from, for people (Began's origin).
  struct StartingState {
    std::optional<std::string> state;
    std::string origin;
    std::optional<replica::Hlc> base;  // the version it starts from, when known
  };
  StartingState Freshest(const std::string& service);

  services::ServiceHost& host_;
  std::function<std::string()> node_address_;
  replica::Replicator* replicas_;
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
