// The lights plugin (plugins/lights) in real domiand processes, talking
// HTTP to the Hue bridge stand-in (tests/support/hue_bridge.h) on
// 127.0.0.1: pairing with the link button, listing, setting lights,
// groups and scenes, a user the bridge does not know, the bridge going
// down and coming back, a burst that must stay within the bridge's real
// limits, and the pairing travelling with the service to another node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <thread>

#include "core/cli/control_client.h"
#include "tests/support/cluster.h"
#include "tests/support/hue_bridge.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr auto kSettle = 30s;  // generous: the service starts ~2 s after the node
constexpr auto kCallDeadline = 60s;
const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;

class Lights : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_dir_ = dir_.path() / "plugins";
    MakePluginFolder(plugin_dir_, kPlugins, {"lights"});
    desk_ = bridge_.AddLight("Desk");
    hall_ = bridge_.AddLight("Hall");
    HueBridge::LightSpec narrow{.name = "Lamp", .ct_min = 200, .ct_max = 454};
    lamp_ = bridge_.AddLight(narrow);
    kitchen_ = bridge_.AddGroup("Kitchen", {desk_, hall_});
    bridge_.AddScene("relax", kitchen_,
                     {{desk_, json{{"on", true}, {"bri", 77}, {"ct", 447}}},
                      {hall_, json{{"on", true}, {"bri", 33}, {"ct", 447}}}});
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (auto& daemon : daemons_) std::cerr << "---- " << daemon->id() << " ----\n" << daemon->Log();
  }

  // A node whose services: section lists lights with `config` (a YAML flow
  // mapping), `run` and `isolation`.
  Daemon& Add(const std::string& id, const std::string& config, const std::string& run = "prefer",
              const std::string& isolation = "process") {
    Daemon::Options options{.id = id};
    options.extra_yaml = "plugins:\n  dirs: [" + plugin_dir_.string() +
                         "]\nplacement:\n  migrate_after: 4s\nservices:\n  lights:\n    run: " +
                         run + "\n    isolation: " + isolation + "\n    config: " + config + "\n";
    if (!daemons_.empty()) options.seeds = {daemons_.front()->address()};
    daemons_.push_back(std::make_unique<Daemon>(dir_.path(), options));
    daemons_.back()->Start();
    return *daemons_.back();
  }

  std::string Config(const std::string& more = "") const {
    return "{bridge: \"" + bridge_.address() + "\", poll_interval_ms: 300" +
           (more.empty() ? "" : ", " + more) + "}";
  }

  CommandResult Call(const Daemon& asked, const std::string& command,
                     const std::string& args = "{}") {
    return CallService(asked, "lights", command, args, kCallDeadline);
  }
  // The reply of a call that must succeed.
  json Reply(const Daemon& asked, const std::string& command, const std::string& args = "{}") {
    const CommandResult result = Call(asked, command, args);
    EXPECT_EQ(result.exit_code, 0) << command << " " << args << ": " << result.err;
    const json reply = json::parse(result.out, nullptr, false);
    EXPECT_FALSE(reply.is_discarded()) << result.out;
    return reply;
  }
  json Status(const Daemon& asked) {
    const CommandResult result = Call(asked, "status");
    if (result.exit_code != 0) return json();
    return json::parse(result.out, nullptr, false);
  }

  // The detail `domianctl services` shows for lights (its health check).
  std::string Detail(const Daemon& asked) {
    const auto services = Ctl(asked.address(), "services");
    if (!services) return "(no answer)";
    for (const auto& row : *services) {
      if (row["name"] == "lights") return row.value("detail", "");
    }
    return "(not listed)";
  }

  // True once `asked` runs lights paired with a bridge it reaches;
  // `status` is its last status.
  bool PairedAndReachable(const Daemon& asked, json& status) {
    return Eventually(
        [&] {
          status = Status(asked);
          return status["paired"] == true && status["bridge"]["reachable"] == true;
        },
        kSettle);
  }

  bool Running(const Daemon& asked) {
    const auto owners = ServiceOwners(asked, "lights");
    return owners.size() == 1 && owners.begin()->first == asked.id();
  }

  // Starts `pair` on `node`, presses the link button `after` a while.
  CommandResult PairPressingTheButton(const Daemon& node, std::chrono::milliseconds after = 1500ms) {
    auto pairing = std::async(std::launch::async, [&] { return Call(node, "pair"); });
    std::this_thread::sleep_for(after);  // pair is asking by now
    bridge_.PressLinkButton();
    return pairing.get();
  }

  TempDir dir_{"domian-lights-test"};
  std::filesystem::path plugin_dir_;
  HueBridge bridge_;
  std::string desk_, hall_, lamp_, kitchen_;
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

