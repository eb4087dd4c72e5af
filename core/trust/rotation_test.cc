// Changing a cluster's CA: the signed records (made, checked, numbered),
// two roots at once, and TrustBooks in folders of their own taking a
// change from each other's bulletins as members do over the heartbeats.
#include "core/trust/rotation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/common/clock.h"
#include "core/common/files.h"
#include "core/trust/credentials.h"
#include "core/trust/trust_book.h"

namespace domian::trust {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1767225600;  // 2026-01-01

Subject Node(std::string name) { return Subject{"home", Role::kNode, std::move(name)}; }

// A leaf of `authority` for `subject`, with a key of its own.
std::string LeafOf(const Authority& authority, const Subject& subject) {
  const std::string key = NewPrivateKey().value();
  return Issue(authority, NewCsr(key, subject).value(), subject).value();
}

class RootChangeTest : public ::testing::Test {
 protected:
  Authority old_ = NewAuthority("home").value();
  Authority new_ = NewAuthority("home").value();
};

TEST_F(RootChangeTest, AMemberTakesTheStartThenTheFinish) {
  const v1::SignedRootChange start = MakeRootChangeStart("home", 1, old_, new_).value();
  RootState state{.roots_pem = {old_.cert_pem}, .number = 0};
  absl::StatusOr<std::vector<RootChange>> taken = RootChangesToTake(start, state, "home");
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_FALSE(taken->front().finished);
  EXPECT_EQ(taken->front().number, 1u);
  EXPECT_EQ(taken->front().next.key_pem, new_.key_pem);
  EXPECT_EQ(taken->front().fingerprint, Fingerprint(new_.cert_pem).value());
  EXPECT_EQ(taken->front().previous_fingerprint, Fingerprint(old_.cert_pem).value());

  // Both roots now; the finish is signed by the new CA.
  state = {.roots_pem = {new_.cert_pem, old_.cert_pem}, .number = 1};
  const v1::SignedRootChange finish = MakeRootChangeFinish("home", 2, start, new_).value();
  taken = RootChangesToTake(finish, state, "home");
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_TRUE(taken->front().finished);
  EXPECT_EQ(taken->front().number, 2u);
}

TEST_F(RootChangeTest, AMemberThatMissedTheStartTakesItFromTheFinish) {
  const v1::SignedRootChange start = MakeRootChangeStart("home", 1, old_, new_).value();
  const v1::SignedRootChange finish = MakeRootChangeFinish("home", 2, start, new_).value();
  EXPECT_TRUE(finish.started().ca_key_pem().empty()) << "the key travels once";
  absl::StatusOr<std::vector<RootChange>> taken =
      RootChangesToTake(finish, {.roots_pem = {old_.cert_pem}, .number = 0}, "home");
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 2u);
  EXPECT_FALSE((*taken)[0].finished);
  EXPECT_EQ((*taken)[0].next.key_pem, new_.key_pem);
  EXPECT_TRUE((*taken)[1].finished);
}

TEST_F(RootChangeTest, NumbersOnlyGrow) {
  const v1::SignedRootChange start = MakeRootChangeStart("home", 3, old_, new_).value();
  // Taken already, or an older one: nothing to take, and no error.
  for (uint64_t number : {3u, 4u, 9u}) {
    absl::StatusOr<std::vector<RootChange>> taken =
        RootChangesToTake(start, {.roots_pem = {old_.cert_pem}, .number = number}, "home");
    ASSERT_TRUE(taken.ok()) << taken.status();
    EXPECT_TRUE(taken->empty()) << number;
  }
  // A finish needs a larger number than its start.
  EXPECT_FALSE(MakeRootChangeFinish("home", 3, start, new_).ok());
  // A number far beyond any real one is refused (it would stop all later
  // changes).
  EXPECT_FALSE(MakeRootChangeStart("home", kMaxRootChangeNumber + 1, old_, new_).ok());
}

