// SystemdNotifier: what domiand tells systemd (or any service manager that
// speaks its notify protocol), through libsystemd's sd_notify: READY=1 once
// peers and domianctl can connect (Type=notify), STOPPING=1 when it starts
// leaving, and watchdog pings (WatchdogSec=) for as long as the daemon
// answers. Without $NOTIFY_SOCKET, as when started by hand, every call is
// a no-op.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "core/common/stop_signal.h"

namespace domian::daemon {

// Longest wait for one probe (less when the watchdog interval is short:
// a probe gets a quarter of it).
inline constexpr std::chrono::seconds kMaxProbeDeadline{5};
// Pause between probes while the probe fails.
inline constexpr std::chrono::seconds kProbeRetry{1};
// While the probe keeps failing, a reminder is logged this often.
inline constexpr std::chrono::seconds kProbeFailureLogInterval{10};

class SystemdNotifier {
 public:
  SystemdNotifier() = default;
  ~SystemdNotifier();  // stops the watchdog
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // READY=1 with a one-line STATUS= for `systemctl status`.
  void Ready(const std::string& status);
  // STOPPING=1: systemd shows "deactivating" and waits (TimeoutStopSec=).
  void Stopping();

  // What the watchdog checks before each ping: nullopt when the daemon
  // answers, else what failed. It must give up within `deadline`.
  using Probe = std::function<std::optional<std::string>(std::chrono::milliseconds deadline)>;

  // When the unit asked for a watchdog, pings it every half interval on a
  // thread of its own, each time after `probe` succeeded. A failed probe
  // is logged and tried again every kProbeRetry without a ping, so a
  // daemon that stays unreachable (or whose probe hangs: a deadlock) until
  // the watchdog interval is over is restarted by systemd, while one late
  // answer is not. Returns the interval, or zero when no watchdog was
  // asked for.
  std::chrono::microseconds StartWatchdog(Probe probe);
  void StopWatchdog();

 private:
  StopSignal stop_;
  std::thread watchdog_;
};

}  // namespace domian::daemon
