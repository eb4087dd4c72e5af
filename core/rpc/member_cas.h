// Which CA each member's certificate is of, found the way a peer finds
// it: a fresh connection to the member (never a pooled one, which may
// date from before a change of CA), and the certificate its server shows.
// What `domianctl cluster rotate-ca --finish` checks before the old CA is
// dropped (trust/rotation.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/trust/trust_book.h"

namespace domian::rpc {

// How long one member may take to answer: a TLS handshake and GetStatus.
inline constexpr std::chrono::milliseconds kMemberCaDeadline{5000};

struct MemberToAsk {
  std::string id;
  std::string address;
};

struct MemberCa {
  std::string id;
  std::string ca_fingerprint;  // empty when it could not be told
  std::string error;           // why not
};

// Asks every member at once over `credentials` (the node's), each within
// kMemberCaDeadline; `done` gets one report per member, in their order,
// on a thread of its own (or at once, on this one, when there are none). The certificate a
// member shows must name it and verify under `book`'s roots.
void AskMemberCas(std::vector<MemberToAsk> members,
                  std::shared_ptr<grpc::ChannelCredentials> credentials, trust::TrustBook& book,
                  std::function<void(std::vector<MemberCa>)> done);

}  // namespace domian::rpc
