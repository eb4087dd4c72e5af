// The running journal: written whole, read back, and what a damaged file
// still yields (its service, always; the rest when readable).
#include "core/services/running_journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/services/testing/temp_folder.h"

namespace domian::services {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using testing::TempFolder;

class RunningJournalTest : public ::testing::Test {
 protected:
  std::filesystem::path ServiceDir(const std::string& name) {
    const std::filesystem::path dir = folder_.path() / "services" / name;
    std::filesystem::create_directories(dir);
    return dir;
  }
  std::vector<RunningEntry> Read() {
    problems_.clear();
    return ReadRunningJournal(folder_.path() / "services", problems_);
  }

  TempFolder folder_{"domian-running-journal"};
  std::vector<std::string> problems_;
};

TEST_F(RunningJournalTest, AnEntryReadsBackAsWrittenAndIsGoneOnceRemoved) {
  const std::filesystem::path dir = ServiceDir("thermostat");
  ASSERT_TRUE(WriteRunningEntry(dir, {.service = "thermostat",
                                      .plugin = "/usr/lib/domian/plugins/thermostat.so",
                                      .config = R"({"target_c": 21})",
                                      .last_good = R"({"target_c": 20})"})
                  .ok());
  std::vector<RunningEntry> entries = Read();
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_TRUE(problems_.empty());
  EXPECT_EQ(entries[0].service, "thermostat");
  EXPECT_EQ(entries[0].plugin, "/usr/lib/domian/plugins/thermostat.so");
  EXPECT_EQ(entries[0].config, R"({"target_c": 21})");
  EXPECT_EQ(entries[0].last_good, R"({"target_c": 20})");
  EXPECT_FALSE(std::filesystem::exists(dir / "running.json.tmp")) << "no temporary file left";

  // The start succeeded: the last good configuration is this one.
  ASSERT_TRUE(WriteRunningEntry(dir, {.service = "thermostat",
                                      .plugin = "/p/thermostat.so",
                                      .config = "{}",
                                      .last_good = "{}"})
                  .ok());
  entries = Read();
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].last_good, std::nullopt) << "the same as config: not written twice";

  ASSERT_TRUE(RemoveRunningEntry(dir).ok());
  EXPECT_TRUE(Read().empty());
  EXPECT_TRUE(RemoveRunningEntry(dir).ok()) << "removing what is not there is fine";
}

TEST_F(RunningJournalTest, ADamagedFileStillNamesItsServiceAndYieldsWhatItCan) {
  std::ofstream(ServiceDir("cut") / "running.json") << R"({"plugin": "/p/cut.so", "con)";
  std::ofstream(ServiceDir("typed") / "running.json") << R"({"plugin": 7, "config": "{}"})";
  ServiceDir("never-ran");  // a folder without a journal: not running
  std::ofstream(ServiceDir("huge") / "running.json")
      << std::string(kMaxJournalFileBytes + 1, ' ');
  const std::vector<RunningEntry> entries = Read();
  ASSERT_EQ(entries.size(), 3U);
  EXPECT_EQ(entries[0].service, "cut");
  EXPECT_TRUE(entries[0].plugin.empty());
  EXPECT_FALSE(entries[0].config);
  EXPECT_EQ(entries[1].service, "huge");
  EXPECT_EQ(entries[2].service, "typed");
  EXPECT_TRUE(entries[2].plugin.empty());
  EXPECT_EQ(entries[2].config, "{}");
  // One each, in the order the folder lists them.
  EXPECT_THAT(problems_,
              UnorderedElementsAre(HasSubstr("cut/running.json is not a JSON object"),
                                   HasSubstr("huge/running.json is larger than"),
                                   HasSubstr("typed/running.json: 'plugin' is missing or not a "
                                             "string")));
}

TEST_F(RunningJournalTest, ATornFileReadsAsTheOneBeforeIt) {
  const std::filesystem::path dir = ServiceDir("thermostat");
  ASSERT_TRUE(WriteRunningEntry(dir, {.service = "thermostat",
                                      .plugin = "/p/thermostat.so",
                                      .config = R"({"target_c": 20})"})
                  .ok());
  ASSERT_TRUE(WriteRunningEntry(dir, {.service = "thermostat",
                                      .plugin = "/p/thermostat.so",
                                      .config = R"({"target_c": 21})"})
                  .ok());
  const std::filesystem::path file = dir / kRunningJournalFile;
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 5);
  std::vector<RunningEntry> entries = Read();
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_THAT(problems_, ::testing::IsEmpty());
  EXPECT_EQ(entries[0].plugin, "/p/thermostat.so");
  EXPECT_EQ(entries[0].config, R"({"target_c": 20})");

  // A power cut between a write's two renames leaves only the previous
  // copy: the service was running all the same.
  std::filesystem::remove(file);
  entries = Read();
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].config, R"({"target_c": 20})");

  ASSERT_TRUE(RemoveRunningEntry(dir).ok());
  EXPECT_TRUE(Read().empty()) << "no copy left to be read as a journal";
}

TEST_F(RunningJournalTest, AConfigurationTooLargeIsLeftOutNotTheEntry) {
  const std::filesystem::path dir = ServiceDir("big");
  ASSERT_TRUE(WriteRunningEntry(dir, {.service = "big",
                                      .plugin = "/p/big.so",
                                      .config = std::string(kMaxJournalConfigBytes + 1, 'x')})
                  .ok());
  const std::vector<RunningEntry> entries = Read();
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].plugin, "/p/big.so");
  EXPECT_FALSE(entries[0].config) << "node.yaml's is used instead";
}

}  // namespace
}  // namespace domian::services
