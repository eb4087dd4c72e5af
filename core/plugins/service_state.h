// Where a service's saved state lives on this node, and how it is read
// and written: state_dir/services/<name>/state, replaced atomically so a
// crash mid-write never leaves half a state behind.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace domian::plugins {

inline constexpr char kServiceStateFile[] = "state";

// The saved state in `service_dir`, if there is one.
std::optional<std::string> ReadServiceState(const std::filesystem::path& service_dir);
// Writes a new file and renames it over the old one. False on failure.
bool WriteServiceState(const std::filesystem::path& service_dir, const std::string& state);

}  // namespace domian::plugins
