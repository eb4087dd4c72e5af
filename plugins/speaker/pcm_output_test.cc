// PcmOutput through the real libasound2, into ALSA's `file` PCM (a WAV
// file, the null device behind it), configured by the test through
// ALSA_CONFIG_PATH with the stock configuration listed first: what was
// written must be what was played.
#include "plugins/speaker/pcm_output.h"

#include <sndfile.h>

#include <alsa/asoundlib.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "plugins/speaker/player.h"
#include "tests/support/cluster.h"

namespace domian::speaker {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

struct Wav {
  unsigned rate = 0;
  unsigned channels = 0;
  unsigned bits = 0;
  std::vector<int16_t> samples;
};

// Reads a PCM WAV file: its fmt chunk and its data.
Wav ReadWav(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  Wav wav;
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
  };
  auto u16 = [&](size_t at) {
    uint16_t v = 0;
    std::memcpy(&v, bytes.data() + at, 2);
    return v;
  };
  if (bytes.size() < 12 || bytes.compare(0, 4, "RIFF") != 0 || bytes.compare(8, 4, "WAVE") != 0) {
    ADD_FAILURE() << path << " is not a WAV file (" << bytes.size() << " bytes)";
    return wav;
  }
  size_t at = 12;
  while (at + 8 <= bytes.size()) {
    const std::string id = bytes.substr(at, 4);
    uint32_t size = u32(at + 4);
    if (id == "fmt ") {
      wav.channels = u16(at + 10);
      wav.rate = u32(at + 12);
      wav.bits = u16(at + 22);
    } else if (id == "data") {
      // The file plugin fixes the sizes when it closes; trust the file.
      size = static_cast<uint32_t>(std::min<size_t>(size, bytes.size() - at - 8));
      if (size == 0) size = static_cast<uint32_t>(bytes.size() - at - 8);
      wav.samples.resize(size / 2);
      std::memcpy(wav.samples.data(), bytes.data() + at + 8, wav.samples.size() * 2);
      break;
    }
    at += 8 + size + (size & 1);
  }
  return wav;
}

class Playback : public ::testing::Test {
 protected:
  void SetUp() override {
    wav_ = dir_.path() / "out.wav";
    const auto conf = dir_.path() / "asound.conf";
    std::ofstream(conf) << "pcm.domian_test_wav {\n  type file\n  slave.pcm \"null\"\n  file \""
                        << wav_.string() << "\"\n  format \"wav\"\n}\n";
    ::setenv("ALSA_CONFIG_PATH", ("/usr/share/alsa/alsa.conf:" + conf.string()).c_str(), 1);
    snd_config_update_free_global();  // read again, with this test's file
    PcmOutput::RouteAlsaMessages([this](const std::string& line) { alsa_log_.push_back(line); });
  }
  void TearDown() override { PcmOutput::RouteAlsaMessages(nullptr); }

  testing::TempDir dir_{"domian-pcm-test"};
  std::filesystem::path wav_;
  std::vector<std::string> alsa_log_;
};

TEST_F(Playback, ATonePlayedIsTheToneWritten) {
  const PcmFormat format{.rate = 48000, .channels = 2};
  {
    PcmOutput out("domian_test_wav", format, kDefaultBufferMs, nullptr);
    EXPECT_GT(out.negotiated().buffer_frames, 0U);
    out.Write(Tone(format, 440.0, 0.5, 0.5));
    out.Finish();
    EXPECT_EQ(out.underruns(), 0);
  }
  const Wav wav = ReadWav(wav_);
  EXPECT_EQ(wav.rate, 48000U);
  EXPECT_EQ(wav.channels, 2U);
  EXPECT_EQ(wav.bits, 16U);
  const size_t frames = wav.samples.size() / 2;
  EXPECT_EQ(frames, 24000U) << "0.5 s at 48 kHz";
  // Frequency from the zero crossings of the left channel.
  int crossings = 0;
  for (size_t i = 1; i < frames; ++i) {
    if ((wav.samples[(i - 1) * 2] < 0) != (wav.samples[i * 2] < 0)) ++crossings;
  }
  const double hz = crossings / 2.0 / 0.5;
  EXPECT_NEAR(hz, 440.0, 4.0);
  // Full level in the middle, both channels alike.
  int16_t peak = 0;
  for (size_t i = frames / 4; i < 3 * frames / 4; ++i) {
    peak = std::max(peak, wav.samples[i * 2]);
    ASSERT_EQ(wav.samples[i * 2], wav.samples[i * 2 + 1]) << "frame " << i;
  }
  EXPECT_NEAR(peak, 0.5 * 32767, 50);
}

