#include "tests/support/camera/scripted_video_device.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace domian::camera {
namespace {

// mmap offsets handed out by QUERYBUF: far apart and not starting at 0,
// so that an application computing offsets instead of using m.offset
// fails.
constexpr uint32_t kOffsetBase = 0x1000000;
// A good MJPEG frame: big enough to pass any "truncated" check.
constexpr size_t kGoodJpegBytes = 600;
// Room for one MJPEG frame per pixel pair, as UVC cameras announce.
constexpr unsigned kJpegBytesPerPixel = 1;

constexpr uint32_t kCaptureType = V4L2_BUF_TYPE_VIDEO_CAPTURE;

void CopyText(uint8_t* target, size_t size, const std::string& text) {
  std::memset(target, 0, size);
  std::memcpy(target, text.data(), std::min(size - 1, text.size()));
}

unsigned Distance(unsigned a, unsigned b) { return a > b ? a - b : b - a; }

}  // namespace

ScriptEvent ScriptEvent::FrameOf(std::vector<uint8_t> bytes) {
  ScriptEvent event;
  event.bytes = std::move(bytes);
  return event;
}

ScriptEvent ScriptEvent::ErrorFrame() {
  ScriptEvent event;
  event.flags = V4L2_BUF_FLAG_ERROR;
  return event;
}

ScriptEvent ScriptEvent::Truncated(uint32_t bytesused) {
  ScriptEvent event;
  event.bytesused = bytesused;
  return event;
}

ScriptEvent ScriptEvent::Empty() { return Truncated(0); }

ScriptEvent ScriptEvent::OverwrittenWhileRead() {
  ScriptEvent event;
  event.overwritten_while_read = true;
  return event;
}

ScriptEvent ScriptEvent::TornWithLateRecord() {
  ScriptEvent event = OverwrittenWhileRead();
  event.record_lags = true;
  return event;
}

ScriptEvent ScriptEvent::Eagain() {
  ScriptEvent event;
  event.kind = Kind::kEagain;
  return event;
}

ScriptEvent ScriptEvent::PollTimeout() {
  ScriptEvent event;
  event.kind = Kind::kSilence;
  return event;
}

ScriptEvent ScriptEvent::IoError() {
  ScriptEvent event;
  event.kind = Kind::kIoError;
  return event;
}

ScriptEvent ScriptEvent::Unplug(int absent_opens) {
  ScriptEvent event;
  event.kind = Kind::kUnplug;
  event.absent_opens = absent_opens;
  return event;
}

std::vector<uint8_t> ScriptedVideoDevice::JpegFrame(size_t size, uint8_t fill) {
  std::vector<uint8_t> bytes(std::max<size_t>(size, 4), fill);
  bytes[0] = 0xFF;
  bytes[1] = 0xD8;
  bytes[bytes.size() - 2] = 0xFF;
  bytes[bytes.size() - 1] = 0xD9;
  return bytes;
}

ScriptedVideoDevice::ScriptedVideoDevice(ScriptedCamera camera)
    : next_camera_(camera), camera_(std::move(camera)) {}

// --- the script and inspection

void ScriptedVideoDevice::Push(ScriptEvent event) {
  std::lock_guard lock(mu_);
  script_.push_back(std::move(event));
}

void ScriptedVideoDevice::Push(const std::vector<ScriptEvent>& events) {
  std::lock_guard lock(mu_);
  script_.insert(script_.end(), events.begin(), events.end());
}

void ScriptedVideoDevice::StreamWhenIdle(std::optional<std::chrono::milliseconds> interval) {
  std::lock_guard lock(mu_);
  idle_interval_ = interval;
}

void ScriptedVideoDevice::SetAbsent(int count, int error) {
  std::lock_guard lock(mu_);
  absent_ = count;
  absent_error_ = error;
}

void ScriptedVideoDevice::Replug() {
  std::lock_guard lock(mu_);
  absent_ = 0;
}

