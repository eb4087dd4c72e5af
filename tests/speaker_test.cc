// The speaker plugin in a real domiand, playing into ALSA's `file` PCM
// (a WAV file, configured for the daemon through ALSA_CONFIG_PATH with the
// stock configuration first): a tone asked for through domianctl is the
// tone in the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/support/cluster.h"

namespace domian::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr auto kSettle = 30s;
const std::filesystem::path kPlugins = DOMIAN_PLUGIN_DIR;

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

  std::ifstream in(wav_, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const size_t data = bytes.find("data");
  ASSERT_NE(data, std::string::npos) << "no WAV data in " << wav_;
  std::vector<int16_t> samples((bytes.size() - data - 8) / 2);
  std::memcpy(samples.data(), bytes.data() + data + 8, samples.size() * 2);
  const size_t frames = samples.size() / 2;
  EXPECT_EQ(frames, 12000U) << "250 ms at 48 kHz";
  int crossings = 0;
  for (size_t i = 1; i < frames; ++i) {
    if ((samples[(i - 1) * 2] < 0) != (samples[i * 2] < 0)) ++crossings;
  }
  EXPECT_NEAR(crossings / 2.0 / 0.25, 1000.0, 8.0);
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
  EXPECT_TRUE(node_->Running());
}

}  // namespace
}  // namespace domian::testing
