#include "plugins/camera/frame_hub.h"

namespace domian::camera {

FrameHub::FrameHub(WatchersChanged on_change) : on_change_(std::move(on_change)) {}

void FrameHub::Publish(std::vector<uint8_t> jpeg, unsigned width, unsigned height) {
  auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(jpeg));
  {
    std::lock_guard lock(mu_);
    latest_ = Frame{std::move(shared), ++sequence_, width, height, std::chrono::steady_clock::now()};
  }
  fresh_.notify_all();
}

std::optional<FrameHub::Frame> FrameHub::WaitNewer(uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const bool fresh = fresh_.wait_for(lock, timeout, [&] { return closed_ || sequence_ > after; });
  if (!fresh || closed_) return std::nullopt;
  return latest_;
}

std::optional<FrameHub::Frame> FrameHub::Latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

uint64_t FrameHub::sequence() const {
  std::lock_guard lock(mu_);
  return sequence_;
}

void FrameHub::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  fresh_.notify_all();
}

bool FrameHub::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

size_t FrameHub::watchers() const {
  std::lock_guard lock(mu_);
  return watchers_;
}

void FrameHub::AddWatchers(int delta) {
  std::lock_guard ordered(change_mu_);
  size_t now = 0;
  {
    std::lock_guard lock(mu_);
    watchers_ = delta > 0 ? watchers_ + 1 : watchers_ - 1;
    now = watchers_;
  }
  if (on_change_) on_change_(now);
}

FrameHub::Watch::Watch(FrameHub& hub) : hub_(hub) { hub_.AddWatchers(+1); }
FrameHub::Watch::~Watch() { hub_.AddWatchers(-1); }

}  // namespace domian::camera
