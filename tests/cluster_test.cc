// Three real domiand processes on 127.0.0.1 where A and C only know seed B:
// they learn each other, and every kind of departure (crash, pause,
// restart, clean stop) is seen the way it should be.
//
// Timings are the defaults (a crash is declared dead in ~1.2-1.5 s); the
// waits below are deliberately generous so a loaded CI machine never
// flakes. bench/ measures the real numbers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <thread>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

constexpr auto kConverge = 20s;  // generous: convergence takes ~1 s here
constexpr auto kDetect = 20s;    // generous: detection takes ~1.5 s here

// Ports are picked long before they are bound, so test processes side by
// side must not be handed the same one: each is held by a lock that any
// other open of its file, in any process, cannot take.
TEST(FreeLoopbackPortTest, APortHandedOutIsReservedAgainstOtherProcesses) {
  const uint16_t port = FreeLoopbackPort();
  const auto lock_file = std::filesystem::temp_directory_path() / "domian-test-ports" /
                         std::to_string(port);
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << lock_file << " was not created";
  EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0) << "port " << port << " is not reserved";
  EXPECT_EQ(errno, EWOULDBLOCK);
  ::close(fd);
  EXPECT_NE(FreeLoopbackPort(), port);
}

class ThreeNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    auto nodes = SeededDaemons(dir_.path(), {"node-b", "node-a", "node-c"});
    b_ = std::move(nodes[0]);
    a_ = std::move(nodes[1]);
    c_ = std::move(nodes[2]);
    b_->Start();
    a_->Start();
    c_->Start();
    ASSERT_TRUE(AllSeeAllAlive()) << Logs();
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << Logs();
  }

  std::vector<Daemon*> All() { return {a_.get(), b_.get(), c_.get()}; }

  bool AllSeeAllAlive() { return AllSeeEachOtherAlive(All(), kConverge); }

  bool BothSee(Daemon& gone, const std::string& state) {
    return Eventually(
        [&] {
          for (Daemon* observer : All()) {
            if (observer != &gone && PeerState(*observer, gone.id()) != state) return false;
          }
          return true;
        },
        kDetect);
  }

  std::string Logs() {
    std::string out;
    for (Daemon* daemon : All()) out += "---- " + daemon->id() + " ----\n" + daemon->Log();
    return out;
  }

  TempDir dir_{"domian-cluster-test"};
  std::unique_ptr<Daemon> a_, b_, c_;
};

TEST_F(ThreeNodes, NodesThatOnlyKnowTheSeedLearnEachOther) {
  // Converged in SetUp; check the JSON contract while we are here.
  const auto peers = Ctl(a_->address(), "peers");
  ASSERT_TRUE(peers);
  ASSERT_EQ(peers->size(), 2u);
  for (const auto& peer : *peers) {
    for (const char* key : {"id", "address", "state", "version", "services"}) {
      EXPECT_TRUE(peer.contains(key)) << key << " missing in " << peer.dump();
    }
    EXPECT_TRUE(peer["services"].is_array());
    EXPECT_EQ(peer["version"], "0.1.0");
  }
  const auto c_entry = PeerEntry(*a_, "node-c");
  ASSERT_TRUE(c_entry);
  EXPECT_EQ((*c_entry)["address"], c_->address());  // learned through B, correct address
  const auto status = Ctl(a_->address(), "status");
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["id"], "node-a");
  EXPECT_EQ((*status)["cluster"], "test");
  EXPECT_EQ((*status)["address"], a_->address());
  EXPECT_EQ((*status)["lonely"], false);
}

TEST_F(ThreeNodes, KilledNodeIsDeclaredDead) {
  c_->Signal(SIGKILL);
  ASSERT_TRUE(c_->WaitExit(5s));
  EXPECT_TRUE(BothSee(*c_, "dead")) << Logs();
  const auto entry = PeerEntry(*a_, "node-c");
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["left"], false);  // died silently, did not say goodbye
  EXPECT_EQ(PeerState(*a_, "node-b"), "alive");
  EXPECT_NE(a_->Log().find("peer node-c (" + c_->address() + ") is dead"), std::string::npos);
}

