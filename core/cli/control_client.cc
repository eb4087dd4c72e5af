// gRPC calls behind domianctl and their conversion to JSON.
#include "core/cli/control_client.h"

#include <grpcpp/grpcpp.h>

#include <absl/synchronization/mutex.h>

#include <cinttypes>
#include <cstdio>
#include <set>

#include "core/membership/wire_limits.h"
#include "core/model/identity.h"
#include "core/routing/service_router.h"
#include "core/rpc/channels.h"
#include "core/rpc/convert.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::cli {
namespace {

nlohmann::json ServiceNames(const v1::Identity& identity) {
  nlohmann::json names = nlohmann::json::array();
  for (const v1::Service& service : identity.service_list().services()) {
    names.push_back(service.name());
  }
  return names;
}

nlohmann::json Strings(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return nlohmann::json(std::vector<std::string>(values.begin(), values.end()));
}

// One row of `services`, and of `explain`'s "running".
nlohmann::json Location(const v1::ServiceLocation& service) {
  return {{"name", service.name()},
          {"node", service.node()},
          {"address", service.address()},
          {"state", service.state()},
          {"epoch", service.epoch()},
          {"endpoint", service.endpoint()},
          {"detail", service.detail()}};
}

// "1048576 (1 MiB)": a limit in bytes, and in the unit people think of.
std::string Limit(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024, kMiB = kKiB * kKiB;
  const std::string text = std::to_string(bytes);
  if (bytes >= kMiB && bytes % kMiB == 0) {
    return text + " (" + std::to_string(bytes / kMiB) + " MiB)";
  }
  if (bytes >= kKiB && bytes % kKiB == 0) {
    return text + " (" + std::to_string(bytes / kKiB) + " KiB)";
  }
  return text;
}

// gRPC refuses a message over a size limit, on either side, with
// RESOURCE_EXHAUSTED and "Received message larger than max (N vs. M)" or
// "Sent message larger than max (N vs. M)": said here with the limit
// named, and whose limit it is. Empty for any other status.
std::string SizeRefusal(const grpc::Status& status, const std::string& address) {
  if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) return "";
  const std::string& message = status.error_message();
  uint64_t size = 0, limit = 0;
  if (std::sscanf(message.c_str(), "Received message larger than max (%" SCNu64 " vs. %" SCNu64 ")",
                  &size, &limit) == 2) {
    // Every node's receive limit, this client's too. A request from here
    // is far below it, so what went over is a reply: the node's to this
    // client, or the one a node got when it forwarded the call.
    if (limit == membership::kTransportMessageBytes) {
      return "the reply from domiand at " + address + " is " + std::to_string(size) +
             " bytes, over the limit of " + Limit(limit);
    }
    return "domiand at " + address + " refused a request of " + std::to_string(size) +
           " bytes, over its limit of " + Limit(limit);
  }
  if (std::sscanf(message.c_str(), "Sent message larger than max (%" SCNu64 " vs. %" SCNu64 ")",
                  &size, &limit) == 2) {
    return "domiand at " + address + " could not send a reply of " + std::to_string(size) +
           " bytes, over its limit of " + Limit(limit);
  }
  return "";
}

std::string ArgumentsOverLimit(uint64_t bytes) {
  return "the arguments are " + std::to_string(bytes) + " bytes, over the limit of " +
         Limit(routing::kMaxArgsBytes);
}

}  // namespace

std::string JsonText(const nlohmann::json& document, int indent) {
  return document.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::string> ReadArguments(std::istream& in) {
  constexpr size_t kChunk = 64 * 1024;
  std::string document;
  uint64_t total = 0;
  char buffer[kChunk];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    const auto got = static_cast<size_t>(in.gcount());
    total += got;
    if (document.size() <= routing::kMaxArgsBytes) document.append(buffer, got);
  }
  // The stream tells nothing more about why.
  if (in.bad()) return absl::UnknownError("cannot read the arguments from stdin");
  if (total > routing::kMaxArgsBytes) return absl::InvalidArgumentError(ArgumentsOverLimit(total));
  return document;
}

struct ControlClient::Impl {
  std::string address;
  std::chrono::milliseconds timeout;
  bool tls = false;
  std::shared_ptr<grpc::Channel> channel;
  bool connects = true;  // false: a server's in-process channel
  std::unique_ptr<v1::Domain::Stub> stub;
  // The calls in flight, for CancelCalls.
  absl::Mutex mu;
  std::set<grpc::ClientContext*> calls ABSL_GUARDED_BY(mu);
  bool cancelled ABSL_GUARDED_BY(mu) = false;

