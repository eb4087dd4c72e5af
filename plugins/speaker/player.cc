#include "plugins/speaker/player.h"

#include <sndfile.h>

#include <stdexcept>

namespace domian::speaker {

Item LoadSoundFile(const std::string& path, size_t max_frames) {
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (file == nullptr) {
    throw std::runtime_error("cannot play " + path + ": " + sf_strerror(nullptr));
  }
  if (info.channels < 1 || info.samplerate < 1 || info.frames < 0 ||
      static_cast<size_t>(info.frames) > max_frames) {
    sf_close(file);
    throw std::runtime_error("cannot play " + path + ": " + std::to_string(info.frames) +
                             " frames, over the limit of " + std::to_string(max_frames));
  }
  Item item{"file " + path,
            PcmFormat{static_cast<unsigned>(info.samplerate), static_cast<unsigned>(info.channels)},
            std::vector<int16_t>(static_cast<size_t>(info.frames) * static_cast<size_t>(info.channels))};
  // libsndfile converts any encoding (float, 24-bit, Vorbis...) to 16-bit.
  const sf_count_t read = sf_readf_short(file, item.samples.data(), info.frames);
  sf_close(file);
  item.samples.resize(static_cast<size_t>(read) * static_cast<size_t>(info.channels));
  return item;
}

Player::Player(std::string device, unsigned buffer_ms, size_t max_queue, Log log)
    : device_(std::move(device)), buffer_ms_(buffer_ms), max_queue_(max_queue), log_(std::move(log)) {
  status_.device = device_;
  thread_ = std::thread([this] { Run(); });
}

Player::~Player() { Shutdown(); }

bool Player::Enqueue(Item item) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(item));
  }
  wake_.notify_all();
  return true;
}

void Player::Stop() {
  {
    std::lock_guard lock(mu_);
    queue_.clear();
    ++stop_generation_;
  }
  wake_.notify_all();
}

void Player::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    queue_.clear();
    ++stop_generation_;
  }
  wake_.notify_all();
  thread_.join();
}

PlayerStatus Player::Status() const {
  std::lock_guard lock(mu_);
  PlayerStatus status = status_;
  for (const Item& item : queue_) status.queue.push_back(item.what);
  return status;
}

void Player::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    const uint64_t generation = stop_generation_;
    status_.playing = item.what;
    status_.format = item.format;
    status_.negotiated.reset();
    const int64_t underruns_before = status_.underruns;
    lock.unlock();
    std::string error;
    bool stopped = false;
    try {
      PcmOutput out(device_, item.format, buffer_ms_, log_);
      {
        std::lock_guard publish(mu_);
        status_.negotiated = out.negotiated();
      }
      // Polled once a period: ends the item on Stop() and keeps the
      // underrun count in Status() current during a long item.
      const auto stop = [&] {
        std::lock_guard check(mu_);
        status_.underruns = underruns_before + out.underruns();
        return stop_generation_ != generation;
      };
      out.Write(item.samples, stop);
      stopped = stop();
      if (stopped) {
        out.Drop();
      } else {
        out.Finish(stop);
      }
    } catch (const std::exception& e) {
      error = item.what + ": " + e.what();
      if (log_) log_(error);
    }
    lock.lock();
    status_.playing.clear();
    if (!error.empty()) {
      status_.last_error = status_.problem = error;
    } else if (!stopped) {
      ++status_.played;
      status_.problem.clear();
    }
  }
}

}  // namespace domian::speaker
