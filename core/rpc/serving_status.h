// ServingStatus: what the daemon answers gRPC health checks
// (grpc.health.v1.Health: load balancers, watchers, grpcurl), for the
// server as a whole ("") and for domian.v1.Domain, tied to the node's
// readiness rather than to the port being open:
//
//   NOT_SERVING  from the server's start until placement is ready (its
//                start-up `settle` is over and the round after it started
//                what belongs on this node);
//   SERVING      from then on;
//   NOT_SERVING  for good from the first moment of the goodbye, before
//                any service is handed off, so that watchers drain first.
//
// gRPC's default health service speaks the protocol (Check and Watch);
// this only tells it the status. Thread-safe: Ready() comes from
// placement's thread, Drain() from the node's main thread, in any order,
// and a Ready() after Drain() changes nothing.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <grpcpp/health_check_service_interface.h>

#include <string>
#include <vector>

namespace domian::rpc {

// The names whose status is reported: "" (what most probes ask) and the
// Domain service's full name. Any other name is NOT_FOUND (gRPC's rule).
std::vector<std::string> HealthServiceNames();

class ServingStatus {
 public:
  // `health`: the started server's health service
  // (grpc::Server::GetHealthCheckService(), which outlives every call
  // here); nullptr reports nothing. Reports what Ready() and Drain() said
  // so far: NOT_SERVING unless ready and not draining.
  void Attach(grpc::HealthCheckServiceInterface* health) ABSL_LOCKS_EXCLUDED(mu_);
  // SERVING, unless Drain() came first.
  void Ready() ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_SERVING, from now on.
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);
  bool serving() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  bool ServingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ready_ && !draining_; }
  // Held while the health service is told, so that two changes reach it
  // in the order they were made here (a Ready() racing a Drain() never
  // leaves it SERVING).
  void ReportLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace domian::rpc
