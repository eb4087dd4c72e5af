#include "plugins/camera/capture.h"

#include "plugins/camera/jpeg.h"

#include <linux/videodev2.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace domian::camera {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

// VIDIOC_ENUM_FMT indexes tried: no camera offers this many formats, and
// a driver that never answers EINVAL must not keep the thread looping.
constexpr uint32_t kMaxFormats = 64;
// DQBUF answering EAGAIN right after poll said a frame was ready happens
// (a spurious wake); this many in a row is a driver that will never
// deliver, and polling on would spin.
constexpr int kMaxEagainInARow = 50;
// The driver of v4l2loopback (VIDIOC_QUERYCAP), whose writer fills its
// buffers in turn whether or not a reader holds one, and writes a
// buffer's record (bytesused, sequence) only after its bytes: a reader
// that checks the record right after its copy can see the old record
// over new bytes when the writer was preempted in between. Its frames are
// checked once more when the driver next has a frame (or goes quiet), by
// when that write's record is there: one frame of delay for such a feed,
// none for a camera (a videobuf2 driver never touches a dequeued buffer).
constexpr char kLappingWriterDriver[] = "v4l2 loopback";
// Buffers asked of that driver: all it has (it grants at most its
// max_buffers). Its buffers are its own, allocated already, so this costs
// no memory. Asking fewer than its writer cycles through makes it drop
// the rest from its ring and map read positions to buffers its writer
// does not follow (0.12.7's vidioc_reqbufs): a new reader is handed, as
// the latest frame, a buffer holding an old one that the writer refills
// next.
constexpr unsigned kLappingWriterBuffers = VIDEO_MAX_FRAME;

std::string ErrorText(int negative_errno) { return std::strerror(-negative_errno); }

// "MJPG", "H264"; bytes that are not printable show as '?'.
std::string FourccText(uint32_t code) {
  std::string text;
  for (int shift = 0; shift < 32; shift += 8) {
    const char c = static_cast<char>((code >> shift) & 0x7F);
    text += (c >= ' ' && c <= '~') ? c : '?';
  }
  if ((code & (1U << 31)) != 0) text += "-BE";
  return text;
}

std::optional<PixelFormat> FromFourcc(uint32_t code) {
  // Older drivers (gspca) name Motion-JPEG "JPEG"; the frames are the same.
  if (code == V4L2_PIX_FMT_MJPEG || code == V4L2_PIX_FMT_JPEG) return PixelFormat::kMjpeg;
  if (code == V4L2_PIX_FMT_YUYV) return PixelFormat::kYuyv;
  return std::nullopt;
}

// The fourcc to ask for, as the driver lists it (MJPG, or JPEG on older
// drivers): `asked`, or for kAuto MJPEG when offered (a fraction of YUYV's
// bandwidth, so USB 2 cameras reach full size and rate), else YUYV.
uint32_t ChooseFourcc(PixelFormat asked, const std::vector<uint32_t>& offered) {
  auto listed = [&](PixelFormat format) {
    return std::find_if(offered.begin(), offered.end(),
                        [&](uint32_t code) { return FromFourcc(code) == format; });
  };
  PixelFormat wanted = asked;
  if (wanted == PixelFormat::kAuto) {
    wanted =
        listed(PixelFormat::kMjpeg) != offered.end() ? PixelFormat::kMjpeg : PixelFormat::kYuyv;
  }
  if (const auto code = listed(wanted); code != offered.end()) return *code;
  std::string offers;
  for (uint32_t code : offered) offers += (offers.empty() ? "" : ", ") + FourccText(code);
  if (offers.empty()) offers = "none";
  if (asked == PixelFormat::kAuto) {
    throw std::runtime_error("the camera offers neither MJPEG nor YUYV (it offers " + offers + ")");
  }
  throw std::runtime_error(std::string("the camera does not offer ") + PixelFormatName(asked) +
                           " (it offers " + offers + ")");
}

