// Lights benchmark: one real domiand running the lights plugin (in its own
// plugin host process, the default) against the Hue bridge stand-in
// (tests/support/hue_bridge.h) on 127.0.0.1, with the bridge's real limits
// (10 light commands/s, 1 group command/s, 3 requests in flight).
//
//   set:    `set` calls (wait: true) spaced 150 ms apart, under the
//           bridge's limit so pacing adds nothing: the round trip
//           client -> domiand -> plugin host -> bridge -> reply.
//   burst:  100 `set` calls with wait: false over 5 lights, as fast as
//           the client can send them; time from the first call until the
//           bridge shows every light in its last requested state, how
//           many commands reached the bridge, and how many it refused
//           (429/503: must be 0).
//   mqtt:   Home Assistant's path: a command published on a light's
//           command topic (JSON schema, as HA sends it) on a real
//           mosquitto on 127.0.0.1, spaced 150 ms apart; time until the
//           bridge shows the light in that state, and until the new state
//           is back on the light's state topic (a client subscribed as HA).
//
// Calls go through domian::cli::ControlClient (what domianctl uses).
#include <fstream>
#include <iostream>
#include <thread>

#include "bench/plugin_bench_main.h"
#include "core/cli/control_client.h"
#include "tests/support/cluster.h"
#include "tests/support/hue_bridge.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_watcher.h"

using namespace domian::testing;
using domian::bench::Fixed;
using domian::bench::MeasuredMs;
using domian::bench::PrintRow;
using domian::bench::Verdict;
using domian::bench::MsBetween;
using domian::bench::Summary;
using domian::cli::ControlClient;
using Steady = std::chrono::steady_clock;
using nlohmann::json;

namespace {

constexpr auto kReady = 60s;            // the service runs, paired, bridge reachable
constexpr auto kSetSpacing = 150ms;     // below 10 commands/s: no pacing in the numbers
constexpr auto kSettleDeadline = 60s;   // burst -> every light in its last state
constexpr auto kBetweenBursts = 1500ms; // the bridge's window empties
constexpr auto kPoll = 5ms;
constexpr int kBurstCalls = 100;
constexpr int kBurstLights = 5;
// Goals: a call answered well within a human's notice on a LAN, and a
// burst settled no later than sending every command at the bridge's
// 10/s would take, with nothing refused.
constexpr double kGoalSetP99Ms = 100;
constexpr double kGoalBurstMs = 10000;
// Home Assistant: a tap on a light in HA shows on the bulb and back in
// HA well within a person's notice (the bulb's own fade is 400 ms).
constexpr double kGoalMqttBulbP99Ms = 100;
constexpr double kGoalMqttStateP99Ms = 200;

double MsSince(Steady::time_point from) { return MsBetween(from, Steady::now()); }

// The reply of a call that must succeed.
json Call(ControlClient& client, const std::string& command, const std::string& args) {
  auto reply = client.Call("lights", command, args);
  if (!reply.ok()) {
    throw std::runtime_error(command + " failed: " + std::string(reply.status().message()));
  }
  return *std::move(reply);
}

// A node running lights with a user the bridge knows, ready to use.
struct Setup {
  TempDir dir{"domian-lights-bench"};
  HueBridge bridge;
  std::vector<std::string> lights;
  std::unique_ptr<Daemon> node;

