#include "core/mqtt/password_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace domian::mqtt {
namespace {

using testing::HasSubstr;

class PasswordFileTest : public ::testing::Test {
 protected:
  PasswordFileTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("password-file-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~PasswordFileTest() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path Write(const std::string& content, mode_t mode = 0600) {
    const std::filesystem::path file = dir_ / "password";
    std::filesystem::remove(file);
    {
      std::ofstream out(file, std::ios::binary);
      out << content;
    }
    ::chmod(file.c_str(), mode);
    return file;
  }

  std::filesystem::path dir_;
};

TEST_F(PasswordFileTest, ThePasswordWithoutItsNewline) {
  EXPECT_EQ(*ReadPasswordFile(Write("s3cret\n")), "s3cret");
  EXPECT_EQ(*ReadPasswordFile(Write("s3cret\r\n")), "s3cret");
  EXPECT_EQ(*ReadPasswordFile(Write("with spaces ")), "with spaces ");
  // Group read is how the package lets the daemon (group domian) read it.
  EXPECT_EQ(*ReadPasswordFile(Write("s3cret\n", 0640)), "s3cret");
}

TEST_F(PasswordFileTest, RefusesWhatOthersMayReadOrChange) {
  for (const mode_t mode : {0644u, 0604u, 0660u, 0602u}) {
    const absl::StatusOr<std::string> read = ReadPasswordFile(Write("s3cret\n", mode));
    ASSERT_FALSE(read.ok()) << std::oct << mode;
    EXPECT_THAT(read.status().message(), HasSubstr("others may read or change this password"));
    EXPECT_THAT(read.status().message(), HasSubstr("chmod 640"));
  }
}

TEST_F(PasswordFileTest, RefusesWhatIsNotAPassword) {
  EXPECT_THAT(ReadPasswordFile(Write("")).status().message(), HasSubstr("is empty"));
  EXPECT_THAT(ReadPasswordFile(Write("\n")).status().message(), HasSubstr("is empty"));
  EXPECT_THAT(ReadPasswordFile(Write("one\ntwo\n")).status().message(),
              HasSubstr("holds more than one line"));
  EXPECT_THAT(ReadPasswordFile(Write(std::string(kMaxPasswordFileBytes + 1, 'x')))
                  .status()
                  .message(),
              HasSubstr("is larger than 1024 bytes"));
  EXPECT_THAT(ReadPasswordFile(dir_).status().message(), HasSubstr("is not a regular file"));
  const absl::StatusOr<std::string> missing = ReadPasswordFile(dir_ / "none");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_EQ(missing.status().message(), (dir_ / "none").string() + " does not exist");
}

}  // namespace
}  // namespace domian::mqtt
