// The dashboard's pages: files under the folder, by path; nothing outside
// it, however the path is written, and never a folder's listing.
#include "core/web/static_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace domian::web {
namespace {

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::filesystem::temp_directory_path() /
            ("domian-static-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(base_);
    root_ = base_ / "dashboard";
    std::filesystem::create_directories(root_ / "js");
    std::filesystem::create_directories(root_ / "empty");
    Write(root_ / "index.html", "<!doctype html>");
    Write(root_ / "js" / "app.js", "main()");
    Write(root_ / ".hidden", "x");
    Write(base_ / "secret.txt", "outside");
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  static void Write(const std::filesystem::path& file, const std::string& text) {
    std::ofstream(file) << text;
  }
  std::string Resolved(std::string_view path) {
    absl::StatusOr<std::filesystem::path> file = ResolveStaticFile(root_, path);
    return file.ok() ? file->lexically_relative(std::filesystem::canonical(root_)).string()
                     : "(" + std::string(file.status().message()) + ")";
  }

  std::filesystem::path base_;
  std::filesystem::path root_;
};

TEST_F(StaticFilesTest, FilesAndFoldersIndexPages) {
  EXPECT_EQ(Resolved("/"), "index.html");
  EXPECT_EQ(Resolved("/index.html"), "index.html");
  EXPECT_EQ(Resolved("/js/app.js"), "js/app.js");
  EXPECT_EQ(Resolved("/js/"), "(no such page)");  // no index.html there, and no listing
  EXPECT_EQ(Resolved("/empty"), "(no such page)");
  EXPECT_EQ(Resolved("/missing.html"), "(no such page)");
}

TEST_F(StaticFilesTest, NothingOutsideTheFolder) {
  // The server hands over the path URL-decoded: %2e%2e is .. here.
  for (const char* path :
       {"/../secret.txt", "/js/../../secret.txt", "/js/../index.html", "/./index.html",
        "/..", "//secret.txt", "/js//app.js", "/.hidden", "/js\\..\\..\\secret.txt",
        "secret.txt", ""}) {
    EXPECT_EQ(Resolved(path), "(no such page)") << path;
  }
}

TEST_F(StaticFilesTest, ALinkLeadingOutIsNotFollowed) {
  std::filesystem::create_symlink(base_ / "secret.txt", root_ / "leak.txt");
  std::filesystem::create_directory_symlink(base_, root_ / "up");
  std::filesystem::create_symlink(root_ / "js" / "app.js", root_ / "app.js");
  EXPECT_EQ(Resolved("/leak.txt"), "(no such page)");
  EXPECT_EQ(Resolved("/up/secret.txt"), "(no such page)");
  EXPECT_EQ(Resolved("/app.js"), "js/app.js");  // inside: fine
}

TEST(ContentTypeTest, TheDashboardsFiles) {
  EXPECT_EQ(ContentType("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentType("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentType("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentType("icon.svg"), "image/svg+xml");
  EXPECT_EQ(ContentType("manifest.webmanifest"), "application/manifest+json");
  EXPECT_EQ(ContentType("README"), "application/octet-stream");
}

}  // namespace
}  // namespace domian::web
