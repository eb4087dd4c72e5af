// PcmOutput: signed 16-bit interleaved samples to an ALSA PCM, written the
// way alsa-utils' aplay does, so playback recovers instead of hanging:
//
//   - the device is opened by name ("default", "plughw:1", a test's `file`
//     PCM) with snd_pcm_set_params, format and rate conversion left to
//     ALSA's plug layer, and what the device runs at is read back;
//   - it is opened and written non-blocking: a busy device is an error at
//     once (a blocking open waits until its other user closes), and a full
//     device is waited on in snd_pcm_wait steps that notice `stop`, so a
//     device that stops taking audio (a wedged USB card, a stalled sound
//     server) never holds the player: no room for a buffer's time plus
//     kStallGrace counts as a failure;
//   - a short write goes on, advancing by the frames actually written;
//     -EPIPE (underrun) and -EINTR go through snd_pcm_recover (recovered
//     underruns are counted); -ESTRPIPE (suspend) is resumed in steps that
//     notice `stop`, at most kMaxResume, then prepared; any other error
//     closes and reopens the device once;
//   - Finish() drains without trusting snd_pcm_drain (which hangs on some
//     devices): it writes a period of silence (so a rate converter passes
//     on the item's last partial period), starts a stream that never
//     reached its start threshold (an item shorter than the buffer), waits
//     out snd_pcm_delay, bounded, then drops.
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
// A device with no room for its buffer's time plus this has stopped.
inline constexpr std::chrono::milliseconds kStallGrace{1000};
// How long a suspended device may take to resume before it is prepared.
inline constexpr std::chrono::milliseconds kMaxResume{3000};

struct PcmFormat {
  unsigned rate = 48000;
  unsigned channels = 2;
  bool operator==(const PcmFormat&) const = default;
};

// What the device itself runs at (behind ALSA's plug layer, its innermost
// PCM), read back after opening.
struct Negotiated {
  std::string pcm;            // ALSA's description: "Hardware PCM card 0 ..."
  std::string sample_format;  // "S16_LE"
  unsigned rate = 0;
  unsigned channels = 0;
  unsigned long buffer_frames = 0;
  unsigned long period_frames = 0;
};

class PcmOutput {
 public:
  using Log = std::function<void(const std::string&)>;
  using Stop = std::function<bool()>;

  // Opens `device`; throws std::runtime_error naming it and ALSA's reason.
  PcmOutput(std::string device, PcmFormat format, unsigned buffer_ms, Log log);
  ~PcmOutput();  // drops what is queued and closes
  PcmOutput(const PcmOutput&) = delete;
  PcmOutput& operator=(const PcmOutput&) = delete;

  // Writes every frame of `samples` (channels interleaved), recovering as
  // above; `stop` is polled between writes and waits and ends it early.
  // Throws when the device fails and cannot be reopened.
  void Write(std::span<const int16_t> samples, const Stop& stop = {});
  // Lets what was written play out (at most kMaxDrain, and no longer once
  // `stop` says so), then drops.
  void Finish(const Stop& stop = {});
  // Drops what is queued at once.
  void Drop();

  const std::string& device() const { return device_; }
  const PcmFormat& format() const { return format_; }
  const Negotiated& negotiated() const { return negotiated_; }
  int64_t underruns() const { return underruns_; }
  int64_t suspends() const { return suspends_; }
  int64_t reopens() const { return reopens_; }

  // Routes ALSA's messages (otherwise printed to stderr) to `log`, for the
  // whole process; pass nullptr to stop.
  static void RouteAlsaMessages(Log log);

 private:
  void Open();
  void Close();
  void ReadBackNegotiated();
  // Resumes after a suspend (bounded, noticing `stop`), else prepares.
  int Resume(const Stop& stop);
  // Closes and opens again, or throws when that was done kMaxReopens times.
  void Reopen(int& reopened, const std::string& why);

  const std::string device_;
  const PcmFormat format_;
  const unsigned buffer_ms_;
  Log log_;
  _snd_pcm* pcm_ = nullptr;
  Negotiated negotiated_;
  unsigned long chunk_frames_ = 1;
  int64_t underruns_ = 0;
  int64_t suspends_ = 0;
  int64_t reopens_ = 0;
};

// `seconds` of a sine at `frequency` Hz and `level` (0..1 of full scale),
// every channel alike, with 5 ms fades so it starts and ends without a click.
std::vector<int16_t> Tone(const PcmFormat& format, double frequency, double seconds, double level);

}  // namespace domian::speaker
