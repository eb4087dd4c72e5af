// What the domain's values are, whoever reads them: node ids, service and
// cluster names, host:port addresses, run modes, weights and versions.
// The configuration loader (core/config) and the checks on what peers send
// (core/membership, core/discovery, core/rpc) apply the same rules from
// here, so a value node.yaml accepts is one the wire accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace domian {

// How much a node wants to run a service (services.<name>.run). Ordered:
// a higher value ranks first when placement picks a node.
//  - always: run it here whenever this node is alive (ranks first).
//  - prefer: run it here rather than on allow nodes (the default for a
//    service written in the file: listing it says "here, please").
//  - allow:  may run here; a plugin present but not listed counts as this,
//    with weight 0.
//  - never:  never here.
enum class RunMode { kNever = 0, kAllow = 1, kPrefer = 2, kAlways = 3 };
std::optional<RunMode> ParseRunMode(std::string_view text);
std::string_view RunModeName(RunMode mode);

// Weights rank nodes with the same run mode; kept small enough to print.
inline constexpr int64_t kMinWeight = -1000000;
inline constexpr int64_t kMaxWeight = 1000000;

// Checks used by the loader and by the wire validation.
bool IsValidNodeId(std::string_view id);        // [A-Za-z0-9._-], 1..64
bool IsValidServiceName(std::string_view name); // [a-z0-9_-], 1..63, not starting with '-'
bool IsValidClusterName(std::string_view name); // [a-z0-9-], 1..63, not starting with '-'
// host:port with a port 0..65535; host a name, an IPv4 or a [bracketed] IPv6.
bool IsValidHostPort(std::string_view address);

// A validated "host:port": the split of SplitHostPort plus what the host
// was written as.
struct ParsedAddress {
  std::string host;  // brackets of an IPv6 host removed
  uint16_t port = 0;
  bool is_ipv6 = false;
};

// The address IsValidHostPort accepts, split; nullopt for one it refuses.
// Whether its host is the unspecified address is IsWildcardHost's
// (core/common/net.h) to say, for listeners and this check alike.
std::optional<ParsedAddress> ParseAddress(std::string_view address);

// Semantic Versioning 2.0.0 (https://semver.org), e.g. "1.4.0-rc.1+build.7".
bool IsValidSemver(std::string_view version);

}  // namespace domian
