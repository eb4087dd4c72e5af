// Start-up, the signal wait, and the goodbye on shutdown.
#include "core/daemon/daemon.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>

#include "core/common/net.h"
#include "core/daemon/heap_trimmer.h"
#include "core/daemon/node_state.h"
#include "core/daemon/systemd_notifier.h"
#include "core/discovery/discovery.h"
#include "core/membership/membership.h"
#include "core/placement/placement.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/listener.h"
#include "core/rpc/node_service.h"
#include "core/rpc/peer_client.h"
#include "core/rpc/port_probe.h"
#include "core/rpc/server_limits.h"
#include "core/rpc/service_calls.h"
#include "core/services/service_host.h"
#include "domian/version.h"

namespace domian::daemon {
namespace {

// How long in-flight RPCs may take to finish once the server stops.
constexpr auto kServerShutdownGrace = std::chrono::seconds(2);
// How long a clean stop may spend handing singletons to other nodes
// (each takes a stop, a transfer and a start: ~0.1 s); well inside
// systemd's default stop timeout of 90 s.
constexpr auto kHandOffBudget = std::chrono::seconds(20);

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Discovery's findings go to Membership's inbox (which never blocks).
class DiscoveryToMembership final : public discovery::Sink {
 public:
  explicit DiscoveryToMembership(membership::Membership& membership) : membership_(membership) {}
  void Discovered(const std::string& id, const std::string& address) override {
    membership_.NoteDiscovered(id, address);
  }
  void Vanished(const std::string& address) override { membership_.NoteVanished(address); }

 private:
  membership::Membership& membership_;
};

// Placement acts on this node's services through the ServiceHost.
class ServiceHostServices final : public placement::LocalServices {
 public:
  // `node_address`: this node's address as peers use it (a plugin that
  // listens on every interface publishes a wildcard host; others need
  // this node's).
  ServiceHostServices(services::ServiceHost& host, std::function<std::string()> node_address)
      : host_(host), node_address_(std::move(node_address)) {}
  void Start(const std::string& service, const std::string& config_json, uint64_t epoch,
             const std::optional<std::string>& state) override {
    host_.StartService(service, config_json, epoch, state);
  }
  std::optional<std::string> Stop(const std::string& service) override {
    return host_.StopService(service);
  }
  std::vector<Status> Services() const override {
    std::vector<Status> out;
    const std::string node_address = node_address_();
    for (const services::ServiceStatus& status : host_.Services()) {
      std::string endpoints;
      for (const auto& [name, endpoint] : status.endpoints) {
        endpoints += (endpoints.empty() ? "" : ",") + name + "=" + ReachableEndpoint(endpoint, node_address);
      }
      out.push_back({status.name, std::string(ServiceStateName(status.state)), status.detail, endpoints});
    }
    return out;
  }
  std::vector<placement::ServiceSpec> Plugins() const override {
    std::vector<placement::ServiceSpec> out;
    for (const services::CatalogEntry& entry : host_.Plugins()) {
      if (!entry.library) continue;
      const services::PluginDescription& d = entry.library->description();
      out.push_back({d.name,
                     d.placement == services::Placement::kSingleton ? placement::Kind::kSingleton
                                                                   : placement::Kind::kPerNode,
                     d.traits, d.depends});
    }
    return out;
  }
  uint64_t LastEpoch(const std::string& service) const override {
    return host_.LastEpoch(service);
  }

 private:
  services::ServiceHost& host_;
  std::function<std::string()> node_address_;
};

// Placement reads the cluster from Membership, and asks a peer for its own
// word through it (a HandOver is checked against the sender's reply).
class MembershipCluster final : public placement::ClusterSource {
 public:
  explicit MembershipCluster(membership::Membership& membership) : membership_(membership) {}
  placement::ClusterView View() const override {
    return {membership_.Status().self, membership_.Peers()};
  }
  bool Confirm(const std::string& id, std::chrono::milliseconds timeout) override {
    return membership_.Exchange(id, timeout);
  }

