// The Hue bridge stand-in (tests/support/hue_bridge.h) against a plain
// httplib client, so the lights plugin's tests can rely on it behaving like
// a real bridge: pairing, per-field success and error items, groups and
// scenes, the rate limits, and going down and coming back.
#include "tests/support/hue_bridge.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace domian::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Generous: loopback answers in milliseconds; these only end a hung test.
constexpr auto kConnectTimeout = 2s;
constexpr auto kReadTimeout = 20s;
// How long a test waits for something the bridge is about to do.
constexpr auto kWaitTimeout = 10s;
constexpr auto kPoll = 2ms;

std::unique_ptr<httplib::Client> ClientFor(const HueBridge& bridge) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", bridge.port());
  client->set_connection_timeout(kConnectTimeout);
  client->set_read_timeout(kReadTimeout);
  client->set_write_timeout(kReadTimeout);
  return client;
}

// The body of a successful HTTP exchange; fails the test otherwise.
json Body(const httplib::Result& result) {
  EXPECT_TRUE(result) << "no answer: " << httplib::to_string(result.error());
  if (!result) return json();
  EXPECT_EQ(result->status, 200) << result->body;
  if (result->status != 200) return json();
  return json::parse(result->body, nullptr, false);
}

// The one item of an API v1 answer that is about `address`.
json ItemFor(const json& items, const std::string& address) {
  for (const auto& item : items) {
    if (item.contains("success") && item["success"].contains(address)) return item;
    if (item.contains("error") && item["error"].value("address", "") == address) return item;
  }
  ADD_FAILURE() << "no item for " << address << " in " << items.dump();
  return json();
}

int ErrorType(const json& item) {
  return item.contains("error") ? item["error"].value("type", -1) : -1;
}

// A bridge with one paired user and a client for it.
class BridgeFixture : public ::testing::Test {
 protected:
  explicit BridgeFixture(const HueBridge::Options& options)
      : bridge_(options), user_(bridge_.AddUser()), client_(ClientFor(bridge_)) {}

  std::string Api(const std::string& rest) const { return "/api/" + user_ + rest; }
  json Put(const std::string& path, const json& body) {
    return Body(client_->Put(path.c_str(), body.dump(), "application/json"));
  }

  HueBridge bridge_;
  std::string user_;
  std::unique_ptr<httplib::Client> client_;
};

// For the API's behaviour: rate limits raised far out of reach, so that a
// test sending many commands checks what it means to (the limits have
// their own tests, below).
class HueBridgeTest : public BridgeFixture {
 protected:
  static constexpr int kOutOfReach = 1000000;
  static HueBridge::Options Relaxed() {
    HueBridge::Options options;
    options.light_commands_per_window = kOutOfReach;
    options.group_commands_per_window = kOutOfReach;
    return options;
  }
  HueBridgeTest() : BridgeFixture(Relaxed()) {}
};

// For the limits: a bridge with a real bridge's limits.
// A real bridge's limits, counted over a minute rather than a second: a
// burst can never take that long, so the limit tests cannot depend on the
// machine's speed (the sliding one-second window has a test of its own).
constexpr auto kLimitTestWindow = std::chrono::minutes(1);

class HueBridgeLimitsTest : public BridgeFixture {
 protected:
  HueBridgeLimitsTest() : BridgeFixture([] {
    HueBridge::Options options;
    options.rate_window = kLimitTestWindow;
    return options;
  }()) {}
};

TEST(HueBridge, ConfigNeedsNoLogin) {
  HueBridge::Options options;
  options.bridge_id = "001788FFFE123456";
  HueBridge bridge(options);
  auto client = ClientFor(bridge);
  const json config = Body(client->Get("/api/config"));
  EXPECT_EQ(config["bridgeid"], "001788FFFE123456");
  EXPECT_EQ(config["apiversion"], "1.56.0");
  EXPECT_TRUE(config["swversion"].is_string());
  EXPECT_TRUE(config["name"].is_string());
  EXPECT_EQ(config["mac"], "00:17:88:12:34:56");
  EXPECT_EQ(bridge.address(), "127.0.0.1:" + std::to_string(bridge.port()));
}

