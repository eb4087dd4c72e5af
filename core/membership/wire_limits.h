// Checks on identity lists received from the network, applied before any
// of their content touches the peer table: a refused message changes
// nothing.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/common/status.h"
#include "core/membership/probe_message.h"
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
// Rumours one probe or answer may carry. A sender piggybacks at most
// Rumours::kRetellFactor * log10(N) worth of news on each message; 16
// carries every change of a whole household at once (a power cut that
// takes several nodes) and keeps a probe well under a kilobyte.
inline constexpr size_t kMaxRumoursPerMessage = 16;

// Why a message is refused, as the status code the sender gets back
// (gRPC's codes, so the RPC layer answers with the status as it is). A
// refused message changes nothing; OK means accepted.
//   kMalformed:    a field is missing, out of range or not what it says
//   kWrongCluster: the sender belongs to another cluster (a configuration
//                  mistake on one side, not an attack)
//   kTooLarge:     over a limit (one of the above, the message size, the
//                  peer table's size)
//   kSpoofed:      the sender claims an id that is another node's
inline constexpr absl::StatusCode kMalformed = absl::StatusCode::kInvalidArgument;
inline constexpr absl::StatusCode kWrongCluster = absl::StatusCode::kFailedPrecondition;
inline constexpr absl::StatusCode kTooLarge = absl::StatusCode::kResourceExhausted;
inline constexpr absl::StatusCode kSpoofed = absl::StatusCode::kPermissionDenied;

// Whether `code` is one of the refusals above (as opposed to a peer that
// did not answer): worth a warning, since a configuration is wrong
// somewhere.
bool IsRefusal(absl::StatusCode code);

// Validates a whole message for a node of `cluster`. Returns the first
// problem (its message names the offending row and field), or OK when
// every row is well formed.
absl::Status ValidateIdentityList(const IdentityListMessage& message, std::string_view cluster,
                                  const WireLimits& limits);

// The same for a probe, relay request or answer: every id a node id, the
// sender's counters in range, at most kMaxRumoursPerMessage rumours, one
// per member, each well formed (a suspicion names its suspector, an
// address is host:port). A rumour's counters out of range cost only that
// rumour, when it is merged, as a relayed row's do.
absl::Status ValidateProbe(const ProbeMessage& message, std::string_view cluster,
                           const WireLimits& limits);

}  // namespace domian::membership
