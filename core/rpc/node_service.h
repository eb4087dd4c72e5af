// NodeService: the gRPC face of a node, serving the proto service
// domian.v1.Domain (a wire contract, so it keeps its name). A thin layer
// that converts requests to the core's types, hands them to Membership,
// and converts the answer back. Calls are served on the daemon's
// EventLoop thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/common/clock.h"
#include "core/discovery/discovery.h"
#include "core/membership/membership.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/service_calls.h"
#include "core/rpc/traffic.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

class NodeService {
 public:
  NodeService(membership::Membership& membership, const Clock& clock, TrafficCounters& traffic);

  // For grpc::ServerBuilder::RegisterService.
  grpc::Service* service() { return &service_; }
  // Starts accepting calls on `loop`; after the server was built.
  void Serve(EventLoop& loop);
  // Where GetStatus reads discovery's state (unset: discovery is off).
  // Before Serve().
  void SetDiscoveryStatus(std::function<discovery::DiscoveryStatus()> source,
                          config::AdvertiseMode mode);
  // Where GetServices, ListPlugins, Invoke, Explain and HandOver go. Before Serve().
  void SetServiceCalls(ServiceCalls* calls) { calls_ = calls; }

  // The handlers, callable directly (tests) and by the loop.
  grpc::Status ShareIdentityList(const v1::ShareIdentityListRequest& request,
                                 v1::ShareIdentityListResponse& response);
  grpc::Status GetStatus(const v1::GetStatusRequest& request, v1::GetStatusResponse& response);
  grpc::Status ListPeers(const v1::ListPeersRequest& request, v1::ListPeersResponse& response);
  // GetServices and Explain read placement, which may be busy starting or
  // stopping a plugin: they run in ServiceCalls' lanes, never on the
  // EventLoop thread that heartbeats depend on; so do Invoke and HandOver.
  void GetServices(const CallInfo& call, const v1::GetServicesRequest& request,
                   v1::GetServicesResponse* response, std::function<void(grpc::Status)> done);
  grpc::Status ListPlugins(const v1::ListPluginsRequest& request,
                           v1::ListPluginsResponse& response);
  void Invoke(const CallInfo& call, const v1::InvokeRequest& request,
              v1::InvokeResponse* response, std::function<void(grpc::Status)> done);
  void Explain(const CallInfo& call, const v1::ExplainRequest& request,
               v1::ExplainResponse* response, std::function<void(grpc::Status)> done);
  void HandOver(const CallInfo& call, const v1::HandOverRequest& request,
                v1::HandOverResponse* response, std::function<void(grpc::Status)> done);

 private:
  v1::Domain::AsyncService service_;
  membership::Membership& membership_;
  const Clock& clock_;
  TrafficCounters& traffic_;
  MonoTime started_;
  std::function<discovery::DiscoveryStatus()> discovery_status_;
  config::AdvertiseMode advertise_mode_ = config::AdvertiseMode::kAlways;
  ServiceCalls* calls_ = nullptr;
};

// The gRPC status a refusal is answered with.
grpc::Status ToStatus(const membership::Refusal& refusal);

}  // namespace domian::rpc
