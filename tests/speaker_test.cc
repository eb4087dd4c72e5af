// The speaker plugin in a real domiand, on the sound devices of
// tests/support/alsa (configured for the daemon through ALSA_CONFIG_PATH,
// the stock configuration first): ALSA's file PCM, which keeps what was
// played as a WAV; the paced card stand-in, which plays in real time and
// underruns when starved; and a fake card's mixer controls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cmath>

#include "plugins/speaker/pcm_output.h"
#include "plugins/speaker/speech.h"
#include "tests/support/alsa/alsa_test_config.h"
#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr auto kSettle = 30s;
const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;

class Speaker : public ::testing::Test {
 protected:
  // A node with a speaker whose `config` is this (YAML flow mapping).
  void Start(const std::string& config) {
    MakePluginFolder(dir_.path() / "plugins", kPlugins, {"speaker"});
    Daemon::Options options{.id = "living-room"};
    options.traits = {"speaker"};
    options.env = {{"ALSA_CONFIG_PATH", alsa_.ConfigPath()}};
    options.extra_yaml = "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
                         "]\nservices:\n  speaker:\n    config: " + config + "\n";
    node_ = std::make_unique<Daemon>(dir_.path(), options);
    node_->Start();
    ASSERT_TRUE(Eventually([&] { return Status().is_object(); }, kSettle));
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << node_->Log();
  }

  json Status() {
    const CommandResult result = CallService(*node_, "speaker", "status");
    return result.exit_code == 0 ? json::parse(result.out, nullptr, false) : json();
  }

  json Call(const std::string& command, const std::string& args = "{}") {
    const CommandResult result = CallService(*node_, "speaker", command, args);
    EXPECT_EQ(result.exit_code, 0) << command << " " << args << ": " << result.err;
    return json::parse(result.out, nullptr, false);
  }

  TempDir dir_{"domian-speaker-test"};
  AlsaTestConfig alsa_{dir_.path()};
  std::unique_ptr<Daemon> node_;
};

TEST_F(Speaker, AToneAskedForIsTheToneInTheFile) {
  Start("{pcm: domian_test_wav}");
  Call("tone", R"({"frequency_hz": 1000, "duration_ms": 250})");
  ASSERT_TRUE(Eventually([&] { return Status()["played"] == 1; }, kSettle));
  EXPECT_EQ(Status()["format"]["rate"], 48000);
  EXPECT_EQ(Status()["format"]["sample"], "S16_LE");

  const Wav wav = ReadWav(alsa_.wav());
  ASSERT_EQ(wav.channels, 2U);
  EXPECT_EQ(wav.rate, 48000U);
  // 250 ms at 48 kHz (the level is the default, 0.5), then silence.
  const std::vector<int16_t> tone = speaker::Tone({48000, 2}, 1000.0, 0.25, 0.5);
  EXPECT_TRUE(PlayedThenSilence(wav.samples, tone));
  EXPECT_NEAR(CrossingFrequency({wav.samples.begin(), wav.samples.begin() + 24000}, 2, 48000), 1000.0,
              8.0);
}

TEST_F(Speaker, SpeechAskedForIsSpokenIntoTheFile) {
  Start("{pcm: domian_test_wav}");
  Call("say", R"({"text": "the front door is open"})");
  ASSERT_TRUE(Eventually([&] { return Status()["played"] == 1; }, kSettle));
  const json status = Status();
  EXPECT_EQ(status["source_format"]["rate"], 22050);
  EXPECT_EQ(status["format"]["channels"], 1) << "the file PCM takes espeak-ng's mono as it is";

  // espeak-ng varies its pitch at random, so compare with the same text
  // spoken here by length and loudness, not sample for sample.
  Wav wav = ReadWav(alsa_.wav());
  speaker::Item here = speaker::Speak("the front door is open", "en", 60 * 22050);
  ASSERT_EQ(wav.rate, here.format.rate);
  ASSERT_EQ(wav.channels, 1U);
  // Up to the end of the speech: espeak-ng ends with a pause, and every
  // item with a period of silence.
  for (auto* samples : {&wav.samples, &here.samples}) {
    while (!samples->empty() && samples->back() == 0) samples->pop_back();
  }
  EXPECT_NEAR(static_cast<double>(wav.samples.size()), static_cast<double>(here.samples.size()),
              0.01 * static_cast<double>(here.samples.size()));
  double energy = 0;
  for (const int16_t s : wav.samples) energy += static_cast<double>(s) * s;
  EXPECT_GT(std::sqrt(energy / static_cast<double>(wav.samples.size())), 500.0) << "speech, not silence";
}