TEST_F(RootChangeTest, AStartNotSignedByTheNewestTrustedCaIsRefused) {
  // Another CA's start (a stranger, or a replayed change of another
  // cluster with the same name).
  const Authority stranger = NewAuthority("home").value();
  const v1::SignedRootChange forged = MakeRootChangeStart("home", 1, stranger, new_).value();
  absl::StatusOr<std::vector<RootChange>> taken =
      RootChangesToTake(forged, {.roots_pem = {old_.cert_pem}, .number = 0}, "home");
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnauthenticated);

  // The old CA's key (a stolen Pi) cannot start another change once a
  // member took this one: the start must be signed by its newest CA.
  const Authority thief = NewAuthority("home").value();
  const v1::SignedRootChange hijack = MakeRootChangeStart("home", 5, old_, thief).value();
  taken = RootChangesToTake(hijack, {.roots_pem = {new_.cert_pem, old_.cert_pem}, .number = 1},
                            "home");
  ASSERT_FALSE(taken.ok());
  EXPECT_THAT(taken.status().message(), HasSubstr("not the newest this member trusts"));

  // A body changed after signing.
  v1::SignedRootChange tampered = MakeRootChangeStart("home", 1, old_, new_).value();
  v1::RootChange body;
  ASSERT_TRUE(body.ParseFromString(tampered.body()));
  body.set_number(2);
  tampered.set_body(body.SerializeAsString());
  taken = RootChangesToTake(tampered, {.roots_pem = {old_.cert_pem}, .number = 0}, "home");
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(RootChangeTest, AFinishNotSignedByItsCaIsRefused) {
  const v1::SignedRootChange start = MakeRootChangeStart("home", 1, old_, new_).value();
  // Signed by the old CA, claiming to finish the change to the new one.
  v1::SignedRootChange finish = MakeRootChangeFinish("home", 2, start, new_).value();
  finish.set_signature(Sign(old_.key_pem, finish.body()).value());
  absl::StatusOr<std::vector<RootChange>> taken = RootChangesToTake(
      finish, {.roots_pem = {new_.cert_pem, old_.cert_pem}, .number = 1}, "home");
  ASSERT_FALSE(taken.ok());
  EXPECT_THAT(taken.status().message(), HasSubstr("not signed by its CA"));
}

TEST_F(RootChangeTest, MalformedRecordsAreRefusedWithTheReason) {
  const v1::SignedRootChange start = MakeRootChangeStart("home", 1, old_, new_).value();
  const RootState state{.roots_pem = {old_.cert_pem}, .number = 0};

  EXPECT_THAT(RootChangesToTake(start, state, "work").status().message(),
              HasSubstr("for cluster home, not work"));

  v1::SignedRootChange wrong_key = start;
  wrong_key.set_ca_key_pem(old_.key_pem);
  EXPECT_THAT(RootChangesToTake(wrong_key, state, "home").status().message(),
              HasSubstr("key is not the new CA's"));

  // An operator's copy has no key, and is not taken.
  EXPECT_THAT(RootChangesToTake(WithoutKey(start), state, "home").status().message(),
              HasSubstr("no CA key"));

  v1::SignedRootChange huge = start;
  huge.set_ca_key_pem(std::string(kMaxRootChangeBytes, 'x'));
  EXPECT_THAT(RootChangesToTake(huge, state, "home").status().message(),
              HasSubstr("more than"));

  v1::SignedRootChange nested = MakeRootChangeFinish("home", 2, start, new_).value();
  *nested.mutable_started()->mutable_started() = start;
  EXPECT_FALSE(RootChangesToTake(nested, state, "home").ok());
}

TEST_F(RootChangeTest, TwoRootsVerifyLeavesOfEitherAndTheCrossChainsToTheOld) {
  const std::shared_ptr<const RootSet> both =
      RootSet::Parse(new_.cert_pem + old_.cert_pem).value();
  ASSERT_EQ(both->fingerprints().size(), 2u);
  const std::string old_leaf = LeafOf(old_, Node("a"));
  const std::string new_leaf = LeafOf(new_, Node("a"));
  EXPECT_EQ(both->Verify(old_leaf, "home").value().issuer_fingerprint,
            Fingerprint(old_.cert_pem).value());
  EXPECT_EQ(both->Verify(new_leaf, "home").value().issuer_fingerprint,
            Fingerprint(new_.cert_pem).value());
  // Only the new one: the old CA's leaves are refused.
  const std::shared_ptr<const RootSet> only_new = RootSet::Parse(new_.cert_pem).value();
  EXPECT_EQ(only_new->Verify(old_leaf, "home").status().code(),
            absl::StatusCode::kUnauthenticated);

  // The cross certificate: the new CA's key and name, issued by the old.
  const std::string cross = CrossCertify(old_, new_.cert_pem).value();
  EXPECT_EQ(Fingerprint(cross).value(), Fingerprint(new_.cert_pem).value());
  EXPECT_FALSE(RootSet::Parse(cross).ok()) << "not self-signed: never a root";
}

