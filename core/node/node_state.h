// What a node keeps in node.state_dir across restarts: its generated id,
// its incarnation, so a restarted node always outranks its earlier life in
// every peer's table, and the peers it knew, so it finds its cluster again
// when no seed answers. Each is a durable file (core/common/
// durable_file.h): a file torn by a power cut reads as the one before it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/common/status.h"

namespace domian::node {

inline constexpr char kNodeIdFile[] = "node-id";
inline constexpr char kIncarnationFile[] = "incarnation";
inline constexpr char kPeersFile[] = "peers";
// An id (at most 64 characters) and a newline, with room to spare: a
// larger file is not one domiand wrote.
inline constexpr size_t kMaxNodeIdFileBytes = 256;

// One remembered peer: its id and the address it answered at.
struct RememberedPeer {
  std::string id;
  std::string address;
  bool operator==(const RememberedPeer&) const = default;
};

class NodeState {
 public:
  // Opens the folder, creating it if needed (mode 0750). The error names
  // the path when it cannot.
  static absl::StatusOr<NodeState> Open(std::filesystem::path dir);

  // The id stored in the folder, generated (a random UUID) and stored on
  // first use. A stored id that is not valid, or a file that cannot be
  // read, is an error (naming the file) rather than replaced: peers know
  // this node by it.
  absl::StatusOr<std::string> LoadOrCreateNodeId();

  // The incarnation for this start: above every earlier one. Uses the
  // stored value + 1, or the wall-clock seconds if larger, so a wiped
  // folder still yields a larger number than before. Stored at once. A
  // stored value that is not a number, or at the counters' ceiling (which
  // peers would refuse), is replaced by the clock's, with a log line.
  absl::StatusOr<uint64_t> NextIncarnation();

  // Stores a grown incarnation (after refuting a rumour).
  absl::Status SaveIncarnation(uint64_t incarnation);

  // The peers remembered from an earlier life; lines that are not a valid
  // id and host:port are skipped (with a log line), and at most
  // kMaxRememberedPeers are read. Empty when there is no file (or it
  // cannot be read): remembered peers only help to find the cluster, so
  // their loss never stops a start.
  std::vector<RememberedPeer> LoadPeers();
  // Replaces them (at most kMaxRememberedPeers).
  absl::Status SavePeers(const std::vector<RememberedPeer>& peers);
  static constexpr size_t kMaxRememberedPeers = 64;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  explicit NodeState(std::filesystem::path dir) : dir_(std::move(dir)) {}

  absl::Status WriteDurably(const std::filesystem::path& file, const std::string& text);

  std::filesystem::path dir_;
};

}  // namespace domian::node
