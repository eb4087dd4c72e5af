// PcmOutput through the real libasound2, into ALSA's `file` PCM (a WAV
// file, the null device behind it), configured by the test through
// ALSA_CONFIG_PATH with the stock configuration listed first: what was
// written must be what was played.
#include "plugins/speaker/pcm_output.h"

#include <sndfile.h>
#include <sys/stat.h>

#include <alsa/asoundlib.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "plugins/speaker/player.h"
#include "tests/support/alsa/alsa_test_config.h"
#include "tests/support/cluster.h"

namespace domian::speaker {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

using testing::AlsaTestConfig;
using testing::ReadWav;
using testing::Wav;

class Playback : public ::testing::Test {
 protected:
  void SetUp() override {
    alsa_.UseInThisProcess();
    PcmOutput::RouteAlsaMessages([this](const std::string& line) { alsa_log_.push_back(line); });
  }
  void TearDown() override { PcmOutput::RouteAlsaMessages(nullptr); }

  testing::TempDir dir_{"domian-pcm-test"};
  AlsaTestConfig alsa_{dir_.path()};
  const std::filesystem::path& wav_ = alsa_.wav();
  std::vector<std::string> alsa_log_;
};

TEST_F(Playback, ATonePlayedIsTheToneWritten) {
  const PcmFormat format{.rate = 48000, .channels = 2};
  const std::vector<int16_t> tone = Tone(format, 440.0, 0.5, 0.5);
  {
    PcmOutput out("domian_test_wav", format, kDefaultBufferMs, nullptr);
    EXPECT_GT(out.negotiated().buffer_frames, 0U);
    out.Write(tone);
    out.Finish();
    EXPECT_EQ(out.underruns(), 0);
  }
  const Wav wav = ReadWav(wav_);
  EXPECT_EQ(wav.rate, 48000U);
  EXPECT_EQ(wav.channels, 2U);
  EXPECT_EQ(wav.bits, 16U);
  EXPECT_TRUE(testing::PlayedThenSilence(wav.samples, tone));
  const size_t frames = 24000;  // 0.5 s at 48 kHz
  EXPECT_NEAR(testing::CrossingFrequency(tone, 2, 48000), 440.0, 4.0) << "the tone itself";
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
  ASSERT_EQ(player.Enqueue(OpenSoundFile(source.string(), 60)), Player::Refusal::kNone);
  ASSERT_TRUE(testing::Eventually([&] { return player.Status().played == 1; }, 10s));
  const Wav wav = ReadWav(wav_);
  EXPECT_EQ(wav.rate, 22050U);
  EXPECT_EQ(wav.channels, 1U);
  EXPECT_TRUE(testing::PlayedThenSilence(wav.samples, ramp));
  EXPECT_EQ(player.Status().format->rate, 22050U);
}

TEST_F(Playback, BadFilesAndAMissingDeviceAreClearErrors) {
  EXPECT_THROW(OpenSoundFile((dir_.path() / "missing.wav").string(), 60), std::runtime_error);
  const auto long_one = dir_.path() / "long.wav";
  WriteRampWav(long_one, 3 * 22050);
  try {
    OpenSoundFile(long_one.string(), 2);
    ADD_FAILURE() << "a file over the length limit was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("3 s long, over the limit of 2 s"));
  }
  // A FIFO without a writer: refused at once, where open() would wait.
  const auto fifo = dir_.path() / "fifo.wav";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  try {
    OpenSoundFile(fifo.string(), 60);
    ADD_FAILURE() << "a FIFO was taken for a sound file";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a regular file"));
  }
  const auto wide = dir_.path() / "wide.wav";
  SF_INFO info{};
  info.samplerate = 8000;
  info.channels = 9;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(wide.c_str(), SFM_WRITE, &info);
  ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
  const std::vector<int16_t> silence(9 * 800);
  sf_writef_short(file, silence.data(), 800);
  sf_close(file);
  try {
    OpenSoundFile(wide.string(), 60);
    ADD_FAILURE() << "a 9-channel file was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("9 channels, over the limit of 8"));
  }
  // A device that does not exist: each item fails and says so; the
  // player goes on with the next.
  Player player("domian_no_such_device", kDefaultBufferMs, 2, nullptr);
  const PcmFormat format{.rate = 8000, .channels = 1};
  ASSERT_EQ(player.Enqueue(Item{"tone", format, Tone(format, 440, 0.1, 0.5), ""}), Player::Refusal::kNone);
  ASSERT_TRUE(testing::Eventually([&] { return !player.Status().last_error.empty(); }, 10s));
  EXPECT_THAT(player.Status().last_error, HasSubstr("cannot open ALSA device"));
  player.Stop();
}

// On the paced card stand-in, through `plug` as on a real card: the device
// consumes in real time, underruns when starved, and records what it got.
constexpr const char* kPaced = "domian_test_speaker";
const PcmFormat kCardFormat{.rate = AlsaTestConfig::kPacedRate, .channels = AlsaTestConfig::kPacedChannels};

TEST_F(Playback, APacedDeviceTakesRealTimeAndGetsEveryFrame) {
  const std::vector<int16_t> tone = Tone(kCardFormat, 440.0, 0.5, 0.5);
  const auto started = std::chrono::steady_clock::now();
  {
    PcmOutput out(kPaced, kCardFormat, kDefaultBufferMs, nullptr);
    out.Write(tone);
    out.Finish();
    EXPECT_EQ(out.underruns(), 0);
  }
  // Generous: the device must have paced the writer at all, not how well.
  EXPECT_GT(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_TRUE(testing::PlayedThenSilence(testing::ReadRawSamples(alsa_.record()), tone));
}

TEST_F(Playback, AnUnderrunAfterAStallIsRecoveredAndCounted) {
  const std::vector<int16_t> tone = Tone(kCardFormat, 440.0, 1.0, 0.5);
  PcmOutput out(kPaced, kCardFormat, 100, nullptr);
  int polls = 0;
  // The writer stalls once, well past the 100 ms the device holds: the
  // card runs dry, as when a process is descheduled or stopped.
  out.Write(tone, [&] {
    if (++polls == 10) std::this_thread::sleep_for(500ms);
    return false;
  });
  out.Finish();
  EXPECT_GE(out.underruns(), 1);
  EXPECT_EQ(out.reopens(), 0) << "an underrun is recovered in place";
  // Recovery retries the write that failed: nothing is lost or doubled.
  EXPECT_TRUE(testing::PlayedThenSilence(testing::ReadRawSamples(alsa_.record()), tone));
}

TEST_F(Playback, StopDuringPacedPlaybackIsPrompt) {
  Player player(kPaced, kDefaultBufferMs, 4, nullptr);
  ASSERT_EQ(player.Enqueue(Item{"long tone", kCardFormat, Tone(kCardFormat, 440, 10.0, 0.5), ""}),
            Player::Refusal::kNone);
  ASSERT_TRUE(testing::Eventually([&] { return player.Status().negotiated.has_value(); }, 10s));
  std::this_thread::sleep_for(300ms);  // well into the item
  const auto stopped = std::chrono::steady_clock::now();
  player.Stop();
  ASSERT_TRUE(testing::Eventually([&] { return player.Status().playing.empty(); }, 10s));
  // 10 s of tone; a period (tens of ms) and a buffer at most.
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2s);
  EXPECT_EQ(player.Status().played, 0);
  const PlayerStatus status = player.Status();
  ASSERT_TRUE(status.negotiated.has_value());
  EXPECT_EQ(status.negotiated->rate, 48000U);
  EXPECT_EQ(status.negotiated->sample_format, "S16_LE");
  EXPECT_GT(status.negotiated->period_frames, 0U);
}

TEST_F(Playback, TheQueueIsBoundedAndStopEmptiesIt) {
  Player player(kPaced, kDefaultBufferMs, 2, nullptr);
  const Item item{"tone", kCardFormat, Tone(kCardFormat, 440, 10.0, 0.5), ""};
  ASSERT_EQ(player.Enqueue(item), Player::Refusal::kNone);
  ASSERT_TRUE(testing::Eventually([&] { return !player.Status().playing.empty(); }, 10s));
  EXPECT_EQ(player.Enqueue(item), Player::Refusal::kNone);
  EXPECT_EQ(player.Enqueue(item), Player::Refusal::kNone);
  EXPECT_EQ(player.Enqueue(item), Player::Refusal::kQueueFull) << "a third item behind max_queue 2";
  EXPECT_EQ(player.Status().queue.size(), 2U);
  player.Stop();
  EXPECT_TRUE(player.Status().queue.empty());
  EXPECT_EQ(player.Enqueue(item), Player::Refusal::kNone);
}

TEST_F(Playback, TheQueueBoundsTheAudioItHolds) {
  Player player(kPaced, kDefaultBufferMs, 64, nullptr);
  // 60 s of 48 kHz stereo: 11 MiB each; the first plays, five wait.
  const Item minute{"tone", kCardFormat, Tone(kCardFormat, 440, 60.0, 0.5), ""};
  ASSERT_EQ(player.Enqueue(minute), Player::Refusal::kNone);
  ASSERT_TRUE(testing::Eventually([&] { return !player.Status().playing.empty(); }, 10s));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(player.Enqueue(minute), Player::Refusal::kNone) << i;
  EXPECT_EQ(player.Enqueue(minute), Player::Refusal::kTooMuchAudio);
  player.Stop();
  EXPECT_EQ(player.Enqueue(minute), Player::Refusal::kNone) << "Stop frees what was queued";
}

TEST_F(Playback, AnItemShorterThanTheBufferIsPlayed) {
  // 100 ms never reaches a 250 ms buffer's start threshold: unless the
  // stream is started at the end, the card plays nothing.
  const std::vector<int16_t> beep = Tone(kCardFormat, 880.0, 0.1, 0.5);
  {
    PcmOutput out(kPaced, kCardFormat, kDefaultBufferMs, nullptr);
    out.Write(beep);
    out.Finish();
  }
  EXPECT_TRUE(testing::PlayedThenSilence(testing::ReadRawSamples(alsa_.record()), beep));
}

TEST_F(Playback, ADeviceThatStopsTakingAudioIsAFailureNotAHang) {
  const auto started = std::chrono::steady_clock::now();
  try {
    PcmOutput out("domian_test_stalling", kCardFormat, 100, nullptr);
    out.Write(Tone(kCardFormat, 440.0, 10.0, 0.5));
    ADD_FAILURE() << "10 s written to a device that stalls after 300 ms";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("it took no audio for 1100 ms"));
  }
  // Stalls after 300 ms, given up 1.1 s later; reopened, the same again.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
}

