#include "core/node/node.h"

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include <absl/strings/ascii.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "core/common/duration.h"
#include "core/common/durable_file.h"
#include "core/common/net.h"
#include "core/rpc/port_probe.h"
#include "core/rpc/server_limits.h"
#include "core/rpc/transport_security.h"
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

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A peer's change as an event: what = its new state ("left" for a
// goodbye, "forgotten" once dropped from the table).
events::Event MemberEvent(const membership::PeerChange& change) {
  events::Event event{.kind = events::Kind::kMember,
                      .what = std::string(PeerStateName(change.to)),
                      .node = change.id};
  const std::string silent = FormatDuration(change.silent);
  if (change.forgotten) {
    event.what = "forgotten";
    event.detail = "dead long enough to be forgotten";
  } else if (!change.from) {
    event.detail = "learned of it at " + change.address;
  } else if (change.to == PeerState::kDead && change.left) {
    event.what = "left";
    event.detail = "it said goodbye";
  } else if (change.to == PeerState::kDead) {
    event.detail = "silent for " + silent;
    event.seconds = std::chrono::duration<double>(change.silent).count();
  } else if (change.to == PeerState::kSuspect) {
    event.detail = "silent for " + silent;
  } else {
    event.detail = "was " + std::string(PeerStateName(*change.from));
  }
  return event;
}

std::vector<std::string> ServiceNames(const config::NodeConfig& config) {
  std::vector<std::string> names;
  for (const config::ServiceConfig& service : config.services) names.push_back(service.name);
  return names;
}

int64_t WallClockSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The node's credentials, checked against who node.yaml says it is.
absl::StatusOr<trust::Credentials> LoadNodeCredentials(const config::NodeConfig& config,
                                                       const Identity& self) {
  const std::filesystem::path folder = CredentialsFolder(config);
  absl::StatusOr<trust::Credentials> credentials = trust::LoadCredentials(folder);
  if (!credentials.ok()) return credentials.status();
  const trust::Subject expected{self.cluster, trust::Role::kNode, self.id};
  if (credentials->self != expected) {
    return absl::FailedPreconditionError(
        (folder / trust::kCertFile).string() + " is the certificate of " +
        trust::Describe(credentials->self) + ", but this is " + trust::Describe(expected) +
        " (node.id and node.cluster in " + config.source.string() +
        "): put them back, or move the folder away and join again");
  }
  return credentials;
}

// gRPC health checking (grpc.health.v1) and server reflection, so that
// probes and grpcurl-style tools work without domian's proto files. Both
// are process-wide switches: reflection's plugin is taken by every
// ServerBuilder made after this, the health service by every server
// started after it. Health and reflection are not checked per call as
// the Domain service is: what they tell is no secret, and they are
// reachable only where the server is (see docs/security.md).
void EnableHealthAndReflection() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

// A process listens on the Unix socket at `path`.
bool SocketAnswers(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool answers =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return answers;
}

}  // namespace

std::filesystem::path CredentialsFolder(const config::NodeConfig& config) {
  return config.state_dir / "tls";
}

absl::StatusOr<std::string> DescribeSecurity(const config::NodeConfig& config) {
  if (config.plaintext) {
    return std::string("PLAINTEXT (security.plaintext): anyone on the network can call every "
                       "service; for development only");
  }
  const std::filesystem::path folder = CredentialsFolder(config);
  absl::StatusOr<trust::Credentials> credentials = trust::LoadCredentials(folder);
  if (absl::IsNotFound(credentials.status())) {
    return "mutual TLS; no credentials in " + folder.string() +
           " yet: the daemon refuses every call until `domianctl cluster init` (first node) or "
           "`cluster join` gives it some";
  }
  if (!credentials.ok()) {
    std::error_code error;
    if (std::filesystem::exists(folder / trust::kKeyFile, error) &&
        ::access((folder / trust::kKeyFile).c_str(), R_OK) != 0) {
      return "mutual TLS; credentials in " + folder.string() +
             " (not readable by this user: checked when the daemon starts)";
    }
    return credentials.status();
  }
  std::string id;
  if (config.id) {
    id = *config.id;
  } else if (absl::StatusOr<DurableRead> stored =
                 ReadDurable(config.state_dir / kNodeIdFile, kMaxNodeIdFileBytes);
             stored.ok()) {
    id = std::string(absl::StripAsciiWhitespace(stored->content));
  }
  const trust::Subject expected{config.cluster, trust::Role::kNode, id};
  if (credentials->self != expected) {
    return absl::FailedPreconditionError(
        (folder / trust::kCertFile).string() + " is the certificate of " +
        trust::Describe(credentials->self) + ", not of " + trust::Describe(expected) +
        ": the daemon would refuse to start");
  }
  absl::StatusOr<std::string> fingerprint = trust::Fingerprint(credentials->roots_pem);
  return "mutual TLS as " + trust::Describe(credentials->self) + ", CA " +
         (fingerprint.ok() ? *fingerprint : std::string("?")) +
         (credentials->authority ? " (holds the CA key: can admit joiners)" : "");
}

