// Capture: frames from one V4L2 camera, on a thread of its own, handed to
// a sink as copies. The device is driven the way the V4L2 API reference's
// capture example does it (shared/guides/hardware.md, "camera"):
//
//   open (non-blocking) → VIDIOC_QUERYCAP (video capture + streaming I/O)
//   → VIDIOC_ENUM_FMT → VIDIOC_S_FMT, reading back what the driver chose
//   (it may change the size, accepted and reported, and the format, which
//   must still be MJPEG or YUYV) → VIDIOC_S_PARM for the frame rate where
//   the driver has one → VIDIOC_REQBUFS (mmap; the count granted is used)
//   → VIDIOC_QUERYBUF + mmap each → VIDIOC_QBUF all → VIDIOC_STREAMON
//   → poll → VIDIOC_DQBUF → validate → copy → VIDIOC_QBUF → sink
//   → VIDIOC_STREAMOFF, munmap, VIDIOC_REQBUFS(0), close.
//
// A buffer goes back to the driver as soon as its bytes are copied, before
// the sink sees them: a buffer the application holds is one the camera
// cannot fill, and a camera with none left stops delivering. Every failure
// (an unplugged camera's ENODEV or EIO, kMaxPollTimeouts silent polls in a
// row, a device that is absent or negotiates something unusable) closes
// everything and opens the device again after a backoff that doubles from
// kBackoffInitial to kBackoffMax: a USB camera that resets comes back at the
// same /dev/v4l/by-id path, and a camera refusing buffers may get them once
// another program lets go. All of it is reported in Status().
//
// Stop() returns within a few milliseconds wherever the thread is (in a
// poll, in a backoff), except while the kernel itself is inside an ioctl:
// uvcvideo can hold one for its 5 s control timeout when a camera stops
// answering USB control requests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plugins/camera/video_device.h"

namespace domian::camera {

// A poll this long without a frame is a silent camera (the guide's 1–5 s);
// this many in a row and it is reopened. One alone may be a camera
// adjusting its exposure in the dark.
inline constexpr std::chrono::milliseconds kPollTimeout{2000};
inline constexpr int kMaxPollTimeouts = 2;
inline constexpr std::chrono::milliseconds kBackoffInitial{500};
inline constexpr std::chrono::milliseconds kBackoffMax{8000};
// Buffers asked of the driver: one being filled, one being copied, and
// slack for the capture thread being late. Fewer than kMinBuffers granted
// cannot stream without losing every other frame.
inline constexpr unsigned kWishedBuffers = 4;
inline constexpr unsigned kMinBuffers = 2;
// Status().measured_fps counts the frames of this last stretch of time.
inline constexpr std::chrono::seconds kFpsWindow{3};
// A drop reason is logged at most this often (a broken camera can drop
// every frame; the status has the counts).
inline constexpr std::chrono::seconds kDropLogInterval{60};

enum class PixelFormat {
  kMjpeg,  // V4L2_PIX_FMT_MJPEG (or the older V4L2_PIX_FMT_JPEG)
  kYuyv,   // V4L2_PIX_FMT_YUYV: packed 4:2:2, 2 bytes per pixel
  kAuto,   // asking: MJPEG if the camera offers it, else YUYV
};
// "MJPEG", "YUYV", "auto".
const char* PixelFormatName(PixelFormat format);

// Production values by default; tests shorten them.
struct CaptureTiming {
  std::chrono::milliseconds poll_timeout = kPollTimeout;
  int max_poll_timeouts = kMaxPollTimeouts;
  std::chrono::milliseconds backoff_initial = kBackoffInitial;
  std::chrono::milliseconds backoff_max = kBackoffMax;
};

struct CaptureConfig {
  // The device node. /dev/v4l/by-id/... stays the same camera across USB
  // resets, /dev/videoN does not (and a UVC camera's second node is its
  // metadata, which cannot capture video).
  std::string device;
  unsigned width = 640;
  unsigned height = 480;
  unsigned fps = 15;
  PixelFormat format = PixelFormat::kAuto;
  CaptureTiming timing;
};

struct Frame {
  PixelFormat format = PixelFormat::kMjpeg;  // never kAuto
  unsigned width = 0;
  unsigned height = 0;
  // YUYV: bytes from one line to the next (drivers may pad lines beyond
  // width * 2). MJPEG: 0.
  unsigned bytes_per_line = 0;
  // MJPEG: from the FFD8 start marker to the first FFD9 end marker after
  // the scan data (bytes some cameras leave after it are cut off). YUYV:
  // what the driver filled, at most bytes_per_line * height and at least
  // bytes_per_line * (height - 1) + width * 2 (the last line unpadded).
  std::vector<uint8_t> data;
  // Counts the frames handed to the sink since this Capture was made, so a
  // consumer can tell a new frame from one it has seen (not reset by
  // reopening, unlike the driver's own sequence).
  uint64_t sequence = 0;
  std::chrono::steady_clock::time_point captured;  // when it was dequeued
};

struct CaptureStatus {
  std::string state = "stopped";  // stopped | opening | streaming | reopening
  std::string device;
  // Of the last device opened and negotiated; kept while reopening so the
  // failure can be read against them.
  std::string driver;                       // VIDIOC_QUERYCAP's driver, "uvcvideo"
  std::string card;                         // and card, the camera's name
  PixelFormat format = PixelFormat::kAuto;  // kAuto until negotiated
  unsigned width = 0;
  unsigned height = 0;
  unsigned bytes_per_line = 0;
  double fps = 0;  // as the driver set it; 0 when it has no frame rate setting
  // What the driver changed from the configuration, "" if nothing:
  // "320x240 instead of 640x480; 10 fps instead of 15".
  std::string adjusted;
  unsigned buffers = 0;  // granted by VIDIOC_REQBUFS
  // Counters, since this Capture was made.
  uint64_t frames_captured = 0;  // handed to the sink
  uint64_t frames_dropped = 0;   // dequeued but unusable
  std::string last_drop_reason;
  uint64_t poll_timeouts = 0;
  uint64_t reopen_attempts = 0;           // opens after a failure
  std::string last_error;                 // stays after recovery, for the record
  std::chrono::milliseconds retry_in{0};  // the backoff being waited (reopening)
  double measured_fps = 0;                // over the last kFpsWindow
};

class Capture {
 public:
  using FrameSink = std::function<void(Frame)>;
  using Log = std::function<void(const std::string&)>;

