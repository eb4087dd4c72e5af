// The signed revocation list: made with the CA's key, checked by every
// member against its roots, refused when anything about it is off.
#include "core/trust/revocations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace domian::trust {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1767225600;  // 2026-01-01

Subject Node(std::string name) { return Subject{"home", Role::kNode, std::move(name)}; }
Subject Operator(std::string name) { return Subject{"home", Role::kOperator, std::move(name)}; }

class RevocationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = NewAuthority("home").value();
    roots_ = RootSet::Parse(home_.cert_pem).value();
  }

  Authority home_;
  std::shared_ptr<const RootSet> roots_;
};

TEST_F(RevocationsTest, EmptyListIsNumberZeroAndTravelsWithoutBody) {
  Revocations empty;
  EXPECT_EQ(empty.number(), 0u);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_FALSE(empty.IsRevoked(Node("pi2")));
  EXPECT_TRUE(empty.signed_list().body().empty());
  EXPECT_TRUE(empty.signed_list().signature().empty());

  absl::StatusOr<Revocations> received =
      Revocations::FromSigned(v1::SignedRevocationList(), *roots_, "home");
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->number(), 0u);
  EXPECT_EQ(received->size(), 0u);
}

TEST_F(RevocationsTest, WithThenFromSignedRoundTrips) {
  Revocations one = Revocations().With(Node("pi2"), kNow, home_).value();
  EXPECT_EQ(one.number(), 1u);
  EXPECT_EQ(one.list().cluster(), "home");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.list().revoked(0).role(), "node");
  EXPECT_EQ(one.list().revoked(0).name(), "pi2");
  EXPECT_EQ(one.list().revoked(0).at_unix(), kNow);

  absl::StatusOr<Revocations> received =
      Revocations::FromSigned(one.signed_list(), *roots_, "home");
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->number(), 1u);
  EXPECT_TRUE(received->IsRevoked(Node("pi2")));
  EXPECT_EQ(received->signed_list().SerializeAsString(), one.signed_list().SerializeAsString());
}

TEST_F(RevocationsTest, NumberGrowsAndARepeatOnlyRenumbers) {
  Revocations list;
  list = list.With(Node("pi2"), kNow, home_).value();
  list = list.With(Operator("bob"), kNow + 1, home_).value();
  EXPECT_EQ(list.number(), 2u);
  EXPECT_EQ(list.size(), 2u);
  list = list.With(Node("pi2"), kNow + 2, home_).value();
  EXPECT_EQ(list.number(), 3u);
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(list.list().revoked(0).at_unix(), kNow);  // the first removal stands

  absl::StatusOr<Revocations> received =
      Revocations::FromSigned(list.signed_list(), *roots_, "home");
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->number(), 3u);
}

TEST_F(RevocationsTest, IsRevokedByRoleAndName) {
  Revocations list = Revocations().With(Node("pi2"), kNow, home_).value();
  list = list.With(Operator("bob"), kNow, home_).value();
  EXPECT_TRUE(list.IsRevoked(Node("pi2")));
  EXPECT_TRUE(list.IsRevoked(Operator("bob")));
  EXPECT_FALSE(list.IsRevoked(Operator("pi2")));
  EXPECT_FALSE(list.IsRevoked(Node("bob")));
  EXPECT_FALSE(list.IsRevoked(Node("pi3")));
  EXPECT_FALSE(list.IsRevoked(Node("PI2")));
}

