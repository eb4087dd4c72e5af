// host:port handling and the choice of the address peers should use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace domian {

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};

// Splits "host:port", "[v6]:port". Nullopt when malformed.
std::optional<HostPort> SplitHostPort(std::string_view address);
// Joins, bracketing IPv6 literals.
std::string JoinHostPort(std::string_view host, uint16_t port);

// True for a host that means "every interface": empty, or the unspecified
// address of either family however it is spelled (0.0.0.0, ::, [::],
// 0:0::0). Fine to listen on, useless to connect to, so the listener binds
// every interface for it and node.advertise refuses it.
bool IsWildcardHost(std::string_view host);

// The address peers should use when node.advertise is not set: the listen
// host if it is specific, else this machine's first non-loopback IPv4
// address that is up (then IPv6), else 127.0.0.1.
std::string DeriveAdvertiseAddress(std::string_view listen_host, uint16_t port);

// Whether an address a peer passed on second hand (a relayed row, a
// stranger's claim) may be dialled by the node advertising `self_address`.
// Such an address is a hint, not an instruction: dialling whatever a
// message names would let anyone on the LAN make every node connect to
// hosts of its choosing (a local admin port, another network, a name that
// needs a DNS lookup). So only an IP literal with a port is dialled, of the
// same family as this node's own address, and in the same scope: loopback
// (of either family) only from a loopback node, link-local never (its zone is the sender's
// interface, meaningless here), multicast, broadcast and unspecified
// never. A node advertising a host name accepts unicast of either family
// outside loopback. Empty when dialable, else why not.
std::string UndialableHintReason(std::string_view address, std::string_view self_address);
// The same for the address a domain claims for itself when it calls us:
// a host name is its own business there (node.advertise may be one), an
// IP literal is held to the rules above.
std::string UndialableClaimReason(std::string_view address, std::string_view self_address);

// A plugin's published endpoint as others can reach it: a wildcard host
// (the plugin listens on every interface) becomes the host of this node's
// own address: "[::]:8080" (IPv6 and IPv4) always, "0.0.0.0:8080" (IPv4
// only) when that address is IPv4. Anything else is kept as it is.
std::string ReachableEndpoint(std::string_view endpoint, std::string_view node_address);

}  // namespace domian
