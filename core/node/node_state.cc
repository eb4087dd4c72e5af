// Files in node.state_dir, written as durable files (temp file + fsync +
// rename + fsync of the folder, checked when read, the copy before kept)
// so a power cut never leaves a half-written id, nor a rename the folder
// does not yet hold.
#include "core/node/node_state.h"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <charconv>
#include <chrono>
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/common/durable_file.h"
#include "core/model/identity.h"
#include "core/model/values.h"

namespace domian::node {
namespace {

// Readable by the daemon's group (an operator's tools), as before.
constexpr mode_t kNodeFileMode = 0640;
// A counter is at most 20 digits; anything longer is not one.
constexpr size_t kMaxIncarnationFileBytes = 64;
// A peer's line is an id and an address; anything longer is not one.
constexpr size_t kMaxPeerLineBytes = 512;
// kMaxRememberedPeers lines, twice over for lines that are skipped (a
// file edited by hand).
constexpr size_t kMaxPeersFileBytes = 2 * NodeState::kMaxRememberedPeers * (kMaxPeerLineBytes + 1);

// `text` without the newline (or spaces) an editor or `echo` leaves.
std::string_view TrimEnd(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return text;
}

}  // namespace

absl::StatusOr<NodeState> NodeState::Open(std::filesystem::path dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::Status(absl::ErrnoToStatusCode(error.value()),
                        "cannot create state folder " + dir.string() + ": " + error.message());
  }
  return NodeState(std::move(dir));
}

absl::Status NodeState::WriteDurably(const std::filesystem::path& file,
                                        const std::string& text) {
  return WriteDurable(file, text, kNodeFileMode);
}

absl::StatusOr<std::string> NodeState::LoadOrCreateNodeId() {
  const auto file = dir_ / kNodeIdFile;
  const absl::StatusOr<DurableRead> stored = ReadDurable(file, kMaxNodeIdFileBytes);
  if (stored.ok()) {
    std::string id(TrimEnd(stored->content));
    if (!IsValidNodeId(id)) {
      return absl::FailedPreconditionError(file.string() + " holds an invalid node id '" + id +
                                           "'; remove the file to generate a new one");
    }
    return id;
  }
  if (!absl::IsNotFound(stored.status())) {
    return absl::Status(stored.status().code(),
                        StatusMessage(stored.status()) + "; remove it to generate a new id");
  }
  std::string id = boost::uuids::to_string(boost::uuids::random_generator()());
  if (absl::Status written = WriteDurably(file, id + "\n"); !written.ok()) return written;
  return id;
}

absl::StatusOr<uint64_t> NodeState::NextIncarnation() {
  uint64_t stored = 0;
  const auto file = dir_ / kIncarnationFile;
  const absl::StatusOr<DurableRead> read = ReadDurable(file, kMaxIncarnationFileBytes);
  if (read.ok()) {
    const std::string_view text = TrimEnd(read->content);
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), stored);
    if (error != std::errc() || end != text.data() + text.size() || stored >= kMaxCounter) {
      // Peers refuse a counter at the ceiling, and one that wrapped would
      // look older than every earlier life: start over from the clock.
      spdlog::warn("{} holds '{}', not an incarnation this node can use; starting from the clock",
                   file.string(), text.substr(0, 40));
      stored = 0;
    }
  } else if (!absl::IsNotFound(read.status())) {
    spdlog::warn("{}: no incarnation this node can use; starting from the clock",
                 StatusMessage(read.status()));
  }
  // Wall-clock seconds only seed the counter (never compared with other
  // nodes' clocks); they keep it growing if the folder was wiped.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const uint64_t next =
      std::max(SaturatingAdd(stored, 1), static_cast<uint64_t>(std::max<int64_t>(now, 1)));
  if (absl::Status saved = SaveIncarnation(next); !saved.ok()) return saved;
  return next;
}

absl::Status NodeState::SaveIncarnation(uint64_t incarnation) {
  return WriteDurably(dir_ / kIncarnationFile, std::to_string(incarnation) + "\n");
}

std::vector<RememberedPeer> NodeState::LoadPeers() {
  std::vector<RememberedPeer> peers;
  const auto file = dir_ / kPeersFile;
  const absl::StatusOr<DurableRead> read = ReadDurable(file, kMaxPeersFileBytes);
  if (!read.ok()) {
    if (!absl::IsNotFound(read.status())) {
      spdlog::warn("{}; starting without remembered peers", StatusMessage(read.status()));
    }
    return peers;
  }
  std::string_view text = read->content;
  size_t skipped = 0;
  while (peers.size() < kMaxRememberedPeers && !text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty()) continue;
    const auto space = line.find(' ');
    RememberedPeer peer;
    if (line.size() <= kMaxPeerLineBytes && space != std::string_view::npos) {
      peer = {std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
    }
    if (!IsValidNodeId(peer.id) || !IsValidHostPort(peer.address)) {
      ++skipped;
      continue;
    }
    peers.push_back(std::move(peer));
  }
  if (skipped > 0) {
    spdlog::warn("{}: skipped {} line(s) that are not 'id host:port'", file.string(), skipped);
  }
  return peers;
}

absl::Status NodeState::SavePeers(const std::vector<RememberedPeer>& peers) {
  std::string text;
  for (size_t i = 0; i < peers.size() && i < kMaxRememberedPeers; ++i) {
    text += peers[i].id + " " + peers[i].address + "\n";
  }
  return WriteDurably(dir_ / kPeersFile, text);
}

}  // namespace domian::node
