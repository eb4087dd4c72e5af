// The value rules: node ids, cluster names, host:port addresses and
// versions, as node.yaml and the wire both apply them.
#include "core/model/values.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace domian {
namespace {

TEST(IsValidNodeIdTest, Accepts) {
  for (const char* id : {"a", "kitchen-pi", "Kitchen_Pi.2", "0", "-", "a.b_c-d",
                         "550e8400-e29b-41d4-a716-446655440000"}) {
    EXPECT_TRUE(IsValidNodeId(id)) << id;
  }
  EXPECT_TRUE(IsValidNodeId(std::string(64, 'x')));
}

TEST(IsValidNodeIdTest, Rejects) {
  for (const char* id : {"", "a b", "a/b", "a:b", "é", "a\n", "a@b", "[x]"}) {
    EXPECT_FALSE(IsValidNodeId(id)) << id;
  }
  EXPECT_FALSE(IsValidNodeId(std::string(65, 'x')));
  EXPECT_FALSE(IsValidNodeId(std::string_view("a\0b", 3)));
}

TEST(IsValidClusterNameTest, Accepts) {
  for (const char* name : {"home", "a", "0", "home-2", "a-", "my-house-42"}) {
    EXPECT_TRUE(IsValidClusterName(name)) << name;
  }
  EXPECT_TRUE(IsValidClusterName(std::string(63, 'x')));
}

TEST(IsValidClusterNameTest, Rejects) {
  for (const char* name :
       {"", "-home", "Home", "home_2", "home.lan", "ho me", "hôme"}) {
    EXPECT_FALSE(IsValidClusterName(name)) << name;
  }
  EXPECT_FALSE(IsValidClusterName(std::string(64, 'x')));
}

TEST(IsValidHostPortTest, Accepts) {
  for (const char* address :
       {"0.0.0.0:7420", "192.168.1.20:7420", "255.255.255.255:65535",
        "127.0.0.1:0", "localhost:1", "kitchen-pi.local:7420", "a:7420",
        "hub.example.com:443", "3com.example:80", "host.123:80", "[::1]:7420",
        "[::]:0", "[fd00::10]:7420", "[2001:db8::1:2:3:4]:80",
        "[::ffff:192.168.1.1]:7420", "x:07420"}) {
    EXPECT_TRUE(IsValidHostPort(address)) << address;
  }
  // 63-character labels, a 253-character name, 255 characters in all.
  EXPECT_TRUE(IsValidHostPort(std::string(63, 'a') + ".local:1"));
  const std::string name = std::string(63, 'a') + "." + std::string(63, 'b') +
                           "." + std::string(63, 'c') + "." +
                           std::string(61, 'd');
  ASSERT_EQ(name.size(), 253u);
  EXPECT_TRUE(IsValidHostPort(name + ":1"));
}

TEST(IsValidHostPortTest, Rejects) {
  for (const char* address : {"",
                              ":",
                              ":7420",
                              "host",
                              "host:",
                              "host:port",
                              "host:-1",
                              "host:65536",
                              "host:99999999",
                              "host:+1",
                              "host: 1",
                              " host:1",
                              "host :1",
                              "1.2.3.4",
                              "1.2.3.256:1",
                              "1.2.3:1",
                              "1.2.3.4.5:1",
                              "01.2.3.4:1",
                              "1..2.3:1",
                              "-host:1",
                              "host-:1",
                              "ho_st:1",
                              "a..b:1",
                              ".host:1",
                              "host.:1",
                              "::1:7420",
                              "fd00::10:7420",
                              "[::1]",
                              "[::1]7420",
                              "[::1]:",
                              "[::1:7420",
                              "[fe80::1%eth0]:1",
                              "[1.2.3.4]:1",
                              "[host]:1",
                              "[]:1",
                              "hôst:1",
                              "host:1:2"}) {
    EXPECT_FALSE(IsValidHostPort(address)) << address;
  }
  EXPECT_FALSE(IsValidHostPort(std::string(64, 'a') + ".local:1"));
  const std::string name = std::string(63, 'a') + "." + std::string(63, 'b') +
                           "." + std::string(63, 'c') + "." +
                           std::string(61, 'd');
  EXPECT_FALSE(IsValidHostPort(name + ":10"));  // 256 characters
  EXPECT_FALSE(IsValidHostPort(name + "d:1"));  // 254-character name
}

TEST(IsValidSemver, FollowsTheSpecification) {
  for (const char* good : {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
                           "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0+20130313144700",
                           "1.0.0-beta+exp.sha.5114f85"}) {
    EXPECT_TRUE(IsValidSemver(good)) << good;
  }
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "01.1.1", "1.01.1", "1.2.3-", "1.2.3+",
                          "1.2.3-01", "v1.2.3", " 1.2.3", "1.2.3 ", "1.2.3-alpha..1", "a.b.c"}) {
    EXPECT_FALSE(IsValidSemver(bad)) << bad;
  }
  EXPECT_FALSE(IsValidSemver("1.2.3-" + std::string(100, 'a')));  // over the length cap
}

}  // namespace
}  // namespace domian
