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

// Channel arguments shared by the daemon and domianctl.
grpc::ChannelArguments DomainChannelArguments();

class PeerClient final : public PeerTransport {
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