// The bytes a YUYV frame must hold: every line but the last with its
// padding, then the last line's pixels. A driver need not pad the last
// line, and JpegEncoder::EncodeYuyv reads no further.
size_t YuyvBytesNeeded(unsigned bytes_per_line, unsigned width, unsigned height) {
  return size_t{bytes_per_line} * (height - 1) + size_t{width} * 2;
}

std::string CString(const uint8_t* bytes, size_t size) {
  const auto* text = reinterpret_cast<const char*>(bytes);
  return std::string(text, strnlen(text, size));
}

std::string Millis(std::chrono::milliseconds duration) {
  return std::to_string(duration.count()) + " ms";
}

// "15", or "29.97" for NTSC-style rates.
std::string FpsText(double fps) {
  if (std::abs(fps - std::round(fps)) < 0.005) return std::to_string(std::lround(fps));
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", fps);
  return text;
}

}  // namespace

const char* PixelFormatName(PixelFormat format) {
  switch (format) {
    case PixelFormat::kMjpeg:
      return "MJPEG";
    case PixelFormat::kYuyv:
      return "YUYV";
    case PixelFormat::kAuto:
      return "auto";
  }
  return "?";
}

// One open device: everything from open to close, released in the order
// the kernel wants (STREAMOFF, munmap, REQBUFS(0), close) by the
// destructor, whatever step failed. Every method throws std::runtime_error
// naming the step and the kernel's reason.
class Capture::Stream {
 public:
  Stream(VideoDevice& device, const CaptureConfig& config) : device_(device), config_(config) {
    fd_ = device_.Open(config.device);
    if (fd_ < 0) {
      // Camera nodes belong to the video group (udev's default).
      const std::string hint =
          fd_ == -EACCES ? " (the service's user must be in the video group)" : "";
      throw std::runtime_error("cannot open " + config.device + ": " + ErrorText(fd_) + hint);
    }
  }

  ~Stream() {
    // Errors are ignored: after an unplug every ioctl answers ENODEV, and
    // the mappings and the fd must be released all the same.
    if (streaming_) {
      int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      device_.Ioctl(fd_, VIDIOC_STREAMOFF, &type);
    }
    for (const Mapping& mapping : mappings_) device_.Unmap(mapping.address, mapping.length);
    if (allocated_) {
      // After munmap: a driver may refuse to free buffers still mapped.
      v4l2_requestbuffers request{};
      request.count = 0;
      request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      request.memory = V4L2_MEMORY_MMAP;
      device_.Ioctl(fd_, VIDIOC_REQBUFS, &request);
    }
    device_.Close(fd_);
  }

  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void QueryCapabilities() {
    v4l2_capability caps{};
    Call(VIDIOC_QUERYCAP, &caps, "VIDIOC_QUERYCAP");
    driver_ = CString(caps.driver, sizeof caps.driver);
    card_ = CString(caps.card, sizeof caps.card);
    // `capabilities` describes the whole physical device (all its nodes);
    // `device_caps`, when offered, this node: a UVC camera's metadata node
    // shares the camera's capabilities but cannot capture video.
    const uint32_t node =
        (caps.capabilities & V4L2_CAP_DEVICE_CAPS) != 0 ? caps.device_caps : caps.capabilities;
    const std::string which = config_.device + " (" + driver_ + ", " + card_ + ")";
    if ((node & V4L2_CAP_VIDEO_CAPTURE) == 0) {
      std::string hint;
      if ((node & V4L2_CAP_META_CAPTURE) != 0) {
        hint = ": it is a metadata node, use the camera's other node";
      }
      if ((node & V4L2_CAP_VIDEO_CAPTURE_MPLANE) != 0) {
        hint = ": it only offers the multi-planar API";
      }
      throw std::runtime_error(which + " is not a video capture device" + hint);
    }
    if ((node & V4L2_CAP_STREAMING) == 0) {
      throw std::runtime_error(which + " does not support streaming I/O (mmap buffers)");
    }
  }