absl::StatusOr<std::unique_ptr<Node>> Node::Create(
    config::NodeConfig config, const Clock& clock, std::filesystem::path plugin_host,
    std::map<std::string, services::RunningEntry> recovered) {
  absl::StatusOr<NodeState> state = NodeState::Open(config.state_dir);
  if (!state.ok()) return state.status();
  absl::StatusOr<Identity> self = InitialIdentity(config, *state);
  if (!self.ok()) return self.status();
  std::optional<trust::Credentials> credentials;
  if (!config.plaintext) {
    absl::StatusOr<trust::Credentials> loaded = LoadNodeCredentials(config, *self);
    if (!loaded.ok()) return loaded.status();
    credentials = *std::move(loaded);
  }
  absl::StatusOr<uint64_t> incarnation = state->NextIncarnation();
  if (!incarnation.ok()) return incarnation.status();
  // Before the Node: its ServerBuilder is a member.
  EnableHealthAndReflection();
  // The constructor is private: a Node exists only with its state read.
  return std::unique_ptr<Node>(
      new Node(std::move(config), clock, std::move(plugin_host),
               Stored{*std::move(state), *std::move(self), *incarnation, std::move(credentials),
                      std::move(recovered)}));
}

Node::Node(config::NodeConfig config, const Clock& clock, std::filesystem::path plugin_host,
           Stored stored)
    : config_(std::move(config)),
      clock_(clock),
      state_(std::move(stored.state)),
      initial_self_(std::move(stored.self)),
      incarnation_(stored.incarnation),
      events_(WallClockMs),
      // When the cluster drops a CA, connections made with a certificate
      // of it are refused: every channel is made again (the next call).
      trust_(std::move(stored.credentials), CredentialsFolder(config_), clock_, WallClockSeconds,
             [this] { channels_.RenewAll(); }),
      client_credentials_(rpc::NodeClientCredentials(trust_)),
      loop_(builder_.AddCompletionQueue()),
      channels_(client_credentials_),
      peer_client_(loop_, channels_, traffic_, trust_),
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
                   // at the next round; a peer back from a partition or a
                   // reboot gets this node's state copies at once.
                   .peers_changed =
                       [this] {
                         placement_.Poke();
                         replicator_.PeersChanged();
                       },
                   .peer_changed =
                       [this](const membership::PeerChange& change) {
                         Report(MemberEvent(change));
                       }}),
      cluster_(membership_),
      replica_client_(loop_, channels_, traffic_),
      replicator_({.dir = config_.state_dir / "replicas",
                   .self = initial_self_.id,
                   .live_peers =
                       [this] {
                         std::vector<replica::Peer> peers;
                         for (const membership::PeerView& peer : membership_.Peers()) {
                           if (peer.state == PeerState::kAlive && !peer.identity.address.empty()) {
                             peers.push_back({peer.identity.id, peer.identity.address});
                           }
                         }
                         return peers;
                       },
                   // Restarts the service on the service host's own
                   // thread (never this caller's: a PutState's lane).
                   .adopt =
                       [this](const std::string& service, uint64_t epoch,
                              const std::string& bytes, uint64_t generation) {
                         service_host_.ReplaceState(
                             service, epoch, bytes,
                             {.still_wanted =
                                  [this, service, generation] {
                                    return replicator_.StillAdopting(service, generation);
                                  },
                              .done = [this, service,
                                       generation] { replicator_.Adopted(service, generation); }});
                       }},
                  replica_client_),
      home_assistant_(MakeHomeAssistant(*this)),
      // Plugin and service changes make placement look again (never a
      // call back into placement from the service host's threads).
      service_host_({.dirs = config_.plugin_dirs,
                     .services = config_.services,
                     .state_dir = config_.state_dir,
                     .host_binary = std::move(plugin_host),
                     .recovered = std::move(stored.recovered),
                     .on_state_stored =
                         [this](const std::string& service, uint64_t epoch,
                                const std::string& bytes, bool wait) {
                           return replicator_.Publish(service, epoch, bytes, wait);
                         },
                     // Each service's entities, for Home Assistant.
                     .entities = home_assistant_ ? home_assistant_->Sink()
                                                 : services::EntitySink{},
                     .plugin_event =
                         [this](const std::string& service, const std::string& event,
                                const std::string& json) {
                           Report({.kind = events::Kind::kPlugin,
                                   .what = event,
                                   .service = service,
                                   .data_json = json});
                         },
                     .plugin_events_dropped =
                         [this](const std::string& service, uint64_t dropped) {
                           Report({.kind = events::Kind::kPlugin,
                                   .what = "dropped",
                                   .service = service,
                                   .detail = std::to_string(dropped) +
                                             " event(s) its plugin emitted faster than they "
                                             "were taken",
                                   .count = dropped});
                         }},
                    [this] { placement_.Poke(); }, clock_),
      local_services_(service_host_, [this] { return membership_.Status().self.address; },
                      &replicator_),
      metrics_({.node = initial_self_.id,
                .version = kDomianVersion,
                .services = ServiceNames(config_),
                .membership = [this] { return membership_.Status(); },
                .peers = [this] { return membership_.Peers(); },
                .traffic = &traffic_,
                .service_statuses = [this] { return service_host_.Services(); },
                .mqtt = [this] {
                  return home_assistant_ ? home_assistant_->Status() : mqtt::MqttStatus{};
                }}),
      router_(cluster_, &service_host_, remote_nodes_,
              [this](const std::string& service, std::chrono::nanoseconds took, bool ok) {
                metrics_.ObserveCall(service, took, ok);
              }),
      placement_({.cluster = config_.cluster,
                  .services = config_.services,
                  .timings = config_.placement,
                  .view_generation = [this] { return membership_.ViewGeneration(); },
                  .report = [this](events::Event event) { Report(std::move(event)); },
                  .ready = [this] { serving_.Ready(); }},
                 local_services_, router_, cluster_, [this] { PublishServices(); }, clock_),
      node_service_({.membership = membership_,
                     .router = router_,
                     .placement = placement_,
                     .plugins = service_host_,
                     .replicas = replicator_,
                     .trust = trust_,
                     .clock = clock_,
                     .traffic = traffic_,
                     .events = events_,
                     .discovery_status =
                         [this] {
                           return discovery_ ? discovery_->Status() : discovery::DiscoveryStatus{};
                         },
                     .advertise_mode = config_.advertise_mode,
                     // Made by Start() before the server answers; the
                     // pointer is not changed again until destruction.
                     .mqtt_status =
                         [this] {
                           return home_assistant_ ? home_assistant_->Status()
                                                  : mqtt::MqttStatus{};
                         },
                     .client_credentials = client_credentials_,
                     // Made by Start() before the server answers.
                     .dashboard_link =
                         [this]() -> absl::StatusOr<rpc::DashboardLink> {
                           if (!web_) {
                             return absl::FailedPreconditionError(
                                 "the dashboard is off on this node (http.enabled: false in " +
                                 config_.source.string() + ")");
                           }
                           absl::StatusOr<web::LoginLink> link = web_->MakeLoginLink();
                           if (!link.ok()) return link.status();
                           return rpc::DashboardLink{link->url, link->expires_unix};
                         }}),
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
  if (config_.http.enabled) {
    absl::StatusOr<std::unique_ptr<web::WebServer>> web = web::WebServer::Listen(
        {.listen = config_.http.listen,
         .static_dir = config_.http.static_dir,
         .allowed_hosts = config_.http.allowed_hosts,
         .metrics = [this] { return metrics_.Render(); },
         .events = events_,
         .clock = clock_});
    if (!web.ok()) return web.status();
    web_ = *std::move(web);
  }
  started_ = true;
  const auto port = static_cast<uint16_t>(listener_->port());
  auto acceptor = builder_.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      rpc::ServerCredentials(trust_));
  AddControlSocket();
  rpc::ApplyServerLimits(builder_);
  builder_.RegisterService(node_service_.service());
  server_ = builder_.BuildAndStart();
  if (!server_) return absl::UnavailableError("cannot start the gRPC server on " + config_.listen);
  // NOT_SERVING until placement is ready. gRPC's default health service
  // says SERVING for "" until told otherwise, so it is told at once,
  // before the event loop and the TLS listener run (a probe on the control
  // socket within these microseconds could still hear SERVING).
  serving_.Attach(server_->GetHealthCheckService());
  if (web_) {
    // The API asks this very server, as domianctl does over the control
    // socket: the same handlers, the same checks (a local operator's).
    web_->Serve(server_->InProcessChannel(rpc::DomainChannelArguments()));
    spdlog::info("dashboard and /metrics on http://{} (a session needs a link from `domianctl "
                 "dashboard`)",
                 web_->address());
  }
  if (!config_.control_socket.empty()) {
    // Root and group domian (the socket's folder and the unit's group).
    ::chmod(config_.control_socket.c_str(), 0660);
  }
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
  if (home_assistant_) home_assistant_->Start();
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
  if (trust_.secure()) {
    spdlog::info("mutual TLS: certificate of {}, cluster CA {}",
                 trust::Describe(trust_.credentials()->self), trust_.Status().ca_fingerprint);
  } else {
    spdlog::critical("PLAINTEXT: security.plaintext is set in {}: anyone who can reach {} can "
                     "call every service, read its state and forge gossip. For development only.",
                     config_.source.string(), JoinHostPort(listen.host, port));
  }
  if (config_.seeds.empty() && !config_.mdns) {
    spdlog::info("no seeds configured and mDNS off: waiting for peers to contact this domain");
  }
  membership_.Start();
  replicator_.Start();
  service_host_.Start();
  PublishServices();
  placement_.Start();
  return absl::OkStatus();
}

