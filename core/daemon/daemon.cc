// Start-up, the signal wait, and the goodbye on shutdown.
#include "core/daemon/daemon.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "core/common/net.h"
#include "core/daemon/node_state.h"
#include "core/membership/membership.h"
#include "core/membership/wire_limits.h"
#include "core/rpc/domain_service.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/peer_client.h"
#include "domian/version.h"

namespace domian {
namespace {

// How long in-flight RPCs may take to finish once the server stops.
constexpr auto kServerShutdownGrace = std::chrono::seconds(2);

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockStopSignals() {
  sigset_t set = StopSignals();
  // A peer closing a socket must not kill the daemon.
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

const char* DaemonVersion() { return kDomianVersion; }

Daemon::Daemon(NodeConfig config) : config_(std::move(config)) {}
Daemon::~Daemon() = default;

int Daemon::Run() {
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
  Membership membership(self, incarnation, config_.seeds, config_.membership, client, clock,
                        [&state](uint64_t value) {
                          try {
                            state.SaveIncarnation(value);
                          } catch (const std::exception& error) {
                            spdlog::error("{}", error.what());
                          }
                        });
  rpc::DomainService service(membership, clock, traffic);

  int bound_port = 0;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kTransportMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kTransportMessageBytes));
  // gRPC sets SO_REUSEPORT by default: a second domiand on the same port
  // would then start "fine" and steal half the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.RegisterService(service.service());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    spdlog::critical("cannot listen on {}: the address is in use or not on this machine",
                     config_.listen);
    return 1;
  }
  service.Serve(loop);
  loop.Start();
  if (self.address.empty()) {
    self.address = DeriveAdvertiseAddress(listen.host, static_cast<uint16_t>(bound_port));
    membership.UpdateSelf(self);
  }

  spdlog::info("domain {} of cluster '{}' (domiand {}, incarnation {}) listening on {}, "
               "advertising {}",
               self.id, self.cluster, kDomianVersion, incarnation,
               JoinHostPort(listen.host, static_cast<uint16_t>(bound_port)), self.address);
  if (config_.seeds.empty()) {
    spdlog::info("no seeds configured: waiting for peers to contact this domain");
  }
  membership.Start();

  const sigset_t stop = StopSignals();
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  spdlog::info("received {}: leaving the cluster", strsignal(signal_number));

  membership.Leave();
  membership.Stop();
  server->Shutdown(std::chrono::system_clock::now() + kServerShutdownGrace);
  loop.Shutdown();
  spdlog::info("stopped");
  return 0;
}

}  // namespace domian
