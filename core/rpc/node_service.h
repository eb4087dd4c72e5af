// NodeService: the gRPC face of a node, serving the proto service
// domian.v1.Domain (a wire contract, so it keeps its name). A thin layer:
// each handler converts the request to the core's types, hands it to the
// part of the node that owns the answer, and converts the answer back.
//
//   ShareIdentityList, GetStatus, ListPeers  -> Membership
//   ListPlugins                               -> ServiceHost's catalog
//   Invoke                                    -> ServiceRouter
//   WatchEvents                               -> EventJournal (event_stream.h)
//   GetServices, Explain                      -> ServiceRouter's queries
//                                                lane, reading Placement
//   HandOver                                  -> Placement, in the
//                                                router's hand-overs lane
//   PutState, GetState                        -> Replicator, in the
//                                                router's state copies lane
//   Join, CreateInvite, Remove, RotateCa      -> TrustBook (RotateCa's
//                                                finish asks every member
//                                                first, member_cas.h)
//   CreateDashboardLink                       -> the web server (core/web)
//
// Before any handler runs, the caller is identified (the control socket,
// or the TLS client certificate checked by the TrustBook) and the call is
// refused unless trust::Permit allows it; ShareIdentityList and HandOver
// are refused when they speak for another node than the certificate's.
//
// Calls arrive on the daemon's EventLoop thread. Handlers that may wait
// (for a plugin, for placement) hand their work to the router's lanes and
// answer later, from the lane's thread, so heartbeats never wait.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/common/clock.h"
#include "core/discovery/discovery.h"
#include "core/events/event_journal.h"
#include "core/membership/membership.h"
#include "core/mqtt/mqtt_status.h"
#include "core/placement/placement.h"
#include "core/replica/replicator.h"
#include "core/routing/service_router.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/member_cas.h"
#include "core/rpc/traffic.h"
#include "core/services/service_host.h"
#include "core/trust/access.h"
#include "core/trust/trust_book.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

// A one-time link to this node's dashboard (core/web).
struct DashboardLink {
  std::string url;
  int64_t expires_unix = 0;
};

class NodeService {
 public:
  // What the handlers hand calls to.
  struct Parts {
    membership::Membership& membership;
    routing::ServiceRouter& router;
    placement::Placement& placement;
    services::ServiceHost& plugins;
    replica::Replicator& replicas;
    trust::TrustBook& trust;
    const Clock& clock;
    TrafficCounters& traffic;
    events::EventJournal& events;
    // Discovery's state for GetStatus; unset when discovery is off.
    std::function<discovery::DiscoveryStatus()> discovery_status;
    config::AdvertiseMode advertise_mode = config::AdvertiseMode::kAlways;
    // The MQTT bridge's state for GetStatus; unset when there is none.
    std::function<mqtt::MqttStatus()> mqtt_status;
    // The node's own client credentials: RotateCa asks members with them.
    std::shared_ptr<grpc::ChannelCredentials> client_credentials;
    // Makes a dashboard login link; unset (or FAILED_PRECONDITION): the
    // node serves no dashboard.
    std::function<absl::StatusOr<DashboardLink>()> dashboard_link;
  };
  using Done = std::function<void(grpc::Status)>;

  explicit NodeService(Parts parts);
  // Waits for members still being asked for RotateCa (at most
  // kMemberCaDeadline): their answers come back to this object.
  ~NodeService();

  // For grpc::ServerBuilder::RegisterService.
  grpc::Service* service() { return &service_; }
  // Starts accepting calls on `loop`; after the server was built.
  void Serve(EventLoop& loop);

  // The handlers, called by the loop once the caller may make the call.
  // `caller`: who it is; `call`: from which host, until when.
  using Caller = trust::Caller;
  grpc::Status ShareIdentityList(const Caller& caller, const v1::ShareIdentityListRequest& request,
                                 v1::ShareIdentityListResponse& response);
  grpc::Status GetStatus(const Caller& caller, const v1::GetStatusRequest& request,
                         v1::GetStatusResponse& response);
  grpc::Status ListPeers(const Caller& caller, const v1::ListPeersRequest& request,
                         v1::ListPeersResponse& response);
  grpc::Status ListPlugins(const Caller& caller, const v1::ListPluginsRequest& request,
                           v1::ListPluginsResponse& response);
  grpc::Status Join(const Caller& caller, const v1::JoinRequest& request,
                    v1::JoinResponse& response);
  grpc::Status CreateInvite(const Caller& caller, const v1::CreateInviteRequest& request,
                            v1::CreateInviteResponse& response);
  grpc::Status Remove(const Caller& caller, const v1::RemoveRequest& request,
                      v1::RemoveResponse& response);
  void GetServices(const Caller& caller, const routing::CallInfo& call,
                   const v1::GetServicesRequest& request, v1::GetServicesResponse* response,
                   Done done);
  void Invoke(const Caller& caller, const routing::CallInfo& call,
              const v1::InvokeRequest& request, v1::InvokeResponse* response, Done done);
  void Explain(const Caller& caller, const routing::CallInfo& call,
               const v1::ExplainRequest& request, v1::ExplainResponse* response, Done done);
  void HandOver(const Caller& caller, const routing::CallInfo& call,
                const v1::HandOverRequest& request, v1::HandOverResponse* response, Done done);
  void PutState(const Caller& caller, const routing::CallInfo& call,
                const v1::PutStateRequest& request, v1::PutStateResponse* response, Done done);
  void GetState(const Caller& caller, const routing::CallInfo& call,
                const v1::GetStateRequest& request, v1::GetStateResponse* response, Done done);
  void RotateCa(const Caller& caller, const routing::CallInfo& call,
                const v1::RotateCaRequest& request, v1::RotateCaResponse* response, Done done);
  grpc::Status CreateDashboardLink(const Caller& caller,
                                   const v1::CreateDashboardLinkRequest& request,
                                   v1::CreateDashboardLinkResponse& response);

 private:
  // The addresses a join code lists: this node's, then live peers'.
  std::vector<std::string> MemberAddresses() const;

  // RotateCa --finish, once every member was asked.
  void FinishRotation(const Caller& caller, bool force, const std::vector<MemberCa>& members,
                      v1::RotateCaResponse* response, const Done& done);

  v1::Domain::AsyncService service_;
  Parts parts_;
  MonoTime started_;
  absl::Mutex asking_mu_;
  int asking_ ABSL_GUARDED_BY(asking_mu_) = 0;  // RotateCa finishes asking members
};

}  // namespace domian::rpc