std::unique_ptr<mqtt::HomeAssistant> Node::MakeHomeAssistant(Node& node) {
  if (!node.config_.mqtt) return nullptr;
  const config::MqttConfig& settings = *node.config_.mqtt;
  // Validated with the configuration.
  const HostPort broker = SplitHostPort(settings.broker).value_or(HostPort{});
  const Identity& self = node.initial_self_;
  std::vector<std::string> services;
  for (const config::ServiceConfig& service : node.config_.services) {
    services.push_back(service.name);
  }
  return std::make_unique<mqtt::HomeAssistant>(
      mqtt::HomeAssistant::Options{
          .bridge = {.host = broker.host,
                     .port = broker.port,
                     .username = settings.username,
                     .password_file = settings.password_file,
                     .tls = settings.tls,
                     .ca_file = settings.ca_file,
                     .discovery_prefix = settings.discovery_prefix,
                     .client_id = "domian-" + self.cluster + "-" + self.id,
                     .availability_topic = mqtt::AvailabilityTopic(self.cluster, self.id)},
          .cluster = self.cluster,
          .node_id = self.id,
          .domian_version = kDomianVersion,
          .services = std::move(services),
          // Commands run here: only this node's own services are
          // described to it (and it takes their commands only while they
          // run here). Called after Start(), on its workers.
          .invoke =
              [&node](const std::string& service, const std::string& command,
                      const std::string& args_json) {
                return node.service_host_.Invoke(service, command, args_json);
              }},
      node.clock_);
}