  // The formats offered, in the driver's order.
  std::vector<uint32_t> Formats() {
    std::vector<uint32_t> formats;
    for (uint32_t index = 0; index < kMaxFormats; ++index) {
      v4l2_fmtdesc description{};
      description.index = index;
      description.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      const int result = device_.Ioctl(fd_, VIDIOC_ENUM_FMT, &description);
      if (result == -EINVAL) break;  // the end of the list
      Check(result, "VIDIOC_ENUM_FMT");
      formats.push_back(description.pixelformat);
    }
    return formats;
  }

  // VIDIOC_S_FMT with `fourcc` and the configured size, and what the
  // driver made of it.
  void SetFormat(uint32_t fourcc) {
    v4l2_format format{};
    format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    format.fmt.pix.width = config_.width;
    format.fmt.pix.height = config_.height;
    format.fmt.pix.pixelformat = fourcc;
    format.fmt.pix.field = V4L2_FIELD_ANY;
    Call(VIDIOC_S_FMT, &format, "VIDIOC_S_FMT");
    const v4l2_pix_format& chosen = format.fmt.pix;
    const std::optional<PixelFormat> pixel_format = FromFourcc(chosen.pixelformat);
    if (!pixel_format) {
      throw std::runtime_error("asked for " + FourccText(fourcc) + ", the driver chose " +
                               FourccText(chosen.pixelformat) +
                               ", which is neither MJPEG nor YUYV");
    }
    if (chosen.width == 0 || chosen.height == 0) {
      throw std::runtime_error("the driver chose a frame size of " + std::to_string(chosen.width) +
                               "x" + std::to_string(chosen.height));
    }
    format_ = *pixel_format;
    fourcc_ = chosen.pixelformat;
    width_ = chosen.width;
    height_ = chosen.height;
    bytes_per_line_ = 0;
    if (format_ == PixelFormat::kYuyv) {
      // Some drivers leave bytesperline 0; others pad lines, which must
      // then be honoured.
      bytes_per_line_ = std::max(chosen.bytesperline, width_ * 2);
    }
  }

  // The frame rate the driver runs at after asking for `fps`, or 0 when it
  // has no frame rate setting (G_PARM unsupported, or no TIMEPERFRAME).
  double SetFrameRate(unsigned fps) {
    v4l2_streamparm parm{};
    parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    int result = device_.Ioctl(fd_, VIDIOC_G_PARM, &parm);
    if (result == -ENOTTY || result == -EINVAL) return 0;
    Check(result, "VIDIOC_G_PARM");
    if ((parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) != 0) {
      parm.parm.capture.timeperframe.numerator = 1;
      parm.parm.capture.timeperframe.denominator = fps;
      result = device_.Ioctl(fd_, VIDIOC_S_PARM, &parm);
      if (result == -ENOTTY || result == -EINVAL) return 0;
      Check(result, "VIDIOC_S_PARM");
    }
    const v4l2_fract& period = parm.parm.capture.timeperframe;
    if (period.numerator == 0) return 0;
    return static_cast<double>(period.denominator) / static_cast<double>(period.numerator);
  }

