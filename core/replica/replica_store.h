// The copies of services' states this node keeps: for each service the
// newest copy it has heard of, its own or a peer's, in
// state_dir/replicas/<service> (one durable file each: checksummed, the
// previous copy kept, so a power cut or a damaged card costs at most the
// last change; core/common/durable_file.h).
//
// "Newest" is the order of the changes, not of ownership: the copy whose
// change was made last (its hybrid logical clock timestamp; then the
// writer's id, then its sequence, so two copies never tie). A deleted
// state is kept as a tombstone, so an older copy cannot come back.
//
// Everything accepted is bounded: at most kMaxReplicaStateBytes of state
// per copy, kMaxReplicaCopies services, service and node names checked.
// A file that does not parse is left out with a log line.
//
// Not thread-safe: its owner (Replicator) locks it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/common/status.h"
#include "core/replica/hlc.h"

namespace domian::replica {

// The largest state a change may carry to peers: room for any small
// service's state (a pairing, a schedule, a counter) that is cheap to send
// to every node at every change.
inline constexpr size_t kMaxReplicaStateBytes = 64 * 1024;
// Services whose copies a node keeps: as many as a house has plugins, and
// then some; a peer cannot fill the disk with made-up services.
inline constexpr size_t kMaxReplicaCopies = 256;
// A node id's length, as membership bounds it.
inline constexpr size_t kMaxWriterBytes = 255;

struct StateCopy {
  std::string service;
  uint64_t epoch = 0;  // the ownership epoch its writer ran the service under
  uint64_t seq = 0;    // the writer's change number under that epoch, from 1
  Hlc hlc;             // when the change was made, in the cluster's order
  // The latest change made elsewhere that it includes: the copy its
  // writer's run began from or took. A copy whose parent is another
  // node's change includes it, so the two are not rivals at a heal.
  Hlc parent;
  std::string writer;  // the node that made the change
  bool deleted = false;  // a tombstone: the state was deleted
  std::string bytes;     // the state, as the plugin saved it (empty when deleted)

  // "epoch 3 seq 12 at 1765000000000.0 by pi2" (" deleted")
  std::string Version() const;
};

// Whether `a` holds a later change than `b`.
bool Newer(const StateCopy& a, const StateCopy& b);

// OK, or INVALID_ARGUMENT saying what is wrong (an unknown service name,
// a state over kMaxReplicaStateBytes, a tombstone with bytes, a parent
// after the change, ...).
absl::Status CheckCopy(const StateCopy& copy);

class ReplicaStore {
 public:
  // Reads the folder's copies (creating it when missing).
  explicit ReplicaStore(std::filesystem::path dir);

  std::optional<StateCopy> Get(const std::string& service) const;
  std::vector<StateCopy> All() const;

  enum class Offered { kStored, kNotNewer };
  // Keeps `copy` if it is newer than the one kept (CheckCopy first); an
  // error when it is invalid, when a new service would pass
  // kMaxReplicaCopies, or when it could not be written (the old copy is
  // kept then).
  absl::StatusOr<Offered> Offer(const StateCopy& copy);

 private:
  std::filesystem::path dir_;
  std::map<std::string, StateCopy> copies_;
};

// A copy's file: one line of JSON (the version), then the state's bytes.
std::string EncodeCopy(const StateCopy& copy);
absl::StatusOr<StateCopy> DecodeCopy(const std::string& service, const std::string& text);

}  // namespace domian::replica
