// Asynchronous ShareIdentityList calls on the gRPC callback API.
#include "core/rpc/peer_client.h"

#include "core/rpc/convert.h"

namespace domian::rpc {

void PeerClient::Forget(const std::string& address) { channels_.Forget(address); }

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
      done_(FromGrpc(status_));
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
  auto* call = new ShareCall(channels_.Stub(address, Channels::Purpose::kMembership), traffic_, std::move(done));
  call->Start(message, deadline, loop_.queue());
}

}  // namespace domian::rpc
