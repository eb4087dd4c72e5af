// Player: the speaker's playback queue, on a thread of its own. Items (a
// tone, speech, a sound file) are played one after another through a
// PcmOutput opened for each item's format; `Stop` ends the current item
// within a wait step and empties the queue, and shutting down never waits
// for a drain longer than kMaxDrain. Sound files are read while they play,
// so a long one costs a chunk of memory, not its length.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plugins/speaker/pcm_output.h"

namespace domian::speaker {

// Sound files with more channels than this are refused (7.1 is 8).
inline constexpr unsigned kMaxFileChannels = 8;
// Audio held in memory by queued items (tones and speech), in bytes.
inline constexpr size_t kMaxQueuedBytes = size_t{64} << 20;

// Something to play: samples made up front (a tone, speech), or a sound
// file read while it plays.
struct Item {
  std::string what;  // "tone 440 Hz 1000 ms", "file /x.wav"
  PcmFormat format;
  std::vector<int16_t> samples;
  std::string file;  // set for a sound file; `samples` stays empty
};

// A sound file (WAV, FLAC, Ogg/Vorbis: whatever libsndfile reads), checked
// and described as an Item to be read while it plays. Throws
// std::runtime_error naming the file and the reason: not a regular file, no
// audio, more than kMaxFileChannels channels or longer than `max_seconds`.
Item OpenSoundFile(const std::string& path, unsigned max_seconds);

struct PlayerStatus {
  std::string playing;  // "" when idle
  std::vector<std::string> queue;
  int64_t played = 0;
  int64_t underruns = 0;  // recovered, over all items
  int64_t suspends = 0;   // resumed or restarted, over all items
  int64_t reopens = 0;    // the device reopened after a failure
  std::string last_error;
  // last_error while it still stands: cleared when an item plays through,
  // so the health check recovers with the device.
  std::string problem;
  std::string device;
  // Of the item playing or last played: its own format, and what the
  // device runs at for it.
  std::optional<PcmFormat> format;
  std::optional<Negotiated> negotiated;
};

class Player {
 public:
  using Log = std::function<void(const std::string&)>;
  enum class Refusal { kNone, kQueueFull, kTooMuchAudio };

  Player(std::string device, unsigned buffer_ms, size_t max_queue, Log log);
  ~Player();  // Shutdown()
  Player(const Player&) = delete;
  Player& operator=(const Player&) = delete;

  // kQueueFull with max_queue items waiting; kTooMuchAudio when the items
  // waiting would hold more than kMaxQueuedBytes of samples.
  Refusal Enqueue(Item item);
  // Ends the current item and empties the queue.
  void Stop();
  void Shutdown();
  PlayerStatus Status() const;

 private:
  void Run();
  // Plays `item` to its end or until `stop`; throws on device or file errors.
  void Play(Item& item, const std::function<bool()>& stop);

  const std::string device_;
  const unsigned buffer_ms_;
  const size_t max_queue_;
  Log log_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  uint64_t stop_generation_ = 0;  // bumped by Stop(); the item playing checks it
  PlayerStatus status_;
  std::thread thread_;
};

}  // namespace domian::speaker
