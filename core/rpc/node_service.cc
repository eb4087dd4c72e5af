// Handlers of the Domain service, and the per-call state machine that
// serves them on the EventLoop.
#include "core/rpc/node_service.h"

#include <variant>

#include "core/rpc/convert.h"

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
  using Defer = void (NodeService::*)(const CallInfo&, const Request&, Response*,
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
      const CallInfo call{CallerHost(context_.peer()), context_.deadline()};
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

}  // namespace

NodeService::NodeService(membership::Membership& membership, const Clock& clock,
                         TrafficCounters& traffic)
    : membership_(membership), clock_(clock), traffic_(traffic), started_(clock.Now()) {}

void NodeService::SetDiscoveryStatus(std::function<discovery::DiscoveryStatus()> source,
                                     config::AdvertiseMode mode) {
  discovery_status_ = std::move(source);
  advertise_mode_ = mode;
}

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

grpc::Status ToStatus(const membership::Refusal& refusal) {
  switch (refusal.kind) {
    case membership::RefusalKind::kMalformed:
      return {grpc::StatusCode::INVALID_ARGUMENT, refusal.message};
    case membership::RefusalKind::kWrongCluster:
      return {grpc::StatusCode::FAILED_PRECONDITION, refusal.message};
    case membership::RefusalKind::kTooLarge:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, refusal.message};
    case membership::RefusalKind::kSpoofed:
      return {grpc::StatusCode::PERMISSION_DENIED, refusal.message};
  }
  return {grpc::StatusCode::INTERNAL, refusal.message};
}

grpc::Status NodeService::ShareIdentityList(const v1::ShareIdentityListRequest& request,
                                            v1::ShareIdentityListResponse& response) {
  ++traffic_.lists_received;
  const size_t bytes = request.ByteSizeLong();
  traffic_.bytes_received += bytes;
  IdentityListMessage reply;
  if (auto refusal = membership_.HandleShareIdentityList(FromProto(request), bytes, reply)) {
    return ToStatus(*refusal);
  }
  ToProto(reply, response);
  traffic_.bytes_sent += response.ByteSizeLong();
  return grpc::Status::OK;
}

grpc::Status NodeService::GetStatus(const v1::GetStatusRequest& /*request*/,
                                    v1::GetStatusResponse& response) {
  const membership::MembershipStatus status = membership_.Status();
  *response.mutable_identity() = ToProto(status.self);
  response.set_incarnation(status.counters.incarnation);
  response.set_lonely(status.lonely);
  response.set_uptime_seconds(std::chrono::duration<double>(clock_.Now() - started_).count());
  v1::Traffic* traffic = response.mutable_traffic();
  traffic->set_lists_sent(traffic_.lists_sent);
  traffic->set_lists_received(traffic_.lists_received);
  traffic->set_bytes_sent(traffic_.bytes_sent);
  traffic->set_bytes_received(traffic_.bytes_received);
  const discovery::DiscoveryStatus found =
      discovery_status_ ? discovery_status_() : discovery::DiscoveryStatus{};
  v1::DiscoveryStatus* discovery = response.mutable_discovery();
  discovery->set_state(found.state);
  discovery->set_advertise(std::string(config::AdvertiseModeName(advertise_mode_)));
  discovery->set_advertising(found.advertising);
  discovery->set_instance_name(found.instance_name);
  discovery->set_domains_seen(static_cast<uint32_t>(found.domains_seen));
  return grpc::Status::OK;
}

grpc::Status NodeService::ListPeers(const v1::ListPeersRequest& /*request*/,
                                    v1::ListPeersResponse& response) {
  for (const membership::PeerView& peer : membership_.Peers()) {
    *response.add_peers() = ToProto(peer);
  }
  return grpc::Status::OK;
}

void NodeService::GetServices(const CallInfo& call, const v1::GetServicesRequest& request,
                              v1::GetServicesResponse* response,
                              std::function<void(grpc::Status)> done) {
  if (calls_ == nullptr) {
    done({grpc::StatusCode::UNIMPLEMENTED, "no services on this node"});
    return;
  }
  calls_->GetServices(call, request, response, std::move(done));
}

grpc::Status NodeService::ListPlugins(const v1::ListPluginsRequest& request,
                                      v1::ListPluginsResponse& response) {
  if (calls_ == nullptr) return {grpc::StatusCode::UNIMPLEMENTED, "no plugins on this node"};
  return calls_->ListPlugins(request, response);
}

void NodeService::Invoke(const CallInfo& call, const v1::InvokeRequest& request,
                         v1::InvokeResponse* response, std::function<void(grpc::Status)> done) {
  if (calls_ == nullptr) {
    done({grpc::StatusCode::UNIMPLEMENTED, "no services on this node"});
    return;
  }
  calls_->Invoke(call, request, response, std::move(done));
}

void NodeService::Explain(const CallInfo& call, const v1::ExplainRequest& request,
                          v1::ExplainResponse* response,
                          std::function<void(grpc::Status)> done) {
  if (calls_ == nullptr) {
    done({grpc::StatusCode::UNIMPLEMENTED, "no services on this node"});
    return;
  }
  calls_->Explain(call, request, response, std::move(done));
}

void NodeService::HandOver(const CallInfo& call, const v1::HandOverRequest& request,
                           v1::HandOverResponse* response,
                           std::function<void(grpc::Status)> done) {
  if (calls_ == nullptr) {
    done({grpc::StatusCode::UNIMPLEMENTED, "no services on this node"});
    return;
  }
  calls_->HandOver(call, request, response, std::move(done));
}

}  // namespace domian::rpc
