// ServiceRouter: where a call for a service goes. A call for a service
// that runs here goes to its plugin; one that runs on another node is
// forwarded once to the node that runs it (the newest owner: the highest
// epoch, then the lowest id). It is also placement's HandOver client.
//
// Calls wait and run in CallLanes (call_lanes.h): each service's calls in
// a lane of their own, the placement queries (services, explain) in
// another, hand-overs in a third, so none waits behind another's plugin
// and the EventLoop thread that heartbeats depend on never blocks on a
// plugin or on placement. A forwarded call holds its place in its lane
// until the owner answers, and no thread waits for that answer.
//
// Threads: every method may be called from any thread; `done` callbacks
// run on a lane thread or on whichever thread RemoteNodes answers on.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/placement/placement.h"
#include "core/routing/call_lanes.h"
#include "core/routing/remote_nodes.h"
#include "core/services/service_host.h"

namespace domian::routing {

// The lanes besides one per service ("service <name>").
inline constexpr char kPlacementQueriesLane[] = "placement queries (services, explain)";
inline constexpr char kHandOverLane[] = "hand-overs";
inline constexpr char kStateCopiesLane[] = "state copies";
// A forwarded call's deadline: plugins talk to devices (a Hue bridge, a
// sensor read of ~750 ms) and some calls wait for a person (pairing with
// a Hue bridge waits up to 30 s for its button), so it covers the owner's
// own wait for the plugin and a hop.
inline constexpr std::chrono::seconds kForwardDeadline =
    services::kCallDeadline + std::chrono::seconds(5);
// Largest arguments of a call (and configuration of a hand-over).
inline constexpr size_t kMaxArgsBytes = 1 << 20;

// Where a service runs, as one node reports it.
struct ServiceLocation {
  std::string name;
  std::string node;
  std::string address;
  std::string state;  // the wire's name (ServiceStateName)
  uint64_t epoch = 0;
  std::string endpoint;
  std::string detail;
};

class ServiceRouter final : public placement::HandOverTransport {
 public:
  using Done = std::function<void(absl::Status)>;
  using ReplyDone = RemoteNodes::ReplyDone;
  // Told of each call Invoke answers (for the node's metrics): its
  // service, how long from Invoke to the answer, and whether it succeeded.
  // Runs on the answering thread just before `done`; must not block.
  using CallObserver =
      std::function<void(const std::string& service, std::chrono::nanoseconds took, bool ok)>;

  // `local` may be null (a node without a service host); `cluster` says
  // which node runs what (Membership in the daemon). Calls are timed on
  // `clock` for `on_call` (unset: nobody is told).
  ServiceRouter(placement::ClusterSource& cluster, services::ServiceHost* local,
                RemoteNodes& remote, CallObserver on_call = {},
                const Clock& clock = services::DefaultServiceClock());
  ~ServiceRouter();  // Stop()
  ServiceRouter(const ServiceRouter&) = delete;
  ServiceRouter& operator=(const ServiceRouter&) = delete;

  // Runs `request` here, or forwards it, in the service's lane.
  void Invoke(const CallInfo& call, ServiceCall request, ReplyDone done);
  // Runs `job` in the placement queries' lane / the hand-overs' lane;
  // `bytes`: the size of the request it holds.
  void Query(const CallInfo& call, size_t bytes, std::function<absl::Status()> job, Done done);
  void AcceptHandOver(const CallInfo& call, size_t bytes, std::function<absl::Status()> job,
                      Done done);
  // Runs `job` in the state copies' lane (PutState, GetState: a copy is
  // written and synced there, never on the EventLoop).
  void StateCall(const CallInfo& call, size_t bytes, std::function<absl::Status()> job, Done done);

  // Every live node's report of the services it runs (this node first);
  // only `name`'s when it is not empty.
  std::vector<ServiceLocation> Locations(const std::string& name) const;

  // placement::HandOverTransport: asks the node at `address` to take a
  // service over (blocking, on placement's thread).
  absl::Status HandOver(const std::string& address,
                        const placement::HandOverRequest& request) override;

  // Refuses waiting calls, cancels forwarded ones, waits for running ones.
  void Stop();

 private:
  struct Owner {
    std::string node;
    std::string address;
  };
  // Runs `job` in `lane`; `done` gets its status, or the lane's refusal.
  void RunInLane(const std::string& lane, const CallInfo& call, size_t bytes,
                 std::function<absl::Status()> job, Done done);
  // Runs the command here; nullopt when the service does not run here.
  std::optional<absl::StatusOr<ServiceReply>> RunHere(const ServiceCall& request);
  // The live node to forward a call for `service` to, or why there is none.
  absl::StatusOr<Owner> OwnerOf(const std::string& service) const;

  placement::ClusterSource& cluster_;
  services::ServiceHost* local_;
  RemoteNodes& remote_;
  const CallObserver on_call_;
  const Clock& clock_;
  CallLanes lanes_;
};

}  // namespace domian::routing
