// The watchdog's proof that the daemon can be reached: a GetStatus call
// over a connection of its own to the daemon's own listening address.
// Membership answering is not enough: a daemon whose listener is deaf (no
// new connection is accepted) still exchanges heartbeats over the
// connections it already has, so its peers and its membership lock look
// healthy while domianctl and any new peer time out.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

namespace domian::rpc {

// Where the daemon reaches its own port: the listen host, or for a
// wildcard (0.0.0.0, [::]) 127.0.0.1.
std::string ProbeAddress(const std::string& listen, uint16_t bound_port);

// Connects afresh to `address` (never a connection another channel
// shares) with the node's own client credentials (a node may ask a node
// for its status), calls GetStatus with `deadline`, and closes the
// connection. Nullopt when it answered, else what failed.
std::optional<std::string> ProbePort(const std::string& address,
                                     std::chrono::milliseconds deadline,
                                     const std::shared_ptr<grpc::ChannelCredentials>& credentials);

}  // namespace domian::rpc