TEST_F(Playback, StopAndShutdownOnAStalledDeviceArePrompt) {
  auto player = std::make_unique<Player>("domian_test_stalling", kDefaultBufferMs, 4, nullptr);
  ASSERT_EQ(player->Enqueue(Item{"tone", kCardFormat, Tone(kCardFormat, 440, 10.0, 0.5), ""}),
            Player::Refusal::kNone);
  ASSERT_TRUE(testing::Eventually([&] { return player->Status().negotiated.has_value(); }, 10s));
  std::this_thread::sleep_for(500ms);  // past the stall
  auto asked = std::chrono::steady_clock::now();
  player->Stop();
  ASSERT_TRUE(testing::Eventually([&] { return player->Status().playing.empty(); }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s);

  ASSERT_EQ(player->Enqueue(Item{"tone", kCardFormat, Tone(kCardFormat, 440, 10.0, 0.5), ""}),
            Player::Refusal::kNone);
  std::this_thread::sleep_for(700ms);
  asked = std::chrono::steady_clock::now();
  player.reset();  // Shutdown
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s);
}

TEST_F(Playback, ADeviceThatFailsOnceIsReopenedAndPlaysOn) {
  PcmOutput out("domian_test_failing_once", kCardFormat, kDefaultBufferMs, nullptr);
  out.Write(Tone(kCardFormat, 440.0, 1.0, 0.5));
  out.Finish();
  EXPECT_EQ(out.reopens(), 1);
  EXPECT_FALSE(testing::ReadRawSamples(alsa_.record("domian_test_failing_once")).empty());
}

