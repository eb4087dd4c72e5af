#include "core/discovery/peer_address.h"

#include <gtest/gtest.h>
#include <net/if.h>

namespace domian::discovery {
namespace {

AvahiAddress Parse(const char* text) {
  AvahiAddress address;
  EXPECT_NE(avahi_address_parse(text, AVAHI_PROTO_UNSPEC, &address), nullptr) << text;
  return address;
}

TEST(PeerAddressTest, Ipv4IsHostColonPort) {
  EXPECT_EQ(PeerAddress(Parse("192.168.1.20"), 2, 7420), "192.168.1.20:7420");
}

TEST(PeerAddressTest, GlobalIpv6IsBracketedWithoutInterface) {
  EXPECT_EQ(PeerAddress(Parse("fd00::10"), 2, 7420), "[fd00::10]:7420");
  EXPECT_EQ(PeerAddress(Parse("::1"), 1, 7420), "[::1]:7420");
}

TEST(PeerAddressTest, LinkLocalIpv6CarriesTheInterfaceItWasSeenOn) {
  const unsigned lo = if_nametoindex("lo");
  ASSERT_NE(lo, 0u);
  EXPECT_EQ(PeerAddress(Parse("fe80::1"), static_cast<AvahiIfIndex>(lo), 7420),
            "[fe80::1%lo]:7420");
  EXPECT_EQ(PeerAddress(Parse("febf::1"), static_cast<AvahiIfIndex>(lo), 7420),
            "[febf::1%lo]:7420");
  // An index with no interface (it went away): the number still scopes it.
  EXPECT_EQ(PeerAddress(Parse("fe80::1"), 99999, 7420), "[fe80::1%99999]:7420");
  EXPECT_EQ(PeerAddress(Parse("fec0::1"), static_cast<AvahiIfIndex>(lo), 7420), "[fec0::1]:7420");
}

}  // namespace
}  // namespace domian::discovery
