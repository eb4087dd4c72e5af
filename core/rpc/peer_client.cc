// Asynchronous ShareIdentityList calls on the gRPC callback API.
#include "core/rpc/peer_client.h"

#include "core/membership/wire_limits.h"
#include "core/rpc/convert.h"

namespace domian::rpc {

grpc::ChannelArguments DomainChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(membership::kTransportMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(membership::kTransportMessageBytes));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMinMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kConnectTimeoutMs);
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

namespace {

// One outgoing ShareIdentityList, alive until its reply (or failure) has
// been handed on; deletes itself on the loop thread.
class ShareCall final : public EventLoop::Tag {
 public:
  ShareCall(std::shared_ptr<v1::Domain::Stub> stub, TrafficCounters& traffic,
            membership::PeerTransport::Done done)
      : stub_(std::move(stub)), traffic_(traffic), done_(std::move(done)) {}

  void Start(const IdentityListMessage& message, Millis deadline, grpc::CompletionQueue* queue) {
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    ToProto(message, request_);
    ++traffic_.lists_sent;
    traffic_.bytes_sent += request_.ByteSizeLong();
    reader_ = stub_->PrepareAsyncShareIdentityList(&context_, request_, queue);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }

  void Proceed(bool /*ok: always true for a unary Finish*/) override {
    if (status_.ok()) {
      const size_t bytes = response_.ByteSizeLong();
      traffic_.bytes_received += bytes;
      done_(membership::PeerTransport::Reply{FromProto(response_), bytes});
    } else {
      done_(membership::PeerTransport::Failure{static_cast<int>(status_.error_code()),
                                               status_.error_message()});
    }
    delete this;
  }

 private:
  std::shared_ptr<v1::Domain::Stub> stub_;
  TrafficCounters& traffic_;
  membership::PeerTransport::Done done_;
  grpc::ClientContext context_;
  v1::ShareIdentityListRequest request_;
  v1::ShareIdentityListResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ShareIdentityListResponse>> reader_;
};

}  // namespace

void PeerClient::ShareIdentityList(const std::string& address, IdentityListMessage message,
                                   Millis deadline, Done done) {
  auto* call = new ShareCall(StubFor(address), traffic_, std::move(done));
  call->Start(message, deadline, loop_.queue());
}

}  // namespace domian::rpc
