// NodeState: the id and incarnation kept across restarts.
#include "core/node/node_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/common/durable_file.h"
#include "core/config/node_config.h"
#include "core/model/identity.h"

namespace domian::node {
namespace {

class NodeStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("domian-node-state-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // The state in `dir`, which these tests expect to open (see
  // UnwritableFolderIsAClearError for a folder that cannot be made).
  static NodeState Open(const std::filesystem::path& dir) {
    absl::StatusOr<NodeState> state = NodeState::Open(dir);
    EXPECT_TRUE(state.ok()) << StatusMessage(state.status());
    return *std::move(state);
  }
  std::filesystem::path dir_;
};

TEST_F(NodeStateTest, GeneratesAnIdOnceAndKeepsIt) {
  const std::string first = Open(dir_ / "nested").LoadOrCreateNodeId().value();
  EXPECT_TRUE(IsValidNodeId(first)) << first;
  EXPECT_EQ(first.size(), 36u);  // a UUID
  EXPECT_EQ(Open(dir_ / "nested").LoadOrCreateNodeId().value(), first);
  EXPECT_NE(Open(dir_ / "other").LoadOrCreateNodeId().value(), first);
}

TEST_F(NodeStateTest, IncarnationGrowsOnEveryStart) {
  NodeState state = Open(dir_);
  const uint64_t first = state.NextIncarnation().value();
  const uint64_t second = Open(dir_).NextIncarnation().value();
  EXPECT_GT(second, first);
  ASSERT_TRUE(state.SaveIncarnation(second + 100).ok());  // a refutation raised it
  EXPECT_EQ(Open(dir_).NextIncarnation().value(), second + 101);
}

TEST_F(NodeStateTest, WipedFolderStillStartsAboveEarlierLives) {
  // Wall-clock seconds seed the counter, so a fresh folder is not back at 1.
  const uint64_t fresh = Open(dir_).NextIncarnation().value();
  EXPECT_GT(fresh, 1'600'000'000u);
}

TEST_F(NodeStateTest, APoisonedIncarnationIsReplacedByTheClocks) {
  std::filesystem::create_directories(dir_);
  const std::filesystem::path file = dir_ / kIncarnationFile;
  for (const std::string& poison :
       {std::to_string(UINT64_MAX), std::to_string(kMaxCounter), std::string("12abc"),
        std::string("")}) {
    // Written whole, as a daemon that went wrong would have written it;
    // and as an older domiand would have (no header, no previous copy).
    ASSERT_TRUE(WriteDurable(file, poison + "\n", 0640).ok());
    uint64_t next = Open(dir_).NextIncarnation().value();
    EXPECT_GT(next, 1'600'000'000u) << poison;
    EXPECT_LT(next, kMaxCounter) << poison;
    ASSERT_TRUE(RemoveDurable(file).ok());
    std::ofstream(file) << poison << "\n";
    next = Open(dir_).NextIncarnation().value();
    EXPECT_GT(next, 1'600'000'000u) << poison << " (legacy)";
    EXPECT_LT(next, kMaxCounter) << poison << " (legacy)";
  }
  // Just below the ceiling is still a number that can grow: kept.
  ASSERT_TRUE(WriteDurable(file, std::to_string(kMaxCounter - 2) + "\n", 0640).ok());
  EXPECT_EQ(Open(dir_).NextIncarnation().value(), kMaxCounter - 1);
}

TEST_F(NodeStateTest, RememberedPeersRoundTripAndBadLinesAreSkipped) {
  NodeState state = Open(dir_);
  EXPECT_TRUE(state.LoadPeers().empty());
  const std::vector<RememberedPeer> peers = {{"hall", "192.168.1.20:7420"},
                                             {"kitchen", "[fd00::21]:7420"}};
  ASSERT_TRUE(state.SavePeers(peers).ok());
  EXPECT_EQ(Open(dir_).LoadPeers(), peers);
  // As an older domiand wrote it, then edited by hand.
  std::ofstream(dir_ / kPeersFile, std::ios::trunc)
      << "hall 192.168.1.20:7420\n" << "kitchen [fd00::21]:7420\n"
      << "not valid!\n" << "attic\n" << "attic no-port\n" << std::string(2000, 'x') << "\n"
      << "garage 192.168.1.23:7420\n";
  auto loaded = Open(dir_).LoadPeers();
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(loaded.back(), (RememberedPeer{"garage", "192.168.1.23:7420"}));
  // Bounded, however long the file.
  std::vector<RememberedPeer> many;
  for (int i = 0; i < 100; ++i) many.push_back({"n" + std::to_string(i), "10.0.0.1:7420"});
  ASSERT_TRUE(state.SavePeers(many).ok());
  EXPECT_EQ(Open(dir_).LoadPeers().size(), NodeState::kMaxRememberedPeers);
}

TEST_F(NodeStateTest, TornFilesReadAsTheOnesBeforeThem) {
  NodeState state = Open(dir_);
  ASSERT_TRUE(state.SaveIncarnation(kMaxCounter - 10).ok());
  ASSERT_TRUE(state.SaveIncarnation(kMaxCounter - 5).ok());
  std::filesystem::resize_file(dir_ / kIncarnationFile, 30);
  EXPECT_EQ(Open(dir_).NextIncarnation().value(), kMaxCounter - 9);

  const std::vector<RememberedPeer> before = {{"hall", "192.168.1.20:7420"}};
  ASSERT_TRUE(state.SavePeers(before).ok());
  ASSERT_TRUE(state.SavePeers({{"hall", "192.168.1.20:7420"}, {"attic", "10.0.0.9:7420"}}).ok());
  std::filesystem::resize_file(dir_ / kPeersFile, 0);
  EXPECT_EQ(Open(dir_).LoadPeers(), before);
}

TEST_F(NodeStateTest, AnIdFileThatCannotBeReadIsReportedNotReplaced) {
  ASSERT_TRUE(Open(dir_).LoadOrCreateNodeId().ok());
  // The header (92 bytes for a UUID and its newline), then 10 of those.
  std::filesystem::resize_file(dir_ / kNodeIdFile, 102);
  const absl::StatusOr<std::string> torn = Open(dir_).LoadOrCreateNodeId();
  ASSERT_FALSE(torn.ok()) << "read " << *torn;
  EXPECT_EQ(StatusMessage(torn.status()),
            (dir_ / kNodeIdFile).string() + " is truncated: 10 of 37 bytes, and it has no "
                                            "previous copy; remove it to generate a new id");
}

TEST_F(NodeStateTest, CorruptIdIsReportedNotReplaced) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / kNodeIdFile) << "not a valid id!\n";
  const absl::StatusOr<std::string> id = Open(dir_).LoadOrCreateNodeId();
  ASSERT_FALSE(id.ok()) << "expected an error";
  const std::string error = StatusMessage(id.status());
  EXPECT_NE(error.find(kNodeIdFile), std::string::npos) << error;
}

TEST_F(NodeStateTest, UnwritableFolderIsAClearError) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  const absl::StatusOr<NodeState> state = NodeState::Open(dir_ / "file" / "sub");
  ASSERT_FALSE(state.ok());
  // The daemon logs this and exits: it must say which folder.
  EXPECT_NE(StatusMessage(state.status()).find((dir_ / "file" / "sub").string()), std::string::npos)
      << StatusMessage(state.status());
}

}  // namespace
}  // namespace domian::node
