// Host and Origin: a page of another site may neither read the dashboard
// through a name it rebinds to the node, nor make the browser change
// anything through it.
#include "core/web/request_guard.h"

#include <gtest/gtest.h>

namespace domian::web {
namespace {

TEST(ParseAuthorityTest, HostsPortsAndAddresses) {
  const std::optional<Authority> name = ParseAuthority("Pi1.Local:8380");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "pi1.local");
  EXPECT_EQ(name->port, "8380");
  EXPECT_FALSE(name->ip);
  const std::optional<Authority> v4 = ParseAuthority("192.168.1.20");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->ip);
  EXPECT_EQ(v4->port, "");
  const std::optional<Authority> v6 = ParseAuthority("[FD00::20]:08380");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->ip);
  EXPECT_EQ(v6->host, "fd00::20");
  EXPECT_EQ(v6->port, "8380");
  EXPECT_EQ(ParseAuthority("pi1.local.")->host, "pi1.local");
  for (const char* bad : {"", ":8380", "pi1.local:", "pi1.local:x", "pi1.local:65536",
                          "user@pi1.local", "pi1.local/x", "pi1 local", "[fd00::20", "[pi1]:80",
                          "pi1.local:80:80", "pi1.local\r\nX: y"}) {
    EXPECT_FALSE(ParseAuthority(bad)) << bad;
  }
  EXPECT_FALSE(ParseAuthority(std::string(300, 'a')));
}

class AllowedHostsTest : public ::testing::Test {
 protected:
  AllowedHosts hosts_{"Kitchen", {"dashboard.home.arpa"}};
};

TEST_F(AllowedHostsTest, AddressesLocalhostThisMachineAndTheConfiguredNames) {
  for (const char* host :
       {"127.0.0.1:8380", "192.168.1.20:8380", "[::1]:8380", "localhost:8380", "LOCALHOST",
        "kitchen:8380", "kitchen.local:8380", "Kitchen.Local.", "dashboard.home.arpa"}) {
    EXPECT_TRUE(hosts_.Check(host).ok()) << host;
  }
}

TEST_F(AllowedHostsTest, AnyOtherNameIsARebindingAttempt) {
  const absl::Status refused = hosts_.Check("evil.example:8380");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "domiand refuses requests for host 'evil.example': it is not a name of this node. If "
            "you reach the dashboard by that name, add it to http.allowed_hosts in node.yaml (a "
            "web page must not be able to reach the dashboard through a name it controls)");
  for (const char* host : {"kitchen.evil.example", "localhost.evil.example", "kitchen.lan",
                           "127.0.0.1.nip.io", "dashboard.home.arpa.evil.example"}) {
    EXPECT_FALSE(hosts_.Check(host).ok()) << host;
  }
  EXPECT_EQ(hosts_.Check(nullptr).message(), "domiand refuses a request without a Host header");
  EXPECT_EQ(hosts_.Check("a\x1b[2Jb").message(),
            "domiand refuses the Host header 'a?[2Jb': not a host name or address");
}

TEST(CheckOriginTest, TheDashboardsOwnPageMayChangeThings) {
  EXPECT_TRUE(CheckOrigin("http://pi1.local:8380", "pi1.local:8380").ok());
  EXPECT_TRUE(CheckOrigin("http://PI1.local:8380", "pi1.local:8380").ok());
  EXPECT_TRUE(CheckOrigin("http://192.168.1.20", "192.168.1.20:80").ok());
  EXPECT_TRUE(CheckOrigin("http://192.168.1.20:80", "192.168.1.20").ok());
  // Behind a TLS proxy that passes the Host on.
  EXPECT_TRUE(CheckOrigin("https://dashboard.home.arpa", "dashboard.home.arpa").ok());
}

TEST(CheckOriginTest, AnyOtherPageMayNot) {
  const absl::Status missing = CheckOrigin(nullptr, "pi1.local:8380");
  EXPECT_EQ(missing.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(missing.message(),
            "a request without an Origin header may not change anything (a change needs the "
            "dashboard's own page: a request from another site is refused)");
  for (const char* origin :
       {"http://evil.example", "http://pi1.local:8381", "http://pi1.local",
        "https://pi1.local", "null", "pi1.local:8380", "http://pi1.local:8380/",
        "ftp://pi1.local:8380", "http://user@pi1.local:8380", ""}) {
    const absl::Status refused = CheckOrigin(origin, "pi1.local:8380");
    EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << origin;
  }
  EXPECT_EQ(CheckOrigin("http://evil.example", "pi1.local:8380").message(),
            "the Origin 'http://evil.example' is not the dashboard's (a change needs the "
            "dashboard's own page: a request from another site is refused)");
  EXPECT_FALSE(CheckOrigin("http://pi1.local:8380", nullptr).ok());
}

}  // namespace
}  // namespace domian::web