TEST_F(Playback, ADeviceThatKeepsFailingIsAnError) {
  Player player("domian_test_failing", kDefaultBufferMs, 4, nullptr);
  ASSERT_EQ(player.Enqueue(Item{"tone", kCardFormat, Tone(kCardFormat, 440, 2.0, 0.5), ""}),
            Player::Refusal::kNone);
  ASSERT_TRUE(testing::Eventually([&] { return !player.Status().last_error.empty(); }, 20s));
  const PlayerStatus status = player.Status();
  EXPECT_THAT(status.last_error, HasSubstr("ALSA device \"domian_test_failing\" failed: "));
  EXPECT_THAT(status.last_error, HasSubstr("Input/output error")) << "the device's reason, not the underrun it looks like";
  EXPECT_EQ(status.reopens, 1);
  EXPECT_EQ(status.problem, status.last_error) << "for the health check";
  EXPECT_EQ(status.played, 0);
}

TEST_F(Playback, ASuspendedDeviceIsResumedAndPlaysOn) {
  PcmOutput out("domian_test_suspending", kCardFormat, kDefaultBufferMs, nullptr);
  const auto started = std::chrono::steady_clock::now();
  out.Write(Tone(kCardFormat, 440.0, 1.0, 0.5));
  out.Finish();
  EXPECT_EQ(out.suspends(), 1);
  EXPECT_EQ(out.reopens(), 0);
  // 1 s of audio, 300 ms of resuming (what was queued at the suspend is
  // lost, as on a card); not the 3 s a resume may take at most.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST_F(Playback, ABusyDeviceIsAnErrorAtOnce) {
  PcmOutput holder("domian_test_exclusive", kCardFormat, kDefaultBufferMs, nullptr);
  const auto asked = std::chrono::steady_clock::now();
  try {
    PcmOutput second("domian_test_exclusive", kCardFormat, kDefaultBufferMs, nullptr);
    ADD_FAILURE() << "opened a device another user holds";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot open ALSA device \"domian_test_exclusive\": Device or resource busy"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
}

}  // namespace
}  // namespace domian::speaker
