// Address parsing and interface discovery (getifaddrs).
#include "core/common/net.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <memory>

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
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
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

std::string ReachableEndpoint(std::string_view endpoint, std::string_view node_address) {
  const auto published = SplitHostPort(endpoint);
  const auto node = SplitHostPort(node_address);
  if (!published || !node || !IsWildcardHost(published->host)) return std::string(endpoint);
  const bool ipv4_only = published->host.find(':') == std::string::npos;
  if (ipv4_only && node->host.find(':') != std::string::npos) return std::string(endpoint);
  return JoinHostPort(node->host, published->port);
}

}  // namespace domian
