#include "plugins/speaker/pcm_output.h"

#include <alsa/asoundlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace domian::speaker {
namespace {

constexpr int kMaxReopens = 1;  // per Write: a device that fails again is an error
constexpr double kFadeSeconds = 0.005;
// A wait for room, a resume attempt: short enough that `stop` is noticed
// at once by a person's standards.
constexpr int kWaitMs = 20;

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
  char text[512] = "";
  va_list args;
  va_start(args, fmt);
  if (std::vsnprintf(text, sizeof text, fmt, args) < 0) text[0] = '\0';
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
  int err = snd_pcm_open(&pcm_, device_.c_str(), SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
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
  ReadBackNegotiated();
}

void PcmOutput::ReadBackNegotiated() {
  negotiated_ = Negotiated{};
  snd_pcm_uframes_t buffer = 0, period = 0;
  if (snd_pcm_get_params(pcm_, &buffer, &period) == 0) {
    negotiated_.buffer_frames = buffer;
    negotiated_.period_frames = period;
  }
  // Writes go a period at a time, in this side's frames.
  chunk_frames_ = std::max<unsigned long>(period, 1);
  // alsa-lib has no call for a plug chain's slaves; its dump lists each
  // PCM's setup in turn, the device itself last.
  snd_output_t* out = nullptr;
  if (snd_output_buffer_open(&out) < 0) return;
  char* text = nullptr;
  if (snd_pcm_dump(pcm_, out) == 0 && snd_output_buffer_string(out, &text) > 0) {
    std::istringstream lines(text);
    std::string line, name;
    bool in_setup = false;
    while (std::getline(lines, line)) {
      if (line.starts_with("Its setup is:")) {
        in_setup = true;
        continue;
      }
      if (!line.starts_with("  ")) {  // a PCM's heading: "Slave: Hardware PCM card 0 ..."
        in_setup = false;
        name = line.starts_with("Slave: ") ? line.substr(7) : line;
        continue;
      }
      const size_t colon = line.find(':');
      if (!in_setup || colon == std::string::npos) continue;
      std::string key = line.substr(0, colon);
      key.erase(key.find_last_not_of(' ') + 1);
      key.erase(0, key.find_first_not_of(' '));
      const std::string value = line.substr(line.find_first_not_of(' ', colon + 1));
      const auto number = [&value] {
        unsigned long parsed = 0;
        std::from_chars(value.data(), value.data() + value.size(), parsed);
        return parsed;
      };
      negotiated_.pcm = name;
      if (key == "format") negotiated_.sample_format = value;
      if (key == "rate") negotiated_.rate = static_cast<unsigned>(number());
      if (key == "channels") negotiated_.channels = static_cast<unsigned>(number());
      if (key == "buffer_size") negotiated_.buffer_frames = number();
      if (key == "period_size") negotiated_.period_frames = number();
    }
  }
  snd_output_close(out);
}

void PcmOutput::Close() {
  if (pcm_ == nullptr) return;
  snd_pcm_drop(pcm_);
  snd_pcm_close(pcm_);
  pcm_ = nullptr;
}

void PcmOutput::Reopen(int& reopened, const std::string& why) {
  if (reopened++ >= kMaxReopens) {
    throw std::runtime_error("ALSA device \"" + device_ + "\" failed: " + why);
  }
  if (log_) log_("ALSA device \"" + device_ + "\" failed (" + why + "); reopening it");
  Close();
  Open();
  ++reopens_;
}

int PcmOutput::Resume(const Stop& stop) {
  ++suspends_;
  const auto until = std::chrono::steady_clock::now() + kMaxResume;
  int err = 0;
  while (true) {
    err = snd_pcm_resume(pcm_);
    // Some plugins (ALSA's ioplug among them) answer 0 before the device
    // is back: still suspended is "try again", else the loop would spin.
    if (err == 0 && snd_pcm_state(pcm_) == SND_PCM_STATE_SUSPENDED) err = -EAGAIN;
    if (err != -EAGAIN || std::chrono::steady_clock::now() >= until || (stop && stop())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kWaitMs));
  }
  // Not resumable (or not in time): start the stream over.
  return err < 0 ? snd_pcm_prepare(pcm_) : 0;
}

void PcmOutput::Write(std::span<const int16_t> samples, const Stop& stop) {
  const size_t channels = format_.channels;
  size_t frames_left = samples.size() / channels;
  const int16_t* at = samples.data();
  int reopened = 0;
  // Room for nothing this long: the device has stopped taking audio.
  const auto stall_limit = std::chrono::milliseconds(buffer_ms_) + kStallGrace;
  auto progress = std::chrono::steady_clock::now();
  while (frames_left > 0) {
    if (stop && stop()) return;
    const size_t chunk = std::min<size_t>(frames_left, chunk_frames_);
    const snd_pcm_sframes_t written = snd_pcm_writei(pcm_, at, chunk);
    if (written == -EAGAIN || written == 0) {  // full: wait for room, a step at a time
      if (std::chrono::steady_clock::now() - progress > stall_limit) {
        Reopen(reopened, "it took no audio for " + std::to_string(stall_limit.count()) + " ms");
        progress = std::chrono::steady_clock::now();
        continue;
      }
      snd_pcm_wait(pcm_, kWaitMs);
      continue;
    }
    if (written < 0) {
      int err = static_cast<int>(written);
      if (err == -EPIPE || err == -EINTR) {
        // A device that failed underneath (unplugged) can also look like
        // an underrun; then recovering fails, with the real reason.
        const int recovered = snd_pcm_recover(pcm_, err, /*silent=*/1);
        if (recovered == 0) {
          if (err == -EPIPE) ++underruns_;
          continue;
        }
        err = recovered;
      } else if (err == -ESTRPIPE) {
        const int resumed = Resume(stop);
        if (resumed == 0) continue;
        err = resumed;
      }
      Reopen(reopened, snd_strerror(err));
      progress = std::chrono::steady_clock::now();
      continue;
    }
    progress = std::chrono::steady_clock::now();
    at += static_cast<size_t>(written) * channels;
    frames_left -= static_cast<size_t>(written);
  }
}

void PcmOutput::Finish(const Stop& stop) {
  if (pcm_ == nullptr) return;
  // ALSA's rate converter holds back the last partial period until more
  // comes (only snd_pcm_drain would flush it): a period of silence pushes
  // the end of the item through to the device.
  const std::vector<int16_t> silence(chunk_frames_ * format_.channels);
  Write(silence, stop);
  // An item shorter than the start threshold (a buffer) never started the
  // stream; neither did the tail written after a late underrun.
  if (snd_pcm_state(pcm_) == SND_PCM_STATE_PREPARED) snd_pcm_start(pcm_);
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
    // Fading in and out at once on a tone shorter than two fades.
    double gain = 1.0;
    if (fade > 0 && i < fade) gain = static_cast<double>(i) / static_cast<double>(fade);
    if (fade > 0 && frames - i < fade) {
      gain = std::min(gain, static_cast<double>(frames - i) / static_cast<double>(fade));
    }
    const double phase = 2.0 * std::numbers::pi * frequency * static_cast<double>(i) / format.rate;
    const auto value = static_cast<int16_t>(std::lround(amplitude * gain * std::sin(phase)));
    for (size_t c = 0; c < format.channels; ++c) samples[i * format.channels + c] = value;
  }
  return samples;
}

}  // namespace domian::speaker