  // One call's context, prepared (its deadline) and counted in `calls`
  // for its whole life; a call made after CancelCalls starts cancelled.
  class Call {
   public:
    explicit Call(Impl& impl) : impl_(impl) {
      impl_.Prepare(context);
      absl::MutexLock lock(&impl_.mu);
      impl_.calls.insert(&context);
      if (impl_.cancelled) context.TryCancel();
    }
    ~Call() {
      absl::MutexLock lock(&impl_.mu);
      impl_.calls.erase(&context);
    }
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

    grpc::ClientContext context;

   private:
    Impl& impl_;
  };

  void Prepare(grpc::ClientContext& context) const {
    const auto deadline = std::chrono::system_clock::now() + timeout;
    context.set_deadline(deadline);
    // A synchronous client's channel makes progress only while a thread
    // polls it, which a call does only while it waits; a call on a channel
    // whose last connection failed fails at once. A client used again
    // after its node was unreachable (a benchmark, a test, a tool that
    // stays up) would then never see its TLS handshake through: each of
    // its round trips waits for gRPC's 5 s backup poller. So such a
    // channel is waited for here, which polls, up to the call's deadline.
    // A new channel (IDLE) goes straight to the call, which fails fast
    // when nobody listens. An in-process channel has no connection (and
    // gRPC complains when asked for its state).
    if (connects && channel->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      channel->WaitForConnected(deadline);
    }
  }
  // The node's code (gRPC's and absl's are the same numbers), with a
  // message for people.
  absl::Status Error(const grpc::Status& status) const {
    const auto code = static_cast<absl::StatusCode>(status.error_code());
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      // A node's TLS door closes the connection, with no words, on a
      // certificate that is not of its cluster (transport_security.h).
      // Not said when nobody listens there at all.
      const std::string& message = status.error_message();
      const std::string hint =
          tls && message.find("verification") == std::string::npos &&
                  message.find("Connection refused") == std::string::npos
              ? " (if domiand runs there: it closes connections whose certificate is not of its "
                "cluster; check that --credentials are this cluster's)"
              : "";
      return {code, "cannot reach domiand at " + address + ": " + status.error_message() + hint};
    }
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED && status.error_message().empty()) {
      return {code, "domiand at " + address + " does not know this request (an older version?)"};
    }
    if (std::string size = SizeRefusal(status, address); !size.empty()) return {code, size};
    return {code, "domiand at " + address + " answered: " + status.error_message()};
  }
};

ControlClient::ControlClient(const std::string& node_address, std::chrono::milliseconds timeout,
                             std::shared_ptr<grpc::ChannelCredentials> credentials)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = node_address;
  impl_->timeout = timeout;
  if (node_address.rfind("unix:", 0) == 0 || !credentials) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    impl_->tls = true;
  }
  impl_->channel =
      grpc::CreateCustomChannel(node_address, credentials, rpc::DomainChannelArguments());
  impl_->stub = v1::Domain::NewStub(impl_->channel);
}

ControlClient::ControlClient(std::shared_ptr<grpc::Channel> channel, std::string name,
                             std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(name);
  impl_->timeout = timeout;
  impl_->channel = std::move(channel);
  impl_->connects = false;
  impl_->stub = v1::Domain::NewStub(impl_->channel);
}

ControlClient::~ControlClient() = default;

void ControlClient::CancelCalls() {
  absl::MutexLock lock(&impl_->mu);
  impl_->cancelled = true;
  for (grpc::ClientContext* context : impl_->calls) context->TryCancel();
}

absl::StatusOr<nlohmann::json> ControlClient::DashboardLink() {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::CreateDashboardLinkResponse response;
  const grpc::Status status =
      impl_->stub->CreateDashboardLink(&context, v1::CreateDashboardLinkRequest(), &response);
  if (!status.ok()) return impl_->Error(status);
  return nlohmann::json{{"url", response.url()}, {"expires_unix", response.expires_unix()}};
}

