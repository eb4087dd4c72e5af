// ScriptedVideoDevice: a V4L2 capture driver in memory, for tests. It
// answers the ioctls Capture uses the way videobuf2 drivers (uvcvideo,
// vivid) do — QUERYCAP, ENUM_FMT, S_FMT choosing its own format and size,
// G/S_PARM, REQBUFS granting its own count, QUERYBUF, mmap of real memory,
// QBUF/DQBUF moving buffers between the application, the incoming queue
// and the done queue, STREAMON/OFF — and is told by a script what the
// camera does next: deliver a frame, wake a poll with nothing to dequeue
// (EAGAIN), stay silent for a poll timeout, flag a frame as an error, cut
// one short, refill one while it is read (as v4l2loopback does), break
// its queue (EIO), be unplugged (ENODEV, then absent for some opens).
// With the script empty it is silent, or streams good frames at a set
// interval.
//
// Like the hardware it punishes what a real driver punishes: a frame that
// finds no queued buffer is lost and poll waits in vain (so a buffer never
// re-queued stalls the capture), DQBUF after STREAMOFF, QBUF of a buffer
// already queued, mmap of an unknown offset, REQBUFS while streaming, and
// freeing buffers still mapped fail as the kernel's would and are recorded
// in Misuses(), as are closing with buffers still mapped or streaming.
// Poll really waits (on the caller's wake fd), so tests of stopping are
// real. Thread-safe: the test scripts and inspects while Capture's thread
// calls in.
#pragma once

#include <linux/videodev2.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "plugins/camera/video_device.h"

namespace domian::camera {

struct FrameSize {
  unsigned width = 0;
  unsigned height = 0;
};

// What the driver is and what it accepts; taken at each open.
struct ScriptedCamera {
  std::string driver = "scripted";
  std::string card = "Scripted camera";
  // This node's capabilities, reported as device_caps with
  // V4L2_CAP_DEVICE_CAPS (and, with metadata capture added, as the whole
  // device's `capabilities`, the way a UVC camera's two nodes do).
  uint32_t device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
  // false: a driver from before device_caps, filling only `capabilities`.
  bool reports_device_caps = true;
  std::vector<uint32_t> formats = {V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUYV};
  // S_FMT picks the listed size nearest the one asked (any size if empty).
  std::vector<FrameSize> sizes = {{640, 480}, {320, 240}, {160, 120}};
  // S_FMT answers with this fourcc whatever was asked (0: the one asked
  // if listed, else the first listed, as drivers do).
  uint32_t forced_format = 0;
  unsigned line_padding = 0;  // bytes after each YUYV line
  bool frame_rates = true;    // false: G_PARM/S_PARM answer ENOTTY
  unsigned max_fps = 30;
  // REQBUFS grants the count asked, clamped to these.
  unsigned min_buffers = 1;
  unsigned max_buffers = VIDEO_MAX_FRAME;
  // A good MJPEG frame's bytes for the negotiated size and the frame's
  // sequence number (real pictures, for tests that decode them); unset, a
  // JPEG-shaped frame of filler. Called with the device's lock held.
  std::function<std::vector<uint8_t>(unsigned width, unsigned height, uint32_t sequence)> mjpeg_source;
};

// `jpeg` without its Huffman tables (DHT segments), as many MJPEG cameras
// send frames.
std::vector<uint8_t> TablelessJpeg(const std::vector<uint8_t>& jpeg);

// Opens refused after an unplug until Replug().
inline constexpr int kUntilReplug = -1;

struct ScriptEvent {
  enum class Kind {
    kFrame,    // the next queued buffer is filled and done
    kEagain,   // poll wakes, DQBUF finds nothing
    kSilence,  // poll waits out its whole timeout
    kIoError,  // poll wakes, then the queue fails: DQBUF and poll answer EIO
    kUnplug,   // poll answers ENODEV (POLLHUP), as does every later call
  };
  Kind kind = Kind::kFrame;
  // kFrame: the bytes; empty for a good frame of the negotiated format.
  std::vector<uint8_t> bytes;
  std::optional<uint32_t> bytesused;  // kFrame: reported instead of the size
  uint32_t flags = 0;                 // kFrame: V4L2_BUF_FLAG_* added
  int absent_opens = 0;               // kUnplug: opens answered ENOENT, or kUntilReplug
  // kFrame: as DQBUF hands the buffer out, the driver writes the next
  // frame's first half into it, as v4l2loopback does when its writer laps
  // a reader: the application reads a torn frame.
  bool overwritten_while_read = false;
  // With overwritten_while_read: the driver's record of the buffer
  // (bytesused, sequence) changes only when the application next polls,
  // as when v4l2loopback's writer is preempted between its copy and its
  // bookkeeping: a check right after the copy sees the old record.
  bool record_lags = false;

  static ScriptEvent GoodFrame() { return {}; }
  static ScriptEvent FrameOf(std::vector<uint8_t> bytes);
  static ScriptEvent ErrorFrame();                   // a good frame flagged V4L2_BUF_FLAG_ERROR
  static ScriptEvent Truncated(uint32_t bytesused);  // a good frame's first bytes
  static ScriptEvent Empty();                        // bytesused 0
  static ScriptEvent OverwrittenWhileRead();         // a good frame, torn as it is read
  static ScriptEvent TornWithLateRecord();           // the same, its record updated late
  static ScriptEvent Eagain();
  static ScriptEvent PollTimeout();
  static ScriptEvent IoError();
  static ScriptEvent Unplug(int absent_opens);
};

struct ScriptedStats {
  int opens = 0;         // that succeeded
  int failed_opens = 0;  // refused (absent)
  int open_fds = 0;
  int mappings = 0;      // mmaps not yet unmapped
  unsigned buffers = 0;  // allocated by REQBUFS
  bool streaming = false;
  unsigned held = 0;      // dequeued and not queued again, while streaming
  unsigned max_held = 0;  // the most ever held while streaming
  int frames_filled = 0;
  int frames_lost = 0;  // frames that found no queued buffer
  int streamons = 0;
  int streamoffs = 0;
  int free_requests = 0;           // REQBUFS(0) that freed buffers
  uint32_t last_asked_fourcc = 0;  // by S_FMT
};

class ScriptedVideoDevice final : public VideoDevice {
 public:
  explicit ScriptedVideoDevice(ScriptedCamera camera = {});

