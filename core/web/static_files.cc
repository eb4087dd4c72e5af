#include "core/web/static_files.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

namespace domian::web {
namespace {

// A path segment a file of the dashboard can have: no climbing, no hidden
// files, nothing a shell or a filesystem reads specially.
bool IsPlainSegment(std::string_view segment) {
  if (segment.empty() || segment.front() == '.') return false;
  return std::all_of(segment.begin(), segment.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
  });
}

constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kContentTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
    {".webp", "image/webp"},
}};

}  // namespace

absl::StatusOr<std::filesystem::path> ResolveStaticFile(const std::filesystem::path& root,
                                                        std::string_view url_path) {
  const absl::Status not_found = absl::NotFoundError("no such page");
  if (url_path.empty() || url_path.front() != '/') return not_found;
  std::filesystem::path file = root;
  std::string_view rest = url_path.substr(1);
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (!IsPlainSegment(segment)) return not_found;
    file /= std::string(segment);
    if (slash == std::string_view::npos) break;
    // Empty after a trailing slash: the folder itself.
    rest = rest.substr(slash + 1);
  }
  std::error_code error;
  if (std::filesystem::is_directory(file, error)) file /= kIndexPage;
  // Links inside the folder are followed, as long as they lead to a file
  // that is in it too.
  const std::filesystem::path real = std::filesystem::canonical(file, error);
  if (error) return not_found;
  const std::filesystem::path real_root = std::filesystem::canonical(root, error);
  if (error) return not_found;
  const auto [root_end, unused] =
      std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
  if (root_end != real_root.end() || !std::filesystem::is_regular_file(real, error)) {
    return not_found;
  }
  return real;
}

std::string_view ContentType(const std::filesystem::path& file) {
  const std::string extension = file.extension().string();
  for (const auto& [known, type] : kContentTypes) {
    if (extension == known) return type;
  }
  return "application/octet-stream";
}

}  // namespace domian::web
