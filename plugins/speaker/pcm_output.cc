#include "plugins/speaker/pcm_output.h"

#include <alsa/asoundlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <thread>

namespace domian::speaker {
namespace {

constexpr int kMaxReopens = 1;  // per Write: a device that fails again is an error
constexpr double kFadeSeconds = 0.005;
constexpr int kWaitMs = 100;  // snd_pcm_wait on a short write

std::mutex& AlsaLogMutex() {
  static std::mutex mu;
  return mu;
}
PcmOutput::Log& AlsaLog() {
  static PcmOutput::Log log;
  return log;
}

// snd_lib_error_set_handler's C callback: formats and forwards.
void AlsaMessage(const char* file, int line, const char* function, int err, const char* fmt, ...) {
  char text[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  std::lock_guard lock(AlsaLogMutex());
  if (AlsaLog()) {
    AlsaLog()(std::string("ALSA: ") + text + (err != 0 ? std::string(": ") + snd_strerror(err) : "") +
              " (" + function + ", " + file + ":" + std::to_string(line) + ")");
  }
}

}  // namespace

void PcmOutput::RouteAlsaMessages(Log log) {
  std::lock_guard lock(AlsaLogMutex());
  AlsaLog() = std::move(log);
  snd_lib_error_set_handler(AlsaLog() ? &AlsaMessage : nullptr);
}

PcmOutput::PcmOutput(std::string device, PcmFormat format, unsigned buffer_ms, Log log)
    : device_(std::move(device)), format_(format), buffer_ms_(buffer_ms), log_(std::move(log)) {
  Open();
}

PcmOutput::~PcmOutput() { Close(); }

void PcmOutput::Open() {
  int err = snd_pcm_open(&pcm_, device_.c_str(), SND_PCM_STREAM_PLAYBACK, 0);
  if (err < 0) {
    pcm_ = nullptr;
    throw std::runtime_error("cannot open ALSA device \"" + device_ + "\": " + snd_strerror(err));
  }
  // soft_resample 1: the plug layer converts rate and format as needed.
  err = snd_pcm_set_params(pcm_, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED,
                           format_.channels, format_.rate, 1, buffer_ms_ * 1000);
  if (err < 0) {
    Close();
    throw std::runtime_error("ALSA device \"" + device_ + "\" refuses " +
                             std::to_string(format_.channels) + " channels at " +
                             std::to_string(format_.rate) + " Hz: " + snd_strerror(err));
  }
  snd_pcm_uframes_t buffer = 0, period = 0;
  if (snd_pcm_get_params(pcm_, &buffer, &period) == 0) {
    negotiated_.buffer_frames = buffer;
    negotiated_.period_frames = period;
  }
  snd_pcm_hw_params_t* params = nullptr;
  snd_pcm_hw_params_alloca(&params);
  if (snd_pcm_hw_params_current(pcm_, params) == 0) {
    snd_pcm_format_t sample_format = SND_PCM_FORMAT_UNKNOWN;
    snd_pcm_hw_params_get_format(params, &sample_format);
    const char* name = snd_pcm_format_name(sample_format);
    negotiated_.sample_format = name != nullptr ? name : "unknown";
    snd_pcm_hw_params_get_rate(params, &negotiated_.rate, nullptr);
    snd_pcm_hw_params_get_channels(params, &negotiated_.channels);
  }
}

void PcmOutput::Close() {
  if (pcm_ == nullptr) return;
  snd_pcm_drop(pcm_);
  snd_pcm_close(pcm_);
  pcm_ = nullptr;
}

void PcmOutput::Write(std::span<const int16_t> samples, const std::function<bool()>& stop) {
  const size_t channels = format_.channels;
  size_t frames_left = samples.size() / channels;
  const int16_t* at = samples.data();
  int reopened = 0;
  while (frames_left > 0) {
    if (stop && stop()) return;
    const snd_pcm_sframes_t written =
        snd_pcm_writei(pcm_, at, std::min<size_t>(frames_left, std::max<unsigned long>(negotiated_.period_frames, 1)));
    if (written == -EAGAIN || written == 0) {  // full: wait for room
      snd_pcm_wait(pcm_, kWaitMs);
      continue;
    }
    if (written == -EPIPE || written == -ESTRPIPE || written == -EINTR) {
      if (written == -EPIPE) ++underruns_;
      const int err = snd_pcm_recover(pcm_, static_cast<int>(written), /*silent=*/1);
      if (err == 0) continue;
      // Could not recover in place: fall through to reopening.
    }
    if (written < 0) {
      if (reopened++ >= kMaxReopens) {
        throw std::runtime_error("ALSA device \"" + device_ + "\" failed: " +
                                 snd_strerror(static_cast<int>(written)));
      }
      if (log_) log_("ALSA device \"" + device_ + "\" failed (" + snd_strerror(static_cast<int>(written)) + "); reopening it");
      Close();
      Open();
      ++reopens_;
      continue;
    }
    at += static_cast<size_t>(written) * channels;
    frames_left -= static_cast<size_t>(written);
  }
}

void PcmOutput::Finish(const std::function<bool()>& stop) {
  if (pcm_ == nullptr) return;
  // What is still queued plays for `delay` frames; wait that out (bounded,
  // in steps that notice `stop`) rather than call snd_pcm_drain, then drop
  // whatever is left.
  snd_pcm_sframes_t delay = 0;
  if (snd_pcm_delay(pcm_, &delay) == 0 && delay > 0) {
    const auto until = std::chrono::steady_clock::now() +
                       std::min<std::chrono::milliseconds>(
                           std::chrono::milliseconds(delay * 1000 / format_.rate), kMaxDrain);
    while (std::chrono::steady_clock::now() < until && !(stop && stop())) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(kWaitMs), until - std::chrono::steady_clock::now()));
    }
  }
  Drop();
}

void PcmOutput::Drop() {
  if (pcm_ == nullptr) return;
  snd_pcm_drop(pcm_);
  snd_pcm_prepare(pcm_);
}

std::vector<int16_t> Tone(const PcmFormat& format, double frequency, double seconds, double level) {
  const auto frames = static_cast<size_t>(std::lround(seconds * format.rate));
  const auto fade = static_cast<size_t>(kFadeSeconds * format.rate);
  const double amplitude = std::clamp(level, 0.0, 1.0) * 32767.0;
  std::vector<int16_t> samples(frames * format.channels);
  for (size_t i = 0; i < frames; ++i) {
    double gain = 1.0;
    if (fade > 0 && i < fade) gain = static_cast<double>(i) / static_cast<double>(fade);
    if (fade > 0 && frames - i < fade) gain = static_cast<double>(frames - i) / static_cast<double>(fade);
    const double phase = 2.0 * std::numbers::pi * frequency * static_cast<double>(i) / format.rate;
    const auto value = static_cast<int16_t>(std::lround(amplitude * gain * std::sin(phase)));
    for (size_t c = 0; c < format.channels; ++c) samples[i * format.channels + c] = value;
  }
  return samples;
}

}  // namespace domian::speaker