  // `mqtt`: the lines of an mqtt: section for the node.
  explicit Setup(const std::string& mqtt = "") {
    for (int i = 0; i < kBurstLights; ++i) lights.push_back(bridge.AddLight("light " + std::to_string(i)));
    const std::string user = bridge.AddUser();
    MakePluginFolder(dir.path() / "plugins", DOMIAN_PLUGIN_DIR, {"lights"});
    Daemon::Options options{.id = "bench", .log_level = "info"};
    options.extra_yaml = "plugins:\n  dirs: [" + (dir.path() / "plugins").string() +
                         "]\nplacement:\n  settle: 0s\n" + mqtt + "services:\n  lights:\n    config: {bridge: \"" +
                         bridge.address() + "\", username: " + user + "}\n";
    node = std::make_unique<Daemon>(dir.path(), options);
    node->Start();
    auto owned = domian::testing::ControlClientFor(node->address());
    ControlClient& client = *owned;
    if (!Eventually(
            [&] {
              const auto reply = client.Call("lights", "status", "{}");
              const json* status = reply.ok() ? &*reply : nullptr;
              return status != nullptr && (*status)["paired"] == true &&
                     (*status)["bridge"]["reachable"] == true &&
                     (*status)["lights_known"] == kBurstLights;
            },
            kReady)) {
      throw std::runtime_error("lights did not become ready: " + node->Log());
    }
  }
};

json RunSet(int calls) {
  Setup setup;
  auto owned = domian::testing::ControlClientFor(setup.node->address());
  ControlClient& client = *owned;
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    const std::string args = R"({"light": ")" + setup.lights[static_cast<size_t>(i) % setup.lights.size()] +
                             R"(", "bri": )" + std::to_string(1 + i % 254) + "}";
    const auto began = Steady::now();
    Call(client, "set", args);
    ms.push_back(MsSince(began));
    std::this_thread::sleep_for(kSetSpacing);
  }
  const HueBridgeStats stats = setup.bridge.Stats();
  return {{"scenario", "lights-set"}, {"calls", calls}, {"set_ms", Summary(ms)},
          {"refused", stats.refused_429() + stats.refused_503}};
}

json RunBurst(int trials) {
  Setup setup;
  auto owned = domian::testing::ControlClientFor(setup.node->address());
  ControlClient& client = *owned;
  std::vector<double> settle_ms, submit_ms;
  json commands = json::array();
  int64_t refused = 0;
  int max_in_flight = 0;
  for (int trial = 0; trial < trials; ++trial) {
    std::this_thread::sleep_for(kBetweenBursts);
    setup.bridge.ResetStats();
    std::map<std::string, int> last;
    const auto began = Steady::now();
    for (int i = 0; i < kBurstCalls; ++i) {
      const std::string& id = setup.lights[static_cast<size_t>(i) % setup.lights.size()];
      const int bri = 1 + (i * 37 + trial * 11) % 254;
      Call(client, "set",
           R"({"light": ")" + id + R"(", "bri": )" + std::to_string(bri) + R"(, "wait": false})");
      last[id] = bri;
    }
    submit_ms.push_back(MsSince(began));
    const auto settled = [&] {
      for (const auto& [id, bri] : last) {
        if (setup.bridge.LightState(id)["bri"] != bri) return false;
      }
      return true;
    };
    while (!settled()) {
      if (Steady::now() - began > kSettleDeadline) throw std::runtime_error("burst did not settle");
      std::this_thread::sleep_for(kPoll);
    }
    settle_ms.push_back(MsSince(began));
    const HueBridgeStats stats = setup.bridge.Stats();
    commands.push_back(stats.accepted_light_commands);
    refused += stats.refused_429() + stats.refused_503;
    max_in_flight = std::max(max_in_flight, stats.max_in_flight);
  }
  return {{"scenario", "lights-burst"}, {"trials", trials},       {"calls", kBurstCalls},
          {"lights", kBurstLights},     {"settle_ms", Summary(settle_ms)},
          {"submit_ms", Summary(submit_ms)}, {"commands", commands},
          {"refused", refused},         {"max_in_flight", max_in_flight}};
}