TEST_F(Lights, PairsWithTheLinkButtonThenListsAndSetsLightsGroupsAndScenes) {
  Daemon& node = Add("hue-node", Config());
  ASSERT_TRUE(Eventually([&] { return Running(node); }, kSettle));
  ASSERT_TRUE(Eventually([&] { return Status(node)["bridge"]["reachable"] == true; }, kSettle));
  json status = Status(node);
  EXPECT_EQ(status["paired"], false);
  EXPECT_EQ(status["bridge"]["id"], "001788FFFE0D0A1E");
  EXPECT_EQ(status["bridge"]["api_version"], kHueApiVersion);

  // The health check says so where everyone looks.
  EXPECT_TRUE(Eventually([&] { return Detail(node).find("not paired") == 0; }, kSettle))
      << Detail(node);

  // Not paired yet: a clear error, not a crash.
  const CommandResult early = Call(node, "lights");
  EXPECT_NE(early.exit_code, 0);
  EXPECT_THAT(early.err, HasSubstr("not paired with the bridge"));

  // Nobody presses the button.
  const CommandResult missed = Call(node, "pair", R"({"timeout_s": 2})");
  EXPECT_NE(missed.exit_code, 0);
  EXPECT_THAT(missed.err, HasSubstr("the link button was not pressed within 2 s"));

  // Slower than the plugin host's health checks may go unanswered (2 x
  // 2 s): a call waiting for a person must not get its process killed.
  const CommandResult paired = PairPressingTheButton(node, 6s);
  ASSERT_EQ(paired.exit_code, 0) << paired.err;
  EXPECT_THAT(node.Log(), ::testing::Not(HasSubstr("stopped answering")));
  EXPECT_TRUE(Eventually([&] { return Detail(node).empty(); }, kSettle)) << Detail(node);
  const json pairing = json::parse(paired.out);
  EXPECT_EQ(pairing["paired"], true);
  ASSERT_EQ(bridge_.Users(), std::vector<std::string>{pairing["username"].get<std::string>()});
  EXPECT_FALSE(bridge_.ClientKey(pairing["username"]).empty());

  const json lights = Reply(node, "lights");
  ASSERT_EQ(lights["lights"].size(), 3U);
  EXPECT_EQ(lights["lights"][0]["name"], "Desk");
  EXPECT_EQ(lights["lights"][0]["on"], false);

  // The desk light is off: brightness alone would get error 201.
  const json set = Reply(node, "set", R"({"light": "desk", "bri": 100})");
  EXPECT_EQ(set["applied"], true);
  EXPECT_EQ(set["fields"]["bri"]["ok"], true);
  EXPECT_EQ(bridge_.LightState(desk_)["on"], true);
  EXPECT_EQ(bridge_.LightState(desk_)["bri"], 100);

  // Per-field results: the lamp accepts ct 200-454 only.
  const CommandResult partly = Call(node, "set", R"({"light": ")" + lamp_ + R"(", "on": true, "ct": 160})");
  EXPECT_NE(partly.exit_code, 0);
  EXPECT_THAT(partly.err, HasSubstr("on set"));
  EXPECT_THAT(partly.err, HasSubstr("ct refused (error 7"));
  EXPECT_EQ(bridge_.LightState(lamp_)["on"], true);

  // bri 0 is not "off" on a Hue bridge: refused before it is sent.
  const CommandResult zero = Call(node, "set", R"({"light": "Desk", "bri": 0})");
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_THAT(zero.err, HasSubstr("use \"on\": false"));

  Reply(node, "group_set", R"({"group": "Kitchen", "ct": 250})");
  EXPECT_EQ(bridge_.LightState(desk_)["ct"], 250);
  EXPECT_EQ(bridge_.LightState(hall_)["ct"], 250);  // switched on with the group
  Reply(node, "group_set", R"({"group": 0, "on": false})");
  for (const std::string& id : {desk_, hall_, lamp_}) {
    EXPECT_EQ(bridge_.LightState(id)["on"], false) << id;
  }

  const json scene = Reply(node, "scene", R"({"scene": "relax"})");
  EXPECT_EQ(scene["group"], kitchen_);
  EXPECT_EQ(bridge_.LightState(desk_)["bri"], 77);
  EXPECT_EQ(bridge_.LightState(hall_)["bri"], 33);
  EXPECT_EQ(bridge_.LightState(hall_)["on"], true);

  const CommandResult unknown = Call(node, "set", R"({"light": "Attic", "on": true})");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("the bridge has no light \"Attic\""));
  EXPECT_EQ(bridge_.Stats().refused_429() + bridge_.Stats().refused_503, 0);
}

