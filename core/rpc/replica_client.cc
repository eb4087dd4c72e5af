#include "core/rpc/replica_client.h"

#include "core/common/utf8.h"
#include "core/rpc/convert.h"

namespace domian::rpc {

void ToProto(const replica::StateCopy& copy, v1::StateCopy& out) {
  out.set_service(copy.service);
  out.set_epoch(copy.epoch);
  out.set_seq(copy.seq);
  out.set_hlc_ms(copy.hlc.wall_ms);
  out.set_hlc_logical(copy.hlc.logical);
  out.set_writer(copy.writer);
  out.set_deleted(copy.deleted);
  out.set_state(copy.bytes);
  out.set_parent_hlc_ms(copy.parent.wall_ms);
  out.set_parent_hlc_logical(copy.parent.logical);
}

replica::StateCopy FromProto(const v1::StateCopy& copy) {
  return {.service = copy.service(),
          .epoch = copy.epoch(),
          .seq = copy.seq(),
          .hlc = {copy.hlc_ms(), copy.hlc_logical()},
          .parent = {copy.parent_hlc_ms(), copy.parent_hlc_logical()},
          .writer = copy.writer(),
          .deleted = copy.deleted(),
          .bytes = copy.state()};
}

void ToProto(const replica::StateReport& report, v1::StateReport& out) {
  if (report.run) {
    out.set_runs_here(true);
    out.set_epoch(report.run->epoch);
    out.set_started_from(report.run->origin);
  }
  if (report.set_aside) {
    out.set_set_aside(report.set_aside->version);
    out.set_set_aside_lost_to(report.set_aside->lost_to);
    out.set_set_aside_file(report.set_aside->file);
  }
}

replica::StateReport FromProto(const v1::StateReport& report) {
  const auto cut = [](const std::string& text) {
    return BoundedText(text, replica::kMaxReportStringBytes);
  };
  replica::StateReport out;
  if (report.runs_here()) {
    out.run = replica::StateRun{.epoch = report.epoch(), .origin = cut(report.started_from())};
  }
  if (!report.set_aside().empty()) {
    out.set_aside = replica::SetAside{.version = cut(report.set_aside()),
                                      .lost_to = cut(report.set_aside_lost_to()),
                                      .file = cut(report.set_aside_file())};
  }
  return out;
}

// One PutState or GetState in flight; deletes itself on the EventLoop
// thread once answered (or cancelled).
class ReplicaClient::Call final : public EventLoop::Tag {
 public:
  Call(ReplicaClient& owner, std::shared_ptr<v1::Domain::Stub> stub,
       std::chrono::milliseconds deadline)
      : owner_(owner), stub_(std::move(stub)) {
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
  }

  void StartPut(const replica::StateCopy& copy, PutDone done, grpc::CompletionQueue* queue) {
    put_done_ = std::move(done);
    ToProto(copy, *put_request_.mutable_copy());
    put_ = stub_->PrepareAsyncPutState(&context_, put_request_, queue);
    put_->StartCall();
    put_->Finish(&put_response_, &status_, this);
  }
  void StartGet(const std::string& service, GetDone done, grpc::CompletionQueue* queue) {
    get_done_ = std::move(done);
    get_request_.set_service(service);
    get_ = stub_->PrepareAsyncGetState(&context_, get_request_, queue);
    get_->StartCall();
    get_->Finish(&get_response_, &status_, this);
  }
  void Cancel() { context_.TryCancel(); }
  size_t request_bytes() const { return put_request_.ByteSizeLong(); }

  void Proceed(bool /*ok: always true for a unary Finish*/) override {
    owner_.Ended(this);
    if (put_done_) {
      put_done_(status_.ok() ? absl::OkStatus() : FromGrpc(status_));
    } else if (!status_.ok()) {
      get_done_(FromGrpc(status_));
    } else {
      replica::HeldCopy held{.report = FromProto(get_response_.report())};
      if (get_response_.has_copy()) held.copy = FromProto(get_response_.copy());
      get_done_(std::move(held));
    }
    delete this;
  }

 private:
  ReplicaClient& owner_;
  std::shared_ptr<v1::Domain::Stub> stub_;
  grpc::ClientContext context_;
  grpc::Status status_;
  PutDone put_done_;
  GetDone get_done_;
  v1::PutStateRequest put_request_;
  v1::PutStateResponse put_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::PutStateResponse>> put_;
  v1::GetStateRequest get_request_;
  v1::GetStateResponse get_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetStateResponse>> get_;
};

ReplicaClient::Call* ReplicaClient::NewCall(const replica::Peer& peer,
                                            std::chrono::milliseconds deadline) {
  if (cancelled_) return nullptr;
  auto* call =
      new Call(*this, channels_.Stub(peer.address, Channels::Purpose::kServiceCalls), deadline);
  calls_.insert(call);
  return call;
}

// Started under the lock, so CancelCalls() either refuses a call here or
// cancels it.
void ReplicaClient::Put(const replica::Peer& peer, const replica::StateCopy& copy,
                        std::chrono::milliseconds deadline, PutDone done) {
  absl::MutexLock lock(&mu_);
  Call* call = NewCall(peer, deadline);
  if (call == nullptr) return done(absl::UnavailableError("the node is shutting down"));
  call->StartPut(copy, std::move(done), loop_.queue());
  ++traffic_.state_copies_sent;
  traffic_.state_copy_bytes_sent += call->request_bytes();
}

void ReplicaClient::Get(const replica::Peer& peer, const std::string& service,
                        std::chrono::milliseconds deadline, GetDone done) {
  absl::MutexLock lock(&mu_);
  Call* call = NewCall(peer, deadline);
  if (call == nullptr) return done(absl::UnavailableError("the node is shutting down"));
  call->StartGet(service, std::move(done), loop_.queue());
}

void ReplicaClient::Ended(Call* call) {
  absl::MutexLock lock(&mu_);
  calls_.erase(call);
}

void ReplicaClient::CancelCalls() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (Call* call : calls_) call->Cancel();
}

}  // namespace domian::rpc
