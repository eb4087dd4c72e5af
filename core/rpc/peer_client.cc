// Asynchronous ShareIdentityList calls on the gRPC callback API.
#include "core/rpc/peer_client.h"

#include "core/membership/wire_limits.h"
#include "core/rpc/convert.h"

namespace domian::rpc {

grpc::ChannelArguments DomainChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(kTransportMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(kTransportMessageBytes));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMinMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kReconnectBackoffMinMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kReconnectBackoffMaxMs);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // Bandwidth probing pings suit bulk transfers, not a few hundred bytes
  // five times a second: they only cost CPU here.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return args;
}

std::shared_ptr<v1::Domain::Stub> PeerClient::StubFor(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    stub = v1::Domain::NewStub(grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), DomainChannelArguments()));
  }
  return stub;
}

void PeerClient::Forget(const std::string& address) {
  std::lock_guard lock(mu_);
  stubs_.erase(address);
}

void PeerClient::ShareIdentityList(const std::string& address, IdentityListMessage message,
                                   Millis deadline, Done done) {
  // Everything the call uses lives until its callback has run.
  struct Call {
    grpc::ClientContext context;
    v1::ShareIdentityListRequest request;
    v1::ShareIdentityListResponse response;
    std::shared_ptr<v1::Domain::Stub> stub;
    Done done;
  };
  auto call = std::make_shared<Call>();
  call->stub = StubFor(address);
  call->done = std::move(done);
  call->context.set_deadline(std::chrono::system_clock::now() + deadline);
  ToProto(message, call->request);
  ++traffic_.lists_sent;
  traffic_.bytes_sent += call->request.ByteSizeLong();
  call->stub->async()->ShareIdentityList(
      &call->context, &call->request, &call->response, [this, call](grpc::Status status) {
        if (status.ok()) {
          const size_t bytes = call->response.ByteSizeLong();
          traffic_.bytes_received += bytes;
          call->done(Reply{FromProto(call->response), bytes});
        } else {
          call->done(Failure{static_cast<int>(status.error_code()), status.error_message()});
        }
      });
}

}  // namespace domian::rpc
