// PeerClient: the gRPC side of PeerTransport. One channel per peer
// address (from Channels), reused for every heartbeat (a new channel costs
// a connection handshake; a reused one ~150 us per call on loopback).
// Replies are handled on the daemon's EventLoop thread.
//
// Each exchange also carries the TrustBook's bulletin digest; a reply
// carrying a bulletin is merged. Over TLS, a reply is taken only from the
// node its certificate names: a reply whose sender is another node is a
// failed exchange.
#pragma once

#include <string>

#include "core/membership/membership.h"
#include "core/rpc/channels.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/traffic.h"
#include "core/trust/trust_book.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

class PeerClient final : public membership::PeerTransport {
 public:
  PeerClient(EventLoop& loop, Channels& channels, TrafficCounters& traffic,
             trust::TrustBook& trust)
      : loop_(loop), channels_(channels), traffic_(traffic), trust_(trust) {}
  void ShareIdentityList(const std::string& address, IdentityListMessage message, Millis deadline,
                         Done done) override;
  void Forget(const std::string& address) override;
  size_t ConnectionRoom() override { return channels_.ConnectionRoom(); }
  bool NeedsConnection(const std::string& address) override {
    return channels_.NeedsConnection(address, Channels::Purpose::kMembership);
  }

 private:
  EventLoop& loop_;
  Channels& channels_;
  TrafficCounters& traffic_;
  trust::TrustBook& trust_;
};

}  // namespace domian::rpc
