// Durable files: what a write leaves on disk, and what a read makes of a
// file torn by a power cut or damaged since (its previous copy, and why).
#include "core/common/durable_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace domian {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr mode_t kMode = 0600;
constexpr size_t kMax = 4096;

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "domian-durable-file-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    file_ = dir_ / "state";
    previous_ = dir_ / "state.prev";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static void Put(const std::filesystem::path& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  }
  // Two writes: `file_` holds "second", `previous_` "first".
  void WriteTwice() {
    ASSERT_TRUE(WriteDurable(file_, "first", kMode).ok());
    ASSERT_TRUE(WriteDurable(file_, "second", kMode).ok());
  }
  // What a read of `file_` yields, as "content" or "error: message".
  std::string Read() {
    const absl::StatusOr<DurableRead> read = ReadDurable(file_, kMax);
    return read.ok() ? read->content : "error: " + std::string(read.status().message());
  }

  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::filesystem::path previous_;
};

TEST_F(DurableFileTest, AWriteReadsBackAndLeavesAFramedFileWithItsMode) {
  const std::string content = std::string("binary\0state\n", 13) + std::string(3000, 'x');
  ASSERT_TRUE(WriteDurable(file_, content, kMode).ok());
  const absl::StatusOr<DurableRead> read = ReadDurable(file_, kMax);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->content, content);
  EXPECT_FALSE(read->fell_back_because);
  EXPECT_FALSE(read->legacy);
  // Readable with cat: a header line, then the content as given.
  const std::string bytes = Bytes(file_);
  EXPECT_THAT(bytes, StartsWith("domian-durable/1 3013 sha256:"));
  EXPECT_EQ(bytes.substr(bytes.find('\n') + 1), content);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state.tmp"));
  EXPECT_FALSE(std::filesystem::exists(previous_)) << "nothing to keep on a first write";
  struct stat info {};
  ASSERT_EQ(::stat(file_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0u);
}

TEST_F(DurableFileTest, AnEmptyContentIsAContentToo) {
  ASSERT_TRUE(WriteDurable(file_, "", kMode).ok());
  EXPECT_EQ(Read(), "");
}

TEST_F(DurableFileTest, AWriteKeepsTheCopyItReplaces) {
  WriteTwice();
  EXPECT_EQ(Read(), "second");
  EXPECT_EQ(ReadDurable(previous_, kMax)->content, "first");
  ASSERT_TRUE(WriteDurable(file_, "third", kMode).ok());
  EXPECT_EQ(Read(), "third");
  EXPECT_EQ(ReadDurable(previous_, kMax)->content, "second");
}

// One way a file may be found after a power cut or on a failing card.
struct Damage {
  std::string name;
  // From the bytes `file_` held to what it holds now.
  std::string (*apply)(const std::string& bytes);
  std::string reason;
};

class DurableFileDamageTest : public DurableFileTest,
                              public ::testing::WithParamInterface<Damage> {};

TEST_P(DurableFileDamageTest, IsReadAsThePreviousCopyWithTheReasonAndALogLine) {
  WriteTwice();
  Put(file_, GetParam().apply(Bytes(file_)));

  std::ostringstream log;
  const auto logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  const auto before = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  const absl::StatusOr<DurableRead> read = ReadDurable(file_, kMax);
  spdlog::set_default_logger(before);

  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->content, "first");
  EXPECT_EQ(read->fell_back_because, GetParam().reason);
  EXPECT_THAT(log.str(), HasSubstr(file_.string() + " " + GetParam().reason +
                                   "; using its previous copy " + previous_.string()));
}

