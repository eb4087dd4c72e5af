// PcmOutput: signed 16-bit interleaved samples to an ALSA PCM, written the
// way alsa-utils' aplay does, so playback recovers instead of hanging:
//
//   - the device is opened by name ("default", "plughw:1", a test's `file`
//     PCM) with snd_pcm_set_params, format and rate conversion left to
//     ALSA's plug layer, and what was granted is read back;
//   - a short write waits and goes on, advancing by the frames actually
//     written; -EPIPE (underrun), -ESTRPIPE (suspend) and -EINTR go through
//     snd_pcm_recover (underruns are counted); any other error closes and
//     reopens the device once;
//   - Finish() drains without trusting snd_pcm_drain (which hangs on some
//     devices): it waits out snd_pcm_delay, bounded, then drops.
//
// ALSA's own messages go to the log through snd_lib_error_set_handler.
// Not thread-safe: one player thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

struct _snd_pcm;

namespace domian::speaker {

inline constexpr unsigned kDefaultBufferMs = 250;  // asked of the device
inline constexpr std::chrono::milliseconds kMaxDrain{2000};

struct PcmFormat {
  unsigned rate = 48000;
  unsigned channels = 2;
  bool operator==(const PcmFormat&) const = default;
};

// What the device granted, read back after opening.
struct Negotiated {
  std::string sample_format;  // "S16_LE"
  unsigned rate = 0;
  unsigned channels = 0;
  unsigned long buffer_frames = 0;
  unsigned long period_frames = 0;
};

class PcmOutput {
 public:
  using Log = std::function<void(const std::string&)>;

  // Opens `device`; throws std::runtime_error naming it and ALSA's reason.
  PcmOutput(std::string device, PcmFormat format, unsigned buffer_ms, Log log);
  ~PcmOutput();  // drops what is queued and closes
  PcmOutput(const PcmOutput&) = delete;
  PcmOutput& operator=(const PcmOutput&) = delete;

  // Writes every frame of `samples` (channels interleaved), recovering as
  // above; `stop` is polled between writes and ends it early. Throws when
  // the device fails and cannot be reopened.
  void Write(std::span<const int16_t> samples, const std::function<bool()>& stop = {});
  // Lets what was written play out (at most kMaxDrain, and no longer once
  // `stop` says so), then drops.
  void Finish(const std::function<bool()>& stop = {});
  // Drops what is queued at once.
  void Drop();

  const std::string& device() const { return device_; }
  const PcmFormat& format() const { return format_; }
  const Negotiated& negotiated() const { return negotiated_; }
  int64_t underruns() const { return underruns_; }
  int64_t reopens() const { return reopens_; }

  // Routes ALSA's messages (otherwise printed to stderr) to `log`, for the
  // whole process; pass nullptr to stop.
  static void RouteAlsaMessages(Log log);

 private:
  void Open();
  void Close();

  const std::string device_;
  const PcmFormat format_;
  const unsigned buffer_ms_;
  Log log_;
  _snd_pcm* pcm_ = nullptr;
  Negotiated negotiated_;
  int64_t underruns_ = 0;
  int64_t reopens_ = 0;
};

// `seconds` of a sine at `frequency` Hz and `level` (0..1 of full scale),
// every channel alike, with 5 ms fades so it starts and ends without a click.
std::vector<int16_t> Tone(const PcmFormat& format, double frequency, double seconds, double level);

}  // namespace domian::speaker
