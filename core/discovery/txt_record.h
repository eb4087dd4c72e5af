// What a domain says about itself in its DNS-SD TXT record, and how a
// record received from the network is judged.
//
// The record is a hint for finding peers, never a credential: the id it
// names only saves a call to a peer we already know. Whoever answers at
// the advertised address says who it really is in ShareIdentityList.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/common/status.h"

namespace domian::discovery {

// The DNS-SD service type every domain registers and browses for.
inline constexpr char kServiceType[] = "_domian._tcp";
// Layout of the TXT record (RFC 6763 6.7: "txtvers" comes first).
inline constexpr uint32_t kTxtVersion = 1;
// RFC 6763 6.2: a TXT record should fit one mDNS packet; anything larger
// is not from a domain and is not worth parsing.
inline constexpr size_t kMaxTxtBytes = 1300;
// DNS carries each string with a one-byte length.
inline constexpr size_t kMaxTxtEntryBytes = 255;
inline constexpr size_t kMaxTxtEntries = 32;
// A DNS label: the longest instance name Avahi registers.
inline constexpr size_t kMaxInstanceNameBytes = 63;

struct Advertisement {
  std::string id;
  std::string cluster;
  std::string version;
  uint32_t protocol = 0;
  bool operator==(const Advertisement&) const = default;
};

// The TXT strings ("key=value") of `ad`, txtvers first.
std::vector<std::string> EncodeTxt(const Advertisement& ad);

// Reads the TXT strings of a record seen on the network. Keys are
// case-insensitive (RFC 6763 6.4); a key repeated with another value
// spoils the record; unknown keys are ignored so later versions can add
// some. Returns the advertisement, or why the record was not accepted
// (INVALID_ARGUMENT: not a domain's record).
absl::StatusOr<Advertisement> ParseTxt(const std::vector<std::string>& entries);

// The instance name a domain registers first: its id, cut to a DNS label.
std::string InstanceName(const std::string& id);

}  // namespace domian::discovery