void ScriptedVideoDevice::SetCamera(ScriptedCamera camera) {
  std::lock_guard lock(mu_);
  next_camera_ = std::move(camera);
}

void ScriptedVideoDevice::FailNext(unsigned long request, int error) {
  std::lock_guard lock(mu_);
  failures_[request].push_back(error);
}

ScriptedStats ScriptedVideoDevice::Stats() const {
  std::lock_guard lock(mu_);
  ScriptedStats stats = stats_;
  stats.open_fds = static_cast<int>(fds_.size());
  stats.mappings = 0;
  for (const auto& [address, mapping] : mappings_) stats.mappings += mapping.count;
  stats.buffers = static_cast<unsigned>(buffers_.size());
  stats.streaming = streaming_;
  stats.held = Held();
  return stats;
}

std::vector<std::string> ScriptedVideoDevice::Misuses() const {
  std::lock_guard lock(mu_);
  return misuses_;
}

size_t ScriptedVideoDevice::ScriptLeft() const {
  std::lock_guard lock(mu_);
  return script_.size();
}

bool ScriptedVideoDevice::WaitingInPoll() const {
  std::lock_guard lock(mu_);
  return in_poll_;
}

std::string ScriptedVideoDevice::OpenedPath() const {
  std::lock_guard lock(mu_);
  return opened_path_;
}

void ScriptedVideoDevice::Misuse(const std::string& what) { misuses_.push_back(what); }

// --- the device calls

int ScriptedVideoDevice::Open(const std::string& path) {
  std::lock_guard lock(mu_);
  if (absent_ != 0) {
    if (absent_ > 0) --absent_;
    ++stats_.failed_opens;
    return -absent_error_;
  }
  if (!fds_.empty()) Misuse("opened " + path + " again while an fd of it is still open");
  if (gone_ || fds_.empty()) {
    // Plugged in (again): a new device with a fresh queue.
    gone_ = false;
    camera_ = next_camera_;
    ResetQueue();
    FreeBuffers();
    fourcc_ = camera_.formats.empty() ? 0 : camera_.formats.front();
    width_ = height_ = bytes_per_line_ = size_image_ = 0;
    fps_ = camera_.max_fps;
  }
  opened_path_ = path;
  ++stats_.opens;
  const int fd = next_fd_++;
  fds_.insert(fd);
  return fd;
}

void ScriptedVideoDevice::Close(int fd) {
  std::lock_guard lock(mu_);
  if (fds_.erase(fd) == 0) {
    Misuse("close of fd " + std::to_string(fd) + ", which is not open");
    return;
  }
  int mapped = 0;
  for (const auto& [address, mapping] : mappings_) mapped += mapping.count;
  if (mapped > 0) Misuse("closed with " + std::to_string(mapped) + " buffer mapping(s) left");
  // After an unplug STREAMOFF and REQBUFS(0) can only fail; closing is
  // then the right way out.
  if (!gone_) {
    if (streaming_) Misuse("closed while streaming (no VIDIOC_STREAMOFF)");
    if (!buffers_.empty()) {
      Misuse("closed with " + std::to_string(buffers_.size()) + " buffers (no VIDIOC_REQBUFS(0))");
    }
  }
  if (fds_.empty()) {
    // The last close releases the queue, as the kernel does.
    ResetQueue();
    FreeBuffers();
  }
}

int ScriptedVideoDevice::Ioctl(int fd, unsigned long request, void* arg) {
  std::lock_guard lock(mu_);
  if (fds_.count(fd) == 0) {
    Misuse("ioctl on fd " + std::to_string(fd) + ", which is not open");
    return -EBADF;
  }
  if (gone_) return -ENODEV;
  if (auto failure = failures_.find(request);
      failure != failures_.end() && !failure->second.empty()) {
    const int error = failure->second.front();
    failure->second.pop_front();
    return -error;
  }
  return Dispatch(request, arg);
}

