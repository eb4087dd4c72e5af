// Checks on identity lists received from the network, applied before any
// of their content touches the peer table: a refused message changes
// nothing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/identity.h"

namespace domian::membership {

// Caps on what one peer may tell us. Generous for a home (tens of nodes,
// a handful of services each) yet small enough that a hostile or broken
// sender cannot make the daemon grow without bound.
struct WireLimits {
  size_t max_entries = 1024;       // rows in one identity list
  size_t max_services = 64;        // services in one node's ServiceList
  size_t max_names = 64;           // traits or hostable services per node
  size_t max_string_bytes = 256;   // any one string field
  size_t max_offers = 64;          // offers in one identity
  size_t max_config_bytes = 4096;  // one offer's config_json
};

// Largest identity list a node accepts. One at the entry cap with full
// identities is ~200 KiB. Bigger ones are refused with a log line after
// parsing; gRPC itself drops anything over kTransportMessageBytes before
// it is parsed, so no sender can make us hold more than that.
inline constexpr size_t kMaxMessageBytes = 512 * 1024;
inline constexpr size_t kTransportMessageBytes = 4 * 1024 * 1024;

enum class RefusalKind {
  kMalformed,       // gRPC INVALID_ARGUMENT
  kWrongCluster,    // gRPC FAILED_PRECONDITION
  kTooLarge,        // gRPC RESOURCE_EXHAUSTED
  kSpoofed,         // gRPC PERMISSION_DENIED
};

struct Refusal {
  RefusalKind kind;
  std::string message;  // names the offending row and field
};

// Validates a whole message for a node of `cluster`. Returns the first
// problem, or nullopt when every row is well formed.
std::optional<Refusal> ValidateIdentityList(const IdentityListMessage& message,
                                            std::string_view cluster,
                                            const WireLimits& limits);

}  // namespace domian::membership
