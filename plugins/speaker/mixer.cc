#include "plugins/speaker/mixer.h"

#include <alsa/asoundlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace domian::speaker {
namespace {

// alsamixer's mapping (alsa-utils volume_mapping.c): a span of at most this
// many dB is shown linearly, a wider one on a perceptual curve.
constexpr long kMaxLinearDbSpan = 24 * 100;  // hundredths of a dB

bool LinearDb(long min, long max) { return max - min <= kMaxLinearDbSpan; }

// dB (hundredths) to 0..1 on alsamixer's scale.
double NormalisedFromDb(long db, long min, long max) {
  if (LinearDb(min, max)) return static_cast<double>(db - min) / static_cast<double>(max - min);
  double normalised = std::pow(10.0, static_cast<double>(db - max) / 6000.0);
  if (min != SND_CTL_TLV_DB_GAIN_MUTE) {
    const double min_normalised = std::pow(10.0, static_cast<double>(min - max) / 6000.0);
    normalised = (normalised - min_normalised) / (1 - min_normalised);
  }
  return normalised;
}

// 0..1 on alsamixer's scale to dB (hundredths).
long DbFromNormalised(double normalised, long min, long max) {
  if (LinearDb(min, max)) return std::lround(normalised * static_cast<double>(max - min)) + min;
  if (min != SND_CTL_TLV_DB_GAIN_MUTE) {
    const double min_normalised = std::pow(10.0, static_cast<double>(min - max) / 6000.0);
    normalised = normalised * (1 - min_normalised) + min_normalised;
  }
  if (normalised <= 0) return min;
  return std::clamp(std::lround(6000.0 * std::log10(normalised)) + max, min, max);
}

std::string ElementNames(snd_mixer_t* mixer) {
  std::string names;
  for (snd_mixer_elem_t* e = snd_mixer_first_elem(mixer); e != nullptr; e = snd_mixer_elem_next(e)) {
    if (!names.empty()) names += ", ";
    names += snd_mixer_selem_get_name(e);
    if (snd_mixer_selem_get_index(e) != 0) names += "," + std::to_string(snd_mixer_selem_get_index(e));
  }
  return names.empty() ? "none" : names;
}

}  // namespace

Mixer::Mixer(const MixerConfig& config) : config_(config) {
  const std::string where = "mixer element \"" + config_.element + "\" on \"" + config_.card + "\"";
  int err = snd_mixer_open(&mixer_, 0);
  if (err < 0) throw MixerUnavailable("cannot open a mixer: " + std::string(snd_strerror(err)));
  if ((err = snd_mixer_attach(mixer_, config_.card.c_str())) < 0 ||
      (err = snd_mixer_selem_register(mixer_, nullptr, nullptr)) < 0 ||
      (err = snd_mixer_load(mixer_)) < 0) {
    snd_mixer_close(mixer_);
    throw MixerUnavailable("cannot open the mixer of \"" + config_.card + "\": " + snd_strerror(err));
  }
  snd_mixer_selem_id_t* id = nullptr;
  snd_mixer_selem_id_alloca(&id);
  snd_mixer_selem_id_set_name(id, config_.element.c_str());
  snd_mixer_selem_id_set_index(id, config_.index);
  // alsa-lib asserts on a NULL element in later calls: check it here.
  element_ = snd_mixer_find_selem(mixer_, id);
  if (element_ == nullptr) {
    const std::string names = ElementNames(mixer_);
    snd_mixer_close(mixer_);
    throw std::runtime_error(where + " not found (elements there: " + names + ")");
  }
  if (!snd_mixer_selem_has_playback_volume(element_)) {
    snd_mixer_close(mixer_);
    throw std::runtime_error(where + " has no playback volume");
  }
}

Mixer::~Mixer() { snd_mixer_close(mixer_); }

std::optional<std::pair<long, long>> Mixer::DbRange() const {
  long min = 0, max = 0;
  if (snd_mixer_selem_get_playback_dB_range(element_, &min, &max) < 0 || min >= max) {
    return std::nullopt;
  }
  return std::pair{min, max};
}

VolumeReading Mixer::Read() const {
  VolumeReading reading;
  snd_mixer_selem_get_playback_volume_range(element_, &reading.raw_min, &reading.raw_max);
  snd_mixer_selem_get_playback_volume(element_, SND_MIXER_SCHN_FRONT_LEFT, &reading.raw);
  long db = 0;
  const auto range = DbRange();
  if (range && snd_mixer_selem_ask_playback_vol_dB(element_, reading.raw, &db) == 0) {
    reading.db = static_cast<double>(db) / 100.0;
    reading.percent = 100.0 * NormalisedFromDb(db, range->first, range->second);
  } else if (reading.raw_max > reading.raw_min) {
    reading.percent = 100.0 * static_cast<double>(reading.raw - reading.raw_min) /
                      static_cast<double>(reading.raw_max - reading.raw_min);
  }
  reading.percent = std::round(std::clamp(reading.percent, 0.0, 100.0) * 10.0) / 10.0;
  if (has_switch()) {
    int on = 1;
    snd_mixer_selem_get_playback_switch(element_, SND_MIXER_SCHN_FRONT_LEFT, &on);
    reading.muted = on == 0;
  }
  return reading;
}

void Mixer::SetPercent(double percent) {
  const double normalised = std::clamp(percent, 0.0, 100.0) / 100.0;
  long raw_min = 0, raw_max = 0;
  snd_mixer_selem_get_playback_volume_range(element_, &raw_min, &raw_max);
  long raw = raw_min + std::lround(normalised * static_cast<double>(raw_max - raw_min));
  if (const auto range = DbRange()) {
    // The raw step whose dB is nearest the target, looking both ways.
    const long target = DbFromNormalised(normalised, range->first, range->second);
    long below = raw_min, above = raw_max, db_below = 0, db_above = 0;
    const bool has_below = snd_mixer_selem_ask_playback_dB_vol(element_, target, -1, &below) == 0 &&
                           snd_mixer_selem_ask_playback_vol_dB(element_, below, &db_below) == 0;
    const bool has_above = snd_mixer_selem_ask_playback_dB_vol(element_, target, 1, &above) == 0 &&
                           snd_mixer_selem_ask_playback_vol_dB(element_, above, &db_above) == 0;
    if (has_below && has_above) {
      raw = std::abs(db_above - target) < std::abs(target - db_below) ? above : below;
    } else if (has_below || has_above) {
      raw = has_below ? below : above;
    }
  }
  const int err = snd_mixer_selem_set_playback_volume_all(element_, raw);
  if (err < 0) {
    throw MixerUnavailable("cannot set mixer element \"" + config_.element + "\": " + snd_strerror(err));
  }
}

bool Mixer::has_switch() const { return snd_mixer_selem_has_playback_switch(element_) != 0; }

void Mixer::SetMuted(bool muted) {
  if (!has_switch()) {
    if (!muted) return;
    throw std::runtime_error("mixer element \"" + config_.element + "\" on \"" + config_.card +
                             "\" has no playback switch, so it cannot be muted");
  }
  const int err = snd_mixer_selem_set_playback_switch_all(element_, muted ? 0 : 1);
  if (err < 0) {
    throw MixerUnavailable("cannot switch mixer element \"" + config_.element + "\": " + snd_strerror(err));
  }
}

}  // namespace domian::speaker
