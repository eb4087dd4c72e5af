// The speaker plugin in a real domiand, playing into ALSA's `file` PCM
// (a WAV file, configured for the daemon through ALSA_CONFIG_PATH with the
// stock configuration first): a tone or speech asked for through domianctl
// is what lands in the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "plugins/speaker/speech.h"
#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr auto kSettle = 30s;
const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;

struct Wav {
  unsigned rate = 0;
  unsigned channels = 0;
  std::vector<int16_t> samples;
};

// The 16-bit PCM WAV that ALSA's file PCM wrote (a canonical 44-byte
// header: fmt then data).
Wav ReadWav(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  Wav wav;
  const size_t fmt = bytes.find("fmt ");
  const size_t data = bytes.find("data");
  if (fmt == std::string::npos || data == std::string::npos || data + 8 > bytes.size()) return wav;
  uint16_t channels = 0;
  uint32_t rate = 0;
  std::memcpy(&channels, bytes.data() + fmt + 10, 2);
  std::memcpy(&rate, bytes.data() + fmt + 12, 4);
  wav.channels = channels;
  wav.rate = rate;
  wav.samples.resize((bytes.size() - data - 8) / 2);
  std::memcpy(wav.samples.data(), bytes.data() + data + 8, wav.samples.size() * 2);
  return wav;
}

class Speaker : public ::testing::Test {
 protected:
  void SetUp() override {
    MakePluginFolder(dir_.path() / "plugins", kPlugins, {"speaker"});
    wav_ = dir_.path() / "out.wav";
    const auto conf = dir_.path() / "asound.conf";
    std::ofstream(conf) << "pcm.domian_test_wav {\n  type file\n  slave.pcm \"null\"\n  file \""
                        << wav_.string() << "\"\n  format \"wav\"\n}\n";
    Daemon::Options options{.id = "living-room"};
    options.traits = {"speaker"};
    options.env = {{"ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:" + conf.string()}};
    options.extra_yaml = "plugins:\n  dirs: [" + (dir_.path() / "plugins").string() +
                         "]\nservices:\n  speaker:\n    config: {pcm: domian_test_wav}\n";
    node_ = std::make_unique<Daemon>(dir_.path(), options);
    node_->Start();
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << node_->Log();
  }

  json Status() {
    const CommandResult result = CallService(*node_, "speaker", "status");
    return result.exit_code == 0 ? json::parse(result.out, nullptr, false) : json();
  }

  TempDir dir_{"domian-speaker-test"};
  std::filesystem::path wav_;
  std::unique_ptr<Daemon> node_;
};

TEST_F(Speaker, AToneAskedForIsTheToneInTheFile) {
  ASSERT_TRUE(Eventually([&] { return Status().is_object(); }, kSettle));
  const CommandResult tone = CallService(*node_, "speaker", "tone",
                                         R"({"frequency_hz": 1000, "duration_ms": 250})");
  ASSERT_EQ(tone.exit_code, 0) << tone.err;
  ASSERT_TRUE(Eventually([&] { return Status()["played"] == 1; }, kSettle));
  EXPECT_EQ(Status()["format"]["rate"], 48000);
  EXPECT_EQ(Status()["format"]["sample"], "S16_LE");

  const Wav wav = ReadWav(wav_);
  ASSERT_EQ(wav.channels, 2U) << wav_;
  EXPECT_EQ(wav.rate, 48000U);
  const std::vector<int16_t>& samples = wav.samples;
  const size_t frames = samples.size() / 2;
  EXPECT_EQ(frames, 12000U) << "250 ms at 48 kHz";
  int crossings = 0;
  for (size_t i = 1; i < frames; ++i) {
    if ((samples[(i - 1) * 2] < 0) != (samples[i * 2] < 0)) ++crossings;
  }
  EXPECT_NEAR(crossings / 2.0 / 0.25, 1000.0, 8.0);
}

TEST_F(Speaker, SpeechAskedForIsSpokenIntoTheFile) {
  ASSERT_TRUE(Eventually([&] { return Status().is_object(); }, kSettle));
  const CommandResult say =
      CallService(*node_, "speaker", "say", R"({"text": "the front door is open"})");
  ASSERT_EQ(say.exit_code, 0) << say.err;
  ASSERT_TRUE(Eventually([&] { return Status()["played"] == 1; }, kSettle));
  const json status = Status();
  EXPECT_EQ(status["source_format"]["rate"], 22050);
  EXPECT_EQ(status["format"]["channels"], 1) << "the file PCM takes espeak-ng's mono as it is";

  // espeak-ng varies its pitch at random, so compare with the same text
  // spoken here by length and loudness, not sample for sample.
  const Wav wav = ReadWav(wav_);
  const speaker::Item here = speaker::Speak("the front door is open", "en", 60 * 22050);
  ASSERT_EQ(wav.rate, here.format.rate);
  ASSERT_EQ(wav.channels, 1U);
  EXPECT_NEAR(static_cast<double>(wav.samples.size()), static_cast<double>(here.samples.size()),
              0.01 * static_cast<double>(here.samples.size()));
  double energy = 0;
  for (const int16_t s : wav.samples) energy += static_cast<double>(s) * s;
  EXPECT_GT(std::sqrt(energy / static_cast<double>(wav.samples.size())), 500.0) << "speech, not silence";
}

TEST_F(Speaker, BadRequestsAreClearErrors) {
  ASSERT_TRUE(Eventually([&] { return Status().is_object(); }, kSettle));
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