  int Open(const std::string& path) override;
  void Close(int fd) override;
  int Ioctl(int fd, unsigned long request, void* arg) override;
  void* Map(int fd, size_t length, off_t offset) override;
  void Unmap(void* address, size_t length) override;
  int Poll(int fd, int wake_fd, int timeout_ms) override;

  // The script, played by polls in order.
  void Push(ScriptEvent event);
  void Push(const std::vector<ScriptEvent>& events);
  // With the script empty: a good frame every `interval`, or (nullopt)
  // silence, each poll waiting out its timeout.
  void StreamWhenIdle(std::optional<std::chrono::milliseconds> interval);
  // The next `count` opens fail with `error` (kUntilReplug: until
  // Replug()): ENOENT for a camera not plugged in, EACCES for a node the
  // service may not open.
  void SetAbsent(int count, int error = ENOENT);
  void Replug();
  // Takes effect at the next open.
  void SetCamera(ScriptedCamera camera);
  // The next ioctl `request` answers -`error`.
  void FailNext(unsigned long request, int error);

  ScriptedStats Stats() const;
  std::vector<std::string> Misuses() const;
  size_t ScriptLeft() const;
  bool WaitingInPoll() const;  // a poll is waiting out a timeout or an interval
  std::string OpenedPath() const;

  // A JPEG-shaped frame (FFD8 ... FFD9) of `size` bytes whose body is `fill`.
  static std::vector<uint8_t> JpegFrame(size_t size, uint8_t fill);

 private:
  enum class State { kDequeued, kQueued, kDone };
  struct Buffer {
    std::shared_ptr<std::vector<uint8_t>> memory;
    uint32_t offset = 0;
    State state = State::kDequeued;
    uint32_t bytesused = 0;
    uint32_t flags = 0;
    uint32_t sequence = 0;
    int mappings = 0;
    bool overwrite_when_dequeued = false;
    bool record_lags = false;
  };
  struct Mapping {
    std::shared_ptr<std::vector<uint8_t>> memory;  // outlives REQBUFS(0), as in the kernel
    int buffer = -1;                               // index, -1 once the buffers were freed
    int count = 0;
  };

  int Dispatch(unsigned long request, void* arg);
  int QueryCap(v4l2_capability& caps);
  int EnumFormat(v4l2_fmtdesc& description);
  int SetFormat(v4l2_format& format);
  int GetParm(v4l2_streamparm& parm);
  int SetParm(v4l2_streamparm& parm);
  int RequestBuffers(v4l2_requestbuffers& request);
  int QueryBuffer(v4l2_buffer& buffer);
  int QueueBuffer(v4l2_buffer& buffer);
  int DequeueBuffer(v4l2_buffer& buffer);
  int StreamOn(const int& type);
  int StreamOff(const int& type);

  // Fills the first queued buffer; false (the frame lost) when none is.
  bool Fill(const ScriptEvent& event);
  std::vector<uint8_t> GoodFrameBytes() const;
  // The next frame written over the first half of buffer `index`.
  void Overwrite(uint32_t index);
  // The record Overwrite left for later (record_lags), written now.
  void CatchUpRecord();
  void Describe(uint32_t index, v4l2_buffer& buffer) const;
  void FreeBuffers();
  void ResetQueue();
  unsigned Held() const;
  // Waits on `wake_fd` with the lock released.
  int Wait(std::unique_lock<std::mutex>& lock, int wake_fd, int timeout_ms);
  void Misuse(const std::string& what);

  mutable std::mutex mu_;
  ScriptedCamera next_camera_;
  ScriptedCamera camera_;  // of the open device
  std::deque<ScriptEvent> script_;
  std::optional<std::chrono::milliseconds> idle_interval_;
  int absent_ = 0;
  int absent_error_ = ENOENT;
  bool gone_ = false;         // unplugged: every call on an open fd fails
  bool queue_error_ = false;  // the queue failed (EIO) until STREAMOFF
  std::map<unsigned long, std::deque<int>> failures_;

  int next_fd_ = 1000;
  std::set<int> fds_;
  std::string opened_path_;
  bool in_poll_ = false;

  uint32_t fourcc_ = 0;
  unsigned width_ = 0;
  unsigned height_ = 0;
  unsigned bytes_per_line_ = 0;
  unsigned size_image_ = 0;
  unsigned fps_ = 30;

  std::vector<Buffer> buffers_;
  std::deque<uint32_t> queued_;
  std::deque<uint32_t> done_;
  bool streaming_ = false;
  uint32_t sequence_ = 0;
  // A buffer whose record Overwrite has not written yet, and that record.
  std::optional<uint32_t> late_record_index_;
  uint32_t late_bytesused_ = 0;
  uint32_t late_sequence_ = 0;
  std::map<void*, Mapping> mappings_;

  std::vector<std::string> misuses_;
  ScriptedStats stats_;
};

}  // namespace domian::camera