int ScriptedVideoDevice::Dispatch(unsigned long request, void* arg) {
  switch (request) {
    case VIDIOC_QUERYCAP:
      return QueryCap(*static_cast<v4l2_capability*>(arg));
    case VIDIOC_ENUM_FMT:
      return EnumFormat(*static_cast<v4l2_fmtdesc*>(arg));
    case VIDIOC_S_FMT:
      return SetFormat(*static_cast<v4l2_format*>(arg));
    case VIDIOC_G_PARM:
      return GetParm(*static_cast<v4l2_streamparm*>(arg));
    case VIDIOC_S_PARM:
      return SetParm(*static_cast<v4l2_streamparm*>(arg));
    case VIDIOC_REQBUFS:
      return RequestBuffers(*static_cast<v4l2_requestbuffers*>(arg));
    case VIDIOC_QUERYBUF:
      return QueryBuffer(*static_cast<v4l2_buffer*>(arg));
    case VIDIOC_QBUF:
      return QueueBuffer(*static_cast<v4l2_buffer*>(arg));
    case VIDIOC_DQBUF:
      return DequeueBuffer(*static_cast<v4l2_buffer*>(arg));
    case VIDIOC_STREAMON:
      return StreamOn(*static_cast<const int*>(arg));
    case VIDIOC_STREAMOFF:
      return StreamOff(*static_cast<const int*>(arg));
    default:
      return -ENOTTY;  // what the kernel answers an ioctl the driver lacks
  }
}

int ScriptedVideoDevice::QueryCap(v4l2_capability& caps) {
  caps = {};
  CopyText(caps.driver, sizeof caps.driver, camera_.driver);
  CopyText(caps.card, sizeof caps.card, camera_.card);
  CopyText(caps.bus_info, sizeof caps.bus_info, "usb-scripted-1");
  caps.version = (6U << 16) | (1U << 8);
  if (camera_.reports_device_caps) {
    caps.device_caps = camera_.device_caps;
    caps.capabilities = camera_.device_caps | V4L2_CAP_META_CAPTURE | V4L2_CAP_DEVICE_CAPS;
  } else {
    caps.capabilities = camera_.device_caps;
  }
  return 0;
}

int ScriptedVideoDevice::EnumFormat(v4l2_fmtdesc& description) {
  if (description.type != kCaptureType) return -EINVAL;
  if (description.index >= camera_.formats.size()) return -EINVAL;
  const uint32_t index = description.index;
  description = {};
  description.index = index;
  description.type = kCaptureType;
  description.pixelformat = camera_.formats[index];
  const bool compressed = description.pixelformat != V4L2_PIX_FMT_YUYV;
  description.flags = compressed ? V4L2_FMT_FLAG_COMPRESSED : 0;
  CopyText(description.description, sizeof description.description,
           compressed ? "Compressed" : "YUYV 4:2:2");
  return 0;
}

int ScriptedVideoDevice::SetFormat(v4l2_format& format) {
  if (format.type != kCaptureType) return -EINVAL;
  if (!buffers_.empty()) {
    // vb2_is_busy: the format cannot change under allocated buffers.
    Misuse("VIDIOC_S_FMT with buffers allocated");
    return -EBUSY;
  }
  v4l2_pix_format& pix = format.fmt.pix;
  stats_.last_asked_fourcc = pix.pixelformat;
  const auto& formats = camera_.formats;
  if (camera_.forced_format != 0) {
    fourcc_ = camera_.forced_format;
  } else if (std::find(formats.begin(), formats.end(), pix.pixelformat) != formats.end()) {
    fourcc_ = pix.pixelformat;
  } else {
    fourcc_ = formats.empty() ? V4L2_PIX_FMT_YUYV : formats.front();
  }
  width_ = pix.width;
  height_ = pix.height;
  if (!camera_.sizes.empty()) {
    const FrameSize* nearest = &camera_.sizes.front();
    for (const FrameSize& size : camera_.sizes) {
      if (Distance(size.width, pix.width) + Distance(size.height, pix.height) <
          Distance(nearest->width, pix.width) + Distance(nearest->height, pix.height)) {
        nearest = &size;
      }
    }
    width_ = nearest->width;
    height_ = nearest->height;
  }
  if (fourcc_ == V4L2_PIX_FMT_YUYV) {
    bytes_per_line_ = width_ * 2 + camera_.line_padding;
    size_image_ = bytes_per_line_ * height_;
  } else {
    bytes_per_line_ = 0;
    size_image_ = std::max<unsigned>(width_ * height_ * kJpegBytesPerPixel, kGoodJpegBytes);
  }
  pix = {};
  pix.width = width_;
  pix.height = height_;
  pix.pixelformat = fourcc_;
  pix.field = V4L2_FIELD_NONE;
  pix.bytesperline = bytes_per_line_;
  pix.sizeimage = size_image_;
  pix.colorspace = fourcc_ == V4L2_PIX_FMT_YUYV ? V4L2_COLORSPACE_SRGB : V4L2_COLORSPACE_JPEG;
  return 0;
}

