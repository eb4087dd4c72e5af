#include "core/rpc/remote_nodes_client.h"

#include "core/rpc/convert.h"

namespace domian::rpc {

// One forwarded Invoke, alive until its answer (or failure) has been
// handed on; deletes itself on the EventLoop thread.
class RemoteNodesClient::Forward final : public EventLoop::Tag {
 public:
  Forward(RemoteNodesClient& owner, std::shared_ptr<v1::Domain::Stub> stub, ReplyDone done)
      : owner_(owner), stub_(std::move(stub)), done_(std::move(done)) {}

  void Start(const routing::ServiceCall& call, routing::Deadline deadline,
             grpc::CompletionQueue* queue) {
    request_.set_service(call.service);
    request_.set_command(call.command);
    request_.set_args_json(call.args_json);
    request_.set_hops(call.hops);
    context_.set_deadline(deadline);
    reader_ = stub_->PrepareAsyncInvoke(&context_, request_, queue);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }
  void Cancel() { context_.TryCancel(); }

  void Proceed(bool /*ok: always true for a unary Finish*/) override {
    owner_.Ended(this);
    if (status_.ok()) {
      done_(routing::ServiceReply{response_.reply_json(), response_.node()});
    } else {
      done_(FromGrpc(status_));
    }
    delete this;
  }

 private:
  RemoteNodesClient& owner_;
  std::shared_ptr<v1::Domain::Stub> stub_;
  ReplyDone done_;
  grpc::ClientContext context_;
  v1::InvokeRequest request_;
  v1::InvokeResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::InvokeResponse>> reader_;
};

absl::Status RemoteNodesClient::Invoke(const std::string& address,
                                       const routing::ServiceCall& call,
                                       routing::Deadline deadline, ReplyDone done) {
  std::shared_ptr<v1::Domain::Stub> stub =
      channels_.Stub(address, Channels::Purpose::kServiceCalls);
  // Started under the lock, so CancelCalls() either refuses it here or
  // cancels it.
  absl::MutexLock lock(&mu_);
  if (cancelled_) return absl::UnavailableError("the node is shutting down");
  auto* forward = new Forward(*this, std::move(stub), std::move(done));
  forwards_.insert(forward);
  forward->Start(call, deadline, loop_.queue());
  return absl::OkStatus();
}

void RemoteNodesClient::Ended(Forward* forward) {
  absl::MutexLock lock(&mu_);
  forwards_.erase(forward);
}

void RemoteNodesClient::CancelCalls() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  // Their answers come back on the EventLoop, cancelled, before it stops.
  for (Forward* forward : forwards_) forward->Cancel();
}

absl::Status RemoteNodesClient::HandOver(const std::string& address,
                                         const placement::HandOverRequest& request,
                                         routing::Deadline deadline) {
  v1::HandOverRequest out;
  out.set_service(request.service);
  out.set_epoch(request.epoch);
  out.set_from(request.from);
  out.set_cluster(request.cluster);
  out.set_has_state(request.state.has_value());
  if (request.state) out.set_state(*request.state);
  out.set_config_json(request.config_json);
  v1::HandOverResponse response;
  grpc::ClientContext context;
  context.set_deadline(deadline);
  return FromGrpc(
      channels_.Stub(address, Channels::Purpose::kServiceCalls)->HandOver(&context, out, &response));
}

}  // namespace domian::rpc
