// The single-use code `domianctl cluster invite` prints and `cluster join`
// reads, after kubeadm's bootstrap tokens and k3s's CA-pinning tokens:
//
//   dj1-<id>-<secret>-<fingerprint>@<member>[,<member>...]
//
//   id           8 characters [a-z2-7]: which invitation (looked up)
//   secret       26 characters: 128 random bits, base32 (RFC 4648,
//                lowercase, no padding): the proof (only its SHA-256 is
//                stored by members)
//   fingerprint  52 characters: SHA-256 of the cluster CA's public key,
//                base32: the joiner refuses a member that does not present
//                a certificate of this CA, before it sends the secret
//   members      up to kMaxCodeMembers host:port of members live when the
//                code was made, to try in order (any one that answers
//                admits the joiner)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace domian::trust {

inline constexpr size_t kInviteIdChars = 8;
inline constexpr size_t kSecretBytes = 16;
inline constexpr size_t kMaxCodeMembers = 4;
inline constexpr size_t kMaxCodeChars = 512;

struct JoinCode {
  std::string id;           // kInviteIdChars of [a-z2-7]
  std::string secret;       // kSecretBytes raw bytes
  std::string fingerprint;  // lowercase hex, 64 characters (as Fingerprint())
  std::vector<std::string> members;  // host:port (IsValidHostPort)
  bool operator==(const JoinCode&) const = default;
};

std::string FormatJoinCode(const JoinCode& code);
// Leading and trailing white space is ignored (a pasted line). Anything
// malformed is INVALID_ARGUMENT naming the part that is wrong, never
// echoing the secret.
absl::StatusOr<JoinCode> ParseJoinCode(std::string_view text);

// A new invitation id: kInviteIdChars random characters of [a-z2-7].
std::string NewInviteId();

// RFC 4648 base32, lowercase, without padding; Decode refuses anything
// else.
std::string Base32Encode(std::string_view bytes);
absl::StatusOr<std::string> Base32Decode(std::string_view text);

}  // namespace domian::trust