int ScriptedVideoDevice::GetParm(v4l2_streamparm& parm) {
  if (parm.type != kCaptureType) return -EINVAL;
  if (!camera_.frame_rates) return -ENOTTY;
  parm.parm.capture = {};
  parm.parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
  parm.parm.capture.timeperframe = {1, fps_};
  parm.parm.capture.readbuffers = 0;
  return 0;
}

int ScriptedVideoDevice::SetParm(v4l2_streamparm& parm) {
  if (parm.type != kCaptureType) return -EINVAL;
  if (!camera_.frame_rates) return -ENOTTY;
  const v4l2_fract asked = parm.parm.capture.timeperframe;
  // A zero fraction asks for the driver's default, its fastest here.
  const unsigned fps = asked.numerator == 0 || asked.denominator == 0
                           ? camera_.max_fps
                           : asked.denominator / asked.numerator;
  fps_ = std::clamp(fps, 1U, camera_.max_fps);
  return GetParm(parm);
}

int ScriptedVideoDevice::RequestBuffers(v4l2_requestbuffers& request) {
  if (request.type != kCaptureType || request.memory != V4L2_MEMORY_MMAP) return -EINVAL;
  if (streaming_) {
    Misuse("VIDIOC_REQBUFS while streaming");
    return -EBUSY;
  }
  for (const Buffer& buffer : buffers_) {
    if (buffer.mappings > 0) {
      Misuse("VIDIOC_REQBUFS(" + std::to_string(request.count) + ") while buffers are mapped");
      return -EBUSY;
    }
  }
  if (request.count == 0) {
    if (!buffers_.empty()) ++stats_.free_requests;
    FreeBuffers();
    return 0;
  }
  if (size_image_ == 0) return -EINVAL;  // no format set
  FreeBuffers();
  const unsigned granted = std::clamp(request.count, camera_.min_buffers, camera_.max_buffers);
  for (unsigned index = 0; index < granted; ++index) {
    Buffer buffer;
    buffer.memory = std::make_shared<std::vector<uint8_t>>(size_image_);
    buffer.offset = kOffsetBase * (index + 1);
    buffers_.push_back(std::move(buffer));
  }
  request.count = granted;
  request.capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
  return 0;
}

void ScriptedVideoDevice::Describe(uint32_t index, v4l2_buffer& buffer) const {
  const Buffer& own = buffers_[index];
  buffer = {};
  buffer.index = index;
  buffer.type = kCaptureType;
  buffer.memory = V4L2_MEMORY_MMAP;
  buffer.length = static_cast<uint32_t>(own.memory->size());
  buffer.m.offset = own.offset;
  buffer.bytesused = own.bytesused;
  buffer.sequence = own.sequence;
  buffer.field = V4L2_FIELD_NONE;
  buffer.flags = own.flags | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
  if (own.mappings > 0) buffer.flags |= V4L2_BUF_FLAG_MAPPED;
  if (own.state == State::kQueued) buffer.flags |= V4L2_BUF_FLAG_QUEUED;
  if (own.state == State::kDone) buffer.flags |= V4L2_BUF_FLAG_DONE;
}

