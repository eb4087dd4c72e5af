#include "core/daemon/systemd_notifier.h"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace domian::daemon {

SystemdNotifier::~SystemdNotifier() { StopWatchdog(); }

void SystemdNotifier::Ready(const std::string& status) {
  // sd_notify returns 0 without a $NOTIFY_SOCKET: not run by systemd.
  if (sd_notify(0, ("READY=1\nSTATUS=" + status).c_str()) < 0) {
    spdlog::warn("could not tell the service manager this domain is ready");
  }
}

void SystemdNotifier::Stopping() { sd_notify(0, "STOPPING=1\nSTATUS=leaving the cluster"); }

std::chrono::microseconds SystemdNotifier::StartWatchdog(Probe probe) {
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
  // A probe that takes its whole deadline still leaves the ping in time.
  const auto deadline = std::min<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(interval / 2), kMaxProbeDeadline);
  const auto retry = std::min<std::chrono::microseconds>(interval, kProbeRetry);
  watchdog_ = std::thread([this, usec, interval, deadline, retry, probe = std::move(probe)] {
    using SteadyClock = std::chrono::steady_clock;
    std::optional<SteadyClock::time_point> failing_since;
    SteadyClock::time_point last_log{};
    while (!stop_.stopped()) {
      const std::optional<std::string> problem = probe(deadline);
      const auto now = SteadyClock::now();
      if (!problem) {
        if (failing_since) {
          spdlog::info("watchdog: the daemon answers again after {} ms of not answering",
                       std::chrono::duration_cast<std::chrono::milliseconds>(now - *failing_since)
                           .count());
          failing_since.reset();
        }
        sd_notify(0, "WATCHDOG=1");
      } else {
        if (!failing_since || now - last_log >= kProbeFailureLogInterval) {
          spdlog::error("watchdog: {}; not pinging the service manager, which restarts this "
                        "daemon {} ms after the last ping",
                        *problem, usec / 1000);
          last_log = now;
        }
        if (!failing_since) failing_since = now;
      }
      if (stop_.WaitFor(problem ? retry : interval)) break;
    }
  });
  return std::chrono::microseconds(usec);
}

void SystemdNotifier::StopWatchdog() {
  stop_.Stop();
  if (watchdog_.joinable()) watchdog_.join();
  stop_.Reset();
}

}  // namespace domian::daemon
