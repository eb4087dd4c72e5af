// Node: one domain, everything it runs. It owns its parts as members, in
// the order they depend on each other, and wires them once, here, with
// one-way notifications given at construction:
//
//   Discovery ──findings──▶ Membership ──peers changed──▶ Placement.Poke
//   Membership ──lonely──▶ Discovery (browse harder)
//   ServiceHost ──services changed──▶ Placement.Poke
//   Placement ──round done──▶ Node.PublishServices ──▶ Membership.UpdateSelf
//   Placement ──ready──▶ ServingStatus (gRPC health: SERVING)
//   Placement ──HandOver──▶ ServiceRouter ──▶ RemoteNodes (gRPC)
//   NodeService (gRPC in) ──▶ Membership, ServiceRouter, Placement
//   ServiceHost ──entities──▶ HomeAssistant (when node.yaml has mqtt:)
//   HomeAssistant ──commands──▶ ServiceHost.Invoke; ──status──▶ NodeService
//   Membership, Placement, ServiceHost ──events──▶ Node.Report ──▶ EventJournal
//   EventJournal ──WatchEvents──▶ NodeService (domianctl events -f)
//   ServiceRouter ──each call's time──▶ NodeMetrics (which reads the parts when rendered)
//   WebServer (HTTP in: the dashboard) ──in-process gRPC──▶ NodeService;
//   EventJournal ──events──▶ WebServer's event streams
//
// Nothing is set late: every part gets what it calls in its constructor;
// none calls another before Start(), and Stop() ends them in the reverse
// order, so no notification reaches a part that is gone.
//
// Threads: Start() and Stop() on one thread (domiand's main); the parts
// run their own (see docs/architecture.md, "Threads and locks").
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/config/node_config.h"
#include "core/discovery/discovery.h"
#include "core/events/event_journal.h"
#include "core/membership/membership.h"
#include "core/metrics/node_metrics.h"
#include "core/mqtt/home_assistant.h"
#include "core/node/node_state.h"
#include "core/node/wiring.h"
#include "core/placement/placement.h"
#include "core/routing/service_router.h"
#include "core/rpc/channels.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/listener.h"
#include "core/rpc/node_service.h"
#include "core/rpc/peer_client.h"
#include "core/rpc/remote_nodes_client.h"
#include "core/rpc/replica_client.h"
#include "core/rpc/serving_status.h"
#include "core/replica/replicator.h"
#include "core/rpc/traffic.h"
#include "core/services/service_host.h"
#include "core/trust/trust_book.h"
#include "core/web/web_server.h"

namespace domian::node {

// Where a node keeps its cluster credentials: <state_dir>/tls.
std::filesystem::path CredentialsFolder(const config::NodeConfig& config);

// For domiand --check-config: how the node `config` describes will guard
// its port, in a line ("mutual TLS as node pi2 of cluster home, CA ...",
// or why it waits); an error when its credentials exist but do not belong
// to it (the daemon would refuse to start). Reads, never creates.
absl::StatusOr<std::string> DescribeSecurity(const config::NodeConfig& config);

class Node {
 public:
  // Opens node.state_dir (creating it if needed) and reads this node's id
  // and incarnation there, and its credentials (unless security.plaintext):
  // NOT_FOUND when it has none yet, FAILED_PRECONDITION when they do not
  // name this node of this cluster. The error names the path.
  // `plugin_host`: the domian-plugin-host binary for isolated services
  // (and safe states). `recovered`: what the running journal held at
  // start, its safe states already run (services::MakeSafeAfterUncleanEnd).
  static absl::StatusOr<std::unique_ptr<Node>> Create(
      config::NodeConfig config, const Clock& clock, std::filesystem::path plugin_host,
      std::map<std::string, services::RunningEntry> recovered = {});
  ~Node();  // Stop()
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Listens, then starts discovery, membership, the services and
  // placement. An error (the port is taken, the server cannot start)
  // says why; what started is stopped by Stop() or the destructor. The
  // server answers gRPC health checks (NOT_SERVING until placement is
  // ready, see rpc::ServingStatus) and server reflection.
  absl::Status Start();
  // The goodbye, once: health checks say NOT_SERVING, then it withdraws
  // the mDNS record, hands singletons to other nodes, stops the services
  // (saving their state), tells peers it is leaving, closes the server.
  void Stop();

