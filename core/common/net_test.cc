// Tests of host:port handling and advertise-address derivation.
#include "core/common/net.h"

#include <gtest/gtest.h>

namespace domian {
namespace {

TEST(SplitHostPort, AcceptsNamesIpv4AndBracketedIpv6) {
  auto v4 = SplitHostPort("192.168.1.20:7420");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "192.168.1.20");
  EXPECT_EQ(v4->port, 7420);
  auto v6 = SplitHostPort("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 80);
  auto name = SplitHostPort("pi-hall.local:0");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "pi-hall.local");
  EXPECT_EQ(name->port, 0);
}

TEST(SplitHostPort, RefusesMalformedAddresses) {
  for (const char* bad : {"", "host", "host:", ":", "host:65536", "host:-1", "host:12a", "::1:80",
                          "[::1]80", "[::1"}) {
    EXPECT_FALSE(SplitHostPort(bad)) << bad;
  }
}

TEST(JoinHostPort, BracketsIpv6) {
  EXPECT_EQ(JoinHostPort("::1", 7420), "[::1]:7420");
  EXPECT_EQ(JoinHostPort("10.0.0.1", 7420), "10.0.0.1:7420");
}

TEST(IsWildcardHost, EverySpellingOfTheUnspecifiedAddress) {
  for (const char* wildcard : {"", "0.0.0.0", "::", "[::]", "0:0::0", "[0:0:0:0:0:0:0:0]", "::0"}) {
    EXPECT_TRUE(IsWildcardHost(wildcard)) << wildcard;
  }
  for (const char* specific : {"0.0.0.1", "::1", "[::1]", "localhost",
                               "00.0.0.0", "[]x", "0"}) {
    EXPECT_FALSE(IsWildcardHost(specific)) << specific;
  }
}

TEST(DeriveAdvertiseAddress, KeepsASpecificListenHost) {
  EXPECT_EQ(DeriveAdvertiseAddress("127.0.0.5", 9000), "127.0.0.5:9000");
  EXPECT_EQ(DeriveAdvertiseAddress("::1", 9000), "[::1]:9000");
}

TEST(DeriveAdvertiseAddress, ReplacesTheWildcardWithAUsableAddress) {
  for (const char* wildcard : {"0.0.0.0", "::", ""}) {
    const std::string derived = DeriveAdvertiseAddress(wildcard, 9000);
    auto parsed = SplitHostPort(derived);
    ASSERT_TRUE(parsed) << derived;
    EXPECT_FALSE(IsWildcardHost(parsed->host)) << derived;
    EXPECT_EQ(parsed->port, 9000);
  }
}

TEST(ReachableEndpoint, AWildcardHostBecomesTheNodesHost) {
  EXPECT_EQ(ReachableEndpoint("0.0.0.0:8080", "192.168.1.20:7420"), "192.168.1.20:8080");
  EXPECT_EQ(ReachableEndpoint("[::]:8080", "192.168.1.20:7420"), "192.168.1.20:8080");
  EXPECT_EQ(ReachableEndpoint("[::]:8080", "[fd00::7]:7420"), "[fd00::7]:8080");
  // Listening on IPv4 only: not reachable at the node's IPv6 address.
  EXPECT_EQ(ReachableEndpoint("0.0.0.0:8080", "[fd00::7]:7420"), "0.0.0.0:8080");
  // A specific host, or something that is not host:port, is left alone.
  EXPECT_EQ(ReachableEndpoint("127.0.0.1:8080", "192.168.1.20:7420"), "127.0.0.1:8080");
  EXPECT_EQ(ReachableEndpoint("http://cam.local/stream", "192.168.1.20:7420"), "http://cam.local/stream");
  EXPECT_EQ(ReachableEndpoint("0.0.0.0:8080", ""), "0.0.0.0:8080") << "the node's address not known yet";
}


TEST(UndialableHintReason, DialsOnlyUnicastLiteralsOfThisNodesFamilyAndScope) {
  const std::string lan = "192.168.1.20:7420";
  EXPECT_EQ(UndialableHintReason("192.168.1.21:7420", lan), "");
  EXPECT_EQ(UndialableHintReason("10.0.0.7:7420", lan), "");
  EXPECT_EQ(UndialableHintReason("[2001:db8::7]:7420", "[2001:db8::1]:7420"), "");
  EXPECT_EQ(UndialableHintReason("127.0.0.1:7421", "127.0.0.1:7420"), "");
  EXPECT_EQ(UndialableHintReason("127.0.0.2:7421", "127.0.0.1:7420"), "");
  EXPECT_EQ(UndialableHintReason("127.0.0.1:7421", "[::1]:7420"), "") << "one machine";
  // An IPv4-mapped IPv6 literal is judged as the IPv4 address it is.
  EXPECT_EQ(UndialableHintReason("[::ffff:192.168.1.9]:7420", lan), "");

  EXPECT_NE(UndialableHintReason("pi-kitchen.local:7420", lan).find("host names"),
            std::string::npos);
  EXPECT_NE(UndialableHintReason("127.0.0.1:6379", lan).find("loopback"), std::string::npos);
  EXPECT_NE(UndialableHintReason("[::ffff:127.0.0.1]:6379", lan).find("loopback"),
            std::string::npos);
  EXPECT_NE(UndialableHintReason("192.168.1.21:7420", "127.0.0.1:7420").find("loopback"),
            std::string::npos);
  EXPECT_NE(UndialableHintReason("[2001:db8::7]:7420", lan).find("IPv6"), std::string::npos);
  EXPECT_NE(UndialableHintReason("[fe80::1%eth0]:7420", "[2001:db8::1]:7420").find("link-local"),
            std::string::npos);
  EXPECT_NE(UndialableHintReason("169.254.3.4:7420", lan).find("link-local"), std::string::npos);
  for (const char* never : {"0.0.0.0:7420", "255.255.255.255:7420", "224.0.0.251:5353",
                            "[::]:7420", "[ff02::fb]:5353"}) {
    EXPECT_NE(UndialableHintReason(never, lan), "") << never;
  }
  EXPECT_EQ(UndialableHintReason("192.168.1.21:0", lan), "port 0");
  EXPECT_EQ(UndialableHintReason("192.168.1.21", lan), "not host:port");
  // A node that advertises a name: any unicast literal off loopback.
  EXPECT_EQ(UndialableHintReason("192.168.1.21:7420", "pi-hall.lan:7420"), "");
  EXPECT_NE(UndialableHintReason("127.0.0.1:7420", "pi-hall.lan:7420"), "");
}

TEST(UndialableClaimReason, ANodesOwnHostNameIsItsBusinessItsLiteralsAreChecked) {
  const std::string lan = "192.168.1.20:7420";
  EXPECT_EQ(UndialableClaimReason("pi-kitchen.lan:7420", lan), "");
  EXPECT_EQ(UndialableClaimReason("192.168.1.21:7420", lan), "");
  EXPECT_NE(UndialableClaimReason("127.0.0.1:6379", lan), "");
  EXPECT_NE(UndialableClaimReason("pi-kitchen.lan:0", lan), "");
}

}  // namespace
}  // namespace domian
