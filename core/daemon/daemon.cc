// domiand's process: the open-file limit, the Node, the service manager's
// readiness and watchdog, the signal wait, and the goodbye on shutdown.
#include "core/daemon/daemon.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/daemon/heap_trimmer.h"
#include "core/daemon/systemd_notifier.h"
#include "core/node/node.h"
#include "core/rpc/listener.h"
#include "core/rpc/port_probe.h"
#include "core/services/safe_state.h"
#include "domian/version.h"

namespace domian::daemon {
namespace {

// Without credentials: how often to look for them, and to say so again.
constexpr std::chrono::seconds kCredentialsPoll{1};
constexpr std::chrono::minutes kCredentialsReminder{10};

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}


// The soft open-file limit up to the hard one, so the descriptors the
// unit allows (LimitNOFILE=) are there to use; systemd's default soft
// limit (1024) is for programs that still use select(2), which the daemon
// does not. Logs both: the Listener's connection caps follow from them.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot read the open-file limit: {}", std::strerror(errno));
    return;
  }
  const rlim_t soft = limit.rlim_cur;
  if (soft < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("cannot raise the open-file limit from {} to {}: {}", soft, limit.rlim_max,
                   std::strerror(errno));
      return;
    }
  }
  spdlog::info("open files: soft limit {} (was {}), hard limit {}; incoming connections stop "
               "at descriptor {}",
               limit.rlim_cur, soft, limit.rlim_max, rpc::DescriptorCeiling(limit.rlim_cur));
}

}  // namespace

std::filesystem::path PluginHostBinary() {
  if (const char* set = std::getenv("DOMIAN_PLUGIN_HOST"); set != nullptr && *set != '\0') {
    return set;
  }
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  for (const std::filesystem::path& candidate :
       {self.parent_path() / "domian-plugin-host",
        std::filesystem::path(DOMIAN_PLUGIN_HOST_INSTALLED),
        std::filesystem::path(DOMIAN_PLUGIN_HOST_BUILT)}) {
    if (!candidate.empty() && std::filesystem::exists(candidate, error)) return candidate;
  }
  return DOMIAN_PLUGIN_HOST_INSTALLED;
}

void BlockStopSignals() {
  sigset_t set = StopSignals();
  // A peer closing a socket must not kill the daemon.
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

const char* DaemonVersion() { return kDomianVersion; }

Daemon::Daemon(config::NodeConfig config) : config_(std::move(config)) {}
Daemon::~Daemon() = default;

int Daemon::Run() {
  RaiseOpenFileLimit();
  SteadyClock clock;
  // Before anything else (credentials, the port, membership, placement):
  // the hardware of every service the last daemon left running without
  // stopping it (a SIGKILL, a crash, a power cut) is made safe.
  std::map<std::string, services::RunningEntry> recovered;
  {
    services::SafeStateRunner safe_state({.host_binary = PluginHostBinary()}, clock);
    recovered = services::MakeSafeAfterUncleanEnd(config_.state_dir / "services",
                                                  config_.plugin_dirs, config_.services,
                                                  safe_state);
  }
  SystemdNotifier systemd_notifier;
  const sigset_t stop = StopSignals();
  std::unique_ptr<node::Node> node;
  bool waiting = false;
  auto last_reminder = std::chrono::steady_clock::now();
  while (!node) {
    absl::StatusOr<std::unique_ptr<node::Node>> created =
        node::Node::Create(config_, clock, PluginHostBinary(), recovered);
    if (created.ok()) {
      node = *std::move(created);
      break;
    }
    if (!absl::IsNotFound(created.status())) {
      spdlog::critical("{}", StatusMessage(created.status()));
      return 1;
    }
    // A node without credentials refuses everybody: it waits, up and
    // quiet, for `domianctl cluster init` or `cluster join` to give it
    // some (a fresh package install is safe until then).
    const auto now = std::chrono::steady_clock::now();
    if (!waiting || now - last_reminder >= kCredentialsReminder) {
      spdlog::warn("{}; this node refuses all calls until then, and starts as soon as they are "
                   "there",
                   StatusMessage(created.status()));
      last_reminder = now;
    }
    if (!waiting) {
      waiting = true;
      systemd_notifier.Ready("waiting for cluster credentials in " +
                             node::CredentialsFolder(config_).string() +
                             ": domianctl cluster init, or cluster join");
      // Alive while it waits: nothing to probe yet.
      systemd_notifier.StartWatchdog(
          [](std::chrono::milliseconds) { return std::optional<std::string>(); });
    }
    const timespec poll{.tv_sec = kCredentialsPoll.count(), .tv_nsec = 0};
    if (sigtimedwait(&stop, nullptr, &poll) > 0) {
      systemd_notifier.Stopping();
      spdlog::info("stopped before joining a cluster");
      return 0;
    }
  }
  if (waiting) {
    // The port is probed from now on (a stopped watchdog starts afresh).
    systemd_notifier.StopWatchdog();
    spdlog::info("cluster credentials found in {}", node::CredentialsFolder(config_).string());
  }
  if (absl::Status started = node->Start(); !started.ok()) {
    spdlog::critical("{}", StatusMessage(started));
    return 1;
  }
  // Peers and domianctl can connect from here on.
  const Identity self = node->self();
  systemd_notifier.Ready("domain " + self.id + " of cluster '" + self.cluster + "' on " +
                         self.address);
  // A daemon is alive when a new connection to its own port is answered:
  // that takes the listener, the EventLoop and Membership's lock (the one
  // every heartbeat, call and status takes). Peers that still exchange
  // heartbeats over old connections do not prove it (see port_probe.h).
  // The address bound, numeric: a name in node.listen may be one gRPC's
  // resolver cannot look up (an mDNS .local name).
  const std::string probe_address = node->ProbeAddress();
  const auto watchdog = systemd_notifier.StartWatchdog(
      [probe_address, credentials = node->ClientCredentials()](std::chrono::milliseconds deadline) {
        return rpc::ProbePort(probe_address, deadline, credentials);
      });
  if (watchdog.count() > 0) {
    spdlog::info("service manager watchdog: {} ms, probing {}", watchdog.count() / 1000,
                 probe_address);
  }
  HeapTrimmer heap_trimmer;
  heap_trimmer.Start();

  int signal_number = 0;
  sigwait(&stop, &signal_number);
  spdlog::info("received {}: leaving the cluster", strsignal(signal_number));
  systemd_notifier.Stopping();
  node->Stop();
  heap_trimmer.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace domian::daemon