  // REQBUFS, then QUERYBUF and mmap each buffer granted.
  void MapBuffers(unsigned wished) {
    v4l2_requestbuffers request{};
    request.count = wished;
    request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    request.memory = V4L2_MEMORY_MMAP;
    const int result = device_.Ioctl(fd_, VIDIOC_REQBUFS, &request);
    if (result == -EINVAL) throw std::runtime_error("the driver does not support mmap streaming");
    Check(result, "VIDIOC_REQBUFS");
    allocated_ = request.count > 0;
    if (request.count < kMinBuffers) {
      throw std::runtime_error("VIDIOC_REQBUFS granted " + std::to_string(request.count) +
                               " buffer(s) of " + std::to_string(wished) +
                               " asked; capture needs at least " + std::to_string(kMinBuffers));
    }
    if (request.count > VIDEO_MAX_FRAME) {
      throw std::runtime_error("VIDIOC_REQBUFS granted " + std::to_string(request.count) +
                               " buffers, more than V4L2's limit of " +
                               std::to_string(VIDEO_MAX_FRAME));
    }
    const size_t frame_bytes = size_t{bytes_per_line_} * height_;  // 0 for MJPEG
    for (uint32_t index = 0; index < request.count; ++index) {
      v4l2_buffer buffer{};
      buffer.index = index;
      buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      buffer.memory = V4L2_MEMORY_MMAP;
      Call(VIDIOC_QUERYBUF, &buffer, "VIDIOC_QUERYBUF");
      if (buffer.length < frame_bytes || buffer.length == 0) {
        throw std::runtime_error("buffer " + std::to_string(index) + " is " +
                                 std::to_string(buffer.length) + " bytes, a frame needs " +
                                 std::to_string(frame_bytes));
      }
      void* address = device_.Map(fd_, buffer.length, static_cast<off_t>(buffer.m.offset));
      if (address == nullptr) {
        const int error = errno;  // before anything else can change it
        throw std::runtime_error("mmap of buffer " + std::to_string(index) + " (" +
                                 std::to_string(buffer.length) +
                                 " bytes) failed: " + std::strerror(error));
      }
      mappings_.push_back({address, buffer.length});
    }
  }

  void QueueAllAndStart() {
    for (uint32_t index = 0; index < mappings_.size(); ++index) Queue(index);
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    Call(VIDIOC_STREAMON, &type, "VIDIOC_STREAMON");
    streaming_ = true;
  }

  void Queue(uint32_t index) {
    v4l2_buffer buffer{};
    buffer.index = index;
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    Call(VIDIOC_QBUF, &buffer, "VIDIOC_QBUF");
  }

  // A filled buffer, or nothing when the driver has none yet (EAGAIN).
  std::optional<v4l2_buffer> Dequeue() {
    v4l2_buffer buffer{};
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    const int result = device_.Ioctl(fd_, VIDIOC_DQBUF, &buffer);
    if (result == -EAGAIN) return std::nullopt;
    Check(result, "VIDIOC_DQBUF");
    if (buffer.index >= mappings_.size()) {
      throw std::runtime_error("VIDIOC_DQBUF returned buffer " + std::to_string(buffer.index) +
                               " of " + std::to_string(mappings_.size()));
    }
    return buffer;
  }

  // The driver's view of buffer `index` now (QUERYBUF).
  v4l2_buffer Query(uint32_t index) {
    v4l2_buffer buffer{};
    buffer.index = index;
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    Call(VIDIOC_QUERYBUF, &buffer, "VIDIOC_QUERYBUF");
    return buffer;
  }

  // Polls for a frame (see VideoDevice::Poll).
  int Poll(int wake_fd, std::chrono::milliseconds timeout) {
    return device_.Poll(fd_, wake_fd, static_cast<int>(timeout.count()));
  }

  const uint8_t* Memory(uint32_t index) const {
    return static_cast<const uint8_t*>(mappings_[index].address);
  }
  size_t Length(uint32_t index) const { return mappings_[index].length; }

  const std::string& driver() const { return driver_; }
  const std::string& card() const { return card_; }
  PixelFormat format() const { return format_; }
  uint32_t fourcc() const { return fourcc_; }
  unsigned width() const { return width_; }
  unsigned height() const { return height_; }
  unsigned bytes_per_line() const { return bytes_per_line_; }
  unsigned buffers() const { return static_cast<unsigned>(mappings_.size()); }

 private:
  struct Mapping {
    void* address;
    size_t length;
  };

  void Check(int result, const char* what) const {
    if (result >= 0) return;
    // vb2 answers EBUSY to format and buffer requests while another file
    // handle owns the queue.
    const std::string hint = result == -EBUSY ? " (is another program capturing from it?)" : "";
    throw std::runtime_error(std::string(what) + " failed: " + ErrorText(result) + hint);
  }
  void Call(unsigned long request, void* arg, const char* what) {
    Check(device_.Ioctl(fd_, request, arg), what);
  }