TEST_F(Lights, AUserTheBridgeDoesNotKnowIsAClearErrorAndPairingAgainMends) {
  const std::string user = bridge_.AddUser();
  Daemon& node = Add("hue-node", Config());
  ASSERT_TRUE(Eventually([&] { return Running(node); }, kSettle));
  ASSERT_EQ(PairPressingTheButton(node).exit_code, 0);
  const std::string paired = bridge_.Users().front() == user ? bridge_.Users().back()
                                                             : bridge_.Users().front();
  Reply(node, "set", R"({"light": "Desk", "on": true})");

  // The bridge forgets us (reset, or removed in the app): error 1.
  bridge_.RemoveUser(paired);
  const CommandResult refused = Call(node, "set", R"({"light": "Desk", "on": false})");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("does not know the username"));
  EXPECT_TRUE(Eventually([&] { return Status(node)["paired"] == false; }, kSettle));
  EXPECT_TRUE(node.Running());
  EXPECT_EQ(bridge_.LightState(desk_)["on"], true);

  ASSERT_EQ(PairPressingTheButton(node).exit_code, 0);
  Reply(node, "set", R"({"light": "Desk", "on": false})");
  EXPECT_EQ(bridge_.LightState(desk_)["on"], false);

  // A username given in node.yaml that the bridge does not know (a node
  // of its own: a singleton runs with the best-ranked node's config).
  node.Signal(SIGTERM);
  ASSERT_EQ(node.WaitExit(kSettle), 0);
  Daemon& other = Add("other", Config("username: not-a-user"));
  ASSERT_TRUE(Eventually([&] { return Running(other); }, kSettle));
  CommandResult lights;
  EXPECT_TRUE(Eventually(
      [&] {
        lights = Call(other, "lights");
        return lights.exit_code != 0 && lights.err.find("in node.yaml") != std::string::npos;
      },
      kSettle))
      << lights.err;
}

TEST_F(Lights, TheBridgeGoingDownIsReportedAndQueuedCommandsGoOutWhenItReturns) {
  const std::string user = bridge_.AddUser();
  // Inline this time: the daemon runs the health check itself.
  Daemon& node = Add("hue-node", Config("username: " + user + ", request_timeout_ms: 1000"),
                     "prefer", "inline");
  ASSERT_TRUE(Eventually([&] { return Running(node); }, kSettle));
  ASSERT_TRUE(Eventually([&] { return Status(node)["paired"] == true; }, kSettle));
  EXPECT_EQ(Detail(node), "");

  bridge_.SetDown(true);
  ASSERT_TRUE(Eventually([&] { return Status(node)["bridge"]["reachable"] == false; }, kSettle));
  EXPECT_THAT(Status(node)["bridge"]["error"].get<std::string>(), HasSubstr("no answer"));
  EXPECT_TRUE(Eventually([&] { return Detail(node).find("no answer from the bridge") == 0; },
                         kSettle))
      << Detail(node);
  const CommandResult waited = Call(node, "set", R"({"light": "Desk", "on": true})");
  EXPECT_NE(waited.exit_code, 0);
  EXPECT_THAT(waited.err, HasSubstr("no answer from the bridge"));
  // Queued without waiting: sent once the bridge is back.
  const json queued = Reply(node, "set", R"({"light": "Hall", "bri": 42, "wait": false})");
  EXPECT_EQ(queued["queued"], true);
  EXPECT_TRUE(node.Running());

  bridge_.SetDown(false);
  EXPECT_TRUE(Eventually([&] { return bridge_.LightState(hall_)["bri"] == 42; }, kSettle));
  EXPECT_EQ(bridge_.LightState(hall_)["on"], true);
  // The waited one was kept queued too.
  EXPECT_TRUE(Eventually([&] { return bridge_.LightState(desk_)["on"] == true; }, kSettle));
  EXPECT_TRUE(Eventually([&] { return Status(node)["bridge"]["reachable"] == true; }, kSettle));
  EXPECT_TRUE(Eventually([&] { return Detail(node).empty(); }, kSettle)) << Detail(node);
  EXPECT_THAT(node.Log(), HasSubstr("bridge unreachable"));
}

