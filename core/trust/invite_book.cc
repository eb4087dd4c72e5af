#include "core/trust/invite_book.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/trust/internal/openssl.h"

namespace domian::trust {
namespace {

// A used mark must outlive every copy of the open invitation, on members
// whose clocks are somewhat off and that hear of it late.
constexpr int64_t kUsedMarkGraceSeconds = 3600;
constexpr size_t kSecretSha256Bytes = 32;
// Attempts to make an id not already in the book (40 random bits each:
// one is nearly always enough).
constexpr int kNewIdAttempts = 16;

// How far beyond the longest TTL a peer's invitation may expire: its
// maker's clock may run ahead of this member's by about this much. An
// expiry further off is no invitation any member made; kept, it would
// stay open (and hold a place of kMaxInvites) for years.
constexpr int64_t kMakerClockAheadSeconds = 24 * 3600;

constexpr char kNotValid[] = "the code is not valid";

bool IsInviteIdText(std::string_view id) {
  return id.size() == kInviteIdChars && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
         });
}

bool IsWellFormed(const v1::Invite& invite) {
  return IsInviteIdText(invite.id()) && invite.secret_sha256().size() == kSecretSha256Bytes &&
         ParseRole(invite.role()).ok();
}

// Drops the invitations expiring first (ties: the smaller id) until at
// most kMaxInvites are left, never `keep`. Sorts rather than searching
// once per drop: a peer's list may be long.
void Trim(std::map<std::string, v1::Invite>& invites, std::string_view keep = {}) {
  if (invites.size() <= kMaxInvites) return;
  std::vector<std::pair<int64_t, std::string>> by_expiry;
  by_expiry.reserve(invites.size());
  for (const auto& [id, invite] : invites) {
    if (id != keep) by_expiry.emplace_back(invite.expires_unix(), id);
  }
  size_t excess = std::min(invites.size() - kMaxInvites, by_expiry.size());
  std::partial_sort(by_expiry.begin(), by_expiry.begin() + static_cast<ptrdiff_t>(excess),
                    by_expiry.end());
  for (size_t i = 0; i < excess; ++i) invites.erase(by_expiry[i].second);
}

// What Merge's "anything changed" compares: which invitations are kept,
// and which are used.
std::vector<std::pair<std::string, bool>> Marks(const std::map<std::string, v1::Invite>& invites) {
  std::vector<std::pair<std::string, bool>> marks;
  marks.reserve(invites.size());
  for (const auto& [id, invite] : invites) marks.emplace_back(id, invite.used());
  return marks;
}

}  // namespace

InviteBook::InviteBook(const Clock& clock, std::function<int64_t()> now_unix)
    : clock_(clock), now_unix_(std::move(now_unix)), refilled_at_(clock.Now()) {}

absl::StatusOr<InviteBook::Made> InviteBook::Create(Role role, std::chrono::seconds ttl) {
  if (ttl < kMinInviteTtl || ttl > kMaxInviteTtl) {
    return absl::InvalidArgumentError(
        internal::Concat("an invitation lives between ", kMinInviteTtl.count(), " and ",
                         kMaxInviteTtl.count(), " seconds, not ", ttl.count()));
  }
  Prune();
  if (OpenCount() >= kMaxInvites) {
    return absl::ResourceExhaustedError(internal::Concat(
        kMaxInvites, " invitations are open already; use or let some expire first"));
  }
  std::string id;
  for (int attempt = 0; attempt < kNewIdAttempts && (id.empty() || invites_.contains(id));
       ++attempt) {
    id = NewInviteId();
  }
  if (invites_.contains(id)) return absl::InternalError("cannot find an unused invitation id");

  Made made{
      .id = id, .secret = RandomBytes(kSecretBytes), .expires_unix = now_unix_() + ttl.count()};
  v1::Invite& invite = invites_[id];
  invite.set_id(id);
  invite.set_secret_sha256(internal::Sha256(made.secret));
  invite.set_expires_unix(made.expires_unix);
  invite.set_role(std::string(RoleName(role)));
  Trim(invites_, id);
  return made;
}