 private:
  membership::Membership& membership_;
};

// domian-plugin-host: $DOMIAN_PLUGIN_HOST, else beside domiand, else
// where it is installed, else in the build tree (running from a build).
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
  // node.listen was validated with the configuration.
  const HostPort listen = SplitHostPort(config_.listen).value_or(HostPort{"0.0.0.0", 0});
  NodeState state(config_.state_dir);
  Identity self;
  self.id = config_.id ? *config_.id : state.LoadOrCreateNodeId();
  self.cluster = config_.cluster;
  self.version = kDomianVersion;
  self.traits = config_.traits;
  // With port 0 the address is only known once bound; nobody can reach
  // us before we tell them, so it is filled in right after.
  if (config_.advertise) {
    self.address = *config_.advertise;
  } else if (listen.port != 0) {
    self.address = DeriveAdvertiseAddress(listen.host, listen.port);
  }
  const uint64_t incarnation = state.NextIncarnation();

  SteadyClock clock;
  grpc::ServerBuilder builder;
  rpc::EventLoop loop(builder.AddCompletionQueue());
  rpc::TrafficCounters traffic;
  rpc::PeerClient client(loop, traffic);
  // Peers of an earlier life: called while no seed (or mDNS) finds others.
  membership::PeerMemory memory;
  for (RememberedPeer& peer : state.LoadPeers()) {
    memory.remembered.push_back({std::move(peer.id), std::move(peer.address)});
  }
  memory.remember = [&state](const std::vector<membership::HeartbeatTarget>& peers) {
    std::vector<RememberedPeer> out;
    for (const membership::HeartbeatTarget& peer : peers) out.push_back({peer.id, peer.address});
    try {
      state.SavePeers(out);
    } catch (const std::exception& error) {
      spdlog::error("{}", error.what());
    }
  };
  membership::Membership membership(self, incarnation, config_.seeds, config_.membership, client,
                                    clock,
                                    [&state](uint64_t value) {
                                      try {
                                        state.SaveIncarnation(value);
                                      } catch (const std::exception& error) {
                                        spdlog::error("{}", error.what());
                                      }
                                    },
                                    std::move(memory));
  rpc::NodeService service(membership, clock, traffic);

  // The node's services and offers go into its identity (ServiceList,
  // hostable, offers) after each placement round; `self_mu` orders those
  // updates, and Membership ignores one that changes nothing.
  std::mutex self_mu;
  services::ServiceHost* service_host_ptr = nullptr;      // guarded by self_mu
  placement::Placement* placement_ptr = nullptr;          // guarded by self_mu
  std::atomic<placement::Placement*> poke_target{nullptr};  // read from other threads
  // Makes placement look again soon; never calls into it otherwise.
  auto poke_placement = [&poke_target] {
    if (placement::Placement* target = poke_target.load()) target->Poke();
  };
  auto publish_services = [&] {
    std::lock_guard lock(self_mu);
    if (service_host_ptr == nullptr || placement_ptr == nullptr) return;
    Identity updated = membership.Status().self;
    updated.services = placement_ptr->Records();
    updated.hostable = service_host_ptr->Hostable();
    updated.offers = placement_ptr->Offers();
    membership.UpdateSelf(updated);
  };
  // Plugin and service changes make placement look again (never a call
  // back into placement from the service host's threads).
  services::ServiceHost service_host(
      {.dirs = config_.plugin_dirs,
       .services = config_.services,
       .state_dir = config_.state_dir,
       .host_binary = PluginHostBinary()},
      poke_placement);
  rpc::ServiceCalls service_calls(membership, &service_host, loop);
  ServiceHostServices local_services(service_host,
                                     [&membership] { return membership.Status().self.address; });
  MembershipCluster cluster(membership);
  placement::Placement placement(
      {.cluster = config_.cluster, .services = config_.services, .timings = config_.placement},
      local_services, service_calls, cluster, publish_services, clock);
  service_calls.SetPlacement(&placement);
  // A peer's death (or return) is acted on at once, not at the next round.
  membership.SetPeerChangeObserver(poke_placement);
  service.SetServiceCalls(&service_calls);

