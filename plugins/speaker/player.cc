#include "plugins/speaker/player.h"

#include <fcntl.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace domian::speaker {
namespace {

// A sound file is read and written this many frames at a time.
constexpr sf_count_t kStreamFrames = 4096;

// An open sound file. Opened non-blocking and only when it is a regular
// file: open() on a FIFO without a writer would wait for ever.
class SoundFile {
 public:
  explicit SoundFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) Fail(std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      Fail("not a regular file");
    }
    file_ = sf_open_fd(fd, SFM_READ, &info_, /*close_desc=*/SF_TRUE);
    if (file_ == nullptr) Fail(sf_strerror(nullptr));  // sf_open_fd closed fd
  }
  ~SoundFile() {
    if (file_ != nullptr) sf_close(file_);
  }
  SoundFile(const SoundFile&) = delete;
  SoundFile& operator=(const SoundFile&) = delete;

  const SF_INFO& info() const { return info_; }
  PcmFormat format() const {
    return PcmFormat{static_cast<unsigned>(info_.samplerate), static_cast<unsigned>(info_.channels)};
  }
  // Up to `frames` frames, 16-bit (libsndfile converts any encoding).
  size_t Read(std::vector<int16_t>& buffer, sf_count_t frames) {
    buffer.resize(static_cast<size_t>(frames) * static_cast<size_t>(info_.channels));
    const sf_count_t read = sf_readf_short(file_, buffer.data(), frames);
    buffer.resize(static_cast<size_t>(std::max<sf_count_t>(read, 0)) * static_cast<size_t>(info_.channels));
    return buffer.size();
  }

  [[noreturn]] void Fail(const std::string& why) const {
    throw std::runtime_error("cannot play " + path_ + ": " + why);
  }

 private:
  std::string path_;
  SF_INFO info_{};
  SNDFILE* file_ = nullptr;
};

}  // namespace

Item OpenSoundFile(const std::string& path, unsigned max_seconds) {
  SoundFile file(path);
  const SF_INFO& info = file.info();
  if (info.channels < 1 || info.samplerate < 1 || info.frames < 1) file.Fail("it holds no audio");
  if (static_cast<unsigned>(info.channels) > kMaxFileChannels) {
    file.Fail(std::to_string(info.channels) + " channels, over the limit of " +
              std::to_string(kMaxFileChannels));
  }
  if (info.frames / info.samplerate > static_cast<sf_count_t>(max_seconds)) {
    file.Fail(std::to_string(info.frames / info.samplerate) + " s long, over the limit of " +
              std::to_string(max_seconds) + " s");
  }
  return Item{"file " + path, file.format(), {}, path};
}

Player::Player(std::string device, unsigned buffer_ms, size_t max_queue, Log log)
    : device_(std::move(device)), buffer_ms_(buffer_ms), max_queue_(max_queue), log_(std::move(log)) {
  status_.device = device_;
  thread_ = std::thread([this] { Run(); });
}

Player::~Player() { Shutdown(); }

Player::Refusal Player::Enqueue(Item item) {
  const size_t bytes = item.samples.size() * sizeof(int16_t);
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queue_) return Refusal::kQueueFull;
    if (queued_bytes_ + bytes > kMaxQueuedBytes) return Refusal::kTooMuchAudio;
    queued_bytes_ += bytes;
    queue_.push_back(std::move(item));
  }
  wake_.notify_all();
  return Refusal::kNone;
}

void Player::Stop() {
  {
    std::lock_guard lock(mu_);
    queue_.clear();
    queued_bytes_ = 0;
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
    queued_bytes_ = 0;
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

void Player::Play(Item& item, const std::function<bool()>& stop) {
  std::optional<SoundFile> file;
  if (!item.file.empty()) {
    file.emplace(item.file);  // its format now, should it have changed since queued
    item.format = file->format();
  }
  PcmOutput out(device_, item.format, buffer_ms_, log_);
  const PlayerStatus before = Status();
  // Polled at every write and wait: ends the item on Stop() and keeps
  // Status() current during a long item.
  const auto poll = [&] {
    std::lock_guard lock(mu_);
    status_.format = item.format;
    status_.negotiated = out.negotiated();  // changes when the device was reopened
    status_.underruns = before.underruns + out.underruns();
    status_.suspends = before.suspends + out.suspends();
    status_.reopens = before.reopens + out.reopens();
    return stop();
  };
  poll();
  if (file) {
    std::vector<int16_t> chunk;
    while (!poll() && file->Read(chunk, kStreamFrames) > 0) out.Write(chunk, poll);
  } else {
    out.Write(item.samples, poll);
  }
  if (poll()) {
    out.Drop();
  } else {
    out.Finish(poll);
  }
  poll();
}

void Player::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= item.samples.size() * sizeof(int16_t);
    const uint64_t generation = stop_generation_;
    status_.playing = item.what;
    status_.negotiated.reset();
    lock.unlock();
    const auto stopped = [&] {  // called with mu_ held
      return stop_generation_ != generation;
    };
    std::string error;
    try {
      Play(item, stopped);
    } catch (const std::exception& e) {
      error = item.what + ": " + e.what();
      if (log_) log_(error);
    }
    lock.lock();
    status_.playing.clear();
    if (!error.empty()) {
      status_.last_error = status_.problem = error;
    } else if (!stopped()) {
      ++status_.played;
      status_.problem.clear();
    }
  }
}

}  // namespace domian::speaker