TEST_F(Playback, AMissingDeviceIsAClearErrorAndAlsaSaysWhyInTheLog) {
  try {
    PcmOutput out("domian_no_such_device", PcmFormat{}, kDefaultBufferMs, nullptr);
    ADD_FAILURE() << "opened a device that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot open ALSA device \"domian_no_such_device\""));
  }
  EXPECT_FALSE(alsa_log_.empty()) << "ALSA's own message did not reach the log";
}

TEST_F(Playback, StoppingEndsAWriteEarly) {
  const PcmFormat format{.rate = 48000, .channels = 2};
  PcmOutput out("domian_test_wav", format, kDefaultBufferMs, nullptr);
  int polls = 0;
  out.Write(Tone(format, 440.0, 5.0, 0.5), [&] { return ++polls > 3; });
  out.Drop();
  EXPECT_EQ(polls, 4);
}

// A sound file written with libsndfile: 22.05 kHz mono, a known ramp.
std::vector<int16_t> WriteRampWav(const std::filesystem::path& path, size_t frames) {
  std::vector<int16_t> samples(frames);
  for (size_t i = 0; i < frames; ++i) samples[i] = static_cast<int16_t>((i * 37) % 20000 - 10000);
  SF_INFO info{};
  info.samplerate = 22050;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  EXPECT_NE(file, nullptr) << sf_strerror(nullptr);
  sf_writef_short(file, samples.data(), static_cast<sf_count_t>(frames));
  sf_close(file);
  return samples;
}

TEST_F(Playback, APlayedFileComesOutSampleForSample) {
  const auto source = dir_.path() / "ramp.wav";
  const std::vector<int16_t> ramp = WriteRampWav(source, 11025);
  Player player("domian_test_wav", kDefaultBufferMs, 4, nullptr);
  ASSERT_TRUE(player.Enqueue(LoadSoundFile(source.string(), 1 << 20)));
  ASSERT_TRUE(testing::Eventually([&] { return player.Status().played == 1; }, 10s));
  const Wav wav = ReadWav(wav_);
  EXPECT_EQ(wav.rate, 22050U);
  EXPECT_EQ(wav.channels, 1U);
  EXPECT_EQ(wav.samples, ramp);
  EXPECT_EQ(player.Status().format->rate, 22050U);
}

TEST_F(Playback, BadFilesAndAMissingDeviceAreClearErrors) {
  EXPECT_THROW(LoadSoundFile((dir_.path() / "missing.wav").string(), 1 << 20), std::runtime_error);
  const auto big = dir_.path() / "big.wav";
  WriteRampWav(big, 5000);
  try {
    LoadSoundFile(big.string(), 1000);
    ADD_FAILURE() << "a file over the frame limit was loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("over the limit of 1000"));
  }
  // A device that does not exist: each item fails and says so; the
  // player goes on with the next.
  Player player("domian_no_such_device", kDefaultBufferMs, 2, nullptr);
  const PcmFormat format{.rate = 8000, .channels = 1};
  ASSERT_TRUE(player.Enqueue(Item{"tone", format, Tone(format, 440, 0.1, 0.5)}));
  ASSERT_TRUE(testing::Eventually([&] { return !player.Status().last_error.empty(); }, 10s));
  EXPECT_THAT(player.Status().last_error, HasSubstr("cannot open ALSA device"));
  player.Stop();
}

}  // namespace
}  // namespace domian::speaker
