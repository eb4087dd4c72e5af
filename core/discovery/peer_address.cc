#include "core/discovery/peer_address.h"

#include <net/if.h>

#include "core/common/net.h"

namespace domian::discovery {
namespace {

bool IsLinkLocalV6(const AvahiIPv6Address& address) {
  return address.address[0] == 0xfe && (address.address[1] & 0xc0) == 0x80;
}

}  // namespace

std::string PeerAddress(const AvahiAddress& address, AvahiIfIndex interface, uint16_t port) {
  char text[AVAHI_ADDRESS_STR_MAX];
  avahi_address_snprint(text, sizeof text, &address);
  std::string host = text;
  if (address.proto == AVAHI_PROTO_INET6 && IsLinkLocalV6(address.data.ipv6) && interface >= 0) {
    char name[IF_NAMESIZE];
    const bool named = ::if_indextoname(static_cast<unsigned>(interface), name) != nullptr;
    host += "%" + (named ? std::string(name) : std::to_string(interface));
  }
  return JoinHostPort(host, port);
}

}  // namespace domian::discovery
