#include "tests/support/alsa/alsa_test_config.h"

#include <alsa/asoundlib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace domian::testing {

namespace {

// Paced cards that fail: name and the stand-in's settings for it.
constexpr std::pair<const char*, const char*> kFaultyCards[] = {
    {"domian_test_stalling", "stall_after_ms 300"},
    {"domian_test_failing_once", "fail_after_ms 200\n  fail_opens 1"},
    {"domian_test_failing", "fail_after_ms 200"},
    {"domian_test_suspending", "suspend_after_ms 200\n  resume_delay_ms 300"},
    {"domian_test_exclusive", "exclusive true"},
};

}  // namespace

AlsaTestConfig::AlsaTestConfig(const std::filesystem::path& dir)
    : dir_(dir),
      conf_(dir / "asound.conf"),
      wav_(dir / "played.wav"),
      record_(dir / "paced.raw"),
      mixer_state_(dir / "mixer.state") {
  std::ofstream(conf_) << "pcm.domian_test_wav {\n"
                       << "  type file\n  slave.pcm \"null\"\n"
                       << "  file \"" << wav_.string() << "\"\n  format \"wav\"\n}\n"
                       << "pcm_type.domian_paced { lib \"" << DOMIAN_ALSA_PACED_PCM << "\" }\n"
                       << "pcm.domian_test_paced_hw {\n  type domian_paced\n"
                       << "  rate " << kPacedRate << "\n  channels " << kPacedChannels << "\n"
                       << "  record \"" << record_.string() << "\"\n}\n"
                       << "pcm.domian_test_speaker { type plug slave.pcm \"domian_test_paced_hw\" }\n"
                       << "ctl_type.domian_mixer { lib \"" << DOMIAN_ALSA_FAKE_MIXER << "\" }\n"
                       << "ctl.domian_test_mixer {\n  type domian_mixer\n"
                       << "  state \"" << mixer_state_.string() << "\"\n}\n";
  std::ofstream conf(conf_, std::ios::app);
  for (const auto& [name, settings] : kFaultyCards) {
    conf << "pcm." << name << "_hw {\n  type domian_paced\n"
         << "  rate " << kPacedRate << "\n  channels " << kPacedChannels << "\n"
         << "  record \"" << record(name).string() << "\"\n  " << settings << "\n}\n"
         << "pcm." << name << " { type plug slave.pcm \"" << name << "_hw\" }\n";
  }
}

std::filesystem::path AlsaTestConfig::record(const std::string& name) const {
  return dir_ / (name + ".raw");
}

std::string AlsaTestConfig::ConfigPath() const {
  return "/usr/share/alsa/alsa.conf:" + conf_.string();
}

void AlsaTestConfig::UseInThisProcess() const {
  ::setenv("ALSA_CONFIG_PATH", ConfigPath().c_str(), 1);
  snd_config_update_free_global();
}

namespace {

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

Wav ReadWav(const std::filesystem::path& path) {
  const std::string bytes = Slurp(path);
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

std::vector<int16_t> ReadRawSamples(const std::filesystem::path& path) {
  const std::string bytes = Slurp(path);
  std::vector<int16_t> samples(bytes.size() / 2);
  std::memcpy(samples.data(), bytes.data(), samples.size() * 2);
  return samples;
}

std::string StoredMixerValue(const std::filesystem::path& state, const std::string& control) {
  std::ifstream in(state);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(control + "=")) return line.substr(control.size() + 1);
  }
  return "";
}

bool PlayedThenSilence(const std::vector<int16_t>& played, const std::vector<int16_t>& expected) {
  if (played.size() < expected.size() ||
      !std::equal(expected.begin(), expected.end(), played.begin())) {
    return false;
  }
  return std::all_of(played.begin() + static_cast<std::ptrdiff_t>(expected.size()), played.end(),
                     [](int16_t s) { return s == 0; });
}

double CrossingFrequency(const std::vector<int16_t>& samples, unsigned channels, unsigned rate) {
  const size_t frames = samples.size() / channels;
  if (frames < 2) return 0;
  int crossings = 0;
  for (size_t i = 1; i < frames; ++i) {
    if ((samples[(i - 1) * channels] < 0) != (samples[i * channels] < 0)) ++crossings;
  }
  return crossings / 2.0 / (static_cast<double>(frames) / rate);
}

}  // namespace domian::testing