TEST_F(Lights, ABurstOfAHundredSetsStaysWithinTheBridgesLimitsAndEndsInTheLastState) {
  std::vector<std::string> ids = {desk_, hall_, lamp_};
  ids.push_back(bridge_.AddLight("Porch"));
  ids.push_back(bridge_.AddLight("Stairs"));
  const std::string user = bridge_.AddUser();
  Daemon& node = Add("hue-node", Config("username: " + user));
  ASSERT_TRUE(Eventually([&] { return Running(node); }, kSettle));
  ASSERT_TRUE(Eventually([&] { return Status(node)["lights_known"] == 5; }, kSettle));
  bridge_.ResetStats();

  // Through the control API domianctl uses, without a process per call,
  // so the calls come faster than the bridge takes commands.
  auto owned = ControlClientFor(node.address());
  cli::ControlClient& client = *owned;
  std::map<std::string, int> last;
  for (int i = 0; i < 100; ++i) {
    const std::string& id = ids[static_cast<size_t>(i) % ids.size()];
    const int bri = 1 + (i * 37) % 254;
    const auto reply = client.Call("lights", "set",
                                   R"({"light": ")" + id + R"(", "bri": )" + std::to_string(bri) +
                                       R"(, "wait": false})");
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    ASSERT_EQ((*reply)["queued"], true);
    last[id] = bri;
  }
  ASSERT_TRUE(Eventually(
      [&] {
        const json status = Status(node);
        return status["queued"] == 0 && status["in_flight"] == 0;
      },
      kSettle));
  for (const auto& [id, bri] : last) {
    EXPECT_EQ(bridge_.LightState(id)["bri"], bri) << "light " << id;
    EXPECT_EQ(bridge_.LightState(id)["on"], true) << "light " << id;
  }
  const HueBridgeStats stats = bridge_.Stats();
  EXPECT_EQ(stats.refused_429(), 0);
  EXPECT_EQ(stats.refused_503, 0);
  EXPECT_LE(stats.max_in_flight, kHueMaxInFlight);
  // 100 calls in well under the 10 s the bridge needs for 100 commands:
  // the newest state per light replaced the ones still queued.
  EXPECT_LT(stats.accepted_light_commands, 100);
  std::cout << "100 sets became " << stats.accepted_light_commands << " light commands\n";
}

TEST_F(Lights, ABridgeWithAnotherIdAtTheAddressIsNeverSentAnything) {
  const std::string user = bridge_.AddUser();
  Daemon& node = Add("hue-node", Config("username: " + user + ", bridge_id: 001788FFFE000001"));
  ASSERT_TRUE(Eventually([&] { return Running(node); }, kSettle));
  json status;
  ASSERT_TRUE(Eventually(
      [&] {
        status = Status(node);
        return status.is_object() &&
               status["bridge"]["error"].get<std::string>().find("is 001788FFFE0D0A1E, not "
                                                                 "001788FFFE000001") !=
                   std::string::npos;
      },
      kSettle))
      << status.dump();
  const CommandResult set = Call(node, "set", R"({"light": "1", "on": true})");
  EXPECT_NE(set.exit_code, 0);
  EXPECT_THAT(set.err, HasSubstr("(bridge_id in node.yaml)"));
  const CommandResult lights = Call(node, "lights");
  EXPECT_NE(lights.exit_code, 0);
  EXPECT_EQ(bridge_.Stats().accepted_light_commands, 0);
  EXPECT_EQ(bridge_.LightState(desk_)["on"], false);
  EXPECT_TRUE(Eventually(
      [&] { return Detail(node).find("(bridge_id in node.yaml)") != std::string::npos; }, kSettle))
      << Detail(node);
}

