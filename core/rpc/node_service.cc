// Handlers of the Domain service, and the per-call state machine that
// serves them on the EventLoop.
#include "core/rpc/node_service.h"

#include <variant>

#include "core/model/service_state.h"
#include "core/model/values.h"
#include "core/rpc/convert.h"
#include "core/rpc/convert_services.h"

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
  using Answer = grpc::Status (NodeService::*)(const Request&, Response&);
  using Defer = void (NodeService::*)(const routing::CallInfo&, const Request&, Response*,
                                      std::function<void(grpc::Status)>);
  using Handler = std::variant<Answer, Defer>;

  static void Arm(EventLoop& loop, v1::Domain::AsyncService& service, NodeService& handler,
                  RequestMethod request, Handler handle) {
    auto* call = new UnaryCall(loop, service, handler, request, handle);
    (service.*request)(&call->context_, &call->request_, &call->responder_, loop.queue(),
                       loop.queue(), call);
  }

  void Proceed(bool ok) override {
    if (answered_ || !ok) {  // sent, or the server is shutting down
      delete this;
      return;
    }
    if (!loop_.stopping()) Arm(loop_, service_, handler_, request_method_, handle_);
    answered_ = true;
    auto finish = [this](const grpc::Status& status) {
      if (status.ok()) {
        responder_.Finish(response_, status, this);
      } else {
        responder_.FinishWithError(status, this);
      }
    };
    if (const Answer* answer = std::get_if<Answer>(&handle_)) {
      finish((handler_.**answer)(request_, response_));
    } else {
      const routing::CallInfo call{CallerHost(context_.peer()), context_.deadline()};
      (handler_.*std::get<Defer>(handle_))(call, request_, &response_, finish);
    }
  }

 private:
  UnaryCall(EventLoop& loop, v1::Domain::AsyncService& service, NodeService& handler,
            RequestMethod request, Handler handle)
      : loop_(loop),
        service_(service),
        handler_(handler),
        request_method_(request),
        handle_(handle),
        responder_(&context_) {}

  EventLoop& loop_;
  v1::Domain::AsyncService& service_;
  NodeService& handler_;
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

void NodeService::Serve(EventLoop& loop) {
  using v1::Domain;
  UnaryCall<v1::ShareIdentityListRequest, v1::ShareIdentityListResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestShareIdentityList,
      &NodeService::ShareIdentityList);
  UnaryCall<v1::GetStatusRequest, v1::GetStatusResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestGetStatus, &NodeService::GetStatus);
  UnaryCall<v1::ListPeersRequest, v1::ListPeersResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestListPeers, &NodeService::ListPeers);
  UnaryCall<v1::GetServicesRequest, v1::GetServicesResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestGetServices,
      &NodeService::GetServices);
  UnaryCall<v1::ListPluginsRequest, v1::ListPluginsResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestListPlugins,
      &NodeService::ListPlugins);
  UnaryCall<v1::InvokeRequest, v1::InvokeResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestInvoke, &NodeService::Invoke);
  UnaryCall<v1::ExplainRequest, v1::ExplainResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestExplain, &NodeService::Explain);
  UnaryCall<v1::HandOverRequest, v1::HandOverResponse>::Arm(
      loop, service_, *this, &Domain::AsyncService::RequestHandOver, &NodeService::HandOver);
}

grpc::Status NodeService::ShareIdentityList(const v1::ShareIdentityListRequest& request,
                                            v1::ShareIdentityListResponse& response) {
  TrafficCounters& traffic = parts_.traffic;
  ++traffic.lists_received;
  const size_t bytes = request.ByteSizeLong();
  traffic.bytes_received += bytes;
  IdentityListMessage reply;
  const absl::Status merged =
      parts_.membership.HandleShareIdentityList(FromProto(request), bytes, reply);
  if (!merged.ok()) return ToGrpc(merged);
  ToProto(reply, response);
  traffic.bytes_sent += response.ByteSizeLong();
  return grpc::Status::OK;
}

grpc::Status NodeService::GetStatus(const v1::GetStatusRequest& /*request*/,
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
  const discovery::DiscoveryStatus found =
      parts_.discovery_status ? parts_.discovery_status() : discovery::DiscoveryStatus{};
  v1::DiscoveryStatus* discovery = response.mutable_discovery();
  discovery->set_state(found.state);
  discovery->set_advertise(std::string(config::AdvertiseModeName(parts_.advertise_mode)));
  discovery->set_advertising(found.advertising);
  discovery->set_instance_name(found.instance_name);
  discovery->set_domains_seen(static_cast<uint32_t>(found.domains_seen));
  return grpc::Status::OK;
}

grpc::Status NodeService::ListPeers(const v1::ListPeersRequest& /*request*/,
                                    v1::ListPeersResponse& response) {
  for (const membership::PeerView& peer : parts_.membership.Peers()) {
    *response.add_peers() = ToProto(peer);
  }
  return grpc::Status::OK;
}

grpc::Status NodeService::ListPlugins(const v1::ListPluginsRequest& /*request*/,
                                      v1::ListPluginsResponse& response) {
  // At once: it reads the plugin catalog only.
  for (const services::CatalogEntry& entry : parts_.plugins.Plugins()) {
    ToProto(entry, *response.add_plugins());
  }
  return grpc::Status::OK;
}

void NodeService::GetServices(const routing::CallInfo& call,
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

void NodeService::Invoke(const routing::CallInfo& call, const v1::InvokeRequest& request,
                         v1::InvokeResponse* response, Done done) {
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

void NodeService::Explain(const routing::CallInfo& call, const v1::ExplainRequest& request,
                          v1::ExplainResponse* response, Done done) {
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

void NodeService::HandOver(const routing::CallInfo& call, const v1::HandOverRequest& request,
                           v1::HandOverResponse* response, Done done) {
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

}  // namespace domian::rpc
