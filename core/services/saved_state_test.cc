// Saved epochs: what counts as one, what is recovered at start, and that
// a write replaces the file whole.
#include "core/services/saved_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "core/model/identity.h"

namespace domian::services {
namespace {

class ServiceStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "domian-service-state-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    std::filesystem::create_directories(root_ / "services" / "tally");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::filesystem::path Service(const std::string& name) {
    std::filesystem::create_directories(root_ / "services" / name);
    return root_ / "services" / name;
  }
  void Write(const std::filesystem::path& dir, const std::string& text) {
    std::ofstream(dir / kServiceEpochFile, std::ios::binary) << text;
  }

  std::filesystem::path root_;
};

TEST_F(ServiceStateTest, AnEpochIsDecimalDigitsUpToTheLimit) {
  EXPECT_EQ(ParseServiceEpoch("0"), 0u);
  EXPECT_EQ(ParseServiceEpoch("17"), 17u);
  EXPECT_EQ(ParseServiceEpoch("17\n"), 17u) << "as echo leaves it";
  EXPECT_EQ(ParseServiceEpoch(std::to_string(kMaxEpoch)), kMaxEpoch);
  EXPECT_EQ(ParseServiceEpoch(std::to_string(kMaxEpoch + 1)), std::nullopt);
  EXPECT_EQ(ParseServiceEpoch("18446744073709551615"), std::nullopt);
  EXPECT_EQ(ParseServiceEpoch("18446744073709551616"), std::nullopt) << "over 64 bits";
  // std::stoull reads these as 2^64-1 and 12.
  EXPECT_EQ(ParseServiceEpoch("-1"), std::nullopt);
  EXPECT_EQ(ParseServiceEpoch("12abc"), std::nullopt);
  EXPECT_EQ(ParseServiceEpoch(" 12"), std::nullopt);
  EXPECT_EQ(ParseServiceEpoch("0x10"), std::nullopt);
  EXPECT_EQ(ParseServiceEpoch(""), std::nullopt);
}

TEST_F(ServiceStateTest, WrittenEpochsReadBackAndPoisonedOnesReadAsNone) {
  const auto dir = Service("tally");
  EXPECT_EQ(ReadServiceEpoch(dir), 0u) << "never ran here";
  ASSERT_TRUE(WriteServiceEpoch(dir, 41).ok());
  EXPECT_EQ(ReadServiceEpoch(dir), 41u);
  EXPECT_FALSE(std::filesystem::exists(dir / "epoch.new"));
  Write(dir, "18446744073709551615");
  EXPECT_EQ(ReadServiceEpoch(dir), 0u);
  Write(dir, std::string(1 << 20, '7'));
  EXPECT_EQ(ReadServiceEpoch(dir), 0u);
}

TEST_F(ServiceStateTest, ASavedStateIsReadableByTheDaemonsUserOnly) {
  // A service's state may hold a secret (the Hue bridge's username): even
  // a file that others could read before is replaced by one they cannot.
  const auto dir = Service("lights");
  std::ofstream(dir / "state", std::ios::binary) << "old";
  std::filesystem::permissions(dir / "state", std::filesystem::perms(0644));
  ASSERT_TRUE(WriteServiceState(dir, "{\"username\":\"secret\"}").ok());
  EXPECT_EQ(ReadServiceState(dir), "{\"username\":\"secret\"}");
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto mode = std::filesystem::status(entry.path()).permissions();
    EXPECT_EQ(mode & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none)
        << entry.path();
  }
}

TEST_F(ServiceStateTest, PoisonedEpochFilesAreRemovedAtStartAndGoodOnesKept) {
  const auto good = Service("good");
  const auto wrapped = Service("wrapped");
  const auto garbage = Service("garbage");
  const auto huge = Service("huge");
  Service("no-epoch");
  ASSERT_TRUE(WriteServiceEpoch(good, 7).ok());
  Write(wrapped, std::to_string(kMaxEpoch + 1));
  Write(garbage, "\x1b[2Jseven");
  Write(huge, std::string(1 << 16, '9'));
  std::ofstream(root_ / "services" / "stray-file") << "x";

  EXPECT_EQ(RecoverServiceEpochs(root_ / "services"), 3u);
  EXPECT_EQ(ReadServiceEpoch(good), 7u);
  EXPECT_FALSE(std::filesystem::exists(wrapped / kServiceEpochFile));
  EXPECT_FALSE(std::filesystem::exists(garbage / kServiceEpochFile));
  EXPECT_FALSE(std::filesystem::exists(huge / kServiceEpochFile));
  EXPECT_EQ(RecoverServiceEpochs(root_ / "services"), 0u) << "recovered once, for good";
  EXPECT_EQ(RecoverServiceEpochs(root_ / "nowhere"), 0u);
}

TEST_F(ServiceStateTest, AFailedWriteNamesTheFileAndWhy) {
  const auto gone = root_ / "services" / "gone";
  const absl::Status written = WriteServiceState(gone, "v1:1");
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(written.message(), "cannot create " + (gone / kServiceStateFile).string() +
                                   ".new: No such file or directory");
  EXPECT_FALSE(WriteServiceEpoch(gone, 3).ok());
  EXPECT_TRUE(WriteServiceState(Service("tally"), "v1:1").ok());
  EXPECT_EQ(ReadServiceState(Service("tally")), "v1:1");
}

}  // namespace
}  // namespace domian::services