TEST_F(ThreeNodes, PausedNodeIsSuspectedThenComesBack) {
  c_->Signal(SIGSTOP);
  // Wait until A no longer thinks C is alive.
  EXPECT_TRUE(Eventually(
      [&] {
        const std::string state = PeerState(*a_, "node-c");
        return state == "suspect" || state == "dead";
      },
      kDetect))
      << Logs();
  const auto paused_incarnation = (*PeerEntry(*a_, "node-c"))["incarnation"].get<uint64_t>();
  c_->Signal(SIGCONT);
  EXPECT_TRUE(AllSeeAllAlive()) << Logs();
  // C did not, on waking, declare its peers dead: its own pause is not
  // their fault.
  EXPECT_EQ(c_->Log().find("peer node-a (" + a_->address() + ") is dead"), std::string::npos)
      << c_->Log();
  const auto entry = PeerEntry(*a_, "node-c");
  ASSERT_TRUE(entry);
  EXPECT_GE((*entry)["incarnation"].get<uint64_t>(), paused_incarnation);
}

TEST_F(ThreeNodes, RestartWithTheSameIdRejoins) {
  const auto before = (*PeerEntry(*a_, "node-c"))["incarnation"].get<uint64_t>();
  c_->Signal(SIGKILL);
  ASSERT_TRUE(c_->WaitExit(5s));
  ASSERT_TRUE(BothSee(*c_, "dead")) << Logs();
  c_->Start();  // same config: same id, address and state folder
  EXPECT_TRUE(AllSeeAllAlive()) << Logs();
  const auto after = (*PeerEntry(*a_, "node-c"))["incarnation"].get<uint64_t>();
  EXPECT_GT(after, before);
}

TEST_F(ThreeNodes, CleanStopIsSeenAsALeaveAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  c_->Signal(SIGTERM);
  const auto code = c_->WaitExit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  ASSERT_TRUE(BothSee(*c_, "dead")) << Logs();
  // `left` is only set by the goodbye; a timeout would leave it false.
  for (Daemon* observer : {a_.get(), b_.get()}) {
    const auto entry = PeerEntry(*observer, "node-c");
    ASSERT_TRUE(entry);
    EXPECT_EQ((*entry)["left"], true) << observer->id();
  }
  // Well under the silent-death timeout plus the time domiand takes to exit.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_NE(c_->Log().find("leaving the cluster"), std::string::npos);
}

TEST(Lonely, ANodeWithoutPeersSaysSo) {
  TempDir dir("domian-lonely-test");
  Daemon alone(dir.path(), {.id = "alone"});
  alone.Start();
  std::optional<nlohmann::json> status;
  ASSERT_TRUE(Eventually([&] { return (status = Ctl(alone.address(), "status")).has_value(); },
                         kConverge))
      << alone.Log();
  EXPECT_EQ((*status)["lonely"], true);
  const auto peers = Ctl(alone.address(), "peers");
  ASSERT_TRUE(peers);
  EXPECT_TRUE(peers->empty());
}

TEST(Clusters, NodesOfAnotherClusterDoNotPeer) {
  TempDir dir("domian-cluster-names-test");
  Daemon home(dir.path(), {.id = "home-node", .cluster = "home"});
  Daemon neighbour(dir.path(),
                   {.id = "neighbour", .cluster = "next-door", .seeds = {home.address()}});
  home.Start();
  neighbour.Start();
  // Their certificates name their clusters: the neighbour refuses home's
  // server in the handshake, before any message, and says why.
  EXPECT_TRUE(Eventually(
      [&] {
        return neighbour.Log().find("the server is node home-node of cluster home, not of "
                                    "cluster next-door") != std::string::npos;
      },
      kConverge))
      << home.Log() << neighbour.Log();
  const auto peers = Ctl(home.address(), "peers");
  ASSERT_TRUE(peers);
  EXPECT_TRUE(peers->empty());
  const auto theirs = Ctl(neighbour.address(), "peers");
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(theirs->empty());
}

}  // namespace
}  // namespace domian::testing
