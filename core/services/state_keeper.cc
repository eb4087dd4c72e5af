#include "core/services/state_keeper.h"

#include "core/services/saved_state.h"

namespace domian::services {

StateKeeper::StateKeeper(std::filesystem::path service_dir)
    : service_dir_(std::move(service_dir)) {}

absl::Status StateKeeper::Store(uint64_t number, const std::string& bytes) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError("the service stopped before its state was stored");
  if (number <= stored_) return absl::OkStatus();
  if (absl::Status written = WriteServiceState(service_dir_, bytes); !written.ok()) return written;
  stored_ = number;
  return absl::OkStatus();
}

void StateKeeper::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace domian::services
