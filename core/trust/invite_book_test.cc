// The open invitations: single use, expiry on the wall clock, the rate
// limit on the monotonic one, and how members' books merge.
#include "core/trust/invite_book.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/trust/internal/openssl.h"
#include "core/trust/join_code.h"

namespace domian::trust {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr int64_t kStartUnix = 1767225600;  // 2026-01-01

class InviteBookTest : public ::testing::Test {
 protected:
  InviteBook NewBook() {
    return InviteBook(clock_, [this] { return wall_; });
  }

  FakeClock clock_;
  int64_t wall_ = kStartUnix;
  InviteBook book_ = NewBook();
};

v1::Invite MakeInvite(std::string id, int64_t expires_unix, bool used = false) {
  v1::Invite invite;
  invite.set_secret_sha256(internal::Sha256(id));
  invite.set_id(std::move(id));
  invite.set_expires_unix(expires_unix);
  invite.set_role("node");
  invite.set_used(used);
  return invite;
}

TEST_F(InviteBookTest, CreatedInvitationIsRedeemedOnce) {
  InviteBook::Made made = book_.Create(Role::kNode, kDefaultInviteTtl).value();
  EXPECT_EQ(made.id.size(), kInviteIdChars);
  EXPECT_EQ(made.secret.size(), kSecretBytes);
  EXPECT_EQ(made.expires_unix, kStartUnix + 3600);
  EXPECT_EQ(book_.OpenCount(), 1u);

  // Only the hash is kept.
  google::protobuf::RepeatedPtrField<v1::Invite> kept = book_.Snapshot();
  ASSERT_EQ(kept.size(), 1);
  EXPECT_EQ(kept[0].id(), made.id);
  EXPECT_EQ(kept[0].secret_sha256(), internal::Sha256(made.secret));
  EXPECT_EQ(kept[0].role(), "node");
  EXPECT_FALSE(kept[0].used());

  EXPECT_EQ(book_.Redeem(made.id, made.secret).value(), Role::kNode);
  EXPECT_EQ(book_.OpenCount(), 0u);
  EXPECT_TRUE(book_.Snapshot()[0].used());

  absl::StatusOr<Role> again = book_.Redeem(made.id, made.secret);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(again.status().message(), HasSubstr("already used"));
}

TEST_F(InviteBookTest, OperatorInvitationGivesTheOperatorRole) {
  InviteBook::Made made = book_.Create(Role::kOperator, kMinInviteTtl).value();
  EXPECT_EQ(book_.Redeem(made.id, made.secret).value(), Role::kOperator);
}

TEST_F(InviteBookTest, ExpiredInvitationIsRefused) {
  InviteBook::Made made = book_.Create(Role::kNode, 60s).value();
  wall_ += 59;
  EXPECT_EQ(book_.OpenCount(), 1u);
  wall_ += 1;
  EXPECT_EQ(book_.OpenCount(), 0u);
  absl::StatusOr<Role> late = book_.Redeem(made.id, made.secret);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(late.status().message(), HasSubstr("expired"));
}

TEST_F(InviteBookTest, WrongSecretAndUnknownIdSayTheSame) {
  InviteBook::Made made = book_.Create(Role::kNode, kDefaultInviteTtl).value();
  std::string wrong = made.secret;
  wrong[0] = static_cast<char>(wrong[0] ^ 1);
  absl::StatusOr<Role> wrong_secret = book_.Redeem(made.id, wrong);
  absl::StatusOr<Role> unknown_id = book_.Redeem("zzzzzzzz", made.secret);
  absl::StatusOr<Role> malformed_id = book_.Redeem("../etc", made.secret);
  absl::StatusOr<Role> short_secret = book_.Redeem(made.id, made.secret.substr(1));
  for (const absl::StatusOr<Role>& refused :
       {wrong_secret, unknown_id, malformed_id, short_secret}) {
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(refused.status().message(), "the code is not valid");
  }
  // The invitation is still there for the right secret.
  EXPECT_TRUE(book_.Redeem(made.id, made.secret).ok());
}

TEST_F(InviteBookTest, FailedAttemptsAreRateLimited) {
  InviteBook::Made made = book_.Create(Role::kNode, kDefaultInviteTtl).value();
  const std::string wrong(kSecretBytes, 'x');
  for (int i = 0; i < kFailedRedeemBurst; ++i) {
    EXPECT_EQ(book_.Redeem(made.id, wrong).status().code(), absl::StatusCode::kPermissionDenied)
        << i;
  }
  // The bucket is empty: even the right secret is refused now.
  absl::StatusOr<Role> limited = book_.Redeem(made.id, made.secret);
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(limited.status().message(),
              HasSubstr("too many failed join attempts; try again in 6 s"));
  clock_.Advance(4s);
  EXPECT_THAT(book_.Redeem(made.id, made.secret).status().message(), HasSubstr("try again in 2 s"));

  // One refill later one attempt is allowed again, and a success does
  // not use the bucket up.
  clock_.Advance(2s);
  EXPECT_EQ(book_.Redeem(made.id, made.secret).value(), Role::kNode);
  InviteBook::Made second = book_.Create(Role::kNode, kDefaultInviteTtl).value();
  EXPECT_EQ(book_.Redeem(second.id, second.secret).value(), Role::kNode);
  // But the next failure empties it again.
  EXPECT_EQ(book_.Redeem(second.id, wrong).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(book_.Redeem(second.id, wrong).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(InviteBookTest, KnockLetsInKnownInvitationsAndCountsGuesses) {
  InviteBook::Made open = book_.Create(Role::kNode, kDefaultInviteTtl).value();
  InviteBook::Made used = book_.Create(Role::kNode, kDefaultInviteTtl).value();
  ASSERT_TRUE(book_.Redeem(used.id, used.secret).ok());
  // Known, open or used: in (Join then says why a used one is refused),
  // as often as the joiner reconnects, without using the bucket.
  for (int i = 0; i < 3 * kFailedRedeemBurst; ++i) {
    EXPECT_TRUE(book_.Knock(open.id).ok());
    EXPECT_TRUE(book_.Knock(used.id).ok());
  }
  // Unknown ids are guesses.
  for (int i = 0; i < kFailedRedeemBurst; ++i) {
    EXPECT_EQ(book_.Knock(NewInviteId()).code(), absl::StatusCode::kPermissionDenied) << i;
  }
  EXPECT_EQ(book_.Knock(NewInviteId()).code(), absl::StatusCode::kResourceExhausted);
  // The bucket is Redeem's too; a known id still gets in, for Join to say
  // why it is refused.
  EXPECT_TRUE(book_.Knock(open.id).ok());
  EXPECT_EQ(book_.Redeem(open.id, open.secret).status().code(),
            absl::StatusCode::kResourceExhausted);
  clock_.Advance(kFailedRedeemRefill);
  EXPECT_EQ(book_.Redeem(open.id, open.secret).value(), Role::kNode);
}

TEST_F(InviteBookTest, RateLimitRefillsToTheBurstOnly) {
  const std::string wrong(kSecretBytes, 'x');
  clock_.Advance(kFailedRedeemRefill * 100);
  for (int i = 0; i < kFailedRedeemBurst; ++i) {
    EXPECT_EQ(book_.Redeem("abcdefgh", wrong).status().code(), absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(book_.Redeem("abcdefgh", wrong).status().code(), absl::StatusCode::kResourceExhausted);
  clock_.Advance(kFailedRedeemRefill * kFailedRedeemBurst);
  for (int i = 0; i < kFailedRedeemBurst; ++i) {
    EXPECT_EQ(book_.Redeem("abcdefgh", wrong).status().code(), absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(book_.Redeem("abcdefgh", wrong).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(InviteBookTest, CreateRefusesABadTtlAndTooManyOpen) {
  EXPECT_EQ(book_.Create(Role::kNode, 59s).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(book_.Create(Role::kNode, kMaxInviteTtl + 1s).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(book_.Create(Role::kNode, kMaxInviteTtl).ok());
  for (size_t i = 1; i < kMaxInvites; ++i) ASSERT_TRUE(book_.Create(Role::kNode, 60s).ok());
  EXPECT_EQ(book_.OpenCount(), kMaxInvites);
  EXPECT_EQ(book_.Create(Role::kNode, 60s).status().code(), absl::StatusCode::kResourceExhausted);
  // Once some expire there is room again, and the book stays bounded.
  wall_ += 60;
  EXPECT_TRUE(book_.Create(Role::kNode, 60s).ok());
  EXPECT_EQ(book_.Snapshot().size(), static_cast<int>(kMaxInvites));
}

TEST_F(InviteBookTest, MergeSpreadsUsedMarksAndNewInvitations) {
  InviteBook::Made made = book_.Create(Role::kNode, kDefaultInviteTtl).value();
  InviteBook peer = NewBook();
  EXPECT_TRUE(peer.Merge(book_.Snapshot()));
  EXPECT_FALSE(peer.Merge(book_.Snapshot()));  // nothing new
  EXPECT_EQ(peer.OpenCount(), 1u);

  // Admitted through the peer: the used mark comes back, and wins.
  EXPECT_EQ(peer.Redeem(made.id, made.secret).value(), Role::kNode);
  EXPECT_TRUE(book_.Merge(peer.Snapshot()));
  EXPECT_EQ(book_.OpenCount(), 0u);
  EXPECT_THAT(book_.Redeem(made.id, made.secret).status().message(), HasSubstr("already used"));
  // An old copy of the open invitation does not undo the mark.
  google::protobuf::RepeatedPtrField<v1::Invite> stale;
  *stale.Add() = MakeInvite(made.id, made.expires_unix);
  stale[0].set_secret_sha256(internal::Sha256(made.secret));
  EXPECT_FALSE(book_.Merge(stale));
  EXPECT_TRUE(book_.Snapshot()[0].used());
}

TEST_F(InviteBookTest, MergeSkipsMalformedEntries) {
  google::protobuf::RepeatedPtrField<v1::Invite> invites;
  *invites.Add() = MakeInvite("abcdefg", kStartUnix + 600);   // 7 characters
  *invites.Add() = MakeInvite("ABCDEFGH", kStartUnix + 600);  // not lowercase
  *invites.Add() = MakeInvite("abcdefg1", kStartUnix + 600);  // '1' is not base32
  *invites.Add() = MakeInvite("abcdefgh", kStartUnix + 600);
  invites.Mutable(3)->set_secret_sha256("short");
  *invites.Add() = MakeInvite("bbcdefgh", kStartUnix + 600);
  invites.Mutable(4)->set_role("admin");
  *invites.Add() = MakeInvite("cbcdefgh", kStartUnix - 7200);  // long expired
  // Expiring years from now: no member made it with a TTL of at most 7
  // days, whatever its clock.
  *invites.Add() = MakeInvite("dbcdefgh", kStartUnix + 10LL * 365 * 24 * 3600);
  *invites.Add() = MakeInvite("good2345", kStartUnix + 600);
  // A maker whose clock runs hours ahead, with the longest TTL.
  *invites.Add() = MakeInvite("ahead234", kStartUnix + kMaxInviteTtl.count() + 6 * 3600);
  EXPECT_TRUE(book_.Merge(invites));
  google::protobuf::RepeatedPtrField<v1::Invite> kept = book_.Snapshot();
  ASSERT_EQ(kept.size(), 2);
  EXPECT_EQ(kept[0].id(), "ahead234");
  EXPECT_EQ(kept[1].id(), "good2345");
}

TEST_F(InviteBookTest, MergeKeepsAtMostMaxInvitesDroppingThoseExpiringFirst) {
  // A peer's list far longer than the bound.
  constexpr int kOffered = 2000;
  google::protobuf::RepeatedPtrField<v1::Invite> invites;
  for (int i = 0; i < kOffered; ++i) {
    // Five bytes are eight base32 characters: a well-formed id.
    std::string index = {0, 0, 0, static_cast<char>(i >> 8), static_cast<char>(i & 0xff)};
    *invites.Add() = MakeInvite(Base32Encode(index), kStartUnix + 600 + i);
  }
  EXPECT_TRUE(book_.Merge(invites));
  google::protobuf::RepeatedPtrField<v1::Invite> kept = book_.Snapshot();
  ASSERT_EQ(kept.size(), static_cast<int>(kMaxInvites));
  for (const v1::Invite& invite : kept) {
    EXPECT_GE(invite.expires_unix(), kStartUnix + 600 + kOffered - static_cast<int>(kMaxInvites));
  }
  // Sorted by id.
  for (int i = 1; i < kept.size(); ++i) EXPECT_LT(kept[i - 1].id(), kept[i].id());
  // Those dropped for room are not taken back from the same list.
  EXPECT_FALSE(book_.Merge(invites));
}

TEST_F(InviteBookTest, PruneDropsWhatExpiredMoreThanAnHourAgo) {
  InviteBook::Made used = book_.Create(Role::kNode, 60s).value();
  ASSERT_TRUE(book_.Redeem(used.id, used.secret).ok());
  InviteBook::Made open = book_.Create(Role::kNode, 120s).value();
  wall_ += 60 + 3600;
  book_.Prune();
  EXPECT_EQ(book_.Snapshot().size(), 2);  // exactly an hour: kept
  wall_ += 1;
  book_.Prune();
  ASSERT_EQ(book_.Snapshot().size(), 1);
  EXPECT_EQ(book_.Snapshot()[0].id(), open.id);
  wall_ += 60;
  book_.Prune();
  EXPECT_EQ(book_.Snapshot().size(), 0);
}

}  // namespace
}  // namespace domian::trust
