// Files in node.state_dir, written atomically (temp file + fsync + rename
// + fsync of the folder) so a power cut never leaves a half-written id,
// nor a rename the folder does not yet hold.
#include "core/node/node_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/common/files.h"
#include "core/model/identity.h"
#include "core/model/values.h"

namespace domian::node {
namespace {

std::string ReadSmallFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string out = text.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
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

absl::Status NodeState::WriteAtomically(const std::filesystem::path& file,
                                        const std::string& text) {
  return WriteFileAtomically(file, text, 0640);
}

absl::StatusOr<std::string> NodeState::LoadOrCreateNodeId() {
  const auto file = dir_ / kNodeIdFile;
  if (std::filesystem::exists(file)) {
    std::string id = ReadSmallFile(file);
    if (!IsValidNodeId(id)) {
      return absl::FailedPreconditionError(file.string() + " holds an invalid node id '" + id +
                                           "'; remove the file to generate a new one");
    }
    return id;
  }
  std::string id = boost::uuids::to_string(boost::uuids::random_generator()());
  if (absl::Status written = WriteAtomically(file, id + "\n"); !written.ok()) return written;
  return id;
}

absl::StatusOr<uint64_t> NodeState::NextIncarnation() {
  uint64_t stored = 0;
  const auto file = dir_ / kIncarnationFile;
  if (std::filesystem::exists(file)) {
    const std::string text = ReadSmallFile(file);
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), stored);
    if (error != std::errc() || end != text.data() + text.size() || stored >= kMaxCounter) {
      // Peers refuse a counter at the ceiling, and one that wrapped would
      // look older than every earlier life: start over from the clock.
      spdlog::warn("{} holds '{}', not an incarnation this node can use; starting from the clock",
                   file.string(), text.substr(0, 40));
      stored = 0;
    }
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
  return WriteAtomically(dir_ / kIncarnationFile, std::to_string(incarnation) + "\n");
}

std::vector<RememberedPeer> NodeState::LoadPeers() {
  std::vector<RememberedPeer> peers;
  const auto file = dir_ / kPeersFile;
  std::ifstream in(file);
  if (!in) return peers;
  // A line is an id and an address; anything longer is not one.
  constexpr size_t kMaxLineBytes = 512;
  size_t skipped = 0;
  std::string line;
  while (peers.size() < kMaxRememberedPeers && std::getline(in, line)) {
    if (line.empty()) continue;
    const auto space = line.find(' ');
    RememberedPeer peer;
    if (line.size() <= kMaxLineBytes && space != std::string::npos) {
      peer = {line.substr(0, space), line.substr(space + 1)};
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
  return WriteAtomically(dir_ / kPeersFile, text);
}

}  // namespace domian::node
