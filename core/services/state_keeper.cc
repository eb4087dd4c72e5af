#include "core/services/state_keeper.h"

#include "core/services/saved_state.h"

namespace domian::services {

StateKeeper::StateKeeper(std::filesystem::path service_dir, std::string service, uint64_t epoch,
                         StateStored on_stored)
    : service_dir_(std::move(service_dir)),
      service_(std::move(service)),
      epoch_(epoch),
      on_stored_(std::move(on_stored)) {}

// Under the lock throughout: saves are handed on in the order stored.
absl::Status StateKeeper::Store(uint64_t number, const std::string& bytes, bool wait) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError("the service stopped before its state was stored");
  if (number <= stored_) return absl::OkStatus();
  if (absl::Status written = WriteServiceState(service_dir_, bytes); !written.ok()) return written;
  stored_ = number;
  if (!on_stored_) return absl::OkStatus();
  absl::Status handed = on_stored_(service_, epoch_, bytes, wait);
  return wait ? handed : absl::OkStatus();
}

void StateKeeper::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace domian::services
