// gRPC calls behind domianctl and their conversion to JSON.
#include "core/cli/control_client.h"

#include <grpcpp/grpcpp.h>

#include "core/membership/identity.h"
#include "core/rpc/convert.h"
#include "core/rpc/peer_client.h"
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

}  // namespace

struct ControlClient::Impl {
  std::string address;
  std::chrono::milliseconds timeout;
  std::unique_ptr<v1::Domain::Stub> stub;

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout);
  }
  ControlError Error(const grpc::Status& status) const {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return {"cannot reach domiand at " + address + ": " + status.error_message()};
    }
    return {"domiand at " + address + " answered: " + status.error_message()};
  }
};

ControlClient::ControlClient(const std::string& node_address, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = node_address;
  impl_->timeout = timeout;
  impl_->stub = v1::Domain::NewStub(grpc::CreateCustomChannel(
      node_address, grpc::InsecureChannelCredentials(), rpc::DomainChannelArguments()));
}

ControlClient::~ControlClient() = default;

ControlResult<nlohmann::json> ControlClient::Status() {
  grpc::ClientContext context;
  impl_->Prepare(context);
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
        {"bytes_received", response.traffic().bytes_received()}}},
      {"discovery",
       {{"state", response.discovery().state()},
        {"advertise", response.discovery().advertise()},
        {"advertising", response.discovery().advertising()},
        {"instance_name", response.discovery().instance_name()},
        {"domains_seen", response.discovery().domains_seen()}}},
  };
}

ControlResult<nlohmann::json> ControlClient::Peers() {
  grpc::ClientContext context;
  impl_->Prepare(context);
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

}  // namespace domian::cli