TEST_F(Lights, StoppingDoesNotWaitForTheNextPoll) {
  const std::string user = bridge_.AddUser();
  // Inline, so the daemon's own exit waits for the plugin's threads.
  Daemon& node = Add("hue-node", "{bridge: \"" + bridge_.address() + "\", username: " + user +
                                     ", poll_interval_ms: 600000}",
                     "prefer", "inline");
  ASSERT_TRUE(Eventually([&] { return Running(node); }, kSettle));
  ASSERT_TRUE(Eventually([&] { return Status(node)["paired"] == true; }, kSettle));
  const auto began = std::chrono::steady_clock::now();
  node.Signal(SIGTERM);
  ASSERT_EQ(node.WaitExit(kSettle), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
}

TEST_F(Lights, ThePairingAndKnownStatesTravelWithTheServiceToAnotherNode) {
  Daemon& spare = Add("spare", Config(), "allow");
  Daemon& home = Add("home", Config(), "prefer");
  ASSERT_TRUE(AllSeeEachOtherAlive({&spare, &home}, kSettle));
  ASSERT_TRUE(Eventually([&] { return Running(home); }, kSettle));
  ASSERT_EQ(PairPressingTheButton(home).exit_code, 0);
  Reply(home, "set", R"({"light": "Desk", "on": true, "bri": 150})");

  // A clean stop hands the service over with its state: no pairing again.
  home.Signal(SIGTERM);
  ASSERT_EQ(home.WaitExit(kSettle), 0);
  ASSERT_TRUE(Eventually([&] { return Running(spare); }, kSettle));
  json status;
  ASSERT_TRUE(PairedAndReachable(spare, status)) << status.dump();
  EXPECT_EQ(status["pairing"], "service state");
  Reply(spare, "set", R"({"light": "Desk", "bri": 90})");
  EXPECT_EQ(bridge_.LightState(desk_)["bri"], 90);
  EXPECT_EQ(bridge_.Users().size(), 1U) << "paired again instead of using the state";

  // Back on the preferred node, with the state it left with.
  home.Start();
  ASSERT_TRUE(Eventually([&] { return Running(home); }, kSettle));
  ASSERT_TRUE(Eventually([&] { return Status(home)["paired"] == true; }, kSettle));
  Reply(spare, "set", R"({"light": "Desk", "bri": 60})");  // routed to home
  EXPECT_EQ(bridge_.LightState(desk_)["bri"], 60);
  EXPECT_EQ(bridge_.Users().size(), 1U);
}

// A power cut, not a clean stop: the owner is SIGKILLed, and a node that
// never ran lights takes over. The pairing was copied to the peers before
// `pair` was answered (ABI 1.1 save_now, replicated), so the new owner
// sets a light with it: nobody walks to the bridge's button.
TEST_F(Lights, APairingSurvivesItsOwnersKillOnANodeThatNeverRanLights) {
  Daemon& home = Add("home", Config(), "prefer");
  Daemon& spare = Add("spare", Config(), "allow");
  ASSERT_TRUE(AllSeeEachOtherAlive({&home, &spare}, kSettle));
  ASSERT_TRUE(Eventually([&] { return Running(home); }, kSettle));
  ASSERT_EQ(PairPressingTheButton(home).exit_code, 0);

  home.Signal(SIGKILL);
  ASSERT_TRUE(home.WaitExit(kSettle));
  ASSERT_TRUE(Eventually([&] { return Running(spare); }, kSettle)) << "no failover";
  json status;
  ASSERT_TRUE(PairedAndReachable(spare, status)) << status.dump();
  Reply(spare, "set", R"({"light": "Desk", "on": true, "bri": 42})");
  EXPECT_EQ(bridge_.LightState(desk_)["bri"], 42);
  EXPECT_EQ(bridge_.Users().size(), 1U) << "paired again instead of using the copied state";
  EXPECT_THAT(spare.Log(), HasSubstr("service lights: starting from the copy of its state from"));
}

}  // namespace
}  // namespace domian::testing
