// Where a service's saved state lives on this node, and how it is read
// and written: state_dir/services/<name>/state, replaced atomically so a
// crash mid-write never leaves half a state behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace domian::plugins {

inline constexpr char kServiceStateFile[] = "state";
// The last ownership epoch the service ran under here, in decimal: a
// restarted node never starts it under an epoch it used before.
inline constexpr char kServiceEpochFile[] = "epoch";

// The saved state in `service_dir`, if there is one.
std::optional<std::string> ReadServiceState(const std::filesystem::path& service_dir);
// Writes a new file and renames it over the old one. False on failure.
bool WriteServiceState(const std::filesystem::path& service_dir, const std::string& state);

// 0 when there is none (or it is unreadable).
uint64_t ReadServiceEpoch(const std::filesystem::path& service_dir);
bool WriteServiceEpoch(const std::filesystem::path& service_dir, uint64_t epoch);

}  // namespace domian::plugins
