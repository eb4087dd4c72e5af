// The service manager's end of sd_notify (what systemd listens on): a
// datagram socket at a path, for tests that run domiand "under systemd"
// by setting $NOTIFY_SOCKET (and $WATCHDOG_USEC) for it.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace domian::testing {

class NotifySocket {
 public:
  explicit NotifySocket(std::filesystem::path path);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool bound() const { return bound_; }
  const std::filesystem::path& path() const { return path_; }

  // The next message, or "" when none came within `timeout`.
  std::string Next(std::chrono::milliseconds timeout);
  // Messages until one contains `wanted`; whether it came within `timeout`.
  bool WaitFor(const std::string& wanted, std::chrono::milliseconds timeout);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

}  // namespace domian::testing
