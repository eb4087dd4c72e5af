#include "core/web/request_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace domian::web {
namespace {

// A Host header longer than a DNS name and a port is not one.
constexpr size_t kMaxAuthorityBytes = 253 + 1 + 5;
constexpr char kHttpDefaultPort[] = "80";
constexpr char kHttpsDefaultPort[] = "443";

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A port as written ("08380" too), in its plain decimal form.
std::optional<std::string> Port(std::string_view port) {
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (error != std::errc() || end != port.data() + port.size() || value > UINT16_MAX) {
    return std::nullopt;
  }
  return std::to_string(value);
}

bool IsNameCharacter(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

// What a header says, for a message: cut, and without control characters
// (it comes from whoever sent the request).
std::string Shown(std::string_view text) {
  constexpr size_t kShownBytes = 80;
  std::string out;
  for (const char c : text.substr(0, kShownBytes)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return "'" + out + (text.size() > kShownBytes ? "...'" : "'");
}

}  // namespace

std::optional<Authority> ParseAuthority(std::string_view text) {
  if (text.empty() || text.size() > kMaxAuthorityBytes) return std::nullopt;
  Authority authority;
  std::string_view host;
  std::string_view rest;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    in6_addr ipv6{};
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &ipv6) != 1) return std::nullopt;
    authority.ip = true;
  } else {
    const size_t colon = text.find(':');
    host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
    if (host.empty() || !std::all_of(host.begin(), host.end(), IsNameCharacter)) {
      return std::nullopt;
    }
    in_addr ipv4{};
    authority.ip = ::inet_pton(AF_INET, std::string(host).c_str(), &ipv4) == 1;
  }
  if (!rest.empty()) {
    const std::optional<std::string> port =
        rest.front() == ':' ? Port(rest.substr(1)) : std::nullopt;
    if (!port) return std::nullopt;
    authority.port = *port;
  }
  authority.host = Lower(host);
  // A fully qualified name's root dot names the same host.
  if (!authority.ip && authority.host.back() == '.') authority.host.pop_back();
  if (authority.host.empty()) return std::nullopt;
  return authority;
}

AllowedHosts::AllowedHosts(std::string_view hostname, std::vector<std::string> extra)
    : names_(std::move(extra)) {
  names_.push_back("localhost");
  if (!hostname.empty()) {
    names_.push_back(Lower(hostname));
    names_.push_back(Lower(hostname) + ".local");
  }
}

absl::Status AllowedHosts::Check(const char* host_header) const {
  if (host_header == nullptr) {
    return absl::FailedPreconditionError("domiand refuses a request without a Host header");
  }
  const std::optional<Authority> authority = ParseAuthority(host_header);
  if (!authority) {
    return absl::FailedPreconditionError("domiand refuses the Host header " +
                                         Shown(host_header) + ": not a host name or address");
  }
  if (authority->ip || std::find(names_.begin(), names_.end(), authority->host) != names_.end()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "domiand refuses requests for host " + Shown(authority->host) +
      ": it is not a name of this node. If you reach the dashboard by that name, add it to "
      "http.allowed_hosts in node.yaml (a web page must not be able to reach the dashboard "
      "through a name it controls)");
}

absl::Status CheckOrigin(const char* origin_header, const char* host_header) {
  constexpr char kWhy[] =
      " (a change needs the dashboard's own page: a request from another site is refused)";
  if (origin_header == nullptr) {
    return absl::PermissionDeniedError("a request without an Origin header may not change "
                                       "anything" + std::string(kWhy));
  }
  const std::string_view origin(origin_header);
  std::string_view scheme_default;
  std::string_view rest;
  if (origin.starts_with("http://")) {
    scheme_default = kHttpDefaultPort;
    rest = origin.substr(7);
  } else if (origin.starts_with("https://")) {
    scheme_default = kHttpsDefaultPort;  // behind a TLS proxy
    rest = origin.substr(8);
  }
  const std::optional<Authority> from = ParseAuthority(rest);
  const std::optional<Authority> to =
      host_header == nullptr ? std::nullopt : ParseAuthority(host_header);
  if (scheme_default.empty() || !from || !to) {
    return absl::PermissionDeniedError("the Origin " + Shown(origin) +
                                       " is not the dashboard's" + kWhy);
  }
  // A Host without a port came over the Origin's scheme's default port.
  const std::string_view from_port = from->port.empty() ? scheme_default : from->port;
  const std::string_view to_port = to->port.empty() ? scheme_default : to->port;
  if (from->host != to->host || from_port != to_port) {
    return absl::PermissionDeniedError("the Origin " + Shown(origin) +
                                       " is not the dashboard's" + kWhy);
  }
  return absl::OkStatus();
}

}  // namespace domian::web
