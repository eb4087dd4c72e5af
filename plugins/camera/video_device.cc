#include "plugins/camera/video_device.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace domian::camera {
namespace {

class LinuxVideoDevice final : public VideoDevice {
 public:
  int Open(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
  }

  void Close(int fd) override {
    // Not retried on EINTR: Linux has released the fd whatever close says.
    ::close(fd);
  }

  int Ioctl(int fd, unsigned long request, void* arg) override {
    int result;
    do {
      result = ::ioctl(fd, request, arg);
    } while (result == -1 && errno == EINTR);
    return result == -1 ? -errno : 0;
  }

  void* Map(int fd, size_t length, off_t offset) override {
    void* address = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    return address == MAP_FAILED ? nullptr : address;
  }

  void Unmap(void* address, size_t length) override { ::munmap(address, length); }

  int Poll(int fd, int wake_fd, int timeout_ms) override {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      const int ready = ::poll(fds, 2, left.count() > 0 ? static_cast<int>(left.count()) : 0);
      if (ready < 0 && errno == EINTR) continue;  // a signal: wait out the rest
      if (ready < 0) return -errno;
      if (ready == 0) return kPollTimedOut;
      if ((fds[1].revents & POLLIN) != 0) return kPollWoken;
      // An unplugged camera's node answers POLLERR | POLLHUP | POLLPRI;
      // vb2 answers POLLERR alone when the queue is off or has failed.
      if ((fds[0].revents & POLLNVAL) != 0) return -EBADF;
      if ((fds[0].revents & POLLHUP) != 0) return -ENODEV;
      if ((fds[0].revents & POLLERR) != 0) return -EIO;
      if ((fds[0].revents & POLLIN) != 0) return kPollReady;
      // Only the wake fd can be left, and not readable: it is broken, and
      // polling it again would spin.
      return -EBADF;
    }
  }
};

}  // namespace

std::unique_ptr<VideoDevice> MakeLinuxVideoDevice() { return std::make_unique<LinuxVideoDevice>(); }

}  // namespace domian::camera
