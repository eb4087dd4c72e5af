// Small files written whole and read with a bound: the node's id,
// incarnation and peers, the cluster credentials, the trust bulletin.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>

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

}  // namespace domian