json RunMqtt(int calls) {
  TempDir broker_dir("domian-lights-bench-broker");
  MosquittoBroker broker(broker_dir.path());
  broker.Start();
  Setup setup("mqtt:\n  broker: " + broker.address() + "\n  username: " +
              MosquittoBroker::kBridgeUser + "\n  password_file: " +
              broker.bridge_password_file().string() + "\n");
  MqttWatcher watcher(broker.port(), MosquittoBroker::kObserverUser,
                      MosquittoBroker::kObserverPassword, "domian/#");
  const std::string& light = setup.lights.front();
  const std::string base = "domian/test/service/lights/light_" + light;
  const std::string command = base + "/set/command";
  const std::string state = base + "/state";
  if (!watcher.WaitForTopic(state, kReady)) {
    throw std::runtime_error("the light's state never came on " + state + ": " + setup.node->Log());
  }
  std::vector<double> bulb_ms, state_ms;
  for (int i = 0; i < calls; ++i) {
    const int brightness = 2 + i % 250;
    const size_t from = watcher.Count();
    const auto began = Steady::now();
    watcher.Publish(command, R"({"state": "ON", "brightness": )" + std::to_string(brightness) + "}");
    while (setup.bridge.LightState(light)["bri"] != brightness) {
      if (Steady::now() - began > kSettleDeadline) throw std::runtime_error("the bulb never changed");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    bulb_ms.push_back(MsSince(began));
    const auto back = watcher.WaitFor(
        [&](const MqttWatcher::Message& message) {
          return message.topic == state &&
                 json::parse(message.payload, nullptr, false).value("brightness", -1) == brightness;
        },
        kSettleDeadline, from);
    if (!back) throw std::runtime_error("the new state never came back on " + state);
    state_ms.push_back(MsBetween(began, back->at));
    std::this_thread::sleep_for(kSetSpacing);
  }
  const HueBridgeStats stats = setup.bridge.Stats();
  return {{"scenario", "lights-mqtt"}, {"calls", calls}, {"bulb_ms", Summary(bulb_ms)},
          {"state_ms", Summary(state_ms)}, {"refused", stats.refused_429() + stats.refused_503}};
}

// Prints the lights rows of a results file written by bench/run.
void ReportResult(const json& r) {
  const std::string scenario = r.value("scenario", "");
  if (scenario == "lights-set") {
    const auto& s = r["set_ms"];
    PrintRow("set round trip (" + std::to_string(r["calls"].get<int>()) + " calls)",
             "p99<=" + Fixed(kGoalSetP99Ms, 0) + "ms", MeasuredMs(s, 1),
             Verdict(s["p99"] <= kGoalSetP99Ms && r["refused"] == 0));
  } else if (scenario == "lights-burst") {
    const auto& s = r["settle_ms"];
    PrintRow("100 sets on 5 lights -> all applied (" + std::to_string(r["trials"].get<int>()) + ")",
             "<=" + Fixed(kGoalBurstMs, 0) + "ms, 0 refused", MeasuredMs(s, 1),
             Verdict(s["max"] <= kGoalBurstMs && r["refused"] == 0));
    PrintRow("  commands reaching the bridge per burst", "(reported)", r["commands"].dump(), "");
    PrintRow("  refused by the bridge (429/503)", "0", std::to_string(r["refused"].get<int64_t>()),
             Verdict(r["refused"] == 0));
  } else if (scenario == "lights-mqtt") {
    const std::string calls = std::to_string(r["calls"].get<int>());
    PrintRow("MQTT command -> bulb (" + calls + " commands)",
             "p99<=" + Fixed(kGoalMqttBulbP99Ms, 0) + "ms", MeasuredMs(r["bulb_ms"], 1),
             Verdict(r["bulb_ms"]["p99"] <= kGoalMqttBulbP99Ms && r["refused"] == 0));
    PrintRow("MQTT command -> state back on its topic (" + calls + ")",
             "p99<=" + Fixed(kGoalMqttStateP99Ms, 0) + "ms", MeasuredMs(r["state_ms"], 1),
             Verdict(r["state_ms"]["p99"] <= kGoalMqttStateP99Ms));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return domian::bench::PluginBenchMain(
      argc, argv, "lights_bench", "lights scenario",
      {{"calls", 100, "set, mqtt: calls"}, {"trials", 5, "burst: bursts"}},
      {{"set", [](const auto& counts) { return RunSet(counts.at("calls")); }},
       {"mqtt", [](const auto& counts) { return RunMqtt(counts.at("calls")); }},
       {"burst", [](const auto& counts) { return RunBurst(counts.at("trials")); }}},
      ReportResult);
}