absl::StatusOr<nlohmann::json> ControlClient::Status() {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::GetStatusResponse response;
  const grpc::Status status = impl_->stub->GetStatus(&context, v1::GetStatusRequest(), &response);
  if (!status.ok()) return impl_->Error(status);
  const v1::Identity& identity = response.identity();
  return nlohmann::json{
      {"id", identity.id()},
      {"cluster", identity.cluster()},
      {"version", identity.version()},
      {"address", identity.address()},
      {"incarnation", response.incarnation()},
      {"lonely", response.lonely()},
      {"uptime_s", response.uptime_seconds()},
      {"traits", Strings(identity.traits())},
      {"services", ServiceNames(identity)},
      {"traffic",
       {{"lists_sent", response.traffic().lists_sent()},
        {"lists_received", response.traffic().lists_received()},
        {"bytes_sent", response.traffic().bytes_sent()},
        {"bytes_received", response.traffic().bytes_received()},
        {"state_copies_sent", response.traffic().state_copies_sent()},
        {"state_copy_bytes_sent", response.traffic().state_copy_bytes_sent()}}},
      {"discovery",
       {{"state", response.discovery().state()},
        {"advertise", response.discovery().advertise()},
        {"advertising", response.discovery().advertising()},
        {"instance_name", response.discovery().instance_name()},
        {"domains_seen", response.discovery().domains_seen()}}},
      {"mqtt",
       {{"configured", response.mqtt().configured()},
        {"state", response.mqtt().state().empty() ? "off" : response.mqtt().state()},
        {"connected", response.mqtt().connected()},
        {"broker", response.mqtt().broker()},
        {"tls", response.mqtt().tls()},
        {"availability_topic", response.mqtt().availability_topic()},
        {"last_error", response.mqtt().last_error()},
        {"state_s", response.mqtt().state_seconds()},
        {"last_error_s", response.mqtt().last_error_seconds()},
        {"retry_in_s", response.mqtt().retry_in_seconds()},
        {"published", response.mqtt().published()},
        {"dropped", response.mqtt().dropped()},
        {"queued", response.mqtt().queued()},
        {"incoming_dropped", response.mqtt().incoming_dropped()},
        {"attempts", response.mqtt().attempts()},
        {"connects", response.mqtt().connects()},
        {"services", response.mqtt().services()},
        {"entities", response.mqtt().entities()},
        {"commands", response.mqtt().commands()},
        {"commands_failed", response.mqtt().commands_failed()},
        {"commands_dropped", response.mqtt().commands_dropped()}}},
      {"security",
       {{"transport", response.security().transport()},
        {"ca_fingerprint", response.security().ca_fingerprint()},
        {"revocation_number", response.security().revocation_number()},
        {"revoked", response.security().revoked()},
        {"open_invites", response.security().open_invites()},
        {"roots", nlohmann::json(std::vector<std::string>(response.security().roots().begin(),
                                                          response.security().roots().end()))},
        {"rotating", response.security().rotating()},
        {"certificate_ca", response.security().certificate_ca()},
        {"root_change_number", response.security().root_change_number()}}},
  };
}

absl::StatusOr<nlohmann::json> ControlClient::Invite(const std::string& role,
                                                     uint32_t ttl_seconds) {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::CreateInviteRequest request;
  request.set_role(role);
  request.set_ttl_seconds(ttl_seconds);
  v1::CreateInviteResponse response;
  const grpc::Status status = impl_->stub->CreateInvite(&context, request, &response);
  if (!status.ok()) return impl_->Error(status);
  return nlohmann::json{{"code", response.code()}, {"expires_unix", response.expires_unix()}};
}

absl::StatusOr<nlohmann::json> ControlClient::Remove(const std::string& role,
                                                     const std::string& name) {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::RemoveRequest request;
  request.set_role(role);
  request.set_name(name);
  v1::RemoveResponse response;
  const grpc::Status status = impl_->stub->Remove(&context, request, &response);
  if (!status.ok()) return impl_->Error(status);
  return nlohmann::json{{"revocation_number", response.number()}};
}

absl::StatusOr<nlohmann::json> ControlClient::Peers() {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::ListPeersResponse response;
  const grpc::Status status = impl_->stub->ListPeers(&context, v1::ListPeersRequest(), &response);
  if (!status.ok()) return impl_->Error(status);
  nlohmann::json peers = nlohmann::json::array();
  for (const v1::PeerInfo& peer : response.peers()) {
    const v1::Identity& identity = peer.identity();
    const auto state = rpc::FromProto(peer.state());
    peers.push_back({
        {"id", identity.id()},
        {"address", identity.address()},
        {"state", state ? std::string(PeerStateName(*state)) : std::string("unknown")},
        {"version", identity.version()},
        {"services", ServiceNames(identity)},
        {"traits", Strings(identity.traits())},
        {"left", peer.left()},
        {"incarnation", peer.incarnation()},
        {"heartbeat", peer.heartbeat()},
        {"last_heard_s", peer.last_heard_seconds_ago()},
    });
  }
  return peers;
}