TEST(HueBridge, PairingNeedsTheLinkButton) {
  HueBridge bridge;
  auto client = ClientFor(bridge);
  const std::string request = R"({"devicetype":"domian#node1","generateclientkey":true})";

  json answer = Body(client->Post("/api", request, "application/json"));
  ASSERT_EQ(answer.size(), 1u) << answer.dump();
  EXPECT_EQ(ErrorType(answer[0]), 101);
  EXPECT_EQ(answer[0]["error"]["description"], "link button not pressed");
  EXPECT_TRUE(bridge.Users().empty());

  bridge.PressLinkButton();
  answer = Body(client->Post("/api", request, "application/json"));
  ASSERT_EQ(answer.size(), 1u) << answer.dump();
  ASSERT_TRUE(answer[0].contains("success")) << answer.dump();
  const std::string username = answer[0]["success"]["username"];
  const std::string clientkey = answer[0]["success"]["clientkey"];
  EXPECT_EQ(username.size(), 40u);
  EXPECT_EQ(clientkey.size(), 32u);
  EXPECT_EQ(clientkey.find_first_not_of("0123456789ABCDEF"), std::string::npos) << clientkey;
  EXPECT_EQ(bridge.ClientKey(username), clientkey);

  // The new user is known; a made-up one is not, with HTTP 200 all the same.
  bridge.AddLight("Desk");
  EXPECT_TRUE(Body(client->Get(("/api/" + username + "/lights").c_str())).contains("1"));
  const json unknown = Body(client->Get("/api/nobody/lights"));
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(ErrorType(unknown[0]), 1);
  EXPECT_EQ(unknown[0]["error"]["address"], "/");
  EXPECT_EQ(unknown[0]["error"]["description"], "unauthorized user");

  // A user the bridge forgot is unknown again.
  bridge.RemoveUser(username);
  EXPECT_EQ(ErrorType(Body(client->Get(("/api/" + username + "/lights").c_str()))[0]), 1);
}

