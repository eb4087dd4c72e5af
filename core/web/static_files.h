// The dashboard's pages: files under http.static_dir, by URL path. Only
// regular files inside the folder are served, never a listing, and a path
// that tries to climb out of it (`..`, an encoded one, a link pointing
// elsewhere) is not found.
//
// Threads: free functions without state.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/common/status.h"

namespace domian::web {

// The page "/" and a folder's path name.
inline constexpr char kIndexPage[] = "index.html";

// The file under `root` that `url_path` names (URL-decoded, starting with
// '/'; "/" and a folder name their index.html), or NOT_FOUND.
absl::StatusOr<std::filesystem::path> ResolveStaticFile(const std::filesystem::path& root,
                                                        std::string_view url_path);

// The Content-Type of a page by its extension (UTF-8 for text);
// application/octet-stream for one the dashboard does not use.
std::string_view ContentType(const std::filesystem::path& file);

}  // namespace domian::web