  VideoDevice& device_;
  const CaptureConfig& config_;
  int fd_ = -1;
  bool allocated_ = false;
  bool streaming_ = false;
  std::vector<Mapping> mappings_;
  std::string driver_;
  std::string card_;
  PixelFormat format_ = PixelFormat::kAuto;
  uint32_t fourcc_ = 0;
  unsigned width_ = 0;
  unsigned height_ = 0;
  unsigned bytes_per_line_ = 0;
};

Capture::Capture(CaptureConfig config, std::unique_ptr<VideoDevice> device, FrameSink sink, Log log)
    : config_(std::move(config)),
      device_(std::move(device)),
      sink_(std::move(sink)),
      log_(std::move(log)) {
  if (config_.device.empty()) throw std::invalid_argument("camera: no device configured");
  if (config_.width == 0 || config_.height == 0) {
    throw std::invalid_argument("camera " + config_.device + ": width and height must be above 0");
  }
  if (config_.fps == 0) {
    throw std::invalid_argument("camera " + config_.device + ": fps must be above 0");
  }
  if (config_.timing.poll_timeout.count() <= 0 || config_.timing.max_poll_timeouts < 1 ||
      config_.timing.backoff_initial.count() <= 0 ||
      config_.timing.backoff_max < config_.timing.backoff_initial) {
    throw std::invalid_argument("camera " + config_.device + ": timing values must be positive");
  }
  if (device_ == nullptr) {
    throw std::invalid_argument("camera " + config_.device + ": no VideoDevice");
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "camera: eventfd");
  status_.device = config_.device;
}

Capture::~Capture() {
  Stop();
  ::close(wake_fd_);
}

void Capture::Start() {
  if (std::this_thread::get_id() == thread_id_.load()) return;  // from the sink: it runs already
  std::lock_guard control(control_mu_);
  if (thread_.joinable()) {
    if (!StopRequested()) return;
    thread_.join();  // it was asked to stop from the sink
  }
  uint64_t drained;
  while (::read(wake_fd_, &drained, sizeof drained) > 0) {
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    status_.state = "opening";
  }
  // The thread names itself, so the sink can tell it is on it from its
  // very first frame, and unnames itself so a later thread reusing the
  // id is not mistaken for it.
  thread_ = std::thread([this] {
    thread_id_ = std::this_thread::get_id();
    try {
      Run();
    } catch (...) {
      // Run() catches every failure of the device; this is the last
      // guard (no memory for a status string), so nothing terminates.
      // Marked as stopping so that the next Start() starts afresh.
      std::lock_guard lock(mu_);
      stopping_ = true;
      status_.state = "stopped";
    }
    thread_id_ = std::thread::id();
  });
}