INSTANTIATE_TEST_SUITE_P(
    Torn, DurableFileDamageTest,
    ::testing::Values(
        Damage{"TruncatedMidContent",
               [](const std::string& bytes) { return bytes.substr(0, bytes.size() - 2); },
               "is truncated: 4 of 6 bytes"},
        Damage{"TruncatedMidHeader", [](const std::string& bytes) { return bytes.substr(0, 30); },
               "is cut short in its header"},
        Damage{"TruncatedMidMagic", [](const std::string& bytes) { return bytes.substr(0, 6); },
               "is cut short in its header"},
        Damage{"ZeroLength", [](const std::string&) { return std::string(); }, "is empty"},
        Damage{"Zeros", [](const std::string& bytes) { return std::string(bytes.size(), '\0'); },
               "has no header, though it was written with one (it has a previous copy)"},
        Damage{"Garbage", [](const std::string&) { return std::string("\x93\x10garbage"); },
               "has no header, though it was written with one (it has a previous copy)"},
        Damage{"FlippedContentByte",
               [](const std::string& bytes) {
                 std::string flipped = bytes;
                 flipped.back() = static_cast<char>(flipped.back() ^ 0x01);
                 return flipped;
               },
               "fails its checksum"},
        Damage{"FlippedChecksumDigit",
               [](const std::string& bytes) {
                 std::string flipped = bytes;
                 const size_t digit = flipped.find("sha256:") + 7;
                 flipped[digit] = flipped[digit] == '0' ? '1' : '0';
                 return flipped;
               },
               "fails its checksum"},
        Damage{"FlippedMagicByte",
               [](const std::string& bytes) {
                 std::string flipped = bytes;
                 flipped[3] = static_cast<char>(flipped[3] ^ 0x01);
                 return flipped;
               },
               "has a damaged header"},
        Damage{"FlippedLength",
               [](const std::string& bytes) {
                 std::string flipped = bytes;
                 flipped[flipped.find(' ') + 1] = '7';
                 return flipped;
               },
               "is truncated: 6 of 7 bytes"},
        Damage{"Appended", [](const std::string& bytes) { return bytes + "more"; },
               "has 4 bytes past its end"},
        Damage{"FutureVersion",
               [](const std::string& bytes) {
                 std::string future = bytes;
                 future[future.find('/') + 1] = '9';
                 return future;
               },
               "is in format version 9, which this domiand does not read"}),
    [](const ::testing::TestParamInfo<Damage>& damage) { return damage.param.name; });

TEST_F(DurableFileTest, AMissingFileBesideItsPreviousCopyIsAWriteCutBetweenItsRenames) {
  WriteTwice();
  std::filesystem::rename(file_, dir_ / "elsewhere");
  EXPECT_EQ(Read(), "first");
  EXPECT_EQ(ReadDurable(file_, kMax)->fell_back_because, "does not exist");
}

TEST_F(DurableFileTest, WhenBothCopiesAreBadTheErrorSaysWhatIsWrongWithEach) {
  WriteTwice();
  Put(file_, Bytes(file_).substr(0, 40));
  Put(previous_, "");
  const absl::StatusOr<DurableRead> read = ReadDurable(file_, kMax);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(read.status().message(),
            file_.string() + " is cut short in its header, and its previous copy is empty");

  std::filesystem::remove(previous_);
  Put(file_, "");
  EXPECT_EQ(Read(), "error: " + file_.string() + " is empty, and it has no previous copy");
}

TEST_F(DurableFileTest, NothingAtAllIsNotFound) {
  EXPECT_EQ(ReadDurable(file_, kMax).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Read(), "error: " + file_.string() + " does not exist");
}

TEST_F(DurableFileTest, ALegacyFileIsReadAsItIsAndKeptAsThePreviousCopyOfTheFirstWrite) {
  // As an older domiand wrote it: the content alone.
  Put(file_, "41\n");
  const absl::StatusOr<DurableRead> legacy = ReadDurable(file_, kMax);
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_EQ(legacy->content, "41\n");
  EXPECT_TRUE(legacy->legacy);
  EXPECT_FALSE(legacy->fell_back_because);

  ASSERT_TRUE(WriteDurable(file_, "42", kMode).ok());
  EXPECT_EQ(Read(), "42");
  EXPECT_THAT(Bytes(file_), StartsWith("domian-durable/1 2 "));
  EXPECT_EQ(Bytes(previous_), "41\n");
  // And the legacy copy is what a torn file falls back to.
  Put(file_, Bytes(file_).substr(0, 50));
  const absl::StatusOr<DurableRead> fallen = ReadDurable(file_, kMax);
  ASSERT_TRUE(fallen.ok()) << fallen.status();
  EXPECT_EQ(fallen->content, "41\n");
  EXPECT_TRUE(fallen->legacy);
}

TEST_F(DurableFileTest, AHeaderWhoseStartWasDamagedIsNotTakenForALegacyFile) {
  ASSERT_TRUE(WriteDurable(file_, "7", kMode).ok());  // no previous copy yet
  std::string bytes = Bytes(file_);
  bytes[0] = 'D';
  Put(file_, bytes);
  EXPECT_EQ(Read(), "error: " + file_.string() + " has a damaged header, and it has no "
                                                 "previous copy");
}

