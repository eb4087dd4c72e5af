// InviteBook: the open invitations to join, as every member keeps them.
// Pure logic on injected clocks; not thread-safe (TrustBook owns one and
// locks it).
//
// An invitation is made by one member and spread with the heartbeats;
// any member can admit the joiner. Members keep only the SHA-256 of the
// secret. An invitation is used once: the admitting member marks it
// used, and the mark spreads (a used mark always wins a merge). Expiry is
// on the wall clock of the member that made it, compared with each
// member's own: an invitation lives for an hour or so, and a member whose
// clock is far off refuses (or admits) a little early or late, never
// longer than the TTL's bound allows.
//
// Guessing: a secret has 128 bits, so the rate limit is about the work a
// flood of attempts costs, and about a log that stays readable: at most
// kFailedRedeemBurst failed attempts, refilled at one per
// kFailedRedeemRefill; past that every attempt is refused at once
// (RESOURCE_EXHAUSTED), right or wrong, until the bucket refills.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/trust/join_code.h"
#include "core/trust/pki.h"
#include "domian/v1/trust.pb.h"

namespace domian::trust {

inline constexpr std::chrono::seconds kMinInviteTtl{60};
inline constexpr std::chrono::seconds kMaxInviteTtl{7 * 24 * 3600};
inline constexpr std::chrono::seconds kDefaultInviteTtl{3600};
// How many invitations (open or used and not yet expired) a member keeps
// and accepts from peers; beyond it the ones expiring first are dropped.
inline constexpr size_t kMaxInvites = 64;
inline constexpr int kFailedRedeemBurst = 10;
inline constexpr std::chrono::seconds kFailedRedeemRefill{6};

class InviteBook {
 public:
  // `now_unix`: the wall clock, seconds since the epoch.
  InviteBook(const Clock& clock, std::function<int64_t()> now_unix);

  struct Made {
    std::string id;
    std::string secret;  // kSecretBytes; given to the operator once, never kept
    int64_t expires_unix = 0;
  };
  // A new invitation. INVALID_ARGUMENT for a ttl outside
  // [kMinInviteTtl, kMaxInviteTtl]; RESOURCE_EXHAUSTED when kMaxInvites
  // open invitations exist.
  absl::StatusOr<Made> Create(Role role, std::chrono::seconds ttl);

  // Uses the invitation `id` with `secret`: its role when the secret is
  // right (compared in constant time), it is not used and not expired;
  // the invitation is then used. PERMISSION_DENIED otherwise, with one
  // message for an unknown id and a wrong secret ("the code is not
  // valid") and its own for "already used" and "expired" (after the
  // secret was checked, so they tell nothing to a guesser);
  // RESOURCE_EXHAUSTED when rate limited.
  absl::StatusOr<Role> Redeem(std::string_view id, std::string_view secret);

  // A joiner's card at the TLS door (pki.h): OK when `id` is an
  // invitation known here, open or not (Redeem then says why a used or
  // expired one is refused, over the connection this lets in). An
  // unknown id is a guess: it takes a token from the bucket Redeem's
  // failures use (PERMISSION_DENIED), and with the bucket empty every
  // unknown id is refused (RESOURCE_EXHAUSTED). So a stranger gets to
  // speak gRPC only with the id of a code it was given.
  absl::Status Knock(std::string_view id);

  // Takes what a peer knows: new invitations, and used marks on ones
  // known here. Malformed entries (an id of the wrong form, a hash not 32
  // bytes, an unknown role) are skipped. Returns true when anything
  // changed.
  bool Merge(const google::protobuf::RepeatedPtrField<v1::Invite>& invites);
  // Drops invitations expired more than an hour ago (a used mark must
  // outlive every copy of the open one).
  void Prune();

  // Everything kept, sorted by id (what travels, and what is stored).
  google::protobuf::RepeatedPtrField<v1::Invite> Snapshot() const;
  size_t OpenCount() const;  // not used and not expired

 private:
  bool TakeFailureToken();

  const Clock& clock_;
  std::function<int64_t()> now_unix_;
  std::map<std::string, v1::Invite> invites_;
  double failure_tokens_ = kFailedRedeemBurst;
  MonoTime refilled_at_;
};

}  // namespace domian::trust
