// Small files written whole and read with a bound: the node's id,
// incarnation and peers, the cluster credentials, the trust bulletin.
// (Files that must also survive damage keep a previous copy: see
// durable_file.h, built on the pieces here.)
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace domian {

// Writes `content` to a temporary file beside `file` with `mode` (the
// umask aside), syncs it, renames it over `file` and syncs the folder:
// after a power cut the file holds the old content or the new, never a
// mix or nothing. Errors name the path; their code follows errno (a full
// disk is RESOURCE_EXHAUSTED, no permission PERMISSION_DENIED).
absl::Status WriteFileAtomically(const std::filesystem::path& file, const std::string& content,
                                 mode_t mode);

// A file of at most `max_bytes`: NOT_FOUND when it does not exist, an
// error naming the file when it cannot be read or is larger.
absl::StatusOr<std::string> ReadBoundedFile(const std::filesystem::path& file, size_t max_bytes);

// The first step of a replacement: `content` in `file`, made afresh with
// `mode` (the umask aside; one left by a write cut short is removed first,
// so its mode is never inherited), never through a symlink, and synced. On
// failure nothing is left at `file`.
absl::Status WriteSyncedFile(const std::filesystem::path& file, std::string_view content,
                             mode_t mode);

// Syncs `folder`, so that a rename or removal in it survives a power cut.
absl::Status SyncFolder(const std::filesystem::path& folder);

// "<what> <path>: <the system's reason>", with the code errno maps to.
absl::Status FileIoError(std::string_view what, const std::filesystem::path& path, int error);

}  // namespace domian
