// Speaker benchmark: one real domiand running the speaker plugin (in its
// own plugin host process, the default) on the paced card stand-in
// (tests/support/alsa: consumes 48 kHz stereo in real time, a period at a
// time, through ALSA's plug layer, recording each frame as it plays it),
// buffer_ms at its default (250 ms).
//
//   announce:  `say` with a short sentence, from the call until the card
//              plays the first frame of speech (the record file grows):
//              speech synthesis, the queue, opening the device, the start
//              threshold and the card's first period.
//   stop:      a 20 s tone playing; `stop`, from the call until `status`
//              says nothing plays (the device dropped what it held): at
//              most one wait step plus the drop.
#include <fstream>
#include <iostream>
#include <thread>

#include "bench/plugin_bench_main.h"
#include "core/cli/control_client.h"
#include "tests/support/alsa/alsa_test_config.h"
#include "tests/support/cluster.h"

using namespace domian::testing;
using domian::bench::Fixed;
using domian::bench::MeasuredMs;
using domian::bench::PrintRow;
using domian::bench::Verdict;
using domian::bench::MsBetween;
using domian::bench::Summary;
using Steady = std::chrono::steady_clock;
using nlohmann::json;

namespace {

constexpr auto kReady = 60s;
constexpr auto kDeadline = 30s;
constexpr auto kPoll = 1ms;
constexpr char kSentence[] = R"({"text": "the front door is open"})";
// Goals: an announcement starts within 300 ms of being asked for (a
// doorbell that speaks later feels broken), and stop silences within
// 250 ms (one buffer).
constexpr double kGoalAnnounceP99Ms = 300;
constexpr double kGoalStopP99Ms = 250;

struct Setup {
  TempDir dir{"domian-speaker-bench"};
  AlsaTestConfig alsa{dir.path()};
  std::unique_ptr<Daemon> node;
  std::unique_ptr<domian::cli::ControlClient> client;

  Setup() {
    MakePluginFolder(dir.path() / "plugins", DOMIAN_PLUGIN_DIR, {"speaker"});
    Daemon::Options options{.id = "bench", .log_level = "info"};
    options.traits = {"speaker"};
    options.env = {{"ALSA_CONFIG_PATH", alsa.ConfigPath()}};
    options.extra_yaml = "plugins:\n  dirs: [" + (dir.path() / "plugins").string() +
                         "]\nplacement:\n  settle: 0s\nservices:\n  speaker:\n    config: "
                         "{pcm: domian_test_speaker}\n";
    node = std::make_unique<Daemon>(dir.path(), options);
    node->Start();
    client = domian::testing::ControlClientFor(node->address());
    if (!Eventually([&] { return client->Call("speaker", "status", "{}").ok(); },
                    kReady)) {
      throw std::runtime_error("the speaker did not start: " + node->Log());
    }
  }

  json Call(const std::string& command, const std::string& args = "{}") {
    auto reply = client->Call("speaker", command, args);
    if (reply.ok()) return *reply;
    throw std::runtime_error("speaker " + command + " failed");
  }

  uintmax_t Recorded() const {
    std::error_code error;
    const uintmax_t size = std::filesystem::file_size(alsa.record(), error);
    return error ? 0 : size;
  }

  void WaitIdle() {
    const auto began = Steady::now();
    while (Call("status")["playing"] != "") {
      if (Steady::now() - began > kDeadline) throw std::runtime_error("playback did not end");
      std::this_thread::sleep_for(5ms);
    }
  }
};

json RunAnnounce(int trials) {
  Setup setup;
  std::vector<double> ms;
  for (int i = 0; i < trials; ++i) {
    const uintmax_t before = setup.Recorded();
    const auto began = Steady::now();
    setup.Call("say", kSentence);
    while (setup.Recorded() <= before) {
      if (Steady::now() - began > kDeadline) throw std::runtime_error("no speech reached the card");
      std::this_thread::sleep_for(kPoll);
    }
    ms.push_back(MsBetween(began, Steady::now()));
    setup.WaitIdle();
  }
  return {{"scenario", "speaker-announce"}, {"trials", trials}, {"first_frame_ms", Summary(ms)}};
}

json RunStop(int trials) {
  Setup setup;
  std::vector<double> ms;
  for (int i = 0; i < trials; ++i) {
    setup.Call("tone", R"({"frequency_hz": 440, "duration_ms": 20000})");
    const uintmax_t before = setup.Recorded();
    // Well into the tone: the device's buffer is full.
    while (setup.Recorded() < before + 48000 * 4 / 2) std::this_thread::sleep_for(kPoll);
    const auto began = Steady::now();
    setup.Call("stop");
    while (setup.Call("status")["playing"] != "") {
      if (Steady::now() - began > kDeadline) throw std::runtime_error("stop did not end playback");
      std::this_thread::sleep_for(kPoll);
    }
    ms.push_back(MsBetween(began, Steady::now()));
  }
  return {{"scenario", "speaker-stop"}, {"trials", trials}, {"stop_ms", Summary(ms)}};
}

void ReportResult(const json& r) {
  const std::string scenario = r.value("scenario", "");
  const std::string trials = std::to_string(r.value("trials", 0));
  if (scenario == "speaker-announce") {
    const auto& s = r["first_frame_ms"];
    PrintRow("say -> the card plays speech (" + trials + ")", "p99<=" + Fixed(kGoalAnnounceP99Ms, 0) + "ms",
             MeasuredMs(s, 1), Verdict(s["p99"] <= kGoalAnnounceP99Ms));
  } else if (scenario == "speaker-stop") {
    const auto& s = r["stop_ms"];
    PrintRow("stop during a tone -> idle (" + trials + ")", "p99<=" + Fixed(kGoalStopP99Ms, 0) + "ms",
             MeasuredMs(s, 1), Verdict(s["p99"] <= kGoalStopP99Ms));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return domian::bench::PluginBenchMain(
      argc, argv, "speaker_bench", "speaker scenario", {{"trials", 20, "announcements or stops"}},
      {{"announce", [](const auto& counts) { return RunAnnounce(counts.at("trials")); }},
       {"stop", [](const auto& counts) { return RunStop(counts.at("trials")); }}},
      ReportResult);
}