  // This node as peers know it (its address once bound).
  Identity self() const { return membership_.Status().self; }
  // The address a new connection to this node's own port is made to, to
  // prove it answers (the service manager's watchdog): numeric, as bound;
  // and the credentials to make it with.
  std::string ProbeAddress() const;
  std::shared_ptr<grpc::ChannelCredentials> ClientCredentials() const {
    return client_credentials_;
  }
  // This node's Prometheus metrics: what /metrics serves (Render), and
  // where the node's events are counted (Observe).
  metrics::NodeMetrics& metrics() { return metrics_; }

 private:
  // What Create() reads from the state folder before any part is made.
  struct Stored {
    NodeState state;
    Identity self;
    uint64_t incarnation;
    std::optional<trust::Credentials> credentials;  // nullopt: plaintext
    std::map<std::string, services::RunningEntry> recovered;
  };
  Node(config::NodeConfig config, const Clock& clock, std::filesystem::path plugin_host,
       Stored stored);

  // The operators' Unix socket, added to the server being built (a
  // failure is logged: domianctl can still reach the node over TLS).
  void AddControlSocket();
  // The services' entities for Home Assistant, over the MQTT broker, when
  // node.yaml has an mqtt: section (null otherwise).
  static std::unique_ptr<mqtt::HomeAssistant> MakeHomeAssistant(Node& node);

  // This node's identity after every placement round: its services and
  // offers (Membership ignores an update that changes nothing).
  void PublishServices();
  // One event to the journal (the node it is about, when unset, is this
  // one). Any thread; never blocks.
  void Report(events::Event event);
  // Health events for this node's services whose record changed since
  // the last round (called by PublishServices, under publish_mu_).
  void ReportHealth(const std::vector<ServiceRecord>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(publish_mu_);

  config::NodeConfig config_;
  const Clock& clock_;
  NodeState state_;
  Identity initial_self_;
  const uint64_t incarnation_;
  // What happens here, for watchers; before every part that reports to it.
  events::EventJournal events_;

  trust::TrustBook trust_;
  const std::shared_ptr<grpc::ChannelCredentials> client_credentials_;
  grpc::ServerBuilder builder_;
  rpc::EventLoop loop_;
  rpc::TrafficCounters traffic_;
  rpc::Channels channels_;
  rpc::PeerClient peer_client_;
  rpc::RemoteNodesClient remote_nodes_;
  membership::Membership membership_;
  MembershipCluster cluster_;
  // Copies of the services' states on the peers: each state stored here is
  // sent on; a service starting here begins from the freshest copy.
  rpc::ReplicaClient replica_client_;
  replica::Replicator replicator_;
  // When configured: started by Start(); the broker may be down or refuse
  // this node, which it reports in its status and nothing else feels.
  // Before the service host, which reports its services' entities to it.
  std::unique_ptr<mqtt::HomeAssistant> home_assistant_;
  services::ServiceHost service_host_;
  ServiceHostServices local_services_;
  // Reads the parts above when rendered; before the router, which times
  // calls into it.
  metrics::NodeMetrics metrics_;
  routing::ServiceRouter router_;
  // What gRPC health checks answer; told by placement (ready) and Stop().
  // Before placement, whose thread tells it.
  rpc::ServingStatus serving_;
  placement::Placement placement_;
  rpc::NodeService node_service_;
  DiscoveryToMembership discovered_;
  // Made by Start(): they need the bound port.
  std::unique_ptr<discovery::Discovery> discovery_;
  // Made by Start() when configured: the broker may be down or refuse
  // this node, which it reports in its status and nothing else feels.
  std::unique_ptr<rpc::Listener> listener_;
  std::unique_ptr<grpc::Server> server_;
  // The dashboard and /metrics (http.enabled): made by Start(), which binds
  // its port before anything starts, so a taken port stops the node as
  // the gRPC port's does; stopped first.
  std::unique_ptr<web::WebServer> web_;

  absl::Mutex publish_mu_;  // orders PublishServices' read-modify-write
  // This node's services as the last health events told them.
  std::map<std::string, ServiceRecord> reported_health_ ABSL_GUARDED_BY(publish_mu_);
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace domian::node
