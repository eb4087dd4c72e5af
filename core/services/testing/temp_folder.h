// TempFolder: a folder of its own for one test, under the system's
// temporary folder, removed with all it holds when the test is done.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace domian::services::testing {

class TempFolder {
 public:
  // `prefix` names the test in the folder's name, for whoever finds one
  // left behind by a crash.
  explicit TempFolder(std::string_view prefix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    path_ = ::mkdtemp(pattern.data());
    // Writable by its owner only, as domiand wants a plugin folder, and
    // readable by all, as a plugin host run as another user needs.
    std::filesystem::permissions(path_, std::filesystem::perms(0755));
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace domian::services::testing
