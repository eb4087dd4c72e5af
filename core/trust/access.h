// Who may make which call: the one table the server applies before any
// handler sees a request (core/rpc/node_service.cc).
//
//   caller                 may call
//   ---------------------  -------------------------------------------------
//   local (Unix socket)    everything an operator may
//   operator certificate   status, peers, services, explain, plugins,
//                          events, invoke, create-invite, remove, rotate-ca,
//                          create-dashboard-link
//   node certificate       share-identity-list and hand-over (as itself
//                          only: the server compares the sender the message
//                          names with the certificate's), a forwarded
//                          invoke (hops > 0: the router passing on an
//                          operator's call), status and peers (what the
//                          heartbeats tell it anyway)
//   a joiner's card        join (the invitation's secret is the proof);
//                          a card names an invitation the node knows, or
//                          the TLS door let nothing in (pki.h)
//   no certificate         nothing: the TLS door requires one
//   plaintext (dev only)   everything
//
// So a node's certificate, stolen from a Pi, cannot open an invitation,
// remove a member or change the CA, and an operator's cannot forge gossip
// or a hand-over.
#pragma once

#include <optional>
#include <string>

#include "core/common/status.h"
#include "core/trust/pki.h"

namespace domian::trust {

struct Caller {
  enum class Kind {
    kLocal,      // over the control socket (file permissions guard it)
    kPlaintext,  // a development cluster without TLS
    kCertified,  // a verified, unrevoked certificate of this cluster
    kJoiner,     // a joiner's card (pki.h's InviteCard)
  };
  Kind kind = Kind::kJoiner;
  std::optional<Subject> subject;  // kCertified only
  // kJoiner only: the invitation its card names, and its key's
  // fingerprint (Join certifies that key and no other).
  std::string invite_id;
  std::string key_fingerprint;
  // For messages: "operator alice", "node pi2", "a local operator", ...
  std::string Describe() const;
};

enum class Rpc {
  kShareIdentityList,
  kHandOver,
  kForwardedInvoke,
  kInvoke,
  kStatus,
  kPeers,
  kServices,
  kExplain,
  kPlugins,
  kJoin,
  kCreateInvite,
  kRemove,
  kRotateCa,
  kPutState,
  kGetState,
  kWatchEvents,
  kCreateDashboardLink,
};
std::string_view RpcName(Rpc rpc);

// OK, or PERMISSION_DENIED ("node pi2 may not call CreateInvite: an
// operator's call") / UNAUTHENTICATED ("Invoke needs a client
// certificate of this cluster") saying why.
absl::Status Permit(const Caller& caller, Rpc rpc);

// For calls that speak for a node (ShareIdentityList's sender, HandOver's
// from): a certified node may speak only for itself. Others pass
// (Permit already refused what they may not call).
absl::Status CheckSpeaksFor(const Caller& caller, std::string_view node_id);

}  // namespace domian::trust