int ScriptedVideoDevice::QueryBuffer(v4l2_buffer& buffer) {
  if (buffer.type != kCaptureType || buffer.index >= buffers_.size()) return -EINVAL;
  Describe(buffer.index, buffer);
  return 0;
}

int ScriptedVideoDevice::QueueBuffer(v4l2_buffer& buffer) {
  if (buffer.type != kCaptureType || buffer.memory != V4L2_MEMORY_MMAP) return -EINVAL;
  if (buffer.index >= buffers_.size()) {
    Misuse("VIDIOC_QBUF of buffer " + std::to_string(buffer.index) + " of " +
           std::to_string(buffers_.size()));
    return -EINVAL;
  }
  Buffer& own = buffers_[buffer.index];
  if (own.state != State::kDequeued) {
    Misuse("VIDIOC_QBUF of buffer " + std::to_string(buffer.index) + ", which the driver has");
    return -EINVAL;
  }
  own.state = State::kQueued;
  own.bytesused = 0;
  own.flags = 0;
  queued_.push_back(buffer.index);
  Describe(buffer.index, buffer);
  return 0;
}

int ScriptedVideoDevice::DequeueBuffer(v4l2_buffer& buffer) {
  if (buffer.type != kCaptureType || buffer.memory != V4L2_MEMORY_MMAP) return -EINVAL;
  if (!streaming_) {
    Misuse("VIDIOC_DQBUF while not streaming");
    return -EINVAL;
  }
  if (queue_error_) return -EIO;
  if (done_.empty()) return -EAGAIN;  // the fd is non-blocking
  const uint32_t index = done_.front();
  done_.pop_front();
  buffers_[index].state = State::kDequeued;
  Describe(index, buffer);
  if (buffers_[index].overwrite_when_dequeued) Overwrite(index);
  stats_.max_held = std::max(stats_.max_held, Held());
  return 0;
}

int ScriptedVideoDevice::StreamOn(const int& type) {
  if (static_cast<uint32_t>(type) != kCaptureType) return -EINVAL;
  if (buffers_.empty()) return -EINVAL;
  if (streaming_) return 0;
  streaming_ = true;
  sequence_ = 0;
  ++stats_.streamons;
  return 0;
}

int ScriptedVideoDevice::StreamOff(const int& type) {
  if (static_cast<uint32_t>(type) != kCaptureType) return -EINVAL;
  if (streaming_) ++stats_.streamoffs;
  // Every buffer goes back to the application, filled or not.
  ResetQueue();
  return 0;
}

void* ScriptedVideoDevice::Map(int fd, size_t length, off_t offset) {
  std::lock_guard lock(mu_);
  if (fds_.count(fd) == 0) {
    Misuse("mmap on fd " + std::to_string(fd) + ", which is not open");
    errno = EBADF;
    return nullptr;
  }
  if (gone_) {
    errno = ENODEV;
    return nullptr;
  }
  for (size_t index = 0; index < buffers_.size(); ++index) {
    Buffer& buffer = buffers_[index];
    if (static_cast<off_t>(buffer.offset) != offset) continue;
    if (length == 0 || length > buffer.memory->size()) {
      Misuse("mmap of " + std::to_string(length) + " bytes of a " +
             std::to_string(buffer.memory->size()) + "-byte buffer");
      errno = EINVAL;
      return nullptr;
    }
    void* address = buffer.memory->data();
    Mapping& mapping = mappings_[address];
    mapping.memory = buffer.memory;
    mapping.buffer = static_cast<int>(index);
    ++mapping.count;
    ++buffer.mappings;
    return address;
  }
  Misuse("mmap of offset " + std::to_string(offset) + ", which no buffer has");
  errno = EINVAL;
  return nullptr;
}

