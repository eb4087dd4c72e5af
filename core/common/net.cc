// Address parsing and interface discovery (getifaddrs).
#include "core/common/net.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <string>

namespace domian {

std::optional<HostPort> SplitHostPort(std::string_view address) {
  HostPort out;
  std::string_view port_text;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(address.substr(1, close - 1));
    port_text = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(address.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return std::nullopt;  // unbracketed IPv6
    port_text = address.substr(colon + 1);
  }
  // Digits only, at most five: from_chars alone would take "00007420".
  constexpr size_t kMaxPortDigits = 5;
  constexpr unsigned kMaxPort = 65535;
  unsigned value = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (port_text.empty() || port_text.size() > kMaxPortDigits || error != std::errc() ||
      end != port_text.data() + port_text.size() || value > kMaxPort) {
    return std::nullopt;
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string JoinHostPort(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) {
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

bool IsWildcardHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return true;
  // inet_pton needs a terminated string.
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return v4.s_addr == htonl(INADDR_ANY);
  in6_addr v6{};
  return inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&v6);
}

std::string DeriveAdvertiseAddress(std::string_view listen_host, uint16_t port) {
  if (!IsWildcardHost(listen_host)) return JoinHostPort(listen_host, port);
  ifaddrs* raw = nullptr;
  if (getifaddrs(&raw) != 0) return JoinHostPort("127.0.0.1", port);
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> list(raw, &freeifaddrs);
  std::string v6;
  for (const ifaddrs* it = list.get(); it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || (it->ifa_flags & IFF_UP) == 0 ||
        (it->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (it->ifa_addr->sa_family == AF_INET) {
      sockaddr_in v4_addr{};
      std::memcpy(&v4_addr, it->ifa_addr, sizeof v4_addr);
      inet_ntop(AF_INET, &v4_addr.sin_addr, text, sizeof text);
      return JoinHostPort(text, port);
    }
    if (it->ifa_addr->sa_family == AF_INET6 && v6.empty()) {
      sockaddr_in6 v6_addr{};
      std::memcpy(&v6_addr, it->ifa_addr, sizeof v6_addr);
      // Link-local addresses need a zone to be usable; skip them.
      if (IN6_IS_ADDR_LINKLOCAL(&v6_addr.sin6_addr)) continue;
      inet_ntop(AF_INET6, &v6_addr.sin6_addr, text, sizeof text);
      v6 = JoinHostPort(text, port);
    }
  }
  return v6.empty() ? JoinHostPort("127.0.0.1", port) : v6;
}

namespace {

struct IpLiteral {
  int family = AF_UNSPEC;
  in_addr v4{};
  in6_addr v6{};
};

std::optional<IpLiteral> ParseIpLiteral(std::string host) {
  // A zone ("fe80::1%wlan0") only ever follows a link-local address.
  if (const auto zone = host.find('%'); zone != std::string::npos) host.resize(zone);
  IpLiteral ip;
  if (inet_pton(AF_INET, host.c_str(), &ip.v4) == 1) {
    ip.family = AF_INET;
    return ip;
  }
  if (inet_pton(AF_INET6, host.c_str(), &ip.v6) == 1) {
    ip.family = AF_INET6;
    // An IPv4-mapped address is IPv4 in disguise: judge it as one.
    if (IN6_IS_ADDR_V4MAPPED(&ip.v6)) {
      ip.family = AF_INET;
      std::memcpy(&ip.v4, &ip.v6.s6_addr[12], sizeof ip.v4);
    }
    return ip;
  }
  return std::nullopt;
}

enum class Scope { kLoopback, kLinkLocal, kUnicast, kNever };

Scope ScopeOf(const IpLiteral& ip) {
  if (ip.family == AF_INET) {
    const uint32_t a = ntohl(ip.v4.s_addr);
    if ((a >> 24) == 127) return Scope::kLoopback;
    if ((a >> 16) == 0xA9FE) return Scope::kLinkLocal;  // 169.254/16
    if (a == 0 || a == 0xFFFFFFFF || (a >> 28) == 0xE) return Scope::kNever;  // any, bcast, mcast
    return Scope::kUnicast;
  }
  if (IN6_IS_ADDR_LOOPBACK(&ip.v6)) return Scope::kLoopback;
  if (IN6_IS_ADDR_LINKLOCAL(&ip.v6)) return Scope::kLinkLocal;
  if (IN6_IS_ADDR_UNSPECIFIED(&ip.v6) || IN6_IS_ADDR_MULTICAST(&ip.v6)) return Scope::kNever;
  return Scope::kUnicast;
}

}  // namespace

std::string UndialableHintReason(std::string_view address, std::string_view self_address) {
  const auto hint = SplitHostPort(address);
  if (!hint) return "not host:port";
  if (hint->port == 0) return "port 0";
  const auto ip = ParseIpLiteral(hint->host);
  if (!ip) return "not an IP address (host names from peers are not looked up)";
  const Scope scope = ScopeOf(*ip);
  if (scope == Scope::kNever) return "not a unicast address";
  if (scope == Scope::kLinkLocal) return "link-local (its zone is the sender's, not ours)";
  const auto self = SplitHostPort(self_address);
  const auto self_ip = self ? ParseIpLiteral(self->host) : std::nullopt;
  if (!self_ip) {
    return scope == Scope::kLoopback ? "loopback, and this node is not" : "";
  }
  const Scope self_scope = ScopeOf(*self_ip);
  // Loopback is one machine whatever the family: 127.0.0.1 and ::1 both
  // reach it.
  if (ip->family != self_ip->family &&
      !(scope == Scope::kLoopback && self_scope == Scope::kLoopback)) {
    return ip->family == AF_INET ? "IPv4, and this node uses IPv6" : "IPv6, and this node uses IPv4";
  }
  if ((scope == Scope::kLoopback) != (self_scope == Scope::kLoopback)) {
    return scope == Scope::kLoopback ? "loopback, and this node is not" : "off this machine, and this node is on loopback";
  }
  return "";
}

std::string UndialableClaimReason(std::string_view address, std::string_view self_address) {
  const auto claimed = SplitHostPort(address);
  if (claimed && claimed->port != 0 && !ParseIpLiteral(claimed->host)) return "";
  return UndialableHintReason(address, self_address);
}

std::string ReachableEndpoint(std::string_view endpoint, std::string_view node_address) {
  const auto published = SplitHostPort(endpoint);
  const auto node = SplitHostPort(node_address);
  if (!published || !node || !IsWildcardHost(published->host)) return std::string(endpoint);
  const bool ipv4_only = published->host.find(':') == std::string::npos;
  if (ipv4_only && node->host.find(':') != std::string::npos) return std::string(endpoint);
  return JoinHostPort(node->host, published->port);
}

}  // namespace domian
