#include "core/daemon/service_manager.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

namespace domian {

ServiceManager::~ServiceManager() { StopWatchdog(); }

void ServiceManager::Ready(const std::string& status) {
  // sd_notify returns 0 without a $NOTIFY_SOCKET: not run by systemd.
  if (sd_notify(0, ("READY=1\nSTATUS=" + status).c_str()) < 0) {
    spdlog::warn("could not tell the service manager this domain is ready");
  }
}

void ServiceManager::Stopping() { sd_notify(0, "STOPPING=1\nSTATUS=leaving the cluster"); }

std::chrono::microseconds ServiceManager::StartWatchdog(std::function<void()> probe) {
  // Pings with nobody to hear them (a unit's environment copied into a
  // shell) would only cost wake-ups.
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return std::chrono::microseconds(0);
  uint64_t usec = 0;
  // > 0 only when $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is us).
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::microseconds(0);
  // Half the interval, as sd_watchdog_enabled(3) advises: one late ping is
  // not yet a restart.
  const std::chrono::microseconds interval(usec / 2);
  watchdog_ = std::thread([this, interval, probe = std::move(probe)] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      probe();
      sd_notify(0, "WATCHDOG=1");
      lock.lock();
      wake_.wait_for(lock, interval, [this] { return stop_; });
    }
  });
  return std::chrono::microseconds(usec);
}

void ServiceManager::StopWatchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

}  // namespace domian