TEST_F(RevocationsTest, RefusesATamperedBody) {
  Revocations list = Revocations().With(Node("pi2"), kNow, home_).value();
  v1::RevocationList body = list.list();
  body.mutable_revoked(0)->set_name("pi3");
  v1::SignedRevocationList tampered = list.signed_list();
  tampered.set_body(body.SerializeAsString());
  absl::StatusOr<Revocations> received = Revocations::FromSigned(tampered, *roots_, "home");
  EXPECT_EQ(received.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(received.status().message(), HasSubstr("not signed by cluster home's CA"));

  tampered = list.signed_list();
  tampered.clear_signature();
  EXPECT_EQ(Revocations::FromSigned(tampered, *roots_, "home").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(RevocationsTest, RefusesAListSignedByAnotherCa) {
  Authority other = NewAuthority("home").value();
  Revocations list = Revocations().With(Node("pi2"), kNow, other).value();
  absl::StatusOr<Revocations> received =
      Revocations::FromSigned(list.signed_list(), *roots_, "home");
  EXPECT_EQ(received.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(received.status().message(), HasSubstr("not signed by cluster home's CA"));
}

TEST_F(RevocationsTest, AcceptsAListOfEitherRootWhileRotating) {
  Authority next = NewAuthority("home").value();
  std::shared_ptr<const RootSet> both = RootSet::Parse(home_.cert_pem + next.cert_pem).value();
  Revocations list = Revocations().With(Node("pi2"), kNow, next).value();
  EXPECT_TRUE(Revocations::FromSigned(list.signed_list(), *both, "home").ok());
}

TEST_F(RevocationsTest, RefusesAListOfAnotherCluster) {
  Revocations list = Revocations().With(Subject{"other", Role::kNode, "pi2"}, kNow, home_).value();
  absl::StatusOr<Revocations> received =
      Revocations::FromSigned(list.signed_list(), *roots_, "home");
  EXPECT_EQ(received.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(received.status().message(), HasSubstr("for cluster other, not home"));

  // A list stays one cluster's.
  EXPECT_EQ(list.With(Node("pi3"), kNow, home_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A body signed by the real CA but breaking the rules (what a buggy
// member could sign) is refused too.
TEST_F(RevocationsTest, RefusesASignedListOutsideTheRules) {
  auto signed_body = [&](const v1::RevocationList& body) {
    v1::SignedRevocationList list;
    list.set_body(body.SerializeAsString());
    list.set_signature(Sign(home_.key_pem, list.body()).value());
    return list;
  };
  v1::RevocationList body;
  body.set_cluster("home");
  body.set_number(1);
  body.add_revoked()->set_role("admin");
  body.mutable_revoked(0)->set_name("pi2");
  EXPECT_THAT(Revocations::FromSigned(signed_body(body), *roots_, "home").status().message(),
              HasSubstr("entry 1"));
  body.mutable_revoked(0)->set_role("node");
  body.mutable_revoked(0)->set_name("pi 2");
  EXPECT_THAT(Revocations::FromSigned(signed_body(body), *roots_, "home").status().message(),
              HasSubstr("entry 1"));
  body.mutable_revoked(0)->set_name("pi2");
  EXPECT_TRUE(Revocations::FromSigned(signed_body(body), *roots_, "home").ok());
  body.set_number(0);
  EXPECT_FALSE(Revocations::FromSigned(signed_body(body), *roots_, "home").ok());
  body.set_number(1);
  for (size_t i = 0; i < kMaxRevoked; ++i) {
    v1::Revoked* entry = body.add_revoked();
    entry->set_role("node");
    entry->set_name("n" + std::to_string(i));
  }
  EXPECT_THAT(Revocations::FromSigned(signed_body(body), *roots_, "home").status().message(),
              HasSubstr("more than 4096"));

  v1::SignedRevocationList huge;
  huge.set_body(std::string(kMaxRevocationListBytes + 1, 'x'));
  huge.set_signature("x");
  EXPECT_EQ(Revocations::FromSigned(huge, *roots_, "home").status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::SignedRevocationList garbage;
  garbage.set_body("\xff\xff\xff");
  garbage.set_signature(Sign(home_.key_pem, garbage.body()).value());
  EXPECT_EQ(Revocations::FromSigned(garbage, *roots_, "home").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RevocationsTest, WithRefusesBadInput) {
  EXPECT_EQ(Revocations().With(Node("pi 2"), kNow, home_).status().code(),
            absl::StatusCode::kInvalidArgument);
  Authority mixed{home_.cert_pem, NewAuthority("home")->key_pem};
  EXPECT_FALSE(Revocations().With(Node("pi2"), kNow, mixed).ok());
}

TEST_F(RevocationsTest, SerializationIsDeterministic) {
  Revocations a = Revocations().With(Node("pi2"), kNow, home_).value();
  Revocations b = Revocations().With(Node("pi2"), kNow, home_).value();
  EXPECT_EQ(a.signed_list().body(), b.signed_list().body());
}

}  // namespace
}  // namespace domian::trust
