// VideoDevice: the few kernel calls a V4L2 capture makes (open, ioctl,
// mmap, poll, close), behind an interface so tests can put a scripted
// driver (tests/support/camera/scripted_video_device.h) where the kernel
// would be: the build machines have no camera and cannot load vivid.
// Everything V4L2 itself means (which ioctl, in which order, what the
// answers say) stays with the caller; an implementation only passes calls
// through and reports errors as -errno, never by throwing.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

namespace domian::camera {

// What Poll reports when it does not fail.
inline constexpr int kPollTimedOut = 0;
inline constexpr int kPollReady = 1;  // a buffer can be dequeued (or DQBUF says EAGAIN)
inline constexpr int kPollWoken = 2;  // the wake fd became readable: the caller is stopping

class VideoDevice {
 public:
  virtual ~VideoDevice() = default;

  // Opens the device node O_RDWR | O_NONBLOCK | O_CLOEXEC: non-blocking so
  // that DQBUF answers EAGAIN instead of waiting, which leaves Poll as the
  // only call that ever waits, always with a timeout. Returns the fd, or
  // -errno (-ENOENT: the camera is not plugged in).
  virtual int Open(const std::string& path) = 0;
  virtual void Close(int fd) = 0;
  // One ioctl; returns 0 or -errno, retrying EINTR.
  virtual int Ioctl(int fd, unsigned long request, void* arg) = 0;
  // A shared read/write mapping of `length` bytes at `offset` (a buffer's
  // m.offset from VIDIOC_QUERYBUF). nullptr on failure, with errno set.
  virtual void* Map(int fd, size_t length, off_t offset) = 0;
  virtual void Unmap(void* address, size_t length) = 0;
  // Waits at most `timeout_ms` for a frame on `fd`, or for `wake_fd` (an
  // eventfd the owner signals to stop it) to become readable, so that
  // stopping never waits out a poll timeout. Returns kPollReady,
  // kPollWoken (which wins when both happen), kPollTimedOut, or -errno:
  // POLLHUP is -ENODEV (the camera was unplugged) and POLLERR -EIO (the
  // queue is not streaming, or the driver marked it failed).
  virtual int Poll(int fd, int wake_fd, int timeout_ms) = 0;
};

// The real device: open(2), ioctl(2), mmap(2), poll(2).
std::unique_ptr<VideoDevice> MakeLinuxVideoDevice();

}  // namespace domian::camera
