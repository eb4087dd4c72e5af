// gRPC's own log lines (gpr_log) into the daemon's log, with its level
// and format, instead of raw lines on stderr.
//
// One message is known and expected, and shown at debug only: a server
// whose certificate names no host logs "No match found for server name"
// for every TLS connection whose client sent the address it dialled as
// the server name (SNI). domian's certificates name identities, never
// hosts (docs/security.md), so there is never a match to find.
//
// One is rationed: "Handshake failed", which gRPC logs as an error for
// every TLS connection that fails its handshake (a stranger without a
// certificate, a scanner, plaintext on the TLS port). Anyone on the LAN
// can make them, so at most one is shown per kHandshakeLogInterval, with
// how many were not.
#pragma once

#include <chrono>

namespace domian::rpc {

inline constexpr std::chrono::seconds kHandshakeLogInterval{10};

// Once, before gRPC starts threads.
void RouteGrpcLogs();

}  // namespace domian::rpc