void ScriptedVideoDevice::Unmap(void* address, size_t length) {
  std::lock_guard lock(mu_);
  auto mapping = mappings_.find(address);
  if (mapping == mappings_.end()) {
    Misuse("munmap of an address that is not mapped");
    return;
  }
  if (length != 0 && length > mapping->second.memory->size()) Misuse("munmap of a wrong length");
  if (mapping->second.buffer >= 0 &&
      static_cast<size_t>(mapping->second.buffer) < buffers_.size()) {
    --buffers_[static_cast<size_t>(mapping->second.buffer)].mappings;
  }
  if (--mapping->second.count == 0) mappings_.erase(mapping);
}

int ScriptedVideoDevice::Poll(int fd, int wake_fd, int timeout_ms) {
  std::unique_lock lock(mu_);
  if (fds_.count(fd) == 0) {
    Misuse("poll on fd " + std::to_string(fd) + ", which is not open");
    return -EBADF;
  }
  CatchUpRecord();  // the writer got the CPU back
  for (;;) {
    if (gone_) return -ENODEV;
    // vb2: nothing to wait for when not streaming or when the queue failed.
    if (!streaming_ || queue_error_) return -EIO;
    if (!done_.empty()) return kPollReady;
    if (!script_.empty()) {
      const ScriptEvent event = std::move(script_.front());
      script_.pop_front();
      switch (event.kind) {
        case ScriptEvent::Kind::kFrame:
          // Lost when the application holds every buffer: poll then
          // waits for a buffer that never comes, as on hardware.
          return Fill(event) ? kPollReady : Wait(lock, wake_fd, timeout_ms);
        case ScriptEvent::Kind::kEagain:
          return kPollReady;
        case ScriptEvent::Kind::kSilence:
          return Wait(lock, wake_fd, timeout_ms);
        case ScriptEvent::Kind::kIoError:
          queue_error_ = true;
          return kPollReady;  // the waiters are woken; DQBUF finds the error
        case ScriptEvent::Kind::kUnplug:
          gone_ = true;
          absent_ = event.absent_opens;
          absent_error_ = ENOENT;
          return -ENODEV;
      }
    }
    if (!idle_interval_ || idle_interval_->count() >= timeout_ms) {
      return Wait(lock, wake_fd, timeout_ms);
    }
    const int waited = Wait(lock, wake_fd, static_cast<int>(idle_interval_->count()));
    if (waited == kPollWoken) return waited;
    // The state may have changed meanwhile (a script pushed): look again,
    // and stream a good frame if nothing else happens.
    if (!gone_ && streaming_ && !queue_error_ && done_.empty() && script_.empty()) {
      if (!Fill(ScriptEvent::GoodFrame())) return Wait(lock, wake_fd, timeout_ms);
    }
  }
}

