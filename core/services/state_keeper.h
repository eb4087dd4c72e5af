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
#include <filesystem>
#include <functional>
#include <string>

#include "core/common/status.h"

namespace domian::services {

// A plugin's marked changes (mark_dirty) are saved through a
// WriteDebouncer (core/common/write_debouncer.h): at most one write per
// service per kDefaultMinWriteInterval, the first at once, the last never
// lost; a change a caller waits for (save_now) is written at once.

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

}  // namespace domian::services
