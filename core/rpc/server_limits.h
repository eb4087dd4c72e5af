// What the daemon's gRPC server lets its clients make it hold: streams per
// connection, how long a connection lives, gRPC's memory and threads.
// Connections themselves are capped by the Listener (listener.h), and
// service calls by CallLanes (call_lanes.h).
#pragma once

#include <grpcpp/server_builder.h>

#include <chrono>
#include <cstddef>

#include "core/services/isolated_service.h"

namespace domian::rpc {

// Calls one connection may have open at once (HTTP/2
// SETTINGS_MAX_CONCURRENT_STREAMS). A peer's heartbeat connection has one
// or two in flight, domianctl one; forwarded calls travel on connections
// of their own. A stream held open without its request costs the server
// ~15 KB until it ends (measured: 1024 streams on 128 connections, +15
// MiB); with the Listener's connection caps this bounds what slow-loris
// clients can make it hold: one host 32 x 8 streams (~4 MiB), all other
// hosts 128 x 8 (~15 MiB). gRPC 1.51 applies the limit once the client
// acknowledged it (SETTINGS ACK), as every gRPC client does; a raw client
// that never acknowledges is not held to it by this gRPC version
// (grpc/grpc#34638, gRPC 1.60, is). So only those the TLS door lets in
// get to speak HTTP/2 at all (transport_security.h): holders of this
// cluster's certificates and joiners whose card names a known
// invitation. Before the door, a stranger's 1000 unacknowledged streams
// on each of 128 connections took a daemon from 24 to 1557 MiB; a member
// with a bug still could (docs/security.md).
inline constexpr int kMaxStreamsPerConnection = 8;
// A connection without a call for this long is closed (clients reconnect
// when they need to).
inline constexpr std::chrono::minutes kMaxConnectionIdle{5};
// Every connection is closed (GOAWAY) after about this long, and given the
// grace below for its calls to finish: what any stream can hold, even one
// whose request never completes, is released within age + grace.
inline constexpr std::chrono::minutes kMaxConnectionAge{10};
inline constexpr std::chrono::seconds kMaxConnectionAgeGrace =
    services::kCallDeadline + std::chrono::seconds(10);
// The server pings a connection that has been quiet this long, and closes
// it if the ping is not answered in time: a client that vanished (a laptop
// closed mid-call) does not hold its streams until the connection's age.
inline constexpr std::chrono::minutes kKeepaliveTime{1};
inline constexpr std::chrono::seconds kKeepaliveTimeout{20};
// Request headers of one call (gRPC's default, said out loud).
inline constexpr int kMaxMetadataBytes = 8 * 1024;
// gRPC's own memory for this server (read buffers, call arenas). Under
// pressure gRPC sends idle connections away and cancels streams.
inline constexpr size_t kServerMemoryQuotaBytes = 32 * 1024 * 1024;
// Threads gRPC may start for synchronous handlers. The daemon's handlers
// are asynchronous (one EventLoop thread), so this only keeps a future
// synchronous method from bringing gRPC's thread pool with it unbounded.
inline constexpr int kServerMaxThreads = 8;

// Applies the limits above (and the message size caps) to `builder`.
void ApplyServerLimits(grpc::ServerBuilder& builder);

}  // namespace domian::rpc
