// Saved states and epochs: what counts as an epoch, what is recovered at
// start, that a write replaces the file whole, and that a file torn since
// reads as the one before it.
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
  EXPECT_FALSE(std::filesystem::exists(dir / "epoch.tmp"));
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
  EXPECT_EQ(written.message(), "cannot write " + (gone / kServiceStateFile).string() +
                                   ".tmp: No such file or directory");
  EXPECT_FALSE(WriteServiceEpoch(gone, 3).ok());
  EXPECT_TRUE(WriteServiceState(Service("tally"), "v1:1").ok());
  EXPECT_EQ(ReadServiceState(Service("tally")), "v1:1");
}

// Done when: a state file torn mid-write (a power cut, a failing card)
// is recovered from the previous copy.
TEST_F(ServiceStateTest, ATornStateReadsAsTheOneBeforeIt) {
  const auto dir = Service("lights");
  ASSERT_TRUE(WriteServiceState(dir, R"({"username":"first","brightness":10})").ok());
  ASSERT_TRUE(WriteServiceState(dir, R"({"username":"first","brightness":80})").ok());
  const auto file = dir / kServiceStateFile;
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 10);
  EXPECT_EQ(ReadServiceState(dir), R"({"username":"first","brightness":10})");
  // And the next write keeps that good one, not the torn one, as the
  // copy before it.
  ASSERT_TRUE(WriteServiceState(dir, R"({"username":"first","brightness":50})").ok());
  std::filesystem::resize_file(file, 0);
  EXPECT_EQ(ReadServiceState(dir), R"({"username":"first","brightness":10})");
}

TEST_F(ServiceStateTest, AStateWrittenByAnOlderDomiandIsReadAsItIs) {
  const auto dir = Service("lights");
  std::ofstream(dir / kServiceStateFile, std::ios::binary) << R"({"username":"old"})";
  EXPECT_EQ(ReadServiceState(dir), R"({"username":"old"})");
  EXPECT_EQ(ReadServiceState(Service("never-saved")), std::nullopt);
}

TEST_F(ServiceStateTest, AStateThatCannotBeReadAtAllIsNone) {
  const auto dir = Service("lights");
  ASSERT_TRUE(WriteServiceState(dir, "v1").ok());
  std::filesystem::resize_file(dir / kServiceStateFile, 20);
  EXPECT_EQ(ReadServiceState(dir), std::nullopt) << "no previous copy to fall back to";
}

TEST_F(ServiceStateTest, ATornEpochReadsAsTheOneBeforeItAndIsMadeWholeAtStart) {
  const auto dir = Service("tally");
  ASSERT_TRUE(WriteServiceEpoch(dir, 6).ok());
  ASSERT_TRUE(WriteServiceEpoch(dir, 7).ok());
  std::filesystem::resize_file(dir / kServiceEpochFile, 0);
  EXPECT_EQ(ReadServiceEpoch(dir), 6u);
  EXPECT_EQ(RecoverServiceEpochs(root_ / "services"), 0u);
  EXPECT_EQ(ReadServiceEpoch(dir), 6u);
  // Written again whole, so that reads (every placement round) stop
  // falling back.
  std::filesystem::remove(dir / (std::string(kServiceEpochFile) + ".prev"));
  EXPECT_EQ(ReadServiceEpoch(dir), 6u);
}

TEST_F(ServiceStateTest, APoisonedEpochIsRemovedWithItsPreviousCopy) {
  // The one before it is lower, but honouring it would keep half of a
  // history the node no longer trusts.
  const auto dir = Service("tally");
  ASSERT_TRUE(WriteServiceEpoch(dir, 6).ok());
  ASSERT_TRUE(WriteServiceEpoch(dir, kMaxEpoch + 1).ok());
  EXPECT_EQ(RecoverServiceEpochs(root_ / "services"), 1u);
  EXPECT_EQ(ReadServiceEpoch(dir), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace domian::services
