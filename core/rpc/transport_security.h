// gRPC's TLS, set up the one way domian uses it (gRPC 1.51's experimental
// TLS API; see docs/security.md):
//
//  - A node's server presents its certificate followed by its CA's (so a
//    joiner can check the CA against the join code's pin) and asks every
//    client for a certificate without requiring one: Join is the one call
//    taken without. Which certificate may make which call is decided per
//    call (NodeService, trust/access.h), so a removal also holds on a
//    connection that was open before it, and a refusal says why instead
//    of failing a handshake with no words.
//  - A client (a node calling a node, domianctl calling a node) verifies
//    the server's certificate under the roots, then that it names a node
//    of the client's cluster that was not removed. Host names and
//    addresses play no part (DHCP and mDNS names change).
//  - Validity dates play no part either: certificates are valid from 2000
//    to 9999 (trust/pki.h), since a Pi boots with a wrong clock.
//  - A node's certificate, chain and roots come from its credential files
//    and are read again when they change (a change of CA, trust/
//    rotation.h): new connections use them without a restart.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include "core/common/status.h"
#include "core/trust/access.h"
#include "core/trust/credentials.h"
#include "core/trust/pki.h"
#include "core/trust/trust_book.h"

namespace domian::rpc {

// Binary trailing metadata of a call refused because its caller was
// removed: the signed revocation list (trust.proto), so the removed node
// learns why, and can check it.
inline constexpr char kRevocationsTrailer[] = "domian-revocations-bin";

// The server's credentials for `book`'s node; insecure for a plaintext
// node.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const trust::TrustBook& book);
// A server presenting `credentials` (a node's).
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const trust::Credentials& credentials);

// A server the client accepts: `check` sees the subject the server's
// (chain-verified) certificate names.
using ServerCheck = std::function<absl::Status(const trust::Subject&)>;

// A client's credentials: it presents `credentials`' certificate and
// accepts a server whose certificate verifies under their roots and
// passes `check`.
std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const trust::Credentials& credentials,
                                                            ServerCheck check);
// A node's client credentials (its own certificate; servers checked by
// its TrustBook); insecure for a plaintext node.
std::shared_ptr<grpc::ChannelCredentials> NodeClientCredentials(trust::TrustBook& book);

// For a joiner that has no certificate yet: accepts a server only when
// the chain it presents holds a CA whose fingerprint is `pinned` and the
// server's certificate is a node's of `cluster` (any, when empty), signed
// by that CA. Why a
// server was refused is put in *refusal (the handshake's own error says
// little). On success the CA's PEM is in *roots_pem.
struct PinnedServer {
  std::string fingerprint;
  std::string cluster;
  std::shared_ptr<std::string> refusal = std::make_shared<std::string>();
  std::shared_ptr<std::string> roots_pem = std::make_shared<std::string>();
};
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PinnedCredentials(
    const PinnedServer& pinned);

// Who made a call: local over the control socket, else what the TLS
// connection's client certificate says (trust::TrustBook::Identify).
absl::StatusOr<trust::Caller> IdentifyCaller(const grpc::ServerContext& context,
                                             trust::TrustBook& book);

// The subject of the server a finished client call talked to; nullopt
// over plaintext.
std::optional<trust::Subject> ServerSubject(const grpc::ClientContext& context);

}  // namespace domian::rpc
