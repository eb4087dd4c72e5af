// ServiceManager: what domiand tells systemd (or any service manager that
// speaks its notify protocol), through libsystemd's sd_notify: READY=1 once
// peers and domianctl can connect (Type=notify), STOPPING=1 when it starts
// leaving, and watchdog pings (WatchdogSec=) for as long as the daemon
// answers. Without $NOTIFY_SOCKET, as when started by hand, every call is
// a no-op.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace domian {

class ServiceManager {
 public:
  ServiceManager() = default;
  ~ServiceManager();  // stops the watchdog
  ServiceManager(const ServiceManager&) = delete;
  ServiceManager& operator=(const ServiceManager&) = delete;

  // READY=1 with a one-line STATUS= for `systemctl status`.
  void Ready(const std::string& status);
  // STOPPING=1: systemd shows "deactivating" and waits (TimeoutStopSec=).
  void Stopping();

  // When the unit asked for a watchdog, pings it every half interval on a
  // thread of its own, each time after `probe` returned: a daemon whose
  // probe hangs (a deadlock) stops pinging, and systemd restarts it.
  // Returns the interval, or zero when no watchdog was asked for.
  std::chrono::microseconds StartWatchdog(std::function<void()> probe);
  void StopWatchdog();

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread watchdog_;
};

}  // namespace domian
