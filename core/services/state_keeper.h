// Where a running service's saved states are stored on this node: one
// keeper per instance (inline) or plugin host (isolated), writing the
// service's state file (saved_state.h).
//
// Saves are made on several threads: after an invoke that asked for it
// (save_now: the reply waits for the store), on the supervisor's thread
// when the plugin marked its state changed, and at stop. Each save is
// numbered by its instance in the order it was made; the keeper stores a
// save only if it is newer than the one stored, so a slow thread never
// puts an older state over a newer one. Closed once the instance stops:
// a store that comes later (an invoke that was answered just before the
// stop) is refused rather than written over the next instance's state.
//
// Thread-safe; Store holds the keeper's lock while it writes.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <cstdint>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "core/common/clock.h"
#include "core/common/status.h"

namespace domian::services {

// At most one state written per service per this long when the plugin
// only marks its state changed (an SD card wears with every write); a
// change a caller waits for (save_now) is written at once.
inline constexpr std::chrono::milliseconds kDirtyStateSaveInterval{1000};

// What is done with each state once stored on this node (the node copies
// it to its peers: replica::Replicator::Publish): `wait` when a caller is
// about to be told of the change, which must then be kept elsewhere too;
// its error then fails the caller's call.
using StateStored = std::function<absl::Status(const std::string& service, uint64_t epoch,
                                               const std::string& bytes, bool wait)>;

class StateKeeper {
 public:
  // `on_stored` may be empty (nothing more is done).
  StateKeeper(std::filesystem::path service_dir, std::string service = "", uint64_t epoch = 0,
              StateStored on_stored = nullptr);

  // Stores save `number`'s `bytes` unless a newer save is stored already
  // (then OK: the newer one holds this one's changes too), then hands it
  // on (`on_stored`). FAILED_PRECONDITION once closed; else the write's
  // error, or with `wait` the hand-on's.
  absl::Status Store(uint64_t number, const std::string& bytes, bool wait = false)
      ABSL_LOCKS_EXCLUDED(mu_);
  // No store after this returns (one in progress has finished).
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::filesystem::path service_dir_;
  const std::string service_;
  const uint64_t epoch_;
  const StateStored on_stored_;
  absl::Mutex mu_;
  uint64_t stored_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// When a service whose plugin marked its state changed `changes` times
// (PluginInstance::state_changes) is due for a save: the count moved
// since the last save, and kDirtyStateSaveInterval has passed since it.
// Pure logic, on the supervisor's clock.
class DirtyStateSaves {
 public:
  // Whether to save now; if so, call Saved(changes seen, now) after.
  bool Due(uint64_t changes, MonoTime now) const {
    return Pending(changes) && Wait(now).count() == 0;
  }
  // Changes were marked since the last save.
  bool Pending(uint64_t changes) const { return changes != saved_changes_; }
  // How long until Due can next be true for a count that moved.
  std::chrono::milliseconds Wait(MonoTime now) const {
    if (!last_save_) return std::chrono::milliseconds(0);
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(*last_save_ + kDirtyStateSaveInterval - now);
    return std::max(left, std::chrono::milliseconds(0));
  }
  void Saved(uint64_t changes, MonoTime now) {
    saved_changes_ = changes;
    last_save_ = now;
  }

 private:
  uint64_t saved_changes_ = 0;
  std::optional<MonoTime> last_save_;
};

}  // namespace domian::services