TEST_F(Speaker, SpeechIsConvertedForACardThatTakesOnly48kStereo) {
  Start("{pcm: domian_test_speaker}");
  Call("say", R"({"text": "the garage door is closing"})");
  ASSERT_TRUE(Eventually([&] { return Status()["played"] == 1; }, kSettle));
  const json status = Status();
  EXPECT_EQ(status["source_format"]["rate"], 22050);
  EXPECT_EQ(status["source_format"]["channels"], 1);
  // What the card runs at, behind ALSA's plug layer.
  EXPECT_EQ(status["format"]["rate"], 48000);
  EXPECT_EQ(status["format"]["channels"], 2);
  EXPECT_THAT(status["format"]["pcm"].get<std::string>(), HasSubstr("domian paced"));
  const speaker::Item here = speaker::Speak("the garage door is closing", "en", 60 * 22050);
  const double expected_frames = static_cast<double>(here.samples.size()) * 48000.0 / 22050.0;
  // The whole speech (lengths vary by a few samples), and at most a period
  // (62.5 ms) of the silence that ends an item.
  const double played = static_cast<double>(ReadRawSamples(alsa_.record()).size() / 2);
  EXPECT_GT(played, 0.99 * expected_frames);
  EXPECT_LT(played, 1.01 * expected_frames + 3000);
}

TEST_F(Speaker, AStalledPluginHostUnderrunsTheCardAndPlaybackRecovers) {
  Start("{pcm: domian_test_speaker, buffer_ms: 100}");
  // Long enough to be playing still when the host is stopped, however
  // slowly a loaded machine gets there.
  Call("tone", R"({"frequency_hz": 440, "duration_ms": 6000})");
  ASSERT_TRUE(Eventually([&] { return !Status()["playing"].get<std::string>().empty(); }, kSettle));
  const int host = PluginHostPid(*node_, "speaker");
  ASSERT_GT(host, 0) << "no plugin host in the log";
  ASSERT_EQ(Status()["played"], 0) << "the tone ended before the stall";
  // The whole process stops, as a descheduled or swapped-out one would:
  // the card plays on and runs dry.
  ASSERT_EQ(::kill(host, SIGSTOP), 0);
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(::kill(host, SIGCONT), 0);
  ASSERT_TRUE(Eventually([&] { return Status()["played"] == 1; }, kSettle));
  const json status = Status();
  EXPECT_GE(status["underruns_recovered"].get<int>(), 1);
  EXPECT_EQ(status["last_error"], "");
  EXPECT_EQ(status["format"]["rate"], 48000);
  // Every frame was played: the write that underran was retried, and the
  // tail was played out.
  const std::vector<int16_t> tone = speaker::Tone({48000, 2}, 440, 6.0, 0.5);
  EXPECT_TRUE(PlayedThenSilence(ReadRawSamples(alsa_.record()), tone));
}

TEST_F(Speaker, StopDuringPlaybackIsPromptAndTheQueueIsBounded) {
  Start("{pcm: domian_test_speaker, max_queue: 1}");
  Call("tone", R"({"frequency_hz": 440, "duration_ms": 20000})");
  ASSERT_TRUE(Eventually([&] { return !Status()["playing"].get<std::string>().empty(); }, kSettle));
  Call("tone", R"({"frequency_hz": 880, "duration_ms": 1000})");
  const CommandResult full = CallService(*node_, "speaker", "tone", R"({"duration_ms": 1000})");
  EXPECT_NE(full.exit_code, 0);
  EXPECT_THAT(full.err, HasSubstr("the queue is full (1 items)"));
  EXPECT_EQ(Status()["queue"].size(), 1U);

  const auto asked = std::chrono::steady_clock::now();
  Call("stop");
  ASSERT_TRUE(Eventually(
      [&] {
        const json status = Status();
        return status["playing"] == "" && status["queue"].empty();
      },
      kSettle));
  // A 20 s tone: stopped within a period or two, not played out.
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 5s);
  EXPECT_EQ(Status()["played"], 0);
  EXPECT_LT(ReadRawSamples(alsa_.record()).size(), size_t{10 * 48000 * 2});
}

TEST_F(Speaker, VolumeWorksTheConfiguredMixerElement) {
  Start("{pcm: domian_test_wav, mixer: {card: domian_test_mixer, element: Master}}");
  const json set = Call("volume", R"({"percent": 40})");
  EXPECT_NEAR(set["percent"].get<double>(), 40, 1.5);
  EXPECT_EQ(set["scale"], "dB");
  EXPECT_EQ(set["element"], "Master");
  EXPECT_LT(set["db"].get<double>(), 0);
  EXPECT_EQ(StoredMixerValue(alsa_.mixer_state(), "Master Playback Volume"),
            std::to_string(set["raw"].get<int>()) + "," + std::to_string(set["raw"].get<int>()));
  const json muted = Call("volume", R"({"muted": true})");
  EXPECT_EQ(muted["muted"], true);
  EXPECT_EQ(StoredMixerValue(alsa_.mixer_state(), "Master Playback Switch"), "0,0");
  const json read = Call("volume");
  EXPECT_EQ(read["percent"], set["percent"]);
  EXPECT_EQ(read["muted"], true);
  const CommandResult loud = CallService(*node_, "speaker", "volume", R"({"percent": 101})");
  EXPECT_NE(loud.exit_code, 0);
  EXPECT_THAT(loud.err, HasSubstr("percent must be a number from 0 to 100"));
}

