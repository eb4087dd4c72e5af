// Player: the speaker's playback queue, on a thread of its own. Items (a
// tone, a sound file) are played one after another through a PcmOutput
// opened for each item's format; `Stop` ends the current item within one
// period and empties the queue, and shutting down never waits for a drain
// longer than kMaxDrain.
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

// Something to play: its samples, decoded up front (sounds for
// announcements are short; the queue bounds how many wait).
struct Item {
  std::string what;  // "tone 440 Hz 1 s", "file /x.wav"
  PcmFormat format;
  std::vector<int16_t> samples;
};

// A sound file (WAV, FLAC, Ogg/Vorbis: whatever libsndfile reads) as an
// Item; throws std::runtime_error naming the file and the reason.
Item LoadSoundFile(const std::string& path, size_t max_frames);

struct PlayerStatus {
  std::string playing;  // "" when idle
  std::vector<std::string> queue;
  int64_t played = 0;
  int64_t underruns = 0;  // recovered, over all items
  std::string last_error;
  // last_error while it still stands: cleared when an item plays through,
  // so the health check recovers with the device.
  std::string problem;
  std::string device;
  // Of the item playing or last played: its own format, and what the
  // device granted for it.
  std::optional<PcmFormat> format;
  std::optional<Negotiated> negotiated;
};

class Player {
 public:
  using Log = std::function<void(const std::string&)>;
  Player(std::string device, unsigned buffer_ms, size_t max_queue, Log log);
  ~Player();  // Shutdown()
  Player(const Player&) = delete;
  Player& operator=(const Player&) = delete;

  // False when the queue is full.
  bool Enqueue(Item item);
  // Ends the current item and empties the queue.
  void Stop();
  void Shutdown();
  PlayerStatus Status() const;

 private:
  void Run();

  const std::string device_;
  const unsigned buffer_ms_;
  const size_t max_queue_;
  Log log_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  uint64_t stop_generation_ = 0;  // bumped by Stop(); the item playing checks it
  PlayerStatus status_;
  std::thread thread_;
};

}  // namespace domian::speaker
