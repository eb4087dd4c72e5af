// gRPC's TLS, set up the one way domian uses it (gRPC 1.51's experimental
// TLS API; see docs/security.md):
//
//  - A node's server presents its certificate followed by its CA's (so a
//    joiner can check the CA against the join code's pin) and requires a
//    client certificate, checked in the handshake by its door
//    (trust::TrustBook::Door): one of this cluster's, or a joiner's card
//    naming an invitation the node knows (trust/pki.h). A stranger never
//    gets to speak HTTP/2, where gRPC 1.51 would let it make the server
//    hold memory (server_limits.h). Which certificate may make which
//    call is then decided per call (NodeService, trust/access.h), so a
//    removal also holds on a connection that was open before it, and a
//    member's refused call says why.
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

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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

// Whether a client that presented `leaf_pem` in the TLS handshake is let
// on to gRPC (trust::TrustBook::Door); the status says why not, for the
// log (the client is told nothing: its connection closes).
using Door = std::function<absl::Status(std::string_view leaf_pem)>;
// Refused connections are logged at most this often, with a count.
inline constexpr std::chrono::seconds kDoorLogInterval{10};

// The server's credentials for `book`'s node, with its door; insecure for
// a plaintext node.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(trust::TrustBook& book);
// A server presenting `credentials` (a node's). It requires a client
// certificate; `door` decides which it takes (none: any, as a test's
// fake member does).
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const trust::Credentials& credentials,
                                                           Door door = nullptr);

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
// little). On success the CA's PEM is in *roots_pem. The joiner shows its
// card (trust/pki.h: its key, naming the invitation) at the door.
struct PinnedServer {
  std::string fingerprint;
  std::string cluster;
  std::string key_pem;
  std::string card_pem;
  std::shared_ptr<std::string> refusal = std::make_shared<std::string>();
  std::shared_ptr<std::string> roots_pem = std::make_shared<std::string>();
};
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PinnedCredentials(
    const PinnedServer& pinned);

// What gRPC 1.51 says of the peer of a call made over a server's
// InProcessChannel (transport_security_test checks it: a newer gRPC may
// say otherwise).
inline constexpr char kInProcessPeer[] = "unknown";

// Who made a call: local over the control socket or in process (the
// node's own dashboard API), else what the TLS connection's client
// certificate says (trust::TrustBook::Identify).
absl::StatusOr<trust::Caller> IdentifyCaller(const grpc::ServerContext& context,
                                             trust::TrustBook& book);

// The subject of the server a finished client call talked to; nullopt
// over plaintext.
std::optional<trust::Subject> ServerSubject(const grpc::ClientContext& context);

}  // namespace domian::rpc