TEST(HueBridge, PairingWindowCloses) {
  HueBridge::Options options;
  options.link_window = 100ms;
  HueBridge bridge(options);
  auto client = ClientFor(bridge);
  bridge.PressLinkButton();
  // Only lateness is possible here, so any margin is safe.
  std::this_thread::sleep_for(options.link_window + 400ms);
  const json answer =
      Body(client->Post("/api", R"({"devicetype":"domian#late"})", "application/json"));
  EXPECT_EQ(ErrorType(answer[0]), 101);
}

TEST(HueBridge, PairingValidatesTheBody) {
  HueBridge bridge;
  auto client = ClientFor(bridge);
  bridge.PressLinkButton();
  EXPECT_EQ(ErrorType(Body(client->Post("/api", "{not json", "application/json"))[0]), 2);
  EXPECT_EQ(ErrorType(Body(client->Post("/api", "{}", "application/json"))[0]), 5);
  // Without generateclientkey there is no client key.
  const json answer =
      Body(client->Post("/api", R"({"devicetype":"domian#old"})", "application/json"));
  ASSERT_TRUE(answer[0].contains("success")) << answer.dump();
  EXPECT_FALSE(answer[0]["success"].contains("clientkey"));
}

TEST_F(HueBridgeTest, ListsLights) {
  bridge_.AddLight("Desk");
  bridge_.AddLight(HueBridge::LightSpec{.name = "Hall", .type = "Color temperature light",
                                        .model_id = "LTW001", .ct_min = 153, .ct_max = 454});
  const json lights = Body(client_->Get(Api("/lights").c_str()));
  ASSERT_EQ(lights.size(), 2u) << lights.dump();
  EXPECT_EQ(lights["1"]["name"], "Desk");
  EXPECT_EQ(lights["2"]["modelid"], "LTW001");
  for (const auto& key : {"on", "bri", "hue", "sat", "xy", "ct", "reachable", "colormode"}) {
    EXPECT_TRUE(lights["1"]["state"].contains(key)) << key;
  }
  EXPECT_TRUE(lights["1"]["uniqueid"].is_string());
  EXPECT_EQ(lights["1"]["state"], bridge_.LightState("1"));
  EXPECT_EQ(Body(client_->Get(Api("/lights/2").c_str()))["name"], "Hall");
  EXPECT_EQ(ErrorType(Body(client_->Get(Api("/lights/9").c_str()))[0]), 3);
  EXPECT_TRUE(bridge_.LightState("9").is_null());
}

TEST_F(HueBridgeTest, EveryFieldSucceedsWithinRange) {
  const std::string id = bridge_.AddLight("Desk");
  const json command = {{"on", true}, {"bri", 100},   {"hue", 65535},        {"sat", 0},
                        {"xy", {0.3, 0.6}}, {"ct", 153}, {"transitiontime", 4}};
  const json items = Put(Api("/lights/" + id + "/state"), command);
  ASSERT_EQ(items.size(), command.size()) << items.dump();
  for (const auto& [field, value] : command.items()) {
    const std::string address = "/lights/" + id + "/state/" + field;
    EXPECT_EQ(ItemFor(items, address), json({{"success", {{address, value}}}}));
  }
  const json state = bridge_.LightState(id);
  EXPECT_EQ(state["on"], true);
  EXPECT_EQ(state["bri"], 100);
  EXPECT_EQ(state["hue"], 65535);
  EXPECT_EQ(state["xy"], json({0.3, 0.6}));
  EXPECT_EQ(state["ct"], 153);
  EXPECT_EQ(state["colormode"], "xy");  // xy wins over ct and hs
}

TEST_F(HueBridgeTest, InvalidValuesAreError7) {
  const std::string id = bridge_.AddLight("Desk");
  bridge_.SetLightState(id, {{"on", true}});
  const json before = bridge_.LightState(id);
  const std::vector<json> invalid = {
      {{"bri", 0}},          {{"bri", 255}},        {{"bri", "high"}}, {{"bri", 100.5}},
      {{"hue", 65536}},      {{"hue", -1}},         {{"sat", 255}},    {{"xy", {1.5, 0.2}}},
      {{"xy", {0.5}}},       {{"xy", "red"}},       {{"ct", 152}},     {{"ct", 501}},
      {{"on", "yes"}},       {{"on", 1}},           {{"transitiontime", -1}}};
  for (const auto& command : invalid) {
    const std::string field = command.begin().key();
    const std::string address = "/lights/" + id + "/state/" + field;
    const json items = Put(Api("/lights/" + id + "/state"), command);
    ASSERT_EQ(items.size(), 1u) << items.dump();
    EXPECT_EQ(ErrorType(items[0]), 7) << command.dump();
    EXPECT_EQ(items[0]["error"]["address"], address);
    EXPECT_NE(items[0]["error"]["description"].get<std::string>().find(field), std::string::npos);
  }
  EXPECT_EQ(bridge_.LightState(id), before);

  // One bad field does not spoil the others in the same request.
  const json items = Put(Api("/lights/" + id + "/state"), {{"bri", 300}, {"sat", 10}});
  EXPECT_EQ(ErrorType(ItemFor(items, "/lights/" + id + "/state/bri")), 7);
  EXPECT_TRUE(ItemFor(items, "/lights/" + id + "/state/sat").contains("success"));
  EXPECT_EQ(bridge_.LightState(id)["sat"], 10);
  EXPECT_EQ(bridge_.LightState(id)["bri"], before["bri"]);

  // A bulb's own ct range counts.
  const std::string narrow =
      bridge_.AddLight(HueBridge::LightSpec{.name = "Warm", .ct_min = 200, .ct_max = 454});
  bridge_.SetLightState(narrow, {{"on", true}});
  EXPECT_EQ(ErrorType(Put(Api("/lights/" + narrow + "/state"), {{"ct", 160}})[0]), 7);
}

TEST_F(HueBridgeTest, ColourOfAnOffLightIsError201UnlessSwitchedOn) {
  const std::string id = bridge_.AddLight("Desk");  // starts off
  json items = Put(Api("/lights/" + id + "/state"), {{"bri", 100}, {"ct", 300}});
  ASSERT_EQ(items.size(), 2u) << items.dump();
  const json bri = ItemFor(items, "/lights/" + id + "/state/bri");
  EXPECT_EQ(ErrorType(bri), 201);
  EXPECT_EQ(bri["error"]["description"],
            "parameter, bri, is not modifiable. Device is set to off.");
  EXPECT_EQ(ErrorType(ItemFor(items, "/lights/" + id + "/state/ct")), 201);
  EXPECT_EQ(bridge_.LightState(id)["on"], false);
  EXPECT_EQ(bridge_.LightState(id)["bri"], 254);

  // "on":false in the same request does not help either.
  items = Put(Api("/lights/" + id + "/state"), {{"on", false}, {"bri", 100}});
  EXPECT_EQ(ErrorType(ItemFor(items, "/lights/" + id + "/state/bri")), 201);

  items = Put(Api("/lights/" + id + "/state"), {{"on", true}, {"bri", 100}});
  EXPECT_TRUE(ItemFor(items, "/lights/" + id + "/state/on").contains("success"));
  EXPECT_TRUE(ItemFor(items, "/lights/" + id + "/state/bri").contains("success"));
  EXPECT_EQ(bridge_.LightState(id)["bri"], 100);
  EXPECT_EQ(bridge_.LightState(id)["on"], true);
}

TEST_F(HueBridgeTest, UnknownLightIsError3AndUnknownUserError1) {
  bridge_.AddLight("Desk");
  json items = Put(Api("/lights/42/state"), {{"on", true}});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(ErrorType(items[0]), 3);
  EXPECT_EQ(items[0]["error"]["address"], "/lights/42");

  items = Put("/api/stranger/lights/1/state", {{"on", true}});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(ErrorType(items[0]), 1);
  EXPECT_EQ(bridge_.LightState("1")["on"], false);
  items = Put("/api/stranger/groups/0/action", {{"on", true}});
  EXPECT_EQ(ErrorType(items[0]), 1);
  EXPECT_EQ(bridge_.Stats().accepted_light_commands, 1);  // only the one for light 42
}

TEST_F(HueBridgeTest, GroupCommandReachesEveryLightInTheGroup) {
  const std::string a = bridge_.AddLight("Sofa");
  const std::string b = bridge_.AddLight("Shelf");
  const std::string c = bridge_.AddLight("Kitchen");
  const std::string room = bridge_.AddGroup("Living room", {a, b});

  const json groups = Body(client_->Get(Api("/groups").c_str()));
  EXPECT_EQ(groups[room]["name"], "Living room");
  EXPECT_FALSE(groups.contains("0"));  // group 0 exists but is never listed
  EXPECT_EQ(Body(client_->Get(Api("/groups/0").c_str()))["lights"].size(), 3u);

  const json items = Put(Api("/groups/" + room + "/action"), {{"on", true}, {"bri", 50}});
  EXPECT_TRUE(ItemFor(items, "/groups/" + room + "/action/on").contains("success"));
  EXPECT_TRUE(ItemFor(items, "/groups/" + room + "/action/bri").contains("success"));
  for (const auto& id : {a, b}) {
    EXPECT_EQ(bridge_.LightState(id)["on"], true) << id;
    EXPECT_EQ(bridge_.LightState(id)["bri"], 50) << id;
  }
  EXPECT_EQ(bridge_.LightState(c)["on"], false);
  EXPECT_EQ(Body(client_->Get(Api("/groups/" + room).c_str()))["state"]["all_on"], true);
  EXPECT_EQ(bridge_.Stats().accepted_group_commands, 1);
}

TEST_F(HueBridgeTest, GroupZeroIsEveryLight) {
  bridge_.AddLight("Sofa");
  bridge_.AddLight("Kitchen");
  const json items = Put(Api("/groups/0/action"), {{"on", true}, {"ct", 500}});
  EXPECT_TRUE(ItemFor(items, "/groups/0/action/ct").contains("success"));
  EXPECT_EQ(bridge_.LightState("1")["ct"], 500);
  EXPECT_EQ(bridge_.LightState("2")["ct"], 500);
  EXPECT_EQ(bridge_.LightState("2")["on"], true);
}

TEST_F(HueBridgeTest, GroupErrors) {
  bridge_.AddLight("Sofa");  // off
  // Every light of the group is off and the request does not switch on: 201.
  json items = Put(Api("/groups/0/action"), {{"bri", 10}, {"hue", 70000}});
  EXPECT_EQ(ErrorType(ItemFor(items, "/groups/0/action/bri")), 201);
  EXPECT_EQ(ErrorType(ItemFor(items, "/groups/0/action/hue")), 7);
}

TEST_F(HueBridgeTest, UnknownGroupIsError3) {
  const json items = Put(Api("/groups/7/action"), {{"on", true}});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(ErrorType(items[0]), 3);
}

TEST_F(HueBridgeTest, SceneRecall) {
  const std::string a = bridge_.AddLight("Sofa");
  const std::string b = bridge_.AddLight("Shelf");
  const std::string room = bridge_.AddGroup("Living room", {a, b});
  bridge_.AddScene("evening", room,
                   {{a, {{"on", true}, {"bri", 20}, {"xy", {0.5, 0.4}}}},
                    {b, {{"on", true}, {"bri", 120}, {"ct", 400}}}});
  EXPECT_TRUE(Body(client_->Get(Api("/scenes").c_str())).contains("evening"));

  const json items = Put(Api("/groups/" + room + "/action"), {{"scene", "evening"}});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0], json({{"success", {{"/groups/" + room + "/action/scene", "evening"}}}}));
  EXPECT_EQ(bridge_.LightState(a)["bri"], 20);
  EXPECT_EQ(bridge_.LightState(a)["colormode"], "xy");
  EXPECT_EQ(bridge_.LightState(b)["ct"], 400);
  EXPECT_EQ(bridge_.LightState(b)["colormode"], "ct");
  EXPECT_EQ(bridge_.LightState(b)["on"], true);
}

TEST(HueBridge, UnknownSceneIsError7) {
  HueBridge bridge;
  const std::string user = bridge.AddUser();
  bridge.AddLight("Sofa");
  auto client = ClientFor(bridge);
  const json items = Body(client->Put(("/api/" + user + "/groups/0/action").c_str(),
                                      R"({"scene":"nope"})", "application/json"));
  EXPECT_EQ(ErrorType(items[0]), 7);
}

TEST_F(HueBridgeTest, InvalidJsonIsError2) {
  bridge_.AddLight("Sofa");
  const json items = Body(client_->Put(Api("/lights/1/state").c_str(), "{on:", "application/json"));
  EXPECT_EQ(ErrorType(items[0]), 2);
}

// A burst, not a timed sequence: eleven requests take a few milliseconds
// on loopback, far inside the window.
TEST_F(HueBridgeLimitsTest, MoreThanTenLightCommandsASecondGet429) {
  const std::string id = bridge_.AddLight("Desk");
  constexpr int kBurst = kHueLightCommandsPerWindow + 1;
  std::vector<int> statuses;
  const auto start = Clock::now();
  for (int i = 0; i < kBurst; ++i) {
    const json command = {{"on", i % 2 == 0}};
    const auto result =
        client_->Put(Api("/lights/" + id + "/state").c_str(), command.dump(), "application/json");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    statuses.push_back(result->status);
  }
  ASSERT_LT(Clock::now() - start, kLimitTestWindow);
  for (int i = 0; i < kHueLightCommandsPerWindow; ++i)
    EXPECT_EQ(statuses[static_cast<size_t>(i)], 200) << i;
  EXPECT_EQ(statuses.back(), 429);
  const auto stats = bridge_.Stats();
  EXPECT_EQ(stats.accepted_light_commands, kHueLightCommandsPerWindow);
  EXPECT_EQ(stats.refused_light_429, 1);
  EXPECT_EQ(stats.refused_429(), 1);
  EXPECT_EQ(stats.refused_503, 0);
  // Reads are not commands and are not limited.
  EXPECT_EQ(Body(client_->Get(Api("/lights").c_str())).size(), 1u);
}

TEST_F(HueBridgeLimitsTest, MoreThanOneGroupCommandASecondGets429) {
  bridge_.AddLight("Desk");
  const auto start = Clock::now();
  const auto first = client_->Put(Api("/groups/0/action").c_str(), R"({"on":true})",
                                  "application/json");
  const auto second = client_->Put(Api("/groups/0/action").c_str(), R"({"on":false})",
                                   "application/json");
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  ASSERT_LT(Clock::now() - start, kLimitTestWindow);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->status, 429);
  EXPECT_EQ(bridge_.LightState("1")["on"], true);  // the refused command changed nothing
  EXPECT_EQ(bridge_.Stats().accepted_group_commands, 1);
  EXPECT_EQ(bridge_.Stats().refused_group_429, 1);
}

TEST(HueBridge, LimitIsASlidingWindow) {
  HueBridge::Options options;
  options.rate_window = 200ms;
  options.light_commands_per_window = 1;
  HueBridge bridge(options);
  const std::string user = bridge.AddUser();
  bridge.AddLight("Desk");
  auto client = ClientFor(bridge);
  const std::string path = "/api/" + user + "/lights/1/state";
  const auto first = client->Put(path.c_str(), R"({"on":true})", "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  // Only lateness is possible after the sleep, so it never flakes.
  std::this_thread::sleep_for(options.rate_window + 300ms);
  const auto later = client->Put(path.c_str(), R"({"on":false})", "application/json");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 200);
  EXPECT_EQ(bridge.Stats().refused_429(), 0);
}

// Three slow requests in flight, then a fourth: the bridge answers 503 at
// once. The fourth is sent only once all three are seen in flight, and
// each of those takes seconds, so the order is certain.
TEST_F(HueBridgeLimitsTest, FourConcurrentRequestsGet503) {
  constexpr auto kSlow = 3s;
  bridge_.SetDelay(kSlow);
  std::vector<std::thread> slow;
  std::atomic<int> ok{0};
  for (int i = 0; i < kHueMaxInFlight; ++i) {
    slow.emplace_back([&] {
      auto client = ClientFor(bridge_);
      const auto result = client->Get("/api/config");
      if (result && result->status == 200) ++ok;
    });
  }
  const auto deadline = Clock::now() + kWaitTimeout;
  while (bridge_.InFlight() < kHueMaxInFlight && Clock::now() < deadline) {
    std::this_thread::sleep_for(kPoll);
  }
  EXPECT_EQ(bridge_.InFlight(), kHueMaxInFlight);
  const auto fourth = client_->Get("/api/config");
  ASSERT_TRUE(fourth) << httplib::to_string(fourth.error());
  EXPECT_EQ(fourth->status, 503);
  for (auto& thread : slow) thread.join();
  EXPECT_EQ(ok.load(), kHueMaxInFlight);
  const auto stats = bridge_.Stats();
  EXPECT_EQ(stats.refused_503, 1);
  EXPECT_EQ(stats.max_in_flight, kHueMaxInFlight + 1);  // the refused one was seen too
  EXPECT_EQ(bridge_.InFlight(), 0);
}

TEST_F(HueBridgeLimitsTest, DownAndBackOnTheSamePort) {
  bridge_.AddLight("Desk");
  const uint16_t port = bridge_.port();
  EXPECT_TRUE(Body(client_->Get(Api("/lights").c_str())).contains("1"));

  bridge_.SetDown(true);
  EXPECT_TRUE(bridge_.Down());
  const auto refused = client_->Get(Api("/lights").c_str());
  EXPECT_FALSE(refused);
  if (!refused) {
    EXPECT_EQ(refused.error(), httplib::Error::Connection);
  }

  bridge_.SetDown(false);
  EXPECT_FALSE(bridge_.Down());
  EXPECT_EQ(bridge_.port(), port);
  // State and users survive, as on a real bridge after a power cut.
  EXPECT_TRUE(Body(client_->Get(Api("/lights").c_str())).contains("1"));
  EXPECT_EQ(Put(Api("/lights/1/state"), {{"on", true}})[0].contains("success"), true);
}

// The destructor does not wait out a slow request.
constexpr auto kVerySlow = 60s;
constexpr auto kPrompt = 10s;
TEST(HueBridge, StopsPromptlyWithASlowRequestInFlight) {
  auto bridge = std::make_unique<HueBridge>();
  bridge->SetDelay(kVerySlow);
  std::thread request([port = bridge->port()] {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(kConnectTimeout);
    client.set_read_timeout(kVerySlow + kPrompt);
    (void)client.Get("/api/config");  // answered or cut off, either is fine
  });
  const auto deadline = Clock::now() + kWaitTimeout;
  while (bridge->InFlight() < 1 && Clock::now() < deadline) std::this_thread::sleep_for(kPoll);
  const auto start = Clock::now();
  bridge.reset();
  EXPECT_LT(Clock::now() - start, kPrompt);
  request.join();
}

}  // namespace
}  // namespace domian::testing