void Node::AddControlSocket() {
  const std::filesystem::path& socket = config_.control_socket;
  if (socket.empty()) return;
  std::error_code error;
  const std::filesystem::path folder = socket.parent_path();
  if (!std::filesystem::exists(folder, error)) {
    // Only root and the daemon's group get through the folder.
    if (::mkdir(folder.c_str(), 0750) != 0 && errno != EEXIST) {
      spdlog::warn("no control socket: cannot create {}: {}", folder.string(),
                   std::strerror(errno));
      return;
    }
  }
  if (std::filesystem::is_socket(socket, error)) {
    if (SocketAnswers(socket)) {
      spdlog::warn("no control socket: another daemon answers at {}", socket.string());
      return;
    }
    // Left by a daemon that did not stop cleanly.
    std::filesystem::remove(socket, error);
  }
  builder_.AddListeningPort("unix:" + socket.string(), grpc::InsecureServerCredentials());
  spdlog::info("control socket {} (root and group domian)", socket.string());
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
  ReportHealth(updated.services);
  membership_.UpdateSelf(updated);
}

void Node::Report(events::Event event) {
  if (event.node.empty()) event.node = initial_self_.id;
  metrics_.Observe(event);
  events_.Publish(std::move(event));
}

void Node::ReportHealth(const std::vector<ServiceRecord>& records) {
  std::map<std::string, ServiceRecord> now;
  for (const ServiceRecord& record : records) {
    const auto before = reported_health_.find(record.name);
    if (before == reported_health_.end() || before->second.state != record.state ||
        before->second.detail != record.detail) {
      Report({.kind = events::Kind::kHealth,
              .what = record.state,
              .service = record.name,
              .detail = record.detail});
    }
    now[record.name] = record;
  }
  for (const auto& [name, record] : reported_health_) {
    if (!now.contains(name) && record.state != "stopped") {
      Report({.kind = events::Kind::kHealth, .what = "stopped", .service = name});
    }
  }
  reported_health_ = std::move(now);
}

void Node::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Health checks say NOT_SERVING first, while everything still answers:
  // load balancers and watchers drain before any service is handed off.
  serving_.Drain();
  // First: its event streams end and its calls in flight are cancelled,
  // before the server they call shuts down.
  if (web_) web_->Stop();
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
  // The services' last `offline`s, `offline` on this node's availability
  // topic, then a clean disconnect, once nothing here runs any more.
  if (home_assistant_) home_assistant_->Stop();
  if (server_) membership_.Leave();
  membership_.Stop();
  // gRPC would not close a connection handed to it once it shuts down.
  listener_->Stop();
  replicator_.Stop();
  replica_client_.CancelCalls();
  // Event streams end now rather than hold the shutdown for its grace.
  events_.Close();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + kServerShutdownGrace);
  loop_.Shutdown();
}

}  // namespace domian::node