int ScriptedVideoDevice::Wait(std::unique_lock<std::mutex>& lock, int wake_fd, int timeout_ms) {
  in_poll_ = true;
  lock.unlock();
  pollfd wake{wake_fd, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&wake, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  lock.lock();
  in_poll_ = false;
  return ready > 0 ? kPollWoken : kPollTimedOut;
}

bool ScriptedVideoDevice::Fill(const ScriptEvent& event) {
  if (queued_.empty()) {
    ++stats_.frames_lost;
    return false;
  }
  const uint32_t index = queued_.front();
  queued_.pop_front();
  Buffer& buffer = buffers_[index];
  std::vector<uint8_t>& memory = *buffer.memory;
  const std::vector<uint8_t> bytes = event.bytes.empty() ? GoodFrameBytes() : event.bytes;
  const size_t copied = std::min(bytes.size(), memory.size());
  std::copy_n(bytes.begin(), copied, memory.begin());
  buffer.flags = event.flags;
  // More than fits: uvcvideo cuts it and flags the buffer.
  if (bytes.size() > memory.size()) buffer.flags |= V4L2_BUF_FLAG_ERROR;
  buffer.bytesused = event.bytesused.value_or(static_cast<uint32_t>(copied));
  buffer.sequence = sequence_++;
  buffer.overwrite_when_dequeued = event.overwritten_while_read;
  buffer.record_lags = event.record_lags;
  buffer.state = State::kDone;
  done_.push_back(index);
  ++stats_.frames_filled;
  return true;
}

void ScriptedVideoDevice::Overwrite(uint32_t index) {
  Buffer& buffer = buffers_[index];
  std::vector<uint8_t>& memory = *buffer.memory;
  const std::vector<uint8_t> next = GoodFrameBytes();
  const size_t copied = std::min(next.size() / 2, memory.size());
  std::copy_n(next.begin(), copied, memory.begin());
  // Bookkeeping as v4l2loopback's write() does it: after the copy.
  const auto bytesused = static_cast<uint32_t>(std::min(next.size(), memory.size()));
  buffer.overwrite_when_dequeued = false;
  if (buffer.record_lags) {
    buffer.record_lags = false;
    late_record_index_ = index;
    late_bytesused_ = bytesused;
    late_sequence_ = sequence_++;
    return;
  }
  buffer.bytesused = bytesused;
  buffer.sequence = sequence_++;
}

void ScriptedVideoDevice::CatchUpRecord() {
  if (!late_record_index_ || *late_record_index_ >= buffers_.size()) return;
  Buffer& buffer = buffers_[*late_record_index_];
  buffer.bytesused = late_bytesused_;
  buffer.sequence = late_sequence_;
  late_record_index_.reset();
}

std::vector<uint8_t> ScriptedVideoDevice::GoodFrameBytes() const {
  if (fourcc_ == V4L2_PIX_FMT_YUYV) {
    std::vector<uint8_t> bytes(size_t{bytes_per_line_} * height_, 0x80);
    for (size_t i = 0; i < bytes.size(); i += 2) bytes[i] = static_cast<uint8_t>(sequence_);
    return bytes;
  }
  if (camera_.mjpeg_source) return camera_.mjpeg_source(width_, height_, sequence_);
  return JpegFrame(kGoodJpegBytes, static_cast<uint8_t>(0x10 + sequence_ % 0x40));
}

unsigned ScriptedVideoDevice::Held() const {
  if (!streaming_) return 0;
  return static_cast<unsigned>(std::count_if(buffers_.begin(), buffers_.end(), [](const Buffer& b) {
    return b.state == State::kDequeued;
  }));
}

void ScriptedVideoDevice::ResetQueue() {
  late_record_index_.reset();
  streaming_ = false;
  queue_error_ = false;
  queued_.clear();
  done_.clear();
  for (Buffer& buffer : buffers_) buffer.state = State::kDequeued;
}

void ScriptedVideoDevice::FreeBuffers() {
  late_record_index_.reset();
  // Mappings keep their memory (the kernel frees it at munmap) but no
  // longer belong to a buffer.
  for (auto& [address, mapping] : mappings_) mapping.buffer = -1;
  buffers_.clear();
}

std::vector<uint8_t> TablelessJpeg(const std::vector<uint8_t>& jpeg) {
  constexpr uint8_t kSos = 0xDA;
  constexpr uint8_t kDht = 0xC4;
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  size_t at = 2;
  while (at + 4 <= jpeg.size() && jpeg[at + 1] != kSos) {
    const size_t length = (size_t{jpeg[at + 2]} << 8) | jpeg[at + 3];
    if (jpeg[at + 1] != kDht) {
      out.insert(out.end(), jpeg.begin() + static_cast<std::ptrdiff_t>(at),
                 jpeg.begin() + static_cast<std::ptrdiff_t>(at + 2 + length));
    }
    at += 2 + length;
  }
  out.insert(out.end(), jpeg.begin() + static_cast<std::ptrdiff_t>(at), jpeg.end());
  return out;
}

}  // namespace domian::camera