void Capture::Stop() {
  if (std::this_thread::get_id() == thread_id_.load()) {
    RequestStop();  // joining itself would never return
    return;
  }
  std::lock_guard control(control_mu_);
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

void Capture::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  const uint64_t one = 1;
  // Cannot fail but by overflowing the counter, which stays readable then.
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

bool Capture::StopRequested() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void Capture::WaitForStop(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
}

CaptureStatus Capture::Status() const {
  std::lock_guard lock(mu_);
  CaptureStatus status = status_;
  const SteadyTime now = SteadyClock::now();
  auto first = std::lower_bound(recent_frames_.begin(), recent_frames_.end(), now - kFpsWindow);
  const auto frames = std::distance(first, recent_frames_.end());
  // Frames counted from the oldest in the window up to now, so that a
  // camera that went quiet shows its rate falling at once.
  if (frames >= 2) {
    const std::chrono::duration<double> span = now - *first;
    if (span.count() > 0) status.measured_fps = static_cast<double>(frames - 1) / span.count();
  }
  return status;
}

void Capture::Say(const std::string& line) const {
  if (!log_) return;
  try {
    log_("camera " + config_.device + ": " + line);
  } catch (...) {
    // A failing logger must not end the capture.
  }
}

void Capture::Run() {
  std::chrono::milliseconds backoff = config_.timing.backoff_initial;
  bool first = true;
  while (!StopRequested()) {
    if (!first) {
      std::lock_guard lock(mu_);
      status_.state = "reopening";
      status_.retry_in = std::chrono::milliseconds(0);
      ++status_.reopen_attempts;
    }
    first = false;
    session_frames_ = 0;
    std::string error;
    // Nothing may end this thread but Stop(): every failure, even an
    // unexpected one, is reported and retried.
    try {
      Stream stream(*device_, config_);
      Negotiate(stream);
      Pump(stream);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown failure";
    }
    if (StopRequested()) break;
    if (session_frames_ > 0) backoff = config_.timing.backoff_initial;
    if (error.empty()) error = "capture ended unexpectedly";
    {
      std::lock_guard lock(mu_);
      status_.state = "reopening";
      status_.last_error = error;
      status_.retry_in = backoff;
      recent_frames_.clear();
    }
    // The same failure every few seconds (an absent camera) is logged once.
    if (error != last_logged_error_) {
      Say(error + "; retrying in " + Millis(backoff) + ", then up to every " +
          Millis(config_.timing.backoff_max));
      last_logged_error_ = error;
    }
    WaitForStop(backoff);
    backoff = std::min(backoff * 2, config_.timing.backoff_max);
  }
  std::lock_guard lock(mu_);
  status_.state = "stopped";
  status_.retry_in = std::chrono::milliseconds(0);
  recent_frames_.clear();
}

void Capture::Negotiate(Stream& stream) {
  stream.QueryCapabilities();
  const uint32_t fourcc = ChooseFourcc(config_.format, stream.Formats());
  const PixelFormat wanted = *FromFourcc(fourcc);
  stream.SetFormat(fourcc);
  const double fps = stream.SetFrameRate(config_.fps);
  stream.MapBuffers(stream.driver() == kLappingWriterDriver ? kLappingWriterBuffers
                                                            : kWishedBuffers);
  stream.QueueAllAndStart();

  std::vector<std::string> changes;
  if (stream.format() != wanted) {
    changes.push_back(std::string(PixelFormatName(stream.format())) + " instead of " +
                      PixelFormatName(wanted));
  }
  if (stream.width() != config_.width || stream.height() != config_.height) {
    changes.push_back(std::to_string(stream.width()) + "x" + std::to_string(stream.height()) +
                      " instead of " + std::to_string(config_.width) + "x" +
                      std::to_string(config_.height));
  }
  if (fps > 0 && FpsText(fps) != std::to_string(config_.fps)) {
    changes.push_back(FpsText(fps) + " fps instead of " + std::to_string(config_.fps));
  }
  std::string adjusted;
  for (const std::string& change : changes) adjusted += (adjusted.empty() ? "" : "; ") + change;
  {
    std::lock_guard lock(mu_);
    status_.state = "streaming";
    status_.driver = stream.driver();
    status_.card = stream.card();
    status_.format = stream.format();
    status_.width = stream.width();
    status_.height = stream.height();
    status_.bytes_per_line = stream.bytes_per_line();
    status_.fps = fps;
    status_.adjusted = adjusted;
    status_.buffers = stream.buffers();
    status_.retry_in = std::chrono::milliseconds(0);
  }
  const std::string streaming =
      "streaming " + FourccText(stream.fourcc()) + " " + std::to_string(stream.width()) + "x" +
      std::to_string(stream.height()) + (fps > 0 ? " at " + FpsText(fps) + " fps" : "") + ", " +
      std::to_string(stream.buffers()) + " buffers (" + stream.driver() + ", " + stream.card() +
      ")" + (adjusted.empty() ? "" : "; the driver chose " + adjusted);
  // A camera that starts streaming and then fails before its first frame,
  // over and over, is logged once, like any repeated failure.
  if (streaming != last_streaming_logged_ || sequence_ != sequence_at_streaming_logged_) {
    Say(streaming);
    last_streaming_logged_ = streaming;
    sequence_at_streaming_logged_ = sequence_;
  }
}

void Capture::Pump(Stream& stream) {
  int timeouts = 0;
  int eagains = 0;
  const bool lapping_writer = stream.driver() == kLappingWriterDriver;
  // A copy from a lapping writer's buffer, not yet checked the second time.
  struct Unverified {
    Frame frame;
    uint32_t index = 0;
    uint32_t sequence = 0;
  };
  std::optional<Unverified> unverified;
  // Such a driver's record has also been seen to stay old over new bytes
  // for good (a cut frame served over an older frame's tail, its record
  // the older frame's), so its MJPEG frames are decoded too.
  std::optional<JpegChecker> checker;
  if (lapping_writer && stream.format() == PixelFormat::kMjpeg) checker.emplace();
  const auto verify = [&] {
    if (!unverified) return;
    // The sequence only: the buffer was queued again since, which may
    // clear its bytesused; a write always moves its sequence.
    const std::string problem =
        WhyOverwritten(stream, unverified->index, unverified->sequence, std::nullopt);
    if (problem.empty()) {
      Deliver(std::move(unverified->frame));
    } else {
      CountDrop(problem);
    }
    unverified.reset();
  };
  while (!StopRequested()) {
    const int polled = stream.Poll(wake_fd_, config_.timing.poll_timeout);
    if (polled == kPollWoken) return;
    if (polled < 0) throw std::runtime_error("waiting for a frame failed: " + ErrorText(polled));
    // A new frame or a quiet writer: any write to the copied buffer that
    // was under way has its record by now.
    verify();
    if (polled == kPollTimedOut) {
      {
        std::lock_guard lock(mu_);
        ++status_.poll_timeouts;
      }
      if (++timeouts >= config_.timing.max_poll_timeouts) {
        throw std::runtime_error("no frame for " + Millis(config_.timing.poll_timeout * timeouts) +
                                 " (" + std::to_string(timeouts) + " poll timeouts in a row)");
      }
      continue;
    }
    const std::optional<v4l2_buffer> buffer = stream.Dequeue();
    if (!buffer) {
      if (++eagains >= kMaxEagainInARow) {
        throw std::runtime_error(
            "poll keeps reporting a frame that VIDIOC_DQBUF says is not there (" +
            std::to_string(eagains) + " EAGAIN in a row)");
      }
      continue;
    }
    timeouts = 0;
    eagains = 0;
    size_t size = 0;
    std::string problem =
        WhyUnusable(stream, buffer->index, buffer->bytesused, buffer->flags, size);
    Frame frame;
    if (problem.empty()) {
      frame = CopyOut(stream, buffer->index, size);
      problem = WhyOverwritten(stream, buffer->index, buffer->sequence, buffer->bytesused);
      if (problem.empty() && checker) {
        const std::string why = checker->WhyNotDecodable(WithHuffmanTables(frame.data));
        if (!why.empty()) problem = "corrupt frame: it does not decode (" + why + ")";
      }
    }
    stream.Queue(buffer->index);  // before the sink: the driver must never run dry
    if (!problem.empty()) {
      CountDrop(problem);
    } else if (lapping_writer) {
      unverified = Unverified{std::move(frame), buffer->index, buffer->sequence};
    } else {
      Deliver(std::move(frame));
    }
  }
}

std::string Capture::WhyUnusable(const Stream& stream, uint32_t index, uint32_t bytesused,
                                 uint32_t flags, size_t& size) const {
  if ((flags & V4L2_BUF_FLAG_ERROR) != 0) {
    return "corrupt frame: the driver flagged it V4L2_BUF_FLAG_ERROR (" +
           std::to_string(bytesused) + " bytes)";
  }
  if (bytesused == 0) return "empty frame: bytesused 0";
  if (bytesused > stream.Length(index)) {
    return "bad frame: bytesused " + std::to_string(bytesused) + " beyond its " +
           std::to_string(stream.Length(index)) + "-byte buffer";
  }
  const uint8_t* data = stream.Memory(index);
  if (stream.format() == PixelFormat::kYuyv) {
    const size_t needed = YuyvBytesNeeded(stream.bytes_per_line(), stream.width(), stream.height());
    if (bytesused < needed) {
      return "short YUYV frame: " + std::to_string(bytesused) + " of " + std::to_string(needed) +
             " bytes";
    }
    // What the driver filled, at most whole lines: a driver may report its
    // whole buffer.
    size = std::min(size_t{bytesused}, size_t{stream.bytes_per_line()} * stream.height());
    return "";
  }
  if (bytesused < kMinJpegBytes) {
    return "truncated JPEG: " + std::to_string(bytesused) + " bytes";
  }
  if (!StartsLikeJpeg({data, bytesused})) return "not a JPEG: no FFD8 start marker";
  // Up to the end marker: some cameras report the whole buffer as used,
  // with stale bytes after the image.
  size = CompleteJpegLength({data, bytesused});
  if (size > 0) return "";
  return "truncated JPEG: no FFD9 end marker after its scan in " + std::to_string(bytesused) +
         " bytes (or its markers are broken)";
}

Frame Capture::CopyOut(const Stream& stream, uint32_t index, size_t size) const {
  const uint8_t* data = stream.Memory(index);
  Frame frame;
  frame.format = stream.format();
  frame.width = stream.width();
  frame.height = stream.height();
  frame.bytes_per_line = stream.bytes_per_line();
  frame.data.assign(data, data + size);
  frame.captured = SteadyClock::now();
  return frame;
}

std::string Capture::WhyOverwritten(Stream& stream, uint32_t index, uint32_t sequence,
                                    std::optional<uint32_t> bytesused) const {
  // A videobuf2 driver leaves a dequeued buffer's sequence and bytesused
  // as DQBUF gave them until it is queued again.
  const v4l2_buffer now = stream.Query(index);
  if (now.sequence == sequence && (!bytesused || now.bytesused == *bytesused)) return "";
  return "overwritten while read: the driver refilled buffer " + std::to_string(index) +
         " (frame " + std::to_string(sequence) + ", now " +
         std::to_string(now.sequence) + ") before it was given back";
}

void Capture::Deliver(Frame frame) {
  frame.sequence = ++sequence_;
  // A frame is what proves the camera works: the next failure, even a
  // repeat of the last one, is news again.
  if (++session_frames_ == 1) last_logged_error_.clear();
  {
    std::lock_guard lock(mu_);
    ++status_.frames_captured;
    recent_frames_.push_back(frame.captured);
    while (!recent_frames_.empty() && recent_frames_.front() < frame.captured - kFpsWindow) {
      recent_frames_.pop_front();
    }
  }
  if (!sink_) return;
  std::string error;
  try {
    sink_(std::move(frame));
    last_sink_error_.clear();
    return;
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  if (error != last_sink_error_) Say("the frame consumer failed: " + error);
  last_sink_error_ = error;
}

void Capture::CountDrop(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    ++status_.frames_dropped;
    status_.last_drop_reason = reason;
  }
  // Reasons are "<kind>: <detail>"; each kind is logged now and then.
  const std::string kind = reason.substr(0, reason.find(':'));
  const SteadyTime now = SteadyClock::now();
  const auto logged = drop_logged_.find(kind);
  if (logged != drop_logged_.end() && now - logged->second < kDropLogInterval) return;
  drop_logged_[kind] = now;
  Say("dropped a frame: " + reason);
}

}  // namespace domian::camera
