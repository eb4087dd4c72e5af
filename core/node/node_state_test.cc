// NodeState: the id and incarnation kept across restarts.
#include "core/node/node_state.h"

#include <gtest/gtest.h>

#include <fstream>

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
  std::filesystem::path dir_;
};

TEST_F(NodeStateTest, GeneratesAnIdOnceAndKeepsIt) {
  const std::string first = NodeState(dir_ / "nested").LoadOrCreateNodeId();
  EXPECT_TRUE(IsValidNodeId(first)) << first;
  EXPECT_EQ(first.size(), 36u);  // a UUID
  EXPECT_EQ(NodeState(dir_ / "nested").LoadOrCreateNodeId(), first);
  EXPECT_NE(NodeState(dir_ / "other").LoadOrCreateNodeId(), first);
}

TEST_F(NodeStateTest, IncarnationGrowsOnEveryStart) {
  NodeState state(dir_);
  const uint64_t first = state.NextIncarnation();
  const uint64_t second = NodeState(dir_).NextIncarnation();
  EXPECT_GT(second, first);
  state.SaveIncarnation(second + 100);  // a refutation raised it
  EXPECT_EQ(NodeState(dir_).NextIncarnation(), second + 101);
}

TEST_F(NodeStateTest, WipedFolderStillStartsAboveEarlierLives) {
  // Wall-clock seconds seed the counter, so a fresh folder is not back at 1.
  const uint64_t fresh = NodeState(dir_).NextIncarnation();
  EXPECT_GT(fresh, 1'600'000'000u);
}

TEST_F(NodeStateTest, APoisonedIncarnationIsReplacedByTheClocks) {
  std::filesystem::create_directories(dir_);
  for (const std::string& poison :
       {std::to_string(UINT64_MAX), std::to_string(kMaxCounter), std::string("12abc"),
        std::string("")}) {
    std::ofstream(dir_ / kIncarnationFile) << poison << "\n";
    const uint64_t next = NodeState(dir_).NextIncarnation();
    EXPECT_GT(next, 1'600'000'000u) << poison;
    EXPECT_LT(next, kMaxCounter) << poison;
  }
  // Just below the ceiling is still a number that can grow: kept.
  std::ofstream(dir_ / kIncarnationFile) << kMaxCounter - 2 << "\n";
  EXPECT_EQ(NodeState(dir_).NextIncarnation(), kMaxCounter - 1);
}

TEST_F(NodeStateTest, RememberedPeersRoundTripAndBadLinesAreSkipped) {
  NodeState state(dir_);
  EXPECT_TRUE(state.LoadPeers().empty());
  const std::vector<RememberedPeer> peers = {{"hall", "192.168.1.20:7420"},
                                             {"kitchen", "[fd00::21]:7420"}};
  state.SavePeers(peers);
  EXPECT_EQ(NodeState(dir_).LoadPeers(), peers);
  std::ofstream(dir_ / kPeersFile, std::ios::app)
      << "not valid!\n" << "attic\n" << "attic no-port\n" << std::string(2000, 'x') << "\n"
      << "garage 192.168.1.23:7420\n";
  auto loaded = NodeState(dir_).LoadPeers();
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(loaded.back(), (RememberedPeer{"garage", "192.168.1.23:7420"}));
  // Bounded, however long the file.
  std::vector<RememberedPeer> many;
  for (int i = 0; i < 100; ++i) many.push_back({"n" + std::to_string(i), "10.0.0.1:7420"});
  state.SavePeers(many);
  EXPECT_EQ(NodeState(dir_).LoadPeers().size(), NodeState::kMaxRememberedPeers);
}

TEST_F(NodeStateTest, CorruptIdIsReportedNotReplaced) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / kNodeIdFile) << "not a valid id!\n";
  try {
    NodeState(dir_).LoadOrCreateNodeId();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(kNodeIdFile), std::string::npos) << error.what();
  }
}

TEST_F(NodeStateTest, UnwritableFolderIsAClearError) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  EXPECT_THROW(NodeState(dir_ / "file" / "sub"), std::runtime_error);
}

}  // namespace
}  // namespace domian::node
