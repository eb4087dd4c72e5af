// The states a service goes through, as the core reasons about them. They
// are strings only where they leave the core: on the wire (ServiceList,
// GetServices) and in domianctl's output, both contracts; the names below
// are those strings.
#pragma once

#include <string_view>

namespace domian {

// A service on one node (ServiceHost's, and what that node's identity
// says of it).
enum class ServiceState {
  kStarting,     // placed here, the plugin is being created and started
  kRunning,      // started, its health checks pass
  kRestarting,   // its plugin host died; started again after a backoff
  kHandingOver,  // stopped here, its state on the way to the new owner
  kFailed,       // gave up: it could not start, or kept crashing
  kStopped,      // stopped (or never started) here
  // A state this node does not know: a newer peer's, or a broken one's.
  // It claims nothing.
  kUnknown,
};

// "starting", "running", "restarting", "handing-over", "failed",
// "stopped", "unknown".
std::string_view ServiceStateName(ServiceState state);
// The state a name stands for; kUnknown for anything else.
ServiceState ParseServiceState(std::string_view name);

// States that claim ownership: whoever reports one of these runs (or is
// about to run, or is moving) the service, so no other node may start it.
constexpr bool IsClaim(ServiceState state) {
  return state == ServiceState::kStarting || state == ServiceState::kRunning ||
         state == ServiceState::kRestarting || state == ServiceState::kHandingOver;
}

}  // namespace domian
