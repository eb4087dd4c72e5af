#include "core/trust/access.h"

namespace domian::trust {
namespace {

bool ForNodes(Rpc rpc) {
  switch (rpc) {
    case Rpc::kShareIdentityList:
    case Rpc::kHandOver:
    case Rpc::kForwardedInvoke:
    case Rpc::kStatus:
    case Rpc::kPeers:
    case Rpc::kPutState:
    case Rpc::kGetState:
      return true;
    default:
      return false;
  }
}

bool ForOperators(Rpc rpc) {
  switch (rpc) {
    case Rpc::kShareIdentityList:
    case Rpc::kHandOver:
    case Rpc::kJoin:
    case Rpc::kPutState:
      return false;
    default:
      return true;
  }
}

}  // namespace

std::string Caller::Describe() const {
  switch (kind) {
    case Kind::kLocal:
      return "a local operator";
    case Kind::kPlaintext:
      return "a plaintext caller";
    case Kind::kJoiner:
      return "a joiner";
    case Kind::kCertified:
      break;
  }
  return subject ? std::string(RoleName(subject->role)) + " " + subject->name
                 : std::string("a certified caller");
}

std::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kShareIdentityList:
      return "ShareIdentityList";
    case Rpc::kHandOver:
      return "HandOver";
    case Rpc::kForwardedInvoke:
      return "Invoke (forwarded)";
    case Rpc::kInvoke:
      return "Invoke";
    case Rpc::kStatus:
      return "GetStatus";
    case Rpc::kPeers:
      return "ListPeers";
    case Rpc::kServices:
      return "GetServices";
    case Rpc::kExplain:
      return "Explain";
    case Rpc::kPlugins:
      return "ListPlugins";
    case Rpc::kJoin:
      return "Join";
    case Rpc::kCreateInvite:
      return "CreateInvite";
    case Rpc::kRemove:
      return "Remove";
    case Rpc::kRotateCa:
      return "RotateCa";
    case Rpc::kPutState:
      return "PutState";
    case Rpc::kGetState:
      return "GetState";
    case Rpc::kWatchEvents:
      return "WatchEvents";
    case Rpc::kCreateDashboardLink:
      return "CreateDashboardLink";
  }
  return "?";
}

absl::Status Permit(const Caller& caller, Rpc rpc) {
  const std::string refused = caller.Describe() + " may not call " + std::string(RpcName(rpc));
  switch (caller.kind) {
    case Caller::Kind::kPlaintext:
      return absl::OkStatus();
    case Caller::Kind::kLocal:
      if (ForOperators(rpc)) return absl::OkStatus();
      return absl::PermissionDeniedError(refused + ": it is between nodes");
    case Caller::Kind::kJoiner:
      if (rpc == Rpc::kJoin) return absl::OkStatus();
      return absl::UnauthenticatedError(std::string(RpcName(rpc)) +
                                        " needs a client certificate of this cluster (domianctl "
                                        "cluster invite --operator, then cluster join)");
    case Caller::Kind::kCertified:
      break;
  }
  if (!caller.subject) return absl::UnauthenticatedError("no identity in the certificate");
  if (rpc == Rpc::kJoin) return absl::OkStatus();  // harmless: the secret decides
  const bool allowed =
      caller.subject->role == Role::kNode ? ForNodes(rpc) : ForOperators(rpc);
  if (allowed) return absl::OkStatus();
  return absl::PermissionDeniedError(
      refused + (caller.subject->role == Role::kNode ? ": it is an operator's call"
                                                     : ": it is between nodes"));
}

absl::Status CheckSpeaksFor(const Caller& caller, std::string_view node_id) {
  if (caller.kind != Caller::Kind::kCertified || !caller.subject) return absl::OkStatus();
  if (caller.subject->role == Role::kNode && caller.subject->name == node_id) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(caller.Describe() + " may not speak for node " +
                                     std::string(node_id));
}

}  // namespace domian::trust
