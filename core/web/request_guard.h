// The checks every request to the dashboard passes before anything else
// reads it, against the two attacks a web page in the owner's browser can
// make on a server of the LAN:
//
//  - DNS rebinding: a page of evil.example makes its name resolve to the
//    Pi, and reads the dashboard as if it were its own. Its requests name
//    evil.example in Host, so only hosts this node is known by pass
//    (AllowedHosts).
//  - Cross-site request forgery: a page makes the browser POST to the
//    dashboard. The browser says where the page came from in Origin,
//    which must be the dashboard itself (CheckOrigin); the session
//    cookie's SameSite=Strict keeps it home too.
//
// Threads: AllowedHosts is immutable once made; share it freely.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace domian::web {

// A Host header or the authority of an Origin: "pi1.local:8380",
// "192.168.1.20", "[fd00::20]:8380".
struct Authority {
  std::string host;  // lowercase, brackets of an IPv6 literal removed
  std::string port;  // decimal; empty when not given
  bool ip = false;   // an IPv4 or IPv6 literal
};
// Nullopt for anything else (a path, a user, spaces, a bad port).
std::optional<Authority> ParseAuthority(std::string_view text);

class AllowedHosts {
 public:
  // `hostname`: this machine's (gethostname), allowed bare and as
  // NAME.local (mDNS); `extra`: http.allowed_hosts, lowercase. IP
  // literals and localhost are always allowed: no page can rebind them.
  AllowedHosts(std::string_view hostname, std::vector<std::string> extra);

  // OK, or FAILED_PRECONDITION saying why a request with this Host header
  // (null: none) is refused.
  absl::Status Check(const char* host_header) const;

 private:
  std::vector<std::string> names_;
};

// For a request that may change something (anything but GET): OK when
// its Origin header (null: none) names the scheme's host and port of its
// Host header, else PERMISSION_DENIED saying why.
absl::Status CheckOrigin(const char* origin_header, const char* host_header);

}  // namespace domian::web
