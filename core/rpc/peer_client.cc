// Asynchronous ShareIdentityList calls on the gRPC callback API.
#include "core/rpc/peer_client.h"

#include "core/rpc/convert.h"
#include "core/rpc/transport_security.h"

namespace domian::rpc {

void PeerClient::Forget(const std::string& address) { channels_.Forget(address); }

namespace {

// One outgoing ShareIdentityList, alive until its reply (or failure) has
// been handed on; deletes itself on the loop thread.
class ShareCall final : public EventLoop::Tag {
 public:
  ShareCall(std::shared_ptr<v1::Domain::Stub> stub, Channels& channels, TrafficCounters& traffic,
            trust::TrustBook& trust, std::string address, membership::PeerTransport::Done done)
      : stub_(std::move(stub)),
        channels_(channels),
        traffic_(traffic),
        trust_(trust),
        address_(std::move(address)),
        done_(std::move(done)) {}

  void Start(const IdentityListMessage& message, Millis deadline, grpc::CompletionQueue* queue) {
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    ToProto(message, request_);
    request_.set_trust_digest(trust_.Digest());
    ++traffic_.lists_sent;
    traffic_.bytes_sent += request_.ByteSizeLong();
    reader_ = stub_->PrepareAsyncShareIdentityList(&context_, request_, queue);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }

  void Proceed(bool /*ok: always true for a unary Finish*/) override {
    if (!status_.ok()) {
      if (status_.error_code() == grpc::StatusCode::PERMISSION_DENIED) TakeRevocations();
      // The peer no longer takes the certificate this connection showed
      // when it was made (the old CA, after a change of CA): the next
      // heartbeat makes a new one, with the certificate this node has now.
      if (status_.error_code() == grpc::StatusCode::UNAUTHENTICATED && trust_.secure()) {
        channels_.Renew(address_);
      }
      done_(FromGrpc(status_));
    } else if (absl::Status own = CheckResponder(); !own.ok()) {
      done_(own);
    } else {
      const size_t bytes = response_.ByteSizeLong();
      traffic_.bytes_received += bytes;
      if (response_.has_trust()) trust_.Merge(response_.trust(), response_.sender().id());
      done_(membership::PeerTransport::Reply{FromProto(response_), bytes});
    }
    delete this;
  }

 private:
  // A refusal because this node was removed carries the signed list
  // that says so (NodeService): checked and kept like a peer's bulletin.
  void TakeRevocations() {
    const auto& trailers = context_.GetServerTrailingMetadata();
    const auto found = trailers.find(kRevocationsTrailer);
    if (found == trailers.end()) return;
    v1::TrustBulletin bulletin;
    if (!bulletin.mutable_revocations()->ParseFromArray(found->second.data(),
                                                       static_cast<int>(found->second.size()))) {
      return;
    }
    trust_.Merge(bulletin, address_);
  }

  // The node that answered is the one its certificate names, still a
  // member (the handshake checked that only when the connection opened).
  absl::Status CheckResponder() const {
    if (!trust_.secure()) return absl::OkStatus();
    const std::optional<trust::Subject> server = ServerSubject(context_);
    if (!server) return absl::UnauthenticatedError(address_ + " presented no node certificate");
    if (absl::Status member = trust_.CheckServer(*server); !member.ok()) return member;
    if (server->name != response_.sender().id()) {
      return absl::PermissionDeniedError(address_ + " answered for node " +
                                         response_.sender().id().substr(0, 64) +
                                         ", but its certificate names " + server->name);
    }
    return absl::OkStatus();
  }

  std::shared_ptr<v1::Domain::Stub> stub_;
  Channels& channels_;
  TrafficCounters& traffic_;
  trust::TrustBook& trust_;
  const std::string address_;
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
  auto* call = new ShareCall(channels_.Stub(address, Channels::Purpose::kMembership), channels_,
                             traffic_,
                             trust_, address, std::move(done));
  call->Start(message, deadline, loop_.queue());
}

}  // namespace domian::rpc
