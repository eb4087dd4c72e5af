// What a node keeps in node.state_dir across restarts: its generated id
// and its incarnation, so a restarted node always outranks its earlier
// life in every peer's table.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace domian {

inline constexpr char kNodeIdFile[] = "node-id";
inline constexpr char kIncarnationFile[] = "incarnation";

class NodeState {
 public:
  // Creates the folder if needed (mode 0750). Throws std::runtime_error
  // naming the path when it cannot.
  explicit NodeState(std::filesystem::path dir);

  // The id stored in the folder, generated (a random UUID) and stored on
  // first use.
  std::string LoadOrCreateNodeId();

  // The incarnation for this start: above every earlier one. Uses the
  // stored value + 1, or the wall-clock seconds if larger, so a wiped
  // folder still yields a larger number than before. Stored at once.
  uint64_t NextIncarnation();

  // Stores a grown incarnation (after refuting a rumour).
  void SaveIncarnation(uint64_t incarnation);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  void WriteAtomically(const std::filesystem::path& file, const std::string& text);

  std::filesystem::path dir_;
};

}  // namespace domian
