// The sound devices a test plays into, defined in an asound.conf of its own
// that is read after ALSA's stock configuration (ALSA_CONFIG_PATH lists
// both, stock first, so `default`, `plug` and `null` keep working):
//
//   domian_test_wav       ALSA's file PCM: a WAV of everything played (the
//                         null device behind it never waits or underruns);
//   domian_test_speaker   `plug` over domian_test_paced_hw, the paced card
//                         stand-in (paced_pcm.cc, 48 kHz stereo S16_LE),
//                         which records the frames it was given (raw);
//   domian_test_mixer     a control device with a card's mixer controls
//                         (fake_mixer_ctl.cc), its values in a state file;
//
// and paced cards that fail as real ones do, each behind `plug` and
// recording what it played into record(name):
//
//   domian_test_stalling      stops taking audio after 300 ms (a wedged USB
//                             card, a stalled sound server)
//   domian_test_failing_once  fails (-EIO) after 200 ms, on its first open
//                             only: a reopen recovers
//   domian_test_failing       fails after 200 ms on every open
//   domian_test_suspending    suspends after 200 ms and takes 300 ms to
//                             resume (system suspend)
//   domian_test_exclusive     one open at a time, like a kernel hw device
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace domian::testing {

class AlsaTestConfig {
 public:
  static constexpr unsigned kPacedRate = 48000;
  static constexpr unsigned kPacedChannels = 2;

  // Writes `dir`/asound.conf; the devices' files go in `dir` too.
  explicit AlsaTestConfig(const std::filesystem::path& dir);

  // ALSA_CONFIG_PATH for a process (a daemon) that should see the devices.
  std::string ConfigPath() const;
  // Makes this process see them (setenv, and alsa-lib reads its
  // configuration again).
  void UseInThisProcess() const;

  const std::filesystem::path& wav() const { return wav_; }
  const std::filesystem::path& record() const { return record_; }
  // What the paced card `name` (one of the failing ones above) played.
  std::filesystem::path record(const std::string& name) const;
  const std::filesystem::path& mixer_state() const { return mixer_state_; }

 private:
  std::filesystem::path dir_, conf_, wav_, record_, mixer_state_;
};

struct Wav {
  unsigned rate = 0;
  unsigned channels = 0;
  unsigned bits = 0;
  std::vector<int16_t> samples;
};

// A PCM WAV file (its fmt chunk and its data); an empty Wav and a test
// failure when it is not one.
Wav ReadWav(const std::filesystem::path& path);
// Raw S16_LE samples (the paced device's record).
std::vector<int16_t> ReadRawSamples(const std::filesystem::path& path);
// The fake mixer's stored raw values of `control` ("87,87"), "" if none.
std::string StoredMixerValue(const std::filesystem::path& state, const std::string& control);

// Whether `played` is `expected` followed by nothing but silence (players
// end an item with a period of silence).
bool PlayedThenSilence(const std::vector<int16_t>& played, const std::vector<int16_t>& expected);

// Zero crossings of one channel, as a frequency in Hz.
double CrossingFrequency(const std::vector<int16_t>& samples, unsigned channels, unsigned rate);

}  // namespace domian::testing