TEST_F(DurableFileTest, ADamagedFileIsNeverKeptAsThePreviousCopy) {
  WriteTwice();
  Put(file_, Bytes(file_).substr(0, 45));
  ASSERT_TRUE(WriteDurable(file_, "third", kMode).ok());
  EXPECT_EQ(Read(), "third");
  EXPECT_EQ(ReadDurable(previous_, kMax)->content, "first") << "the last good copy stays";
  // Nor is what is not a file at all.
  std::filesystem::remove(file_);
  std::filesystem::create_symlink(dir_ / "elsewhere", file_);
  ASSERT_TRUE(WriteDurable(file_, "fourth", kMode).ok());
  EXPECT_EQ(Read(), "fourth");
  EXPECT_FALSE(std::filesystem::is_symlink(file_));
  EXPECT_EQ(ReadDurable(previous_, kMax)->content, "first");
}

TEST_F(DurableFileTest, ALooselyReadableLegacyFileIsKeptReadableByItsOwnerOnly) {
  Put(file_, "{\"username\":\"secret\"}");
  std::filesystem::permissions(file_, std::filesystem::perms(0644));
  ASSERT_TRUE(WriteDurable(file_, "{}", kMode).ok());
  struct stat info {};
  ASSERT_EQ(::stat(previous_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(DurableFileTest, AFileLargerThanTheLimitIsRefusedFromItsSize) {
  ASSERT_TRUE(WriteDurable(file_, std::string(100, 'x'), kMode).ok());
  const absl::StatusOr<DurableRead> framed = ReadDurable(file_, 99);
  EXPECT_EQ(framed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(framed.status().message(),
            file_.string() + " is larger than 99 bytes, and it has no previous copy");
  EXPECT_EQ(ReadDurable(file_, 100)->content, std::string(100, 'x'));

  // Far larger: refused from its size, without a read (which would take
  // all memory for this sparse terabyte).
  ASSERT_EQ(::truncate(file_.c_str(), off_t{1} << 40), 0);
  EXPECT_EQ(Read(), "error: " + file_.string() + " is larger than 4096 bytes, and it has no "
                                                 "previous copy");
  // A legacy file is measured without a header.
  std::filesystem::remove(file_);
  Put(file_, std::string(kMax + 1, 'x'));
  EXPECT_EQ(Read(), "error: " + file_.string() + " is larger than 4096 bytes, and it has no "
                                                 "previous copy");
  // Too large beside a good previous copy is one more way to fall back.
  ASSERT_TRUE(WriteDurable(file_, "small", kMode).ok());
  ASSERT_TRUE(WriteDurable(file_, std::string(kMax + 1, 'x'), kMode).ok());
  EXPECT_EQ(Read(), "small");
}

TEST_F(DurableFileTest, ALeftoverTemporaryFileIsIgnoredAndReplaced) {
  WriteTwice();
  Put(dir_ / "state.tmp", "half a wri");
  std::filesystem::permissions(dir_ / "state.tmp", std::filesystem::perms(0666));
  EXPECT_EQ(Read(), "second");
  ASSERT_TRUE(WriteDurable(file_, "third", kMode).ok());
  EXPECT_EQ(Read(), "third");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state.tmp"));
  struct stat info {};
  ASSERT_EQ(::stat(file_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0077, 0u) << "the leftover's mode is not inherited";
}

TEST_F(DurableFileTest, AFailedWriteNamesThePathAndLeavesTheFileAsItWas) {
  const std::filesystem::path gone = dir_ / "gone" / "state";
  const absl::Status written = WriteDurable(gone, "x", kMode);
  EXPECT_EQ(written.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(written.message(), "cannot write " + gone.string() + ".tmp: No such file or directory");

  // A write that cannot make its temporary file (a folder stands in its
  // way: unlike a read-only folder, that stops root too) changes nothing.
  WriteTwice();
  const std::filesystem::path temporary = file_.string() + kTemporarySuffix;
  std::filesystem::create_directory(temporary);
  const absl::Status refused = WriteDurable(file_, "third", kMode);
  std::filesystem::remove(temporary);
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists) << refused;
  EXPECT_EQ(refused.message(), "cannot write " + temporary.string() + ": File exists");
  EXPECT_EQ(Read(), "second");
  EXPECT_EQ(ReadDurable(previous_, kMax)->content, "first");
}

TEST_F(DurableFileTest, RemovingTakesEveryCopySoNoneComesBack) {
  WriteTwice();
  Put(dir_ / "state.tmp", "leftover");
  ASSERT_TRUE(RemoveDurable(file_).ok());
  EXPECT_EQ(ReadDurable(file_, kMax).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  EXPECT_TRUE(RemoveDurable(file_).ok()) << "removing what is not there is fine";
  EXPECT_TRUE(RemoveDurable(dir_ / "no-such-folder" / "state").ok());
}

}  // namespace
}  // namespace domian