// Members in folders of their own, as nodes keep them.
class TrustBookRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("domian-rotation-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    for (const char* id : {"a", "b"}) {
      const std::string key = NewPrivateKey().value();
      Credentials credentials{.self = Node(id),
                              .roots_pem = old_.cert_pem,
                              .cert_pem = Issue(old_, NewCsr(key, Node(id)).value(), Node(id)).value(),
                              .key_pem = key,
                              .authority = old_};
      ASSERT_TRUE(SaveCredentials(root_ / id, credentials).ok());
    }
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<TrustBook> Open(const std::string& id, int* dropped = nullptr) {
    return std::make_unique<TrustBook>(
        LoadCredentials(root_ / id).value(), root_ / id, clock_, [] { return kNow; },
        [dropped] {
          if (dropped) ++*dropped;
        });
  }

  std::filesystem::path root_;
  FakeClock clock_;
  Authority old_ = NewAuthority("home").value();
};

TEST_F(TrustBookRotationTest, AMemberSwitchesFromAPeersBulletinAndDropsTheOldCaAtTheFinish) {
  std::unique_ptr<TrustBook> a = Open("a");
  int b_dropped = 0;
  std::unique_ptr<TrustBook> b = Open("b", &b_dropped);
  const std::string old_fingerprint = Fingerprint(old_.cert_pem).value();
  const std::string b_old_cert = b->Current()->cert_pem;
  // A node "c" removed before the change, and an old-CA certificate of it.
  ASSERT_TRUE(a->Remove(Role::kNode, "c").ok());
  b->Merge(a->Bulletin(), "a");
  ASSERT_TRUE(b->IsRevoked(Node("c")));

  absl::StatusOr<RotationStep> started = a->StartRotation();
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_FALSE(started->finished);
  EXPECT_THAT(a->StartRotation().status().message(), HasSubstr("under way already"));
  EXPECT_THAT(b->FinishRotation().status().message(), HasSubstr("no change of CA"));

  b->Merge(a->Bulletin(), "a");
  TrustStatus status = b->Status();
  EXPECT_TRUE(status.rotating);
  ASSERT_EQ(status.roots.size(), 2u);
  EXPECT_EQ(status.roots[0], started->ca_fingerprint);
  EXPECT_EQ(status.roots[1], old_fingerprint);
  EXPECT_EQ(status.certificate_ca, started->ca_fingerprint);
  EXPECT_EQ(b->Digest(), a->Digest()) << "one bulletin on both";

  // b's files: loadable, both roots, its new certificate, the new key, and
  // a chain with the cross certificate between its certificate and its CA.
  const Credentials on_disk = LoadCredentials(root_ / "b").value();
  EXPECT_EQ(on_disk.self, Node("b"));
  EXPECT_EQ(on_disk.key_pem, LoadCredentials(root_ / "b").value().key_pem);
  EXPECT_NE(on_disk.cert_pem, b_old_cert);
  EXPECT_EQ(Fingerprint(on_disk.authority->cert_pem).value(), started->ca_fingerprint);
  const std::vector<std::string> chain =
      SplitBundle(ReadBoundedFile(root_ / "b" / kChainFile, 4 * kMaxPemBytes).value()).value();
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0], on_disk.cert_pem);
  EXPECT_FALSE(RootSet::Parse(chain[1]).ok()) << "the cross certificate, not a root";
  EXPECT_EQ(Fingerprint(chain[2]).value(), started->ca_fingerprint);

  // Both CAs' certificates are taken meanwhile; the removed node stays
  // removed; the list carried over is signed by the new CA.
  EXPECT_TRUE(a->Identify(b_old_cert).ok());
  EXPECT_TRUE(a->Identify(on_disk.cert_pem).ok());
  EXPECT_EQ(b->Identify(LeafOf(old_, Node("c"))).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(b->Bulletin().revocations().body().size() > 0);

  // A restart in the middle of the change keeps it.
  b.reset();
  b = Open("b", &b_dropped);
  status = b->Status();
  EXPECT_TRUE(status.rotating);
  EXPECT_EQ(status.roots.size(), 2u);
  EXPECT_EQ(status.root_change_number, 1u);
  EXPECT_TRUE(b->IsRevoked(Node("c")));

  absl::StatusOr<RotationStep> finished = a->FinishRotation();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_TRUE(finished->finished);
  b->Merge(a->Bulletin(), "a");
  status = b->Status();
  EXPECT_FALSE(status.rotating);
  EXPECT_EQ(status.roots, std::vector<std::string>{started->ca_fingerprint});
  EXPECT_EQ(b_dropped, 1) << "connections made with old certificates are made again";
  // The old CA's certificates are refused now, the new ones taken, the
  // removed node still removed.
  EXPECT_EQ(b->Identify(b_old_cert).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(b->Identify(LoadCredentials(root_ / "a").value().cert_pem).ok());
  EXPECT_TRUE(b->IsRevoked(Node("c")));

  // A replayed start changes nothing: numbers only grow.
  v1::TrustBulletin replay;
  *replay.mutable_root_change() = MakeRootChangeStart("home", 1, old_, NewAuthority("home").value()).value();
  b->Merge(replay, "a replayer");
  EXPECT_EQ(b->Status().roots, std::vector<std::string>{started->ca_fingerprint});

  // And after a restart: one root, the revocation list still checks out.
  b.reset();
  b = Open("b");
  status = b->Status();
  EXPECT_EQ(status.roots, std::vector<std::string>{started->ca_fingerprint});
  EXPECT_EQ(status.root_change_number, 2u);
  EXPECT_TRUE(b->IsRevoked(Node("c")));
}

TEST_F(TrustBookRotationTest, AMemberThatSleptThroughTheChangeFollowsTheFinish) {
  std::unique_ptr<TrustBook> a = Open("a");
  std::unique_ptr<TrustBook> b = Open("b");
  ASSERT_TRUE(a->StartRotation().ok());
  absl::StatusOr<RotationStep> finished = a->FinishRotation();
  ASSERT_TRUE(finished.ok()) << finished.status();
  b->Merge(a->Bulletin(), "a");
  const TrustStatus status = b->Status();
  EXPECT_EQ(status.roots, std::vector<std::string>{finished->ca_fingerprint});
  EXPECT_EQ(status.certificate_ca, finished->ca_fingerprint);
  EXPECT_EQ(status.root_change_number, 2u);
}

TEST_F(TrustBookRotationTest, AnOperatorIsAdmittedWithoutTheNewCaKey) {
  std::unique_ptr<TrustBook> a = Open("a");
  ASSERT_TRUE(a->StartRotation().ok());
  const auto made = a->Invite(Role::kOperator, kMinInviteTtl, {"127.0.0.1:1"}).value();
  const JoinCode code = ParseJoinCode(made.first).value();
  const std::string key = NewPrivateKey().value();
  v1::JoinRequest request;
  request.set_invite_id(code.id);
  request.set_secret(code.secret);
  request.set_name("alice");
  request.set_csr_pem(NewCsr(key, {"home", Role::kOperator, "alice"}).value());
  // As a joiner comes: through the door with its card.
  const std::string card = NewInviteCard(key, code.id).value();
  ASSERT_TRUE(a->Door(card).ok());
  const Caller caller = a->Identify(card).value();
  const v1::JoinResponse response = a->Admit(request, caller).value();
  EXPECT_TRUE(response.ca_key_pem().empty());
  ASSERT_TRUE(response.bulletin().has_root_change());
  EXPECT_TRUE(response.bulletin().root_change().ca_key_pem().empty());
  // The code pins the new CA, which the roots given hold.
  EXPECT_EQ(code.fingerprint, a->Status().ca_fingerprint);
  EXPECT_EQ(RootSet::Parse(response.roots_pem()).value()->fingerprints().size(), 2u);
}

}  // namespace
}  // namespace domian::trust
