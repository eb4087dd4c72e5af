// Handlers of the Domain service, and the per-call state machine that
// serves them on the EventLoop.
#include "core/rpc/node_service.h"

#include <spdlog/spdlog.h>

#include <variant>

#include "core/model/service_state.h"
#include "core/model/values.h"
#include "core/rpc/convert.h"
#include "core/rpc/convert_services.h"
#include "core/rpc/event_stream.h"
#include "core/rpc/replica_client.h"
#include "core/rpc/transport_security.h"
#include "core/trust/join_code.h"

namespace domian::rpc {
namespace {

// One incoming unary call: waits for a caller, re-arms for the next one,
// runs the handler and sends the answer, then deletes itself. A handler
// answers at once (Answer) or later, from any thread, through `done`
// (Defer, told who called and until when; finishing from another thread
// is allowed by gRPC's async API, and the completion comes back to the
// loop).
template <typename Request, typename Response>
class UnaryCall final : public EventLoop::Tag {
 public:
  using RequestMethod = void (v1::Domain::AsyncService::*)(
      grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Response>*,
      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  using Answer = grpc::Status (NodeService::*)(const trust::Caller&, const Request&, Response&);
  using Defer = void (NodeService::*)(const trust::Caller&, const routing::CallInfo&,
                                      const Request&, Response*,
                                      std::function<void(grpc::Status)>);
  using Handler = std::variant<Answer, Defer>;

  // `rpc`: what the call is, for trust::Permit (a handler may check more
  // once it has read the request).
  static void Arm(EventLoop& loop, v1::Domain::AsyncService& service, NodeService& handler,
                  trust::TrustBook& book, trust::Rpc rpc, RequestMethod request, Handler handle) {
    auto* call = new UnaryCall(loop, service, handler, book, rpc, request, handle);
    (service.*request)(&call->context_, &call->request_, &call->responder_, loop.queue(),
                       loop.queue(), call);
  }

  void Proceed(bool ok) override {
    if (answered_ || !ok) {  // sent, or the server is shutting down
      delete this;
      return;
    }
    if (!loop_.stopping()) Arm(loop_, service_, handler_, book_, rpc_, request_method_, handle_);
    answered_ = true;
    auto finish = [this](const grpc::Status& status) {
      if (status.ok()) {
        responder_.Finish(response_, status, this);
      } else {
        responder_.FinishWithError(status, this);
      }
    };
    absl::StatusOr<trust::Caller> caller = IdentifyCaller(context_, book_);
    absl::Status permitted = caller.ok() ? trust::Permit(*caller, rpc_) : caller.status();
    if (!permitted.ok()) {
      // A removed holder is told with the signed proof, which it cannot
      // learn from gossip any more: nobody exchanges with it.
      if (!caller.ok() && caller.status().code() == absl::StatusCode::kPermissionDenied) {
        const v1::TrustBulletin bulletin = book_.Bulletin();
        if (bulletin.has_revocations()) {
          context_.AddTrailingMetadata(kRevocationsTrailer,
                                       bulletin.revocations().SerializeAsString());
        }
      }
      finish(ToGrpc(permitted));
      return;
    }
    if (const Answer* answer = std::get_if<Answer>(&handle_)) {
      finish((handler_.**answer)(*caller, request_, response_));
    } else {
      const routing::CallInfo call{CallerHost(context_.peer()), context_.deadline()};
      (handler_.*std::get<Defer>(handle_))(*caller, call, request_, &response_, finish);
    }
  }

 private:
  UnaryCall(EventLoop& loop, v1::Domain::AsyncService& service, NodeService& handler,
            trust::TrustBook& book, trust::Rpc rpc, RequestMethod request, Handler handle)
      : loop_(loop),
        service_(service),
        handler_(handler),
        book_(book),
        rpc_(rpc),
        request_method_(request),
        handle_(handle),
        responder_(&context_) {}

  EventLoop& loop_;
  v1::Domain::AsyncService& service_;
  NodeService& handler_;
  trust::TrustBook& book_;
  const trust::Rpc rpc_;
  RequestMethod request_method_;
  Handler handle_;
  grpc::ServerContext context_;
  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> responder_;
  bool answered_ = false;
};

// A core status handed to a gRPC answer: the codes are the same numbers.
std::function<void(absl::Status)> AsGrpc(NodeService::Done done) {
  return [done = std::move(done)](const absl::Status& status) { done(ToGrpc(status)); };
}

}  // namespace

NodeService::NodeService(Parts parts) : parts_(std::move(parts)), started_(parts_.clock.Now()) {}

NodeService::~NodeService() {
  absl::MutexLock lock(&asking_mu_);
  asking_mu_.Await(absl::Condition(
      +[](int* asking) { return *asking == 0; }, &asking_));
}

void NodeService::Serve(EventLoop& loop) {
  using v1::Domain;
  using trust::Rpc;
  trust::TrustBook& book = parts_.trust;
  UnaryCall<v1::ShareIdentityListRequest, v1::ShareIdentityListResponse>::Arm(
      loop, service_, *this, book, Rpc::kShareIdentityList,
      &Domain::AsyncService::RequestShareIdentityList, &NodeService::ShareIdentityList);
  UnaryCall<v1::GetStatusRequest, v1::GetStatusResponse>::Arm(
      loop, service_, *this, book, Rpc::kStatus, &Domain::AsyncService::RequestGetStatus,
      &NodeService::GetStatus);
  UnaryCall<v1::ListPeersRequest, v1::ListPeersResponse>::Arm(
      loop, service_, *this, book, Rpc::kPeers, &Domain::AsyncService::RequestListPeers,
      &NodeService::ListPeers);
  UnaryCall<v1::GetServicesRequest, v1::GetServicesResponse>::Arm(
      loop, service_, *this, book, Rpc::kServices, &Domain::AsyncService::RequestGetServices,
      &NodeService::GetServices);
  UnaryCall<v1::ListPluginsRequest, v1::ListPluginsResponse>::Arm(
      loop, service_, *this, book, Rpc::kPlugins, &Domain::AsyncService::RequestListPlugins,
      &NodeService::ListPlugins);
  // Nodes pass operators' calls on (hops > 0); Invoke checks the rest.
  UnaryCall<v1::InvokeRequest, v1::InvokeResponse>::Arm(
      loop, service_, *this, book, Rpc::kForwardedInvoke, &Domain::AsyncService::RequestInvoke,
      &NodeService::Invoke);
  UnaryCall<v1::ExplainRequest, v1::ExplainResponse>::Arm(
      loop, service_, *this, book, Rpc::kExplain, &Domain::AsyncService::RequestExplain,
      &NodeService::Explain);
  UnaryCall<v1::HandOverRequest, v1::HandOverResponse>::Arm(
      loop, service_, *this, book, Rpc::kHandOver, &Domain::AsyncService::RequestHandOver,
      &NodeService::HandOver);
  UnaryCall<v1::PutStateRequest, v1::PutStateResponse>::Arm(
      loop, service_, *this, book, Rpc::kPutState, &Domain::AsyncService::RequestPutState,
      &NodeService::PutState);
  UnaryCall<v1::GetStateRequest, v1::GetStateResponse>::Arm(
      loop, service_, *this, book, Rpc::kGetState, &Domain::AsyncService::RequestGetState,
      &NodeService::GetState);
  UnaryCall<v1::JoinRequest, v1::JoinResponse>::Arm(
      loop, service_, *this, book, Rpc::kJoin, &Domain::AsyncService::RequestJoin,
      &NodeService::Join);
  UnaryCall<v1::CreateInviteRequest, v1::CreateInviteResponse>::Arm(
      loop, service_, *this, book, Rpc::kCreateInvite,
      &Domain::AsyncService::RequestCreateInvite, &NodeService::CreateInvite);
  UnaryCall<v1::RemoveRequest, v1::RemoveResponse>::Arm(
      loop, service_, *this, book, Rpc::kRemove, &Domain::AsyncService::RequestRemove,
      &NodeService::Remove);
  UnaryCall<v1::RotateCaRequest, v1::RotateCaResponse>::Arm(
      loop, service_, *this, book, Rpc::kRotateCa, &Domain::AsyncService::RequestRotateCa,
      &NodeService::RotateCa);
  ServeWatchEvents(loop, service_, parts_.events, book);
  UnaryCall<v1::CreateDashboardLinkRequest, v1::CreateDashboardLinkResponse>::Arm(
      loop, service_, *this, book, Rpc::kCreateDashboardLink,
      &Domain::AsyncService::RequestCreateDashboardLink, &NodeService::CreateDashboardLink);
}

grpc::Status NodeService::ShareIdentityList(const Caller& caller,
                                            const v1::ShareIdentityListRequest& request,
                                            v1::ShareIdentityListResponse& response) {
  TrafficCounters& traffic = parts_.traffic;
  ++traffic.lists_received;
  const size_t bytes = request.ByteSizeLong();
  traffic.bytes_received += bytes;
  if (absl::Status own = trust::CheckSpeaksFor(caller, request.sender().id()); !own.ok()) {
    return ToGrpc(own);
  }
  IdentityListMessage reply;
  const absl::Status merged =
      parts_.membership.HandleShareIdentityList(FromProto(request), bytes, reply);
  if (!merged.ok()) return ToGrpc(merged);
  ToProto(reply, response);
  // The trust bulletin rides along: what the sender knows, and ours when
  // its digest says it lacks something.
  trust::TrustBook& book = parts_.trust;
  if (request.has_trust()) book.Merge(request.trust(), request.sender().id());
  const uint64_t digest = book.Digest();
  response.set_trust_digest(digest);
  if (book.secure() && request.trust_digest() != digest) *response.mutable_trust() = book.Bulletin();
  traffic.bytes_sent += response.ByteSizeLong();
  return grpc::Status::OK;
}

grpc::Status NodeService::GetStatus(const Caller& /*caller*/, const v1::GetStatusRequest& /*request*/,
                                v1::GetStatusResponse& response) {
  const membership::MembershipStatus status = parts_.membership.Status();
  *response.mutable_identity() = ToProto(status.self);
  response.set_incarnation(status.counters.incarnation);
  response.set_lonely(status.lonely);
  response.set_uptime_seconds(
      std::chrono::duration<double>(parts_.clock.Now() - started_).count());
  v1::Traffic* traffic = response.mutable_traffic();
  traffic->set_lists_sent(parts_.traffic.lists_sent);
  traffic->set_lists_received(parts_.traffic.lists_received);
  traffic->set_bytes_sent(parts_.traffic.bytes_sent);
  traffic->set_bytes_received(parts_.traffic.bytes_received);
  traffic->set_state_copies_sent(parts_.traffic.state_copies_sent);
  traffic->set_state_copy_bytes_sent(parts_.traffic.state_copy_bytes_sent);
  const discovery::DiscoveryStatus found =
      parts_.discovery_status ? parts_.discovery_status() : discovery::DiscoveryStatus{};
  v1::DiscoveryStatus* discovery = response.mutable_discovery();
  discovery->set_state(found.state);
  discovery->set_advertise(std::string(config::AdvertiseModeName(parts_.advertise_mode)));
  discovery->set_advertising(found.advertising);
  discovery->set_instance_name(found.instance_name);
  discovery->set_domains_seen(static_cast<uint32_t>(found.domains_seen));
  const mqtt::MqttStatus bridge = parts_.mqtt_status ? parts_.mqtt_status() : mqtt::MqttStatus{};
  v1::MqttStatus* mqtt = response.mutable_mqtt();
  mqtt->set_configured(bridge.configured);
  mqtt->set_state(bridge.state);
  mqtt->set_connected(bridge.connected);
  mqtt->set_broker(bridge.broker);
  mqtt->set_tls(bridge.tls);
  mqtt->set_availability_topic(bridge.availability_topic);
  mqtt->set_last_error(bridge.last_error);
  mqtt->set_state_seconds(bridge.state_seconds);
  mqtt->set_last_error_seconds(bridge.last_error_seconds);
  mqtt->set_retry_in_seconds(bridge.retry_in_seconds);
  mqtt->set_published(bridge.published);
  mqtt->set_dropped(bridge.dropped);
  mqtt->set_queued(bridge.queued);
  mqtt->set_incoming_dropped(bridge.incoming_dropped);
  mqtt->set_attempts(bridge.attempts);
  mqtt->set_connects(bridge.connects);
  mqtt->set_services(bridge.services);
  mqtt->set_entities(bridge.entities);
  mqtt->set_commands(bridge.commands);
  mqtt->set_commands_failed(bridge.commands_failed);
  mqtt->set_commands_dropped(bridge.commands_dropped);
  const trust::TrustStatus trusted = parts_.trust.Status();
  v1::SecurityStatus* security = response.mutable_security();
  security->set_transport(trusted.secure ? "mtls" : "plaintext");
  security->set_ca_fingerprint(trusted.ca_fingerprint);
  security->set_revocation_number(trusted.revocation_number);
  security->set_revoked(static_cast<uint32_t>(trusted.revoked));
  security->set_open_invites(static_cast<uint32_t>(trusted.open_invites));
  for (const std::string& root : trusted.roots) security->add_roots(root);
  security->set_rotating(trusted.rotating);
  security->set_certificate_ca(trusted.certificate_ca);
  security->set_root_change_number(trusted.root_change_number);
  return grpc::Status::OK;
}

grpc::Status NodeService::ListPeers(const Caller& /*caller*/, const v1::ListPeersRequest& /*request*/,
                                v1::ListPeersResponse& response) {
  for (const membership::PeerView& peer : parts_.membership.Peers()) {
    *response.add_peers() = ToProto(peer);
  }
  return grpc::Status::OK;
}

grpc::Status NodeService::ListPlugins(const Caller& /*caller*/, const v1::ListPluginsRequest& /*request*/,
                                v1::ListPluginsResponse& response) {
  // At once: it reads the plugin catalog only.
  for (const services::CatalogEntry& entry : parts_.plugins.Plugins()) {
    ToProto(entry, *response.add_plugins());
  }
  return grpc::Status::OK;
}

void NodeService::GetServices(const Caller& /*caller*/, const routing::CallInfo& call,
                              const v1::GetServicesRequest& request,
                              v1::GetServicesResponse* response, Done done) {
  parts_.router.Query(
      call, request.ByteSizeLong(),
      [this, name = request.name(), response] {
        for (const routing::ServiceLocation& location : parts_.router.Locations(name)) {
          ToProto(location, *response->add_services());
        }
        for (const placement::Unrun& unrun : parts_.placement.UnrunServices()) {
          if (name.empty() || unrun.service == name) ToProto(unrun, *response->add_services());
        }
        return absl::OkStatus();
      },
      AsGrpc(std::move(done)));
}

void NodeService::Invoke(const Caller& caller, const routing::CallInfo& call,
                         const v1::InvokeRequest& request, v1::InvokeResponse* response,
                         Done done) {
  if (request.hops() == 0) {
    if (absl::Status permitted = trust::Permit(caller, trust::Rpc::kInvoke); !permitted.ok()) {
      done(ToGrpc(permitted));
      return;
    }
  }
  parts_.router.Invoke(call, FromProto(request),
                       [response, done = std::move(done)](
                           absl::StatusOr<routing::ServiceReply> reply) {
                         if (!reply.ok()) {
                           done(ToGrpc(reply.status()));
                           return;
                         }
                         response->set_reply_json(std::move(reply->reply_json));
                         response->set_node(std::move(reply->node));
                         done(grpc::Status::OK);
                       });
}

void NodeService::Explain(const Caller& /*caller*/, const routing::CallInfo& call,
                          const v1::ExplainRequest& request, v1::ExplainResponse* response,
                          Done done) {
  if (!IsValidServiceName(request.service())) {
    done({grpc::StatusCode::INVALID_ARGUMENT, "not a service name: " + request.service()});
    return;
  }
  parts_.router.Query(
      call, request.ByteSizeLong(),
      [this, service = request.service(), response] {
        ToProto(parts_.placement.Explain(service), *response);
        return absl::OkStatus();
      },
      AsGrpc(std::move(done)));
}

void NodeService::HandOver(const Caller& caller, const routing::CallInfo& call,
                           const v1::HandOverRequest& request, v1::HandOverResponse* response,
                           Done done) {
  if (absl::Status own = trust::CheckSpeaksFor(caller, request.from()); !own.ok()) {
    done(ToGrpc(own));
    return;
  }
  placement::HandOverRequest handed = FromProto(request);
  // Refused before a lane or placement's lock sees it. The state field is
  // bounded even when has_state says it carries nothing: its bytes were
  // received all the same.
  absl::Status malformed;
  if (!handed.state && !request.state().empty()) {
    placement::HandOverRequest bounded = handed;
    bounded.state = request.state();
    malformed = placement::CheckHandOverRequest(bounded);
  } else {
    malformed = placement::CheckHandOverRequest(handed);
  }
  if (!malformed.ok()) {
    done(ToGrpc(malformed));
    return;
  }
  parts_.router.AcceptHandOver(
      call, request.ByteSizeLong(),
      [this, handed = std::move(handed), response] {
        absl::Status taken = parts_.placement.AcceptHandOver(handed);
        if (taken.ok()) {
          response->set_node(parts_.membership.Status().self.id);
          response->set_state(std::string(ServiceStateName(ServiceState::kRunning)));
        }
        return taken;
      },
      AsGrpc(std::move(done)));
}

void NodeService::PutState(const Caller& caller, const routing::CallInfo& call,
                           const v1::PutStateRequest& request, v1::PutStateResponse* response,
                           Done done) {
  // A node sends only the changes it made itself.
  if (absl::Status own = trust::CheckSpeaksFor(caller, request.copy().writer()); !own.ok()) {
    done(ToGrpc(own));
    return;
  }
  replica::StateCopy copy = FromProto(request.copy());
  if (absl::Status valid = replica::CheckCopy(copy); !valid.ok()) {
    done(ToGrpc(valid));
    return;
  }
  parts_.router.StateCall(
      call, request.ByteSizeLong(),
      [this, copy = std::move(copy), response] {
        absl::StatusOr<bool> stored = parts_.replicas.Accept(copy);
        if (!stored.ok()) return stored.status();
        response->set_stored(*stored);
        return absl::OkStatus();
      },
      AsGrpc(std::move(done)));
}

void NodeService::GetState(const Caller& caller, const routing::CallInfo& call,
                           const v1::GetStateRequest& request, v1::GetStateResponse* response,
                           Done done) {
  if (!IsValidServiceName(request.service())) {
    done({grpc::StatusCode::INVALID_ARGUMENT, "not a service name: " + request.service()});
    return;
  }
  // A state may hold credentials (a Hue bridge's key): only nodes get it;
  // operators see where each copy stands.
  const bool node = caller.kind == Caller::Kind::kPlaintext ||
                    (caller.kind == Caller::Kind::kCertified && caller.subject &&
                     caller.subject->role == trust::Role::kNode);
  // Asking every peer is for people: a node that asks it of every other
  // would make each call fan out to the whole cluster.
  if (request.every_node() && caller.kind == Caller::Kind::kCertified && node) {
    done({grpc::StatusCode::PERMISSION_DENIED,
          caller.Describe() + " may not ask for every node's copy: an operator's call"});
    return;
  }
  parts_.router.StateCall(
      call, request.ByteSizeLong(),
      [this, service = request.service(), every_node = request.every_node(), node, response] {
        if (std::optional<replica::StateCopy> copy = parts_.replicas.Get(service)) {
          if (!node) copy->bytes.clear();
          ToProto(*copy, *response->mutable_copy());
        }
        ToProto(parts_.replicas.ReportOf(service), *response->mutable_report());
        if (!every_node) return absl::OkStatus();
        for (const replica::Replicator::NodeCopy& held : parts_.replicas.Survey(service)) {
          v1::NodeStateCopy& out = *response->add_nodes();
          out.set_node(held.node);
          if (held.copy) ToProto(*held.copy, *out.mutable_copy());
          out.set_state_bytes(held.state_bytes);
          out.set_error(held.error);
          ToProto(held.report, *out.mutable_report());
        }
        return absl::OkStatus();
      },
      AsGrpc(std::move(done)));
}

std::vector<std::string> NodeService::MemberAddresses() const {
  std::vector<std::string> addresses;
  const membership::MembershipStatus status = parts_.membership.Status();
  if (!status.self.address.empty()) addresses.push_back(status.self.address);
  for (const membership::PeerView& peer : parts_.membership.Peers()) {
    if (addresses.size() >= trust::kMaxCodeMembers) break;
    if (peer.state == PeerState::kAlive && !peer.identity.address.empty()) {
      addresses.push_back(peer.identity.address);
    }
  }
  return addresses;
}

grpc::Status NodeService::Join(const Caller& caller, const v1::JoinRequest& request,
                               v1::JoinResponse& response) {
  absl::StatusOr<v1::JoinResponse> admitted = parts_.trust.Admit(request, caller);
  if (!admitted.ok()) {
    spdlog::warn("refused a join request from {} as '{}': {}", caller.Describe(),
                 request.name().substr(0, 64), StatusMessage(admitted.status()));
    return ToGrpc(admitted.status());
  }
  response = *std::move(admitted);
  for (std::string& address : MemberAddresses()) response.add_members(std::move(address));
  return grpc::Status::OK;
}

grpc::Status NodeService::CreateInvite(const Caller& caller,
                                       const v1::CreateInviteRequest& request,
                                       v1::CreateInviteResponse& response) {
  absl::StatusOr<trust::Role> role = trust::ParseRole(request.role());
  if (!role.ok()) return ToGrpc(role.status());
  const std::chrono::seconds ttl = request.ttl_seconds() == 0
                                       ? trust::kDefaultInviteTtl
                                       : std::chrono::seconds(request.ttl_seconds());
  absl::StatusOr<std::pair<std::string, int64_t>> made =
      parts_.trust.Invite(*role, ttl, MemberAddresses());
  if (!made.ok()) return ToGrpc(made.status());
  spdlog::info("{} made an invitation for a {} (valid {} s)", caller.Describe(), request.role(),
               ttl.count());
  response.set_code(made->first);
  response.set_expires_unix(made->second);
  return grpc::Status::OK;
}

grpc::Status NodeService::Remove(const Caller& caller, const v1::RemoveRequest& request,
                                 v1::RemoveResponse& response) {
  absl::StatusOr<trust::Role> role = trust::ParseRole(request.role());
  if (!role.ok()) return ToGrpc(role.status());
  absl::StatusOr<uint64_t> number = parts_.trust.Remove(*role, request.name());
  if (!number.ok()) return ToGrpc(number.status());
  spdlog::warn("{} removed {} {}", caller.Describe(), request.role(), request.name());
  response.set_number(*number);
  return grpc::Status::OK;
}

void NodeService::RotateCa(const Caller& caller, const routing::CallInfo& /*call*/,
                           const v1::RotateCaRequest& request, v1::RotateCaResponse* response,
                           Done done) {
  trust::TrustBook& book = parts_.trust;
  if (!request.finish()) {
    absl::StatusOr<trust::RotationStep> started = book.StartRotation();
    if (!started.ok()) {
      done(ToGrpc(started.status()));
      return;
    }
    spdlog::warn("{} started change of CA {} (to CA {})", caller.Describe(), started->number,
                 started->ca_fingerprint);
    response->set_number(started->number);
    response->set_ca_fingerprint(started->ca_fingerprint);
    response->set_finished(false);
    done(grpc::Status::OK);
    return;
  }
  if (!book.secure() || !parts_.client_credentials) {
    done({grpc::StatusCode::FAILED_PRECONDITION, "a plaintext node has no CA to change"});
    return;
  }
  // Every member the node knows and did not remove, alive or not: one
  // that is down would find itself shut out when it comes back.
  std::vector<MemberToAsk> members;
  const std::string cluster = book.credentials()->self.cluster;
  for (const membership::PeerView& peer : parts_.membership.Peers()) {
    if (book.IsRevoked({cluster, trust::Role::kNode, peer.identity.id})) continue;
    members.push_back({peer.identity.id, peer.identity.address});
  }
  {
    absl::MutexLock lock(&asking_mu_);
    ++asking_;
  }
  AskMemberCas(std::move(members), parts_.client_credentials, book,
               [this, caller, force = request.force(), response,
                done = std::move(done)](std::vector<MemberCa> reports) {
                 FinishRotation(caller, force, reports, response, done);
                 absl::MutexLock lock(&asking_mu_);
                 --asking_;
               });
}

void NodeService::FinishRotation(const Caller& caller, bool force,
                                 const std::vector<MemberCa>& members,
                                 v1::RotateCaResponse* response, const Done& done) {
  trust::TrustBook& book = parts_.trust;
  const trust::TrustStatus status = book.Status();
  if (!status.rotating) {
    done({grpc::StatusCode::FAILED_PRECONDITION,
          "no change of CA is under way: start one with `domianctl cluster rotate-ca`"});
    return;
  }
  std::string pending;
  for (const MemberCa& member : members) {
    v1::MemberCa* shown = response->add_members();
    shown->set_node(member.id);
    shown->set_ca_fingerprint(member.ca_fingerprint);
    shown->set_error(member.error);
    if (member.ca_fingerprint == status.ca_fingerprint) continue;
    pending += pending.empty() ? "" : ", ";
    pending += member.id + (member.ca_fingerprint.empty()
                                ? " (cannot be asked: " + member.error.substr(0, 200) + ")"
                                : " (presents the old CA)");
  }
  if (!pending.empty() && !force) {
    done({grpc::StatusCode::FAILED_PRECONDITION,
          "not finishing the change of CA: these members do not present a certificate of the "
          "new CA yet: " + pending +
              ". A member takes the change within seconds of hearing of it: try again soon. "
              "--force finishes anyway, and they must then join again"});
    return;
  }
  absl::StatusOr<trust::RotationStep> finished = book.FinishRotation();
  if (!finished.ok()) {
    done(ToGrpc(finished.status()));
    return;
  }
  spdlog::warn("{} finished change of CA {} (CA {} alone){}", caller.Describe(),
               finished->number, finished->ca_fingerprint,
               pending.empty() ? "" : ", forced past members that did not switch: " + pending);
  response->set_number(finished->number);
  response->set_ca_fingerprint(finished->ca_fingerprint);
  response->set_finished(true);
  done(grpc::Status::OK);
}

grpc::Status NodeService::CreateDashboardLink(const Caller& caller,
                                              const v1::CreateDashboardLinkRequest& /*request*/,
                                              v1::CreateDashboardLinkResponse& response) {
  if (!parts_.dashboard_link) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "this node serves no dashboard"};
  }
  absl::StatusOr<DashboardLink> link = parts_.dashboard_link();
  if (!link.ok()) return ToGrpc(link.status());
  // The link is a credential: said to the caller alone, never logged.
  spdlog::info("{} made a dashboard login link", caller.Describe());
  response.set_url(std::move(link->url));
  response.set_expires_unix(link->expires_unix);
  return grpc::Status::OK;
}

}  // namespace domian::rpc
