// Handlers of the Domain service; each finishes its reactor at once.
#include "core/rpc/domain_service.h"

#include "core/rpc/convert.h"

namespace domian::rpc {

DomainService::DomainService(Membership& membership, const Clock& clock,
                             TrafficCounters& traffic)
    : membership_(membership), clock_(clock), traffic_(traffic), started_(clock.Now()) {}

grpc::Status ToStatus(const Refusal& refusal) {
  switch (refusal.kind) {
    case RefusalKind::kMalformed:
      return {grpc::StatusCode::INVALID_ARGUMENT, refusal.message};
    case RefusalKind::kWrongCluster:
      return {grpc::StatusCode::FAILED_PRECONDITION, refusal.message};
    case RefusalKind::kTooLarge:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, refusal.message};
    case RefusalKind::kSpoofed:
      return {grpc::StatusCode::PERMISSION_DENIED, refusal.message};
  }
  return {grpc::StatusCode::INTERNAL, refusal.message};
}

grpc::ServerUnaryReactor* DomainService::ShareIdentityList(
    grpc::CallbackServerContext* context, const v1::ShareIdentityListRequest* request,
    v1::ShareIdentityListResponse* response) {
  auto* reactor = context->DefaultReactor();
  ++traffic_.lists_received;
  const size_t bytes = request->ByteSizeLong();
  traffic_.bytes_received += bytes;
  IdentityListMessage reply;
  if (auto refusal = membership_.HandleShareIdentityList(FromProto(*request), bytes, reply)) {
    reactor->Finish(ToStatus(*refusal));
    return reactor;
  }
  ToProto(reply, *response);
  traffic_.bytes_sent += response->ByteSizeLong();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DomainService::GetStatus(grpc::CallbackServerContext* context,
                                                   const v1::GetStatusRequest* /*request*/,
                                                   v1::GetStatusResponse* response) {
  const MembershipStatus status = membership_.Status();
  *response->mutable_identity() = ToProto(status.self);
  response->set_incarnation(status.counters.incarnation);
  response->set_lonely(status.lonely);
  response->set_uptime_seconds(std::chrono::duration<double>(clock_.Now() - started_).count());
  v1::Traffic* traffic = response->mutable_traffic();
  traffic->set_lists_sent(traffic_.lists_sent);
  traffic->set_lists_received(traffic_.lists_received);
  traffic->set_bytes_sent(traffic_.bytes_sent);
  traffic->set_bytes_received(traffic_.bytes_received);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DomainService::ListPeers(grpc::CallbackServerContext* context,
                                                   const v1::ListPeersRequest* /*request*/,
                                                   v1::ListPeersResponse* response) {
  for (const PeerView& peer : membership_.Peers()) *response->add_peers() = ToProto(peer);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace domian::rpc