TEST_F(Speaker, AnElementWithoutSwitchOrDbUsesTheRawRange) {
  Start("{pcm: domian_test_wav, mixer: {card: domian_test_mixer, element: Digital}}");
  const json set = Call("volume", R"({"percent": 50})");
  EXPECT_EQ(set["scale"], "raw");
  EXPECT_FALSE(set.contains("db"));
  EXPECT_FALSE(set.contains("muted"));
  EXPECT_EQ(set["raw"], 128);
  // Muting it is refused before the volume changes: nothing half done.
  const CommandResult mute =
      CallService(*node_, "speaker", "volume", R"({"percent": 30, "muted": true})");
  EXPECT_NE(mute.exit_code, 0);
  EXPECT_THAT(mute.err, HasSubstr("has no playback switch"));
  EXPECT_EQ(StoredMixerValue(alsa_.mixer_state(), "Digital Playback Volume"), "128,128");
  // Unmuting an element that cannot be muted is no change.
  const json unmuted = Call("volume", R"({"percent": 30, "muted": false})");
  EXPECT_NEAR(unmuted["percent"].get<double>(), 30, 0.5);
}

TEST_F(Speaker, AMissingMixerElementIsAClearErrorAndPlaybackStillWorks) {
  Start("{pcm: domian_test_wav, mixer: {card: domian_test_mixer, element: Speaker}}");
  const CommandResult volume = CallService(*node_, "speaker", "volume");
  EXPECT_NE(volume.exit_code, 0);
  EXPECT_THAT(volume.err, HasSubstr("mixer element \"Speaker\" on \"domian_test_mixer\" not found "
                                    "(elements there: "));
  for (const char* name : {"Master", "Digital", "Mic"}) EXPECT_THAT(volume.err, HasSubstr(name));
  EXPECT_THAT(node_->Log(), HasSubstr("volume will not work until this is fixed"));
  Call("tone", R"({"duration_ms": 100})");
  EXPECT_TRUE(Eventually([&] { return Status()["played"] == 1; }, kSettle));
}

TEST_F(Speaker, AMissingDeviceIsAClearErrorInStatusAndHealth) {
  Start("{pcm: domian_no_such_device}");
  Call("tone", R"({"duration_ms": 100})");
  ASSERT_TRUE(Eventually([&] { return Status()["last_error"] != ""; }, kSettle));
  EXPECT_THAT(Status()["last_error"].get<std::string>(),
              HasSubstr("cannot open ALSA device \"domian_no_such_device\""));
  EXPECT_TRUE(Eventually(
      [&] {
        const auto services = Ctl(node_->address(), "services");
        return services && services->dump().find("domian_no_such_device") != std::string::npos;
      },
      kSettle))
      << "the health check's detail names the device";
  EXPECT_THAT(node_->Log(), HasSubstr("ALSA: "));
}

TEST_F(Speaker, BadRequestsAreClearErrors) {
  Start("{pcm: domian_test_wav}");
  const CommandResult missing =
      CallService(*node_, "speaker", "play", R"({"file": "/nonexistent/sound.wav"})");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("cannot play /nonexistent/sound.wav"));
  const CommandResult shrill = CallService(*node_, "speaker", "tone", R"({"frequency_hz": 50000})");
  EXPECT_NE(shrill.exit_code, 0);
  EXPECT_THAT(shrill.err, HasSubstr("frequency_hz must be a number from 20 to 20000"));
  const CommandResult mute = CallService(*node_, "speaker", "say", R"({"text": ""})");
  EXPECT_NE(mute.exit_code, 0);
  EXPECT_THAT(mute.err, HasSubstr("say takes {\"text\""));
  const CommandResult klingon =
      CallService(*node_, "speaker", "say", R"({"text": "hello", "voice": "tlh"})");
  EXPECT_NE(klingon.exit_code, 0);
  EXPECT_THAT(klingon.err, HasSubstr("espeak-ng voice \"tlh\""));
  const CommandResult volume = CallService(*node_, "speaker", "volume");
  EXPECT_NE(volume.exit_code, 0);
  EXPECT_THAT(volume.err, HasSubstr("no mixer is configured"));
  EXPECT_TRUE(node_->Running());
}

}  // namespace
}  // namespace domian::testing