absl::StatusOr<nlohmann::json> ControlClient::StateCopies(const std::string& service) {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::GetStateRequest request;
  request.set_service(service);
  request.set_every_node(true);
  v1::GetStateResponse response;
  const grpc::Status status = impl_->stub->GetState(&context, request, &response);
  if (!status.ok()) return impl_->Error(status);
  nlohmann::json copies = nlohmann::json::array();
  for (const v1::NodeStateCopy& node : response.nodes()) {
    const v1::StateCopy& copy = node.copy();
    copies.push_back({{"node", node.node()},
                      {"has_copy", node.has_copy()},
                      {"epoch", copy.epoch()},
                      {"seq", copy.seq()},
                      {"changed_at", node.has_copy() ? std::to_string(copy.hlc_ms()) + "." +
                                                           std::to_string(copy.hlc_logical())
                                                     : ""},
                      {"writer", copy.writer()},
                      {"deleted", copy.deleted()},
                      {"bytes", node.state_bytes()},
                      {"error", node.error()}});
    const v1::StateReport& report = node.report();
    nlohmann::json& entry = copies.back();
    entry["runs_here"] = report.runs_here();
    if (report.runs_here()) {
      entry["run_epoch"] = report.epoch();
      entry["started_from"] = report.started_from();
    }
    if (!report.set_aside().empty()) {
      entry["set_aside"] = {{"version", report.set_aside()},
                            {"lost_to", report.set_aside_lost_to()},
                            {"file", report.set_aside_file()}};
    }
  }
  return copies;
}

absl::StatusOr<nlohmann::json> ControlClient::Services(const std::string& name) {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::GetServicesRequest request;
  request.set_name(name);
  v1::GetServicesResponse response;
  const grpc::Status status = impl_->stub->GetServices(&context, request, &response);
  if (!status.ok()) return impl_->Error(status);
  nlohmann::json services = nlohmann::json::array();
  for (const v1::ServiceLocation& service : response.services()) {
    services.push_back(Location(service));
  }
  return services;
}

absl::StatusOr<nlohmann::json> ControlClient::Explain(const std::string& service) {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::ExplainRequest request;
  request.set_service(service);
  v1::ExplainResponse response;
  const grpc::Status status = impl_->stub->Explain(&context, request, &response);
  if (!status.ok()) return impl_->Error(status);
  nlohmann::json running = nlohmann::json::array();
  for (const v1::ServiceLocation& location : response.running()) {
    running.push_back(Location(location));
  }
  nlohmann::json verdicts = nlohmann::json::array();
  for (const v1::Verdict& verdict : response.verdicts()) {
    verdicts.push_back({{"node", verdict.node()},
                        {"candidate", verdict.candidate()},
                        {"reason", verdict.reason()}});
  }
  nlohmann::json explanation{
      {"service", response.service()},
      {"placement", response.placement()},
      {"wanted", response.wanted()},
      {"state", response.state()},
      {"detail", response.detail()},
      {"chosen", Strings(response.chosen())},
      {"running", running},
      {"verdicts", verdicts},
      {"depends", Strings(response.depends())},
  };
  if (response.placement() != "singleton") return explanation;
  // A singleton's state: what each owner's run began from, and what any
  // node set aside at a heal (each node's own word, asked of it).
  absl::StatusOr<nlohmann::json> copies = StateCopies(service);
  nlohmann::json state{{"owners", nlohmann::json::array()}, {"set_aside", nlohmann::json::array()}};
  if (!copies.ok()) {
    state["error"] = StatusMessage(copies.status());
  } else {
    for (const auto& copy : *copies) {
      if (copy.value("runs_here", false)) {
        state["owners"].push_back({{"node", copy["node"]},
                                   {"epoch", copy.value("run_epoch", uint64_t{0})},
                                   {"started_from", copy.value("started_from", "")}});
      }
      if (copy.contains("set_aside")) {
        nlohmann::json aside = copy["set_aside"];
        aside["node"] = copy["node"];
        state["set_aside"].push_back(std::move(aside));
      }
    }
  }
  explanation["state_copies"] = std::move(state);
  return explanation;
}

