#include "core/membership/discovered_peers.h"

#include <gtest/gtest.h>

namespace domian::membership {
namespace {

using std::chrono::seconds;

class DiscoveredPeersTest : public ::testing::Test {
 protected:
  std::vector<std::string> Due(const std::function<bool(const std::string&)>& is_live =
                                   [](const std::string&) { return false; }) {
    std::vector<std::string> addresses;
    for (const HeartbeatTarget& target : peers_.Due(clock_.Now(), is_live)) {
      EXPECT_TRUE(target.id.empty());  // contacted like a seed: full identity list
      addresses.push_back(target.address);
    }
    return addresses;
  }

  FakeClock clock_;
  DiscoveredPeers peers_{Millis(1000)};
};

TEST_F(DiscoveredPeersTest, ANewAddressIsDueAtOnceThenAfterGrowingPauses) {
  peers_.Add("b", "10.0.0.2:7420", clock_.Now());
  EXPECT_EQ(Due(), std::vector<std::string>{"10.0.0.2:7420"});
  EXPECT_TRUE(Due().empty());
  for (const int pause : {1, 2, 4, 8, 16, 30, 30}) {
    clock_.Advance(seconds(pause) - Millis(1));
    EXPECT_TRUE(Due().empty()) << pause;
    clock_.Advance(Millis(1));
    EXPECT_EQ(Due().size(), 1u) << pause;
  }
}

TEST_F(DiscoveredPeersTest, AReannouncedRecordIsDueAgainAtOnce) {
  peers_.Add("b", "10.0.0.2:7420", clock_.Now());
  Due();
  clock_.Advance(seconds(1));
  Due();  // next pause: 2 s
  peers_.Add("b", "10.0.0.2:7420", clock_.Now());  // e.g. b restarted
  EXPECT_EQ(Due().size(), 1u);
  clock_.Advance(seconds(1));
  EXPECT_EQ(Due().size(), 1u);  // the pauses started over
}

TEST_F(DiscoveredPeersTest, ALiveDomainsAddressIsNotContacted) {
  peers_.Add("b", "10.0.0.2:7420", clock_.Now());
  EXPECT_TRUE(Due([](const std::string& id) { return id == "b"; }).empty());
  // Once b is no longer live, the address is worth a call again.
  EXPECT_EQ(Due().size(), 1u);
}

TEST_F(DiscoveredPeersTest, TheAnsweringIdCountsNotTheClaimedOne) {
  peers_.Add("claims-to-be-x", "10.0.0.2:7420", clock_.Now());
  Due();
  peers_.Answered("10.0.0.2:7420", "b");
  clock_.Advance(seconds(60));
  EXPECT_TRUE(Due([](const std::string& id) { return id == "b"; }).empty());
  EXPECT_EQ(Due([](const std::string& id) { return id == "claims-to-be-x"; }).size(), 1u);
}

TEST_F(DiscoveredPeersTest, OwnAndRemovedAddressesAreNeverDue) {
  peers_.Add("a", "10.0.0.1:7420", clock_.Now());
  peers_.Add("b", "10.0.0.2:7420", clock_.Now());
  peers_.IsSelf("10.0.0.1:7420");
  peers_.Remove("10.0.0.2:7420");
  peers_.Add("a", "10.0.0.1:7420", clock_.Now());  // re-announced: still us
  EXPECT_TRUE(Due().empty());
  EXPECT_FALSE(peers_.Contains("10.0.0.2:7420"));
}

TEST_F(DiscoveredPeersTest, HoldsABoundedNumberOfAddresses) {
  for (size_t i = 0; i < DiscoveredPeers::kMaxAddresses + 10; ++i) {
    peers_.Add("n" + std::to_string(i), "10.1.0." + std::to_string(i) + ":7420", clock_.Now());
  }
  EXPECT_EQ(peers_.size(), DiscoveredPeers::kMaxAddresses);
}

}  // namespace
}  // namespace domian::membership