  // The daemon accepts connections itself and hands them to gRPC (see
  // core/rpc/listener.h); the server applies its credentials to them.
  std::unique_ptr<rpc::Listener> listener;
  try {
    listener = rpc::Listener::Open(config_.listen);
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
  const int bound_port = listener->port();
  auto acceptor = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      grpc::InsecureServerCredentials());
  rpc::ApplyServerLimits(builder);
  builder.RegisterService(service.service());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    spdlog::critical("cannot start the gRPC server on {}", config_.listen);
    return 1;
  }
  DiscoveryToMembership discovered(membership);
  std::unique_ptr<discovery::Discovery> discovery;
  if (config_.mdns) {
    discovery = std::make_unique<discovery::Discovery>(
        discovery::Discovery::Options{
            .self = {self.id, self.cluster, self.version, self.protocol},
            .port = static_cast<uint16_t>(bound_port),
            .advertise = config_.advertise_mode},
        discovered);
    membership.SetLonelyObserver([&discovery = *discovery](bool lonely) {
      discovery.SetLonely(lonely);
    });
    service.SetDiscoveryStatus([&discovery = *discovery] { return discovery.Status(); },
                               config_.advertise_mode);
    // Before anything can change loneliness (an incoming call, the first
    // heartbeat); findings wait in Membership's inbox until it runs.
    discovery->Start();
  } else {
    service.SetDiscoveryStatus(nullptr, config_.advertise_mode);
  }
  service.Serve(loop);
  loop.Start();
  listener->Start(std::move(acceptor));
  if (self.address.empty()) {
    self.address = DeriveAdvertiseAddress(listen.host, static_cast<uint16_t>(bound_port));
    membership.UpdateSelf(self);
  }

  spdlog::info("domain {} of cluster '{}' (domiand {}, incarnation {}) listening on {}, "
               "advertising {}",
               self.id, self.cluster, kDomianVersion, incarnation,
               JoinHostPort(listen.host, static_cast<uint16_t>(bound_port)), self.address);
  if (config_.seeds.empty() && !config_.mdns) {
    spdlog::info("no seeds configured and mDNS off: waiting for peers to contact this domain");
  }
  membership.Start();
  service_host.Start();
  SystemdNotifier systemd_notifier;
  {
    std::lock_guard lock(self_mu);
    service_host_ptr = &service_host;
    placement_ptr = &placement;
  }
  publish_services();
  poke_target = &placement;
  placement.SetViewGeneration([&membership] { return membership.ViewGeneration(); });
  placement.Start();
  // Peers and domianctl can connect from here on.
  systemd_notifier.Ready("domain " + self.id + " of cluster '" + self.cluster + "' on " +
                         self.address);
  // A daemon is alive when a new connection to its own port is answered:
  // that takes the listener, the EventLoop and Membership's lock (the one
  // every heartbeat, call and status takes). Peers that still exchange
  // heartbeats over old connections do not prove it (see port_probe.h).
  // The address bound, numeric: a name in node.listen may be one gRPC's
  // resolver cannot look up (an mDNS .local name).
  const std::string probe_address =
      rpc::ProbeAddress(listener->address(), static_cast<uint16_t>(bound_port));
  const auto watchdog = systemd_notifier.StartWatchdog(
      [probe_address](std::chrono::milliseconds deadline) {
        return rpc::ProbePort(probe_address, deadline);
      });
  if (watchdog.count() > 0) {
    spdlog::info("service manager watchdog: {} ms, probing {}", watchdog.count() / 1000,
                 probe_address);
  }
  HeapTrimmer heap_trimmer;
  heap_trimmer.Start();

  const sigset_t stop = StopSignals();
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  spdlog::info("received {}: leaving the cluster", strsignal(signal_number));
  systemd_notifier.Stopping();

  // Withdrawing the mDNS record first tells browsers at once (goodbye
  // packets) instead of leaving them a record to try until it expires.
  // The observer goes first: once SetLonelyObserver returns, no call to
  // the stopping Discovery is in flight.
  membership.SetLonelyObserver(nullptr);
  if (discovery) discovery->Stop();
  // Placement stops deciding, hands its singletons over, calls in flight
  // finish (or are refused), then the remaining services stop and save
  // their state.
  poke_target = nullptr;
  placement.Stop();
  // Singletons go to the next best node, with their state, while this
  // node can still answer and call.
  placement.HandOffAll(kHandOffBudget);
  service_calls.Stop();
  service_host.Stop();
  membership.Leave();
  membership.Stop();
  heap_trimmer.Stop();
  // gRPC would not close a connection handed to it once it shuts down.
  listener->Stop();
  server->Shutdown(std::chrono::system_clock::now() + kServerShutdownGrace);
  loop.Shutdown();
  spdlog::info("stopped");
  return 0;
}

}  // namespace domian::daemon
