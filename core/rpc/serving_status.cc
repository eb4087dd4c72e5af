#include "core/rpc/serving_status.h"

#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

std::vector<std::string> HealthServiceNames() {
  return {"", v1::Domain::service_full_name()};
}

void ServingStatus::Attach(grpc::HealthCheckServiceInterface* health) {
  absl::MutexLock lock(&mu_);
  health_ = health;
  ReportLocked();
}

void ServingStatus::Ready() {
  absl::MutexLock lock(&mu_);
  if (ready_) return;
  ready_ = true;
  ReportLocked();
}

void ServingStatus::Drain() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  ReportLocked();
}

bool ServingStatus::serving() const {
  absl::MutexLock lock(&mu_);
  return ServingLocked();
}

void ServingStatus::ReportLocked() {
  if (health_ == nullptr) return;
  // gRPC's default health service takes its own lock and queues the news
  // for watchers: it never calls back here, nor blocks on the network.
  for (const std::string& name : HealthServiceNames()) {
    health_->SetServingStatus(name, ServingLocked());
  }
}

}  // namespace domian::rpc
