// The "host:port" a peer found over mDNS is reached at.
#pragma once

#include <avahi-common/address.h>

#include <cstdint>
#include <string>

namespace domian::discovery {

// IPv4 as "a.b.c.d:port", IPv6 bracketed; an IPv6 link-local address
// only means something on the interface it was seen on, so it carries
// that interface: "[fe80::1%eth0]:port" (gRPC and getaddrinfo read it).
std::string PeerAddress(const AvahiAddress& address, AvahiIfIndex interface, uint16_t port);

}  // namespace domian::discovery
