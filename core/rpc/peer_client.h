// PeerClient: the gRPC side of PeerTransport. One channel per peer
// address, reused for every heartbeat (a new channel costs a connection
// handshake; a reused one ~150 us per call on loopback). Replies are
// handled on the daemon's EventLoop thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <grpcpp/grpcpp.h>

#include "core/membership/membership.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/traffic.h"
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
// A server gives a connection this long to complete its handshake before
// closing it (gRPC's default is 120 s), so that sockets clients gave up
// on are not held for minutes.
inline constexpr int kServerHandshakeTimeoutMs = 5000;

// Channel arguments shared by the daemon and domianctl.
grpc::ChannelArguments DomainChannelArguments();

class PeerClient final : public membership::PeerTransport {
 public:
  PeerClient(EventLoop& loop, TrafficCounters& traffic) : loop_(loop), traffic_(traffic) {}
  void ShareIdentityList(const std::string& address, IdentityListMessage message, Millis deadline,
                         Done done) override;
  void Forget(const std::string& address) override;

 private:
  std::shared_ptr<v1::Domain::Stub> StubFor(const std::string& address);

  EventLoop& loop_;
  TrafficCounters& traffic_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<v1::Domain::Stub>> stubs_;
};

}  // namespace domian::rpc
