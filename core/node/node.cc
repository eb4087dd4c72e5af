#include "core/node/node.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "core/common/net.h"
#include "core/rpc/port_probe.h"
#include "core/rpc/server_limits.h"
#include "domian/version.h"

namespace domian::node {
namespace {

// How long in-flight RPCs may take to finish once the server stops.
constexpr auto kServerShutdownGrace = std::chrono::seconds(2);
// How long a clean stop may spend handing singletons to other nodes
// (each takes a stop, a transfer and a start: ~0.1 s); well inside
// systemd's default stop timeout of 90 s.
constexpr auto kHandOffBudget = std::chrono::seconds(20);

static_assert(services::kMaxStateBytes <= placement::kMaxHandOverStateBytes,
              "a state a plugin can save must be one that can be handed over");

// node.listen was validated with the configuration.
HostPort ListenAddress(const config::NodeConfig& config) {
  return SplitHostPort(config.listen).value_or(HostPort{"0.0.0.0", 0});
}

absl::StatusOr<Identity> InitialIdentity(const config::NodeConfig& config, NodeState& state) {
  Identity self;
  if (config.id) {
    self.id = *config.id;
  } else {
    absl::StatusOr<std::string> stored = state.LoadOrCreateNodeId();
    if (!stored.ok()) return stored.status();
    self.id = *std::move(stored);
  }
  self.cluster = config.cluster;
  self.version = kDomianVersion;
  self.traits = config.traits;
  // With port 0 the address is only known once bound; nobody can reach
  // us before we tell them, so it is filled in by Start().
  const HostPort listen = ListenAddress(config);
  if (config.advertise) {
    self.address = *config.advertise;
  } else if (listen.port != 0) {
    self.address = DeriveAdvertiseAddress(listen.host, listen.port);
  }
  return self;
}

// Peers of an earlier life: called while no seed (or mDNS) finds others;
// the live ones are written back as they change.
membership::PeerMemory Remembered(NodeState& state) {
  membership::PeerMemory memory;
  for (RememberedPeer& peer : state.LoadPeers()) {
    memory.remembered.push_back({std::move(peer.id), std::move(peer.address)});
  }
  memory.remember = [&state](const std::vector<membership::HeartbeatTarget>& peers) {
    std::vector<RememberedPeer> out;
    for (const membership::HeartbeatTarget& peer : peers) out.push_back({peer.id, peer.address});
    if (absl::Status saved = state.SavePeers(out); !saved.ok()) {
      spdlog::error("{}", StatusMessage(saved));
    }
  };
  return memory;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Node>> Node::Create(config::NodeConfig config, const Clock& clock,
                                                   std::filesystem::path plugin_host) {
  absl::StatusOr<NodeState> state = NodeState::Open(config.state_dir);
  if (!state.ok()) return state.status();
  absl::StatusOr<Identity> self = InitialIdentity(config, *state);
  if (!self.ok()) return self.status();
  absl::StatusOr<uint64_t> incarnation = state->NextIncarnation();
  if (!incarnation.ok()) return incarnation.status();
  // The constructor is private: a Node exists only with its state read.
  return std::unique_ptr<Node>(new Node(std::move(config), clock, std::move(plugin_host),
                                        Stored{*std::move(state), *std::move(self), *incarnation}));
}

Node::Node(config::NodeConfig config, const Clock& clock, std::filesystem::path plugin_host,
           Stored stored)
    : config_(std::move(config)),
      clock_(clock),
      state_(std::move(stored.state)),
      initial_self_(std::move(stored.self)),
      incarnation_(stored.incarnation),
      loop_(builder_.AddCompletionQueue()),
      peer_client_(loop_, channels_, traffic_),
      remote_nodes_(loop_, channels_),
      membership_(initial_self_, incarnation_, config_.seeds, config_.membership, peer_client_,
                  clock_,
                  [this](uint64_t incarnation) {
                    if (absl::Status saved = state_.SaveIncarnation(incarnation); !saved.ok()) {
                      spdlog::error("{}", StatusMessage(saved));
                    }
                  },
                  Remembered(state_),
                  {// Discovery is made by Start(), before anything can
                   // change loneliness (an incoming call, the first
                   // heartbeat). After its Stop() it only ignores this.
                   .lonely =
                       [this](bool lonely) {
                         if (discovery_) discovery_->SetLonely(lonely);
                       },
                   // A peer's death (or return) is acted on at once, not
                   // at the next round.
                   .peers_changed = [this] { placement_.Poke(); }}),
      cluster_(membership_),
      // Plugin and service changes make placement look again (never a
      // call back into placement from the service host's threads).
      service_host_({.dirs = config_.plugin_dirs,
                     .services = config_.services,
                     .state_dir = config_.state_dir,
                     .host_binary = std::move(plugin_host)},
                    [this] { placement_.Poke(); }, clock_),
      local_services_(service_host_, [this] { return membership_.Status().self.address; }),
      router_(cluster_, &service_host_, remote_nodes_),
      placement_({.cluster = config_.cluster,
                  .services = config_.services,
                  .timings = config_.placement,
                  .view_generation = [this] { return membership_.ViewGeneration(); }},
                 local_services_, router_, cluster_, [this] { PublishServices(); }, clock_),
      node_service_({.membership = membership_,
                     .router = router_,
                     .placement = placement_,
                     .plugins = service_host_,
                     .clock = clock_,
                     .traffic = traffic_,
                     .discovery_status =
                         [this] {
                           return discovery_ ? discovery_->Status() : discovery::DiscoveryStatus{};
                         },
                     .advertise_mode = config_.advertise_mode}),
      discovered_(membership_) {}

Node::~Node() { Stop(); }

absl::Status Node::Start() {
  const HostPort listen = ListenAddress(config_);
  // The node accepts connections itself and hands them to gRPC (see
  // core/rpc/listener.h); the server applies its credentials to them.
  try {
    listener_ = rpc::Listener::Open(config_.listen);
  } catch (const std::exception& error) {
    return absl::UnavailableError(error.what());
  }
  started_ = true;
  const auto port = static_cast<uint16_t>(listener_->port());
  auto acceptor = builder_.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      grpc::InsecureServerCredentials());
  rpc::ApplyServerLimits(builder_);
  builder_.RegisterService(node_service_.service());
  server_ = builder_.BuildAndStart();
  if (!server_) return absl::UnavailableError("cannot start the gRPC server on " + config_.listen);
  if (config_.mdns) {
    discovery_ = std::make_unique<discovery::Discovery>(
        discovery::Discovery::Options{.self = {initial_self_.id, initial_self_.cluster,
                                               initial_self_.version, initial_self_.protocol},
                                      .port = port,
                                      .advertise = config_.advertise_mode},
        discovered_);
    // Findings wait in Membership's inbox until it runs.
    discovery_->Start();
  }
  node_service_.Serve(loop_);
  loop_.Start();
  listener_->Start(std::move(acceptor));
  Identity self = membership_.Status().self;
  if (self.address.empty()) {
    self.address = DeriveAdvertiseAddress(listen.host, port);
    membership_.UpdateSelf(self);
  }
  spdlog::info("domain {} of cluster '{}' (domiand {}, incarnation {}) listening on {}, "
               "advertising {}",
               self.id, self.cluster, kDomianVersion, incarnation_,
               JoinHostPort(listen.host, port), self.address);
  if (config_.seeds.empty() && !config_.mdns) {
    spdlog::info("no seeds configured and mDNS off: waiting for peers to contact this domain");
  }
  membership_.Start();
  service_host_.Start();
  PublishServices();
  placement_.Start();
  return absl::OkStatus();
}

std::string Node::ProbeAddress() const {
  return rpc::ProbeAddress(listener_->address(), static_cast<uint16_t>(listener_->port()));
}

void Node::PublishServices() {
  absl::MutexLock lock(&publish_mu_);
  Identity updated = membership_.Status().self;
  updated.services = placement_.Records();
  updated.hostable = service_host_.Hostable();
  updated.offers = placement_.Offers();
  membership_.UpdateSelf(updated);
}

void Node::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Withdrawing the mDNS record first tells browsers at once (goodbye
  // packets) instead of leaving them a record to try until it expires.
  if (discovery_) discovery_->Stop();
  // Placement stops deciding and hands its singletons, with their state,
  // to the next best nodes while this node can still answer and call;
  // calls in flight finish (or are refused); then the remaining services
  // stop and save their state.
  placement_.Stop();
  if (server_) placement_.HandOffAll(kHandOffBudget);
  router_.Stop();
  service_host_.Stop();
  if (server_) membership_.Leave();
  membership_.Stop();
  // gRPC would not close a connection handed to it once it shuts down.
  listener_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + kServerShutdownGrace);
  loop_.Shutdown();
}

}  // namespace domian::node
