// SpeakerService: the `speaker` service, sound on this node's ALSA device.
// Per-node (every node with a speaker offers one) and needs the trait
// `speaker`. Commands queue items on the Player's thread and return at
// once; `stop` ends playback within a period. `volume` works the mixer
// element named in config.
#pragma once

#include <domian/plugin.hpp>
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "plugins/speaker/mixer.h"
#include "plugins/speaker/player.h"
#include "plugins/speaker/speech.h"

namespace domian::speaker {

inline constexpr unsigned kMinBufferMs = 100;
inline constexpr unsigned kMaxBufferMs = 500;
inline constexpr size_t kDefaultMaxQueue = 8;
inline constexpr size_t kMaxMaxQueue = 64;
inline constexpr unsigned kMaxMixerIndex = 31;
// Longest sound file taken (it is read while it plays), in seconds.
inline constexpr unsigned kMaxFileSeconds = 3600;
// Longest tone: tones are made up front and held in memory.
inline constexpr unsigned kMaxToneSeconds = 60;
// Speech is made up front too; kMaxSpeechBytes of text stays well within.
inline constexpr size_t kMaxSpeechFrames = size_t{600} * 22050;
inline constexpr PcmFormat kToneFormat{.rate = 48000, .channels = 2};
// Home Assistant (README.md, "Home Assistant"): entity ids and the volume's
// state name, part of each entity's unique id, so they never change.
inline constexpr char kSayEntity[] = "say";
inline constexpr char kVolumeEntity[] = "volume";
inline constexpr char kVolumeState[] = "volume";
inline constexpr char kStopEntity[] = "stop";

struct SpeakerConfig {
  std::string pcm = "default";
  unsigned buffer_ms = kDefaultBufferMs;
  size_t max_queue = kDefaultMaxQueue;
  std::string voice{kDefaultVoice};  // espeak-ng's name: "en", "de", "en-us"...
  std::optional<MixerConfig> mixer;  // `volume` needs it
  // Throws domian::sdk::Error(INVALID_ARGUMENT) naming the key.
  static SpeakerConfig Parse(std::string_view json);
};

class SpeakerService {
 public:
  SpeakerService(sdk::Host host, std::string_view config_json);
  ~SpeakerService();  // Stop()
  SpeakerService(const SpeakerService&) = delete;
  SpeakerService& operator=(const SpeakerService&) = delete;

  void Start();
  void Stop();
  std::string Invoke(std::string_view command, std::string_view args_json);
  std::optional<std::string> CheckHealth();
  // Home Assistant: notify (say), number (volume, with a mixer), button
  // (stop).
  std::string DescribeEntities();

 private:
  // Publishes the volume when it differs from what was last published (a
  // volume command, or a change made with alsamixer seen by the health
  // check); nothing without a mixer or while it cannot be read.
  void PublishVolume(const VolumeReading& reading);
  void PublishVolumeFromMixer();
  void Enqueue(Item item);
  std::string Volume(const nlohmann::json& args);

  sdk::Host host_;
  const SpeakerConfig config_;
  std::unique_ptr<Player> player_;
  std::string speech_problem_;  // why espeak-ng cannot be used, if it cannot
  std::string published_volume_;  // as last published
};

}  // namespace domian::speaker