absl::StatusOr<Role> InviteBook::Redeem(std::string_view id, std::string_view secret) {
  // A token is taken for every attempt and given back when it succeeds:
  // only failures use the bucket up, and an empty one refuses everything.
  if (!TakeFailureToken()) {
    auto wait =
        std::chrono::ceil<std::chrono::seconds>(refilled_at_ + kFailedRedeemRefill - clock_.Now());
    return absl::ResourceExhaustedError(internal::Concat(
        "too many failed join attempts; try again in ", std::max<int64_t>(1, wait.count()), " s"));
  }
  auto it = IsInviteIdText(id) ? invites_.find(std::string(id)) : invites_.end();
  // An unknown id is compared with a hash too, so that its answer takes
  // as long as a wrong secret's.
  static const std::string kNoHash(kSecretSha256Bytes, '\0');
  const std::string& stored = it != invites_.end() ? it->second.secret_sha256() : kNoHash;
  std::string presented = internal::Sha256(secret);
  bool secret_right = secret.size() == kSecretBytes && stored.size() == presented.size() &&
                      CRYPTO_memcmp(stored.data(), presented.data(), presented.size()) == 0;
  if (it == invites_.end() || !secret_right) return absl::PermissionDeniedError(kNotValid);

  v1::Invite& invite = it->second;
  if (invite.used()) return absl::PermissionDeniedError("the code was already used");
  if (now_unix_() >= invite.expires_unix()) {
    return absl::PermissionDeniedError("the code has expired");
  }
  absl::StatusOr<Role> role = ParseRole(invite.role());
  if (!role.ok()) return absl::PermissionDeniedError(kNotValid);  // Merge keeps none such
  invite.set_used(true);
  failure_tokens_ += 1;
  return role;
}

absl::Status InviteBook::Knock(std::string_view id) {
  if (IsInviteIdText(id) && invites_.contains(std::string(id))) return absl::OkStatus();
  if (!TakeFailureToken()) {
    return absl::ResourceExhaustedError("too many unknown invitations presented");
  }
  return absl::PermissionDeniedError("no such invitation");
}

bool InviteBook::Merge(const google::protobuf::RepeatedPtrField<v1::Invite>& invites) {
  std::vector<std::pair<std::string, bool>> before = Marks(invites_);
  int64_t now = now_unix_();
  for (const v1::Invite& invite : invites) {
    if (!IsWellFormed(invite)) continue;
    // What Prune would drop at once is not taken in, nor what no member
    // could have made.
    if (invite.expires_unix() < now - kUsedMarkGraceSeconds) continue;
    if (invite.expires_unix() > now + kMaxInviteTtl.count() + kMakerClockAheadSeconds) continue;
    auto it = invites_.find(invite.id());
    if (it == invites_.end()) {
      invites_.emplace(invite.id(), invite);
    } else if (invite.used()) {
      // A used mark always wins; nothing else about a known invitation
      // changes.
      it->second.set_used(true);
    }
  }
  Trim(invites_);
  return Marks(invites_) != before;
}

void InviteBook::Prune() {
  int64_t now = now_unix_();
  std::erase_if(invites_, [&](const auto& entry) {
    return entry.second.expires_unix() < now - kUsedMarkGraceSeconds;
  });
}

google::protobuf::RepeatedPtrField<v1::Invite> InviteBook::Snapshot() const {
  google::protobuf::RepeatedPtrField<v1::Invite> snapshot;
  for (const auto& [id, invite] : invites_) *snapshot.Add() = invite;
  return snapshot;
}

size_t InviteBook::OpenCount() const {
  int64_t now = now_unix_();
  return static_cast<size_t>(std::count_if(invites_.begin(), invites_.end(), [&](const auto& e) {
    return !e.second.used() && now < e.second.expires_unix();
  }));
}

// Whole tokens only, refilled_at_ moving by whole refill periods: the
// bucket is exact whatever the clock's resolution, and the wait a refusal
// names is the time to the next token.
bool InviteBook::TakeFailureToken() {
  MonoTime now = clock_.Now();
  if (failure_tokens_ >= kFailedRedeemBurst) {
    // Full: refilling starts with the first token taken.
    refilled_at_ = now;
  } else if (int64_t periods = (now - refilled_at_) / kFailedRedeemRefill; periods > 0) {
    failure_tokens_ =
        std::min<double>(kFailedRedeemBurst, failure_tokens_ + static_cast<double>(periods));
    refilled_at_ =
        failure_tokens_ >= kFailedRedeemBurst ? now : refilled_at_ + periods * kFailedRedeemRefill;
  }
  if (failure_tokens_ < 1) return false;
  failure_tokens_ -= 1;
  return true;
}

}  // namespace domian::trust
