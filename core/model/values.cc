// The value rules of values.h.
#include "core/model/values.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <regex>
#include <string>

#include "core/common/net.h"

namespace domian {
namespace {

constexpr size_t kMaxNodeIdLength = 64;
constexpr size_t kMaxClusterNameLength = 63;
constexpr size_t kMaxHostPortLength = 255;
constexpr size_t kMaxDnsNameLength = 253;
constexpr size_t kMaxDnsLabelLength = 63;

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAsciiAlnum(char c) {
  return IsAsciiDigit(c) || IsAsciiLower(c) || (c >= 'A' && c <= 'Z');
}

// A dotted quad. inet_pton takes exactly four decimal parts and, in glibc,
// refuses leading zeros: "010.0.0.1" is octal to some resolvers and
// decimal to others, so it is refused rather than guessed.
bool IsValidIpv4(std::string_view host) {
  // inet_pton needs a terminated string.
  const std::string copy(host);
  in_addr address{};
  return inet_pton(AF_INET, copy.c_str(), &address) == 1;
}

bool IsValidIpv6(std::string_view host) {
  // Zone ids ("%eth0") are refused because they mean nothing to another
  // host; inet_pton does not take them.
  const std::string copy(host);
  in6_addr address{};
  return inet_pton(AF_INET6, copy.c_str(), &address) == 1;
}

bool IsValidDnsName(std::string_view host) {
  if (host.empty() || host.size() > kMaxDnsNameLength) return false;
  while (true) {
    const size_t dot = host.find('.');
    const std::string_view label = host.substr(0, dot);
    if (label.empty() || label.size() > kMaxDnsLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsAsciiAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    host.remove_prefix(dot + 1);
  }
}

}  // namespace

std::optional<ParsedAddress> ParseAddress(std::string_view address) {
  if (address.empty() || address.size() > kMaxHostPortLength) {
    return std::nullopt;
  }
  std::optional<HostPort> split = SplitHostPort(address);
  if (!split) return std::nullopt;
  ParsedAddress result{std::move(split->host), split->port, address.front() == '['};
  if (result.is_ipv6) {
    if (!IsValidIpv6(result.host)) return std::nullopt;
    return result;
  }
  // Only digits and dots: meant as an IPv4 address, so "1.2.3" or
  // "1.2.3.256" are errors rather than odd host names.
  const bool numeric =
      !result.host.empty() &&
      std::all_of(result.host.begin(), result.host.end(),
                  [](char c) { return IsAsciiDigit(c) || c == '.'; });
  if (numeric ? !IsValidIpv4(result.host) : !IsValidDnsName(result.host)) {
    return std::nullopt;
  }
  return result;
}

std::optional<RunMode> ParseRunMode(std::string_view text) {
  for (RunMode mode : {RunMode::kNever, RunMode::kAllow, RunMode::kPrefer, RunMode::kAlways}) {
    if (text == RunModeName(mode)) return mode;
  }
  return std::nullopt;
}

std::string_view RunModeName(RunMode mode) {
  switch (mode) {
    case RunMode::kNever: return "never";
    case RunMode::kAllow: return "allow";
    case RunMode::kPrefer: return "prefer";
    case RunMode::kAlways: return "always";
  }
  return "allow";
}

bool IsValidServiceName(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsValidNodeId(std::string_view id) {
  if (id.empty() || id.size() > kMaxNodeIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return IsAsciiAlnum(c) || c == '.' || c == '_' || c == '-';
  });
}

bool IsValidClusterName(std::string_view name) {
  if (name.empty() || name.size() > kMaxClusterNameLength) return false;
  if (name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return IsAsciiLower(c) || IsAsciiDigit(c) || c == '-';
  });
}

bool IsValidHostPort(std::string_view address) {
  return ParseAddress(address).has_value();
}

bool IsValidSemver(std::string_view version) {
  // The regular expression published with the specification.
  static const std::regex kSemver(
      R"(^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*))"
      R"((?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?)"
      R"((?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$)");
  constexpr size_t kMaxVersionBytes = 64;
  if (version.empty() || version.size() > kMaxVersionBytes) return false;
  return std::regex_match(version.begin(), version.end(), kSemver);
}

}  // namespace domian
