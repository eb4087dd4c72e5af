// `bridge: auto`: the lights plugin finds the Hue bridge stand-in by its
// _hue._tcp record, through a real avahi-daemon of the test's own in a
// network namespace with only a loopback interface
// (tests/support/private_mdns.h). Each test runs in a process of its own
// (CTest), so each gets a fresh namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/cluster.h"
#include "tests/support/hue_bridge.h"
#include "tests/support/private_mdns.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr auto kSettle = 30s;  // generous: mDNS answers in ~1 s here
const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;

class LightsMdns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PrivateNetworkProblem().empty()) {
      GTEST_SKIP() << "no private network for mDNS: " << PrivateNetworkProblem();
    }
    mdns_.Start();
    MakePluginFolder(dir_.path() / "plugins", kPlugins, {"lights"});
    desk_ = bridge_.AddLight("Desk");
    user_ = bridge_.AddUser();
    // As a real bridge announces itself (lower-case id in the TXT record).
    record_ = mdns_.Publish("Philips Hue - 0D0A1E", bridge_.port(),
                            {"bridgeid=001788fffe0d0a1e", "modelid=BSB002"}, "_hue._tcp");
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << node_->Log() << mdns_.AvahiLog();
  }

  Daemon& Start(const std::string& config) {
    Daemon::Options options{.id = "hue-node"};
    options.extra_yaml = "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
                         "]\nservices:\n  lights:\n    config: " + config + "\n";
    node_ = std::make_unique<Daemon>(dir_.path(), options);
    node_->Start();
    return *node_;
  }

  json Status() {
    const CommandResult result = CallService(*node_, "lights", "status");
    return result.exit_code == 0 ? json::parse(result.out, nullptr, false) : json();
  }

  TempDir dir_{"domian-lights-mdns-test"};
  PrivateMdns mdns_{dir_.path()};
  HueBridge bridge_;
  std::string desk_, user_;
  std::unique_ptr<PrivateMdns::Publication> record_;
  std::unique_ptr<Daemon> node_;
};

TEST_F(LightsMdns, FindsTheBridgeByItsHueRecordAndUsesIt) {
  Start("{bridge: auto, username: " + user_ + ", poll_interval_ms: 300}");
  json status;
  ASSERT_TRUE(Eventually(
      [&] {
        status = Status();
        return status.is_object() && status["bridge"]["reachable"] == true;
      },
      kSettle))
      << status.dump();
  EXPECT_EQ(status["bridge"]["configured"], "auto");
  EXPECT_EQ(status["bridge"]["address"], bridge_.address());
  EXPECT_EQ(status["bridge"]["id"], "001788FFFE0D0A1E");
  const CommandResult set = CallService(*node_, "lights", "set", R"({"light": "Desk", "on": true})");
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(bridge_.LightState(desk_)["on"], true);
  EXPECT_THAT(node_->Log(), HasSubstr("found bridge 001788FFFE0D0A1E at " + bridge_.address()));
}

TEST_F(LightsMdns, ABridgeWithAnotherIdIsNotUsed) {
  Start("{bridge: auto, bridge_id: 001788FFFE000001, username: " + user_ + "}");
  json status;
  // Once the record has been seen (an earlier search may end with "no
  // bridge within 5000 ms" first).
  ASSERT_TRUE(Eventually(
      [&] {
        status = Status();
        return status.is_object() &&
               status["bridge"]["error"].get<std::string>().find(
                   "found bridge 001788FFFE0D0A1E, not 001788FFFE000001") != std::string::npos;
      },
      kSettle))
      << status.dump();
  EXPECT_EQ(status["bridge"]["reachable"], false);
  const CommandResult set = CallService(*node_, "lights", "set", R"({"light": "1", "on": true})");
  EXPECT_NE(set.exit_code, 0);
  EXPECT_EQ(bridge_.Stats().requests, 0) << "the bridge with another id was asked something";
}

}  // namespace
}  // namespace domian::testing

int main(int argc, char** argv) {
  const std::string problem = domian::testing::EnterPrivateNetwork();
  ::testing::InitGoogleTest(&argc, argv);
  if (!problem.empty()) std::cerr << "lights_mdns_test: " << problem << "\n";
  return RUN_ALL_TESTS();
}
