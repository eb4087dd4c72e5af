// FrameHub: the newest JPEG frame, shared by everyone who watches. The
// capture side publishes; each reader waits for a frame newer than the one
// it has, so a slow reader simply gets the newest when it comes back (it
// skips frames) and never holds anyone else up. It also counts watchers,
// so the camera captures only while someone looks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace domian::camera {

class FrameHub {
 public:
  struct Frame {
    std::shared_ptr<const std::vector<uint8_t>> jpeg;
    uint64_t sequence = 0;  // 1 for the first frame published; only grows
    unsigned width = 0;
    unsigned height = 0;
    std::chrono::steady_clock::time_point published;
  };

  // Called whenever the number of watchers changes, with the new number,
  // in order; it must not create or destroy a Watch.
  using WatchersChanged = std::function<void(size_t)>;
  explicit FrameHub(WatchersChanged on_change = {});

  void Publish(std::vector<uint8_t> jpeg, unsigned width, unsigned height);
  // The first frame with a sequence above `after`, waiting up to `timeout`;
  // nullopt on timeout or once closed.
  std::optional<Frame> WaitNewer(uint64_t after, std::chrono::milliseconds timeout);
  std::optional<Frame> Latest() const;
  uint64_t sequence() const;

  // Wakes every waiter for good (the server is stopping).
  void Close();
  bool closed() const;

  // Someone watching, for as long as the Watch lives.
  class Watch {
   public:
    explicit Watch(FrameHub& hub);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    FrameHub& hub_;
  };
  size_t watchers() const;

 private:
  void AddWatchers(int delta);

  WatchersChanged on_change_;
  // Held across a change and its callback, so the callbacks see the counts
  // in the order they happened (a viewer leaving while another arrives
  // must not leave the service believing nobody watches).
  std::mutex change_mu_;
  mutable std::mutex mu_;
  std::condition_variable fresh_;
  std::optional<Frame> latest_;
  uint64_t sequence_ = 0;
  size_t watchers_ = 0;
  bool closed_ = false;
};

}  // namespace domian::camera