absl::Status ControlClient::Events(
    uint32_t backlog, bool follow, const std::function<bool(const nlohmann::json&)>& on_event) {
  grpc::ClientContext context;
  if (follow) {
    // Reaching the node is bounded; the stream itself is not.
    const auto deadline = std::chrono::system_clock::now() + impl_->timeout;
    if (!impl_->channel->WaitForConnected(deadline)) {
      return absl::UnavailableError("cannot reach domiand at " + impl_->address +
                                    ": no connection within " +
                                    std::to_string(impl_->timeout.count()) + " ms");
    }
  } else {
    impl_->Prepare(context);
  }
  v1::WatchEventsRequest request;
  request.set_follow(follow);
  request.set_backlog(backlog);
  std::unique_ptr<grpc::ClientReader<v1::NodeEvent>> reader =
      impl_->stub->WatchEvents(&context, request);
  v1::NodeEvent event;
  while (reader->Read(&event)) {
    nlohmann::json data = nullptr;
    if (!event.data_json().empty()) {
      data = nlohmann::json::parse(event.data_json(), nullptr, /*allow_exceptions=*/false);
      if (data.is_discarded()) data = nullptr;
    }
    const nlohmann::json row = {
        {"seq", event.seq()},
        {"unix_ms", event.unix_ms()},
        {"kind", event.kind()},
        {"what", event.what()},
        {"node", event.node()},
        {"service", event.service()},
        {"detail", event.detail()},
        {"data", data},
        {"seconds", event.has_seconds() ? nlohmann::json(event.seconds()) : nlohmann::json()},
        {"count", event.count()}};
    if (!on_event(row)) {
      context.TryCancel();
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) return absl::OkStatus();
  return impl_->Error(status);
}

absl::StatusOr<nlohmann::json> ControlClient::Plugins() {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::ListPluginsResponse response;
  const grpc::Status status =
      impl_->stub->ListPlugins(&context, v1::ListPluginsRequest(), &response);
  if (!status.ok()) return impl_->Error(status);
  nlohmann::json plugins = nlohmann::json::array();
  for (const v1::PluginEntry& plugin : response.plugins()) {
    nlohmann::json commands = nlohmann::json::array();
    for (const v1::PluginCommand& command : plugin.commands()) {
      commands.push_back({{"name", command.name()},
                          {"arguments", command.arguments()},
                          {"description", command.description()}});
    }
    plugins.push_back({{"name", plugin.name()},
                       {"version", plugin.version()},
                       {"description", plugin.description()},
                       {"path", plugin.path()},
                       {"placement", plugin.placement()},
                       {"traits", Strings(plugin.traits())},
                       {"depends", Strings(plugin.depends())},
                       {"commands", commands},
                       {"abi", plugin.abi()},
                       {"loaded", plugin.refusal().empty()},
                       {"refusal", plugin.refusal()}});
  }
  return plugins;
}

absl::StatusOr<nlohmann::json> ControlClient::Call(const std::string& service,
                                                   const std::string& command,
                                                   const std::string& args_json) {
  // Said here rather than sent: the node would refuse it anyway, and
  // parsing megabytes only to say "not JSON" would hide the reason.
  if (args_json.size() > routing::kMaxArgsBytes) {
    return absl::InvalidArgumentError(ArgumentsOverLimit(args_json.size()));
  }
  if (!nlohmann::json::accept(args_json)) {
    return absl::InvalidArgumentError("the arguments are not valid JSON: " + args_json);
  }
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::InvokeRequest request;
  request.set_service(service);
  request.set_command(command);
  request.set_args_json(args_json);
  v1::InvokeResponse response;
  const grpc::Status status = impl_->stub->Invoke(&context, request, &response);
  if (!status.ok()) return impl_->Error(status);
  if (!nlohmann::json::accept(response.reply_json())) {
    return absl::InternalError(service + " " + command +
                               " replied with something that is not JSON");
  }
  return nlohmann::json::parse(response.reply_json());
}

absl::StatusOr<nlohmann::json> ControlClient::RotateCa(bool finish, bool force) {
  Impl::Call call(*impl_);
  grpc::ClientContext& context = call.context;
  v1::RotateCaRequest request;
  request.set_finish(finish);
  request.set_force(force);
  v1::RotateCaResponse response;
  const grpc::Status status = impl_->stub->RotateCa(&context, request, &response);
  if (!status.ok()) return impl_->Error(status);
  nlohmann::json members = nlohmann::json::array();
  for (const v1::MemberCa& member : response.members()) {
    members.push_back({{"node", member.node()},
                       {"ca_fingerprint", member.ca_fingerprint()},
                       {"error", member.error()}});
  }
  return nlohmann::json{{"number", response.number()},
                        {"ca_fingerprint", response.ca_fingerprint()},
                        {"finished", response.finished()},
                        {"members", members}};
}

}  // namespace domian::cli
