// Who IdentifyCaller says made a call: what this gRPC version says of an
// in-process caller (the node's own dashboard API) decides that it is a
// local operator, and a network caller must never pass for one.
#include "core/rpc/transport_security.h"

#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <optional>

#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {
namespace {

// Answers GetStatus with nothing, noting who the caller was.
class Recorder final : public v1::Domain::Service {
 public:
  explicit Recorder(trust::TrustBook& book) : book_(book) {}
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* /*request*/,
                         v1::GetStatusResponse* /*response*/) override {
    peer = context->peer();
    absl::StatusOr<trust::Caller> caller = IdentifyCaller(*context, book_);
    kind = caller.ok() ? std::optional(caller->kind) : std::nullopt;
    return grpc::Status::OK;
  }

  std::string peer;
  std::optional<trust::Caller::Kind> kind;

 private:
  trust::TrustBook& book_;
};

class IdentifyCallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&recorder_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  void Ask(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetStatusResponse response;
    ASSERT_TRUE(v1::Domain::NewStub(channel)
                    ->GetStatus(&context, v1::GetStatusRequest(), &response)
                    .ok());
  }

  SteadyClock clock_;
  // A plaintext node (no credentials): a network caller is kPlaintext.
  trust::TrustBook book_{std::nullopt, "/nonexistent", clock_, [] { return int64_t{0}; }};
  Recorder recorder_{book_};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(IdentifyCallerTest, AnInProcessCallerIsALocalOperator) {
  Ask(server_->InProcessChannel(grpc::ChannelArguments()));
  EXPECT_EQ(recorder_.peer, kInProcessPeer);
  EXPECT_EQ(recorder_.kind, trust::Caller::Kind::kLocal);
}

TEST_F(IdentifyCallerTest, ANetworkCallerIsNot) {
  Ask(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                          grpc::InsecureChannelCredentials()));
  EXPECT_EQ(recorder_.peer.rfind("ipv4:127.0.0.1:", 0), 0u) << recorder_.peer;
  EXPECT_EQ(recorder_.kind, trust::Caller::Kind::kPlaintext);
}

}  // namespace
}  // namespace domian::rpc
