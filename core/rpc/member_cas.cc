#include "core/rpc/member_cas.h"

#include <grpc/grpc_security_constants.h>

#include <thread>

#include "core/rpc/channels.h"
#include "core/rpc/transport_security.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {
namespace {

struct Call {
  std::shared_ptr<v1::Domain::Stub> stub;
  grpc::ClientContext context;
  v1::GetStatusResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetStatusResponse>> reader;
};

// What the answer of `member` on `call` tells.
MemberCa Read(const MemberToAsk& member, const Call& call, const trust::TrustBook& book) {
  MemberCa report{.id = member.id};
  if (!call.status.ok()) {
    report.error = call.status.error_message();
    return report;
  }
  const std::shared_ptr<const grpc::AuthContext> auth = call.context.auth_context();
  const std::vector<grpc::string_ref> pem =
      auth ? auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)
           : std::vector<grpc::string_ref>{};
  const std::optional<trust::Subject> server = ServerSubject(call.context);
  if (pem.empty() || !server) {
    report.error = "it showed no certificate";
    return report;
  }
  if (server->name != member.id) {
    report.error = "its address answers as node " + server->name.substr(0, 64);
    return report;
  }
  absl::StatusOr<std::string> ca = book.CaOf(std::string_view(pem.front().data(), pem.front().size()));
  if (!ca.ok()) {
    report.error = std::string(StatusMessage(ca.status()));
    return report;
  }
  report.ca_fingerprint = *std::move(ca);
  return report;
}

// All at once on a completion queue of its own, on this thread: every
// gRPC object is made and destroyed here, never in one of gRPC's
// callbacks.
std::vector<MemberCa> Ask(const std::vector<MemberToAsk>& members,
                          const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                          const trust::TrustBook& book) {
  grpc::CompletionQueue queue;
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t i = 0; i < members.size(); ++i) {
    grpc::ChannelArguments args = DomainChannelArguments();
    // A connection of its own: a pooled one may date from before the
    // member changed its certificate.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto call = std::make_unique<Call>();
    call->stub =
        v1::Domain::NewStub(grpc::CreateCustomChannel(members[i].address, credentials, args));
    call->context.set_deadline(std::chrono::system_clock::now() + kMemberCaDeadline);
    call->reader = call->stub->AsyncGetStatus(&call->context, v1::GetStatusRequest(), &queue);
    call->reader->Finish(&call->response, &call->status, reinterpret_cast<void*>(i));
    calls.push_back(std::move(call));
  }
  for (size_t answered = 0; answered < calls.size(); ++answered) {
    void* tag = nullptr;
    bool ok = false;
    if (!queue.Next(&tag, &ok)) break;
  }
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
  std::vector<MemberCa> reports;
  for (size_t i = 0; i < members.size(); ++i) reports.push_back(Read(members[i], *calls[i], book));
  return reports;
}

}  // namespace

void AskMemberCas(std::vector<MemberToAsk> members,
                  std::shared_ptr<grpc::ChannelCredentials> credentials, trust::TrustBook& book,
                  std::function<void(std::vector<MemberCa>)> done) {
  if (members.empty()) {
    done({});
    return;
  }
  // Bounded by the calls' deadline; the caller waits for `done` before it
  // goes away (NodeService's destructor).
  std::thread([members = std::move(members), credentials = std::move(credentials), &book,
               done = std::move(done)] { done(Ask(members, credentials, book)); })
      .detach();
}

}  // namespace domian::rpc
