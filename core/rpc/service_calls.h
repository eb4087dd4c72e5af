// ServiceCalls: the RPC face of services: where they run (GetServices),
// which plugins this node has (ListPlugins), why a service runs where it
// does (Explain), Invoke, which runs a command on this node or forwards it
// once to a node that runs the service, and HandOver between nodes (both
// the answering side and, as placement's transport, the calling side).
//
// Plugin code and hand-overs may take long, and GetServices and Explain
// wait for placement, so they never run on the EventLoop thread. They run
// in CallLanes (call_lanes.h): each service's calls in a lane of its own,
// GetServices and Explain in another, hand-overs in a third, so none waits
// behind another's plugin, and each lane, caller and the node as a whole
// hold a bounded number of calls. A call for a service that runs on
// another node is forwarded with an asynchronous call completed on the
// EventLoop: no thread waits for the owner's answer.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include <grpcpp/grpcpp.h>

#include "core/membership/membership.h"
#include "core/placement/placement.h"
#include "core/rpc/call_lanes.h"
#include "core/rpc/event_loop.h"
#include "core/services/service_host.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

// The lanes besides one per service ("service <name>").
inline constexpr char kPlacementQueriesLane[] = "placement queries (services, explain)";
inline constexpr char kHandOverLane[] = "hand-overs";
// A forwarded call's deadline: plugins talk to devices (a Hue bridge, a
// sensor read of ~750 ms) and some calls wait for a person (pairing with
// a Hue bridge waits up to 30 s for its button), so it covers the owner's
// own wait for the plugin and a hop.
inline constexpr std::chrono::seconds kForwardDeadline = services::kCallDeadline + std::chrono::seconds(5);
inline constexpr size_t kMaxArgsBytes = 1 << 20;

class ServiceCalls final : public placement::HandOverTransport {
 public:
  // Answers a call: exactly once, from any thread.
  using Done = std::function<void(grpc::Status)>;

  // `plugins` may be null (a node without a service host). Forwarded calls
  // complete on `loop`.
  ServiceCalls(membership::Membership& membership, services::ServiceHost* plugins, EventLoop& loop);
  // Where Explain, HandOver and the unrun rows of GetServices come from.
  // Before calls arrive.
  void SetPlacement(placement::Placement* placement) { placement_ = placement; }
  ~ServiceCalls();  // Stop()
  ServiceCalls(const ServiceCalls&) = delete;
  ServiceCalls& operator=(const ServiceCalls&) = delete;

  // In the placement queries' lane.
  void GetServices(const CallInfo& call, const v1::GetServicesRequest& request,
                   v1::GetServicesResponse* response, Done done);
  void Explain(const CallInfo& call, const v1::ExplainRequest& request,
               v1::ExplainResponse* response, Done done);
  // At once: it reads the plugin catalog only.
  grpc::Status ListPlugins(const v1::ListPluginsRequest& request,
                           v1::ListPluginsResponse& response);
  // In the service's lane; forwarded from there when the service runs on
  // another node.
  void Invoke(const CallInfo& call, const v1::InvokeRequest& request,
              v1::InvokeResponse* response, Done done);
  // A peer hands a service to this node; in the hand-overs' lane.
  void HandOver(const CallInfo& call, const v1::HandOverRequest& request,
                v1::HandOverResponse* response, Done done);

  // placement::HandOverTransport: asks the node at `address` to take a
  // service over (blocking, on placement's thread).
  std::string HandOver(const std::string& address,
                       const placement::HandOverRequest& request) override;

  // Refuses waiting calls, cancels forwarded ones, waits for running
  // ones.
  void Stop();

  // A forwarded call in flight (service_calls.cc).
  class Forward;

 private:
  // Where a call for a service that does not run here goes.
  struct ForwardTarget {
    std::string node;
    std::string address;
  };

  // Runs `job` in `lane`; `done` gets its status, or the refusal.
  void OnLane(const std::string& lane, const CallInfo& call, size_t bytes,
              std::function<grpc::Status()> job, Done done);
  grpc::Status GetServices(const v1::GetServicesRequest& request,
                           v1::GetServicesResponse& response);
  grpc::Status Explain(const v1::ExplainRequest& request, v1::ExplainResponse& response);
  // Runs the command here, or sets `forward` (and returns OK) when the
  // service runs on another node.
  grpc::Status RunInvoke(const v1::InvokeRequest& request, v1::InvokeResponse& response,
                         std::optional<ForwardTarget>& forward);
  void StartForward(const CallInfo& call, const v1::InvokeRequest& request,
                    v1::InvokeResponse* response, const ForwardTarget& target,
                    CallLanes::SlotRef slot, Done done);
  void ForwardEnded(Forward* forward);
  std::shared_ptr<v1::Domain::Stub> StubFor(const std::string& address);

  membership::Membership& membership_;
  services::ServiceHost* plugins_;
  EventLoop& loop_;
  placement::Placement* placement_ = nullptr;
  CallLanes lanes_;

  std::mutex forwards_mu_;
  std::set<Forward*> forwards_;  // in flight; cancelled by Stop()
  bool stopping_ = false;        // guarded by forwards_mu_

  std::mutex stubs_mu_;
  std::unordered_map<std::string, std::shared_ptr<v1::Domain::Stub>> stubs_;
};

}  // namespace domian::rpc