  // Nothing is opened until Start(). `sink` runs on the capture thread and
  // should be quick (store the frame and return): the next frame waits for
  // it. Exceptions from `sink` or `log` are caught and logged.
  // Throws std::invalid_argument naming a config value that cannot work
  // (no device, a zero size or rate), std::system_error when no eventfd
  // can be made.
  Capture(CaptureConfig config, std::unique_ptr<VideoDevice> device, FrameSink sink, Log log);
  ~Capture();  // Stop()
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Both idempotent; the service captures only while someone watches.
  // Stop() waits for the thread to close the device. Called from the sink,
  // Stop() only asks: the thread ends once the sink returns (and Start()
  // from the sink does nothing).
  void Start();
  void Stop();
  CaptureStatus Status() const;

 private:
  class Stream;  // one open device, from open to close (capture.cc)

  void Run();
  // Sets the device up to stream as configured, as near as the driver
  // allows, and reports what it chose; throws when it cannot.
  void Negotiate(Stream& stream);
  // Streams until Stop() (returns) or a failure (throws).
  void Pump(Stream& stream);
  // Why a dequeued buffer is unusable, "" if it is usable; then `size` is
  // how many of its bytes are the frame (for MJPEG up to its end marker,
  // found once here).
  std::string WhyUnusable(const Stream& stream, uint32_t index, uint32_t bytesused,
                          uint32_t flags, size_t& size) const;
  Frame CopyOut(const Stream& stream, uint32_t index, size_t size) const;
  // "" while the driver has left a dequeued buffer alone, else why the copy
  // just made of it cannot be trusted: a driver that does not respect
  // buffer ownership (v4l2loopback, when its writer laps a reader) can
  // refill the buffer while it is read, and a torn frame still passes the
  // marker walk.
  // `bytesused`: nullopt to compare the sequence alone (after the buffer
  // was queued again).
  std::string WhyOverwritten(Stream& stream, uint32_t index, uint32_t sequence,
                             std::optional<uint32_t> bytesused) const;
  void Deliver(Frame frame);
  void CountDrop(const std::string& reason);
  bool StopRequested() const;
  void WaitForStop(std::chrono::milliseconds delay);
  void RequestStop();
  void Say(const std::string& line) const;

  const CaptureConfig config_;
  const std::unique_ptr<VideoDevice> device_;
  const FrameSink sink_;
  const Log log_;
  // Readable while a stop is asked: Poll watches it next to the camera.
  int wake_fd_ = -1;

  std::mutex control_mu_;  // serialises Start() and Stop()
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  CaptureStatus status_;
  std::deque<std::chrono::steady_clock::time_point> recent_frames_;  // within kFpsWindow

  // The capture thread's own.
  uint64_t sequence_ = 0;
  uint64_t session_frames_ = 0;
  std::string last_logged_error_;
  std::string last_streaming_logged_;
  uint64_t sequence_at_streaming_logged_ = 0;
  std::string last_sink_error_;
  std::map<std::string, std::chrono::steady_clock::time_point> drop_logged_;
};

}  // namespace domian::camera
