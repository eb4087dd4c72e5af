// Mixer: the speaker's volume, through one simple-mixer element of an ALSA
// card ("Master", "PCM", "Digital": the name differs per card, so it comes
// from config). Opened for each use, so a card that comes and goes (USB)
// needs no reconnect logic and a missing element is a clear error each time.
//
// Percent follows alsamixer's mapping where the element reports a dB range
// (linear in dB up to a 24 dB span, perceptual beyond it), and the raw
// range otherwise, so 50 % sounds like half on cards with dB information.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

struct _snd_mixer;
struct _snd_mixer_elem;

namespace domian::speaker {

struct MixerConfig {
  std::string card = "default";  // an ALSA control name: "default", "hw:1", ...
  std::string element;           // a simple element: "Master", "PCM", ...
  unsigned index = 0;            // for cards with two elements of one name
};

struct VolumeReading {
  double percent = 0;
  std::optional<double> db;     // where the element reports dB
  std::optional<bool> muted;    // where the element has a playback switch
  long raw = 0, raw_min = 0, raw_max = 0;
};

// The card's mixer cannot be opened (a USB card unplugged): try later.
// Other errors (no such element, no volume or switch) are std::runtime_error:
// the configuration or the request does not fit the card.
struct MixerUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Mixer {
 public:
  // Opens `config.card` and finds the element; throws as above, naming the
  // card and element (and listing the elements there).
  explicit Mixer(const MixerConfig& config);
  ~Mixer();
  Mixer(const Mixer&) = delete;
  Mixer& operator=(const Mixer&) = delete;

  VolumeReading Read() const;
  // 0..100; every channel alike.
  void SetPercent(double percent);
  bool has_switch() const;
  // Muting throws when the element has no playback switch; unmuting one
  // without a switch does nothing (it cannot be muted).
  void SetMuted(bool muted);

 private:
  std::optional<std::pair<long, long>> DbRange() const;

  const MixerConfig config_;
  _snd_mixer* mixer_ = nullptr;
  _snd_mixer_elem* element_ = nullptr;  // owned by mixer_
};

}  // namespace domian::speaker
