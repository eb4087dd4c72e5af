// Channels: the node's one cache of gRPC channels to other nodes, by
// address. Heartbeats and service calls to a node use channels of their
// own (each its own connection): a forwarded call or a hand-over may take
// tens of seconds, and must not take the streams a peer's server allows
// one connection (server_limits.h) from the heartbeats that keep this
// node alive in its eyes. Forget drops both when membership forgets the
// address, so a dead peer's channels stop reconnecting. Only a few
// connections are opened at once (kMaxConnectionsOpening): membership asks
// before it calls an address that has none. Thread-safe: every method
// takes mu_, a leaf lock (held around the map and gRPC's channel calls,
// never around a call of domian's).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

// Reconnect quickly to a peer that comes back: gRPC's default backoff
// (1 s growing to 120 s) would leave a restarted peer unreachable from us
// for minutes. Heartbeats carry their own deadline, so no retries.
inline constexpr int kReconnectBackoffMinMs = 100;
inline constexpr int kReconnectBackoffMaxMs = 1000;
// How long one connection attempt (TCP and the HTTP/2 handshake) may
// take. gRPC reads this from GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, so it must
// not follow the 100 ms backoff: a busy peer that takes longer to finish
// its handshake would see every attempt abandoned and replaced by a new
// socket, while it holds the abandoned ones until its handshake timeout.
// A cluster under load then drowns in connections (thousands per daemon
// were seen with 200 daemons on two cores).
inline constexpr int kConnectTimeoutMs = 2000;
// How many connections one node opens at once. Over mutual TLS a new
// connection costs each side a handshake and the client an SSL_CTX of its
// own (gRPC 1.51 builds one per subchannel), several milliseconds of CPU.
// When every node of a cluster started at once opens one to every peer it
// hears of, the handshakes share the CPU until hardly any finishes within
// kConnectTimeoutMs; gRPC abandons them and starts again, and the same
// work is done over and over (measured: 50 nodes on two cores made 4120
// client handshakes for the 2450 connections needed in 20 s, and did not
// converge in 60 s). Opened two at a time, each finishes well within the
// timeout and no handshake is wasted, and the rest follow at the next
// heartbeats; even in plaintext a cluster converges sooner without the
// burst. Two rather than one, so that a connection that hangs (a peer
// behind a partition) does not hold up every other one. Calls over
// connections already open are never held back.
inline constexpr size_t kMaxConnectionsOpening = 2;
// A server gives a connection this long to complete its handshake before
// closing it (gRPC's default is 120 s), so that sockets clients gave up
// on are not held for minutes.
inline constexpr int kServerHandshakeTimeoutMs = 5000;

// Channel arguments shared by the daemon and domianctl.
grpc::ChannelArguments DomainChannelArguments();

class Channels {
 public:
  // Every channel uses `credentials` (the node's TLS client credentials,
  // or insecure ones on a plaintext node).
  explicit Channels(std::shared_ptr<grpc::ChannelCredentials> credentials)
      : credentials_(std::move(credentials)) {}

  enum class Purpose {
    kMembership,    // ShareIdentityList: small, five times a second
    kServiceCalls,  // forwarded Invoke and HandOver: long
  };

  // The stub for `address`, made on first use.
  std::shared_ptr<v1::Domain::Stub> Stub(const std::string& address, Purpose purpose);
  // Drops the channels to `address` that are not connected or connecting,
  // so that a dead address stops costing reconnects; calls in flight keep
  // theirs. A channel still in its handshake is kept: over TLS a
  // connection takes longer than a heartbeat's deadline on a busy node,
  // and one dropped and made again for every unanswered heartbeat would
  // never finish its handshake (measured: 30 nodes starting at once made
  // 2841 channels in 10 s and never converged).
  void Forget(const std::string& address);

  // Drops the channels to `address` (or to every address), connected or
  // not, so that the next call makes a new connection: one made before
  // this node changed its certificate still shows the old one, which a
  // peer that no longer trusts the old CA refuses (trust/rotation.h).
  // Calls in flight keep theirs.
  void Renew(const std::string& address);
  void RenewAll();

  // Whether a call to `address` would first have to open a connection:
  // there is no channel to it yet, or its connection was lost. One that
  // is connected or still being opened needs none.
  bool NeedsConnection(const std::string& address, Purpose purpose);
  // How many more connections may be opened now: kMaxConnectionsOpening
  // less those being opened (for any purpose).
  size_t ConnectionRoom();

 private:
  struct Entry {
    std::shared_ptr<grpc::Channel> channel;
    std::shared_ptr<v1::Domain::Stub> stub;
  };
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Mutex mu_;
  std::map<std::pair<std::string, Purpose>, Entry> stubs_ ABSL_GUARDED_BY(mu_);
  // Counts renewals; a channel argument, so that a renewed channel does
  // not share gRPC's pooled connection with the one it replaces.
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace domian::rpc
