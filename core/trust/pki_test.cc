// The cluster's PKI: keys, CSRs, issuing, and RootSet's verification of
// what peers present, including certificates made by hand to look like
// what a broken or hostile issuer would make.
#include "core/trust/pki.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "core/trust/internal/openssl.h"

namespace domian::trust {
namespace {

using internal::GeneralNamesPtr;
using internal::KeyPtr;
using internal::X509Ptr;
using ::testing::HasSubstr;

// 2090-01-01T00:00:00Z: a notBefore no clock reads yet.
constexpr int64_t kYear2090Unix = 3786912000;

Subject Node(std::string name, std::string cluster = "home") {
  return Subject{std::move(cluster), Role::kNode, std::move(name)};
}

// A CA, a key, and a certificate issued for it through a CSR.
struct Holder {
  std::string key_pem;
  std::string cert_pem;
};

Holder IssueFor(const Authority& authority, const Subject& subject) {
  Holder holder;
  holder.key_pem = NewPrivateKey().value();
  std::string csr = NewCsr(holder.key_pem, subject).value();
  holder.cert_pem = Issue(authority, csr, subject).value();
  return holder;
}

KeyPtr ReadKey(const std::string& pem) {
  return std::move(internal::ReadPrivateKey(pem, "key").value());
}

X509Ptr ReadCert(const std::string& pem) {
  return std::move(internal::ReadCertificate(pem, "certificate").value());
}

void AddExtension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  internal::ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  ASSERT_NE(extension, nullptr) << OBJ_nid2sn(nid);
  ASSERT_EQ(X509_add_ext(certificate, extension.get(), -1), 1);
}

// A leaf built with OpenSSL directly, signed by `authority`: what Issue
// would make, but with the subjectAltName `san` in OpenSSL's config syntax
// (none when empty) and `not_before`.
std::string HandMadeLeaf(const Authority& authority, const std::string& san,
                         int64_t not_before = kNotBeforeUnix) {
  X509Ptr ca = ReadCert(authority.cert_pem);
  KeyPtr ca_key = ReadKey(authority.key_pem);
  KeyPtr key = ReadKey(NewPrivateKey().value());
  X509Ptr leaf(X509_new());
  X509_set_version(leaf.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(leaf.get()), 42);
  ASN1_TIME_set(X509_getm_notBefore(leaf.get()), not_before);
  ASN1_TIME_set(X509_getm_notAfter(leaf.get()), kNotAfterUnix);
  X509_NAME_add_entry_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("hand-made"), -1, -1, 0);
  X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca.get()));
  X509_set_pubkey(leaf.get(), key.get());
  AddExtension(leaf.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(leaf.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
  AddExtension(leaf.get(), ca.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  AddExtension(leaf.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  if (!san.empty()) AddExtension(leaf.get(), ca.get(), NID_subject_alt_name, san.c_str());
  EXPECT_GT(X509_sign(leaf.get(), ca_key.get(), EVP_sha256()), 0);
  return internal::CertificatePem(leaf.get()).value();
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = NewAuthority("home").value();
    roots_ = RootSet::Parse(home_.cert_pem).value();
  }

  Authority home_;
  std::shared_ptr<const RootSet> roots_;
};

TEST(RoleTest, NamesAndParses) {
  EXPECT_EQ(RoleName(Role::kNode), "node");
  EXPECT_EQ(RoleName(Role::kOperator), "operator");
  EXPECT_EQ(ParseRole("node").value(), Role::kNode);
  EXPECT_EQ(ParseRole("operator").value(), Role::kOperator);
  EXPECT_EQ(ParseRole("admin").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseRole("").ok());
}

TEST(SubjectUriTest, RoundTrips) {
  Subject node = Node("pi2");
  EXPECT_EQ(SubjectUri(node), "domian://home/node/pi2");
  EXPECT_EQ(ParseSubjectUri("domian://home/node/pi2").value(), node);
  Subject alice{"home", Role::kOperator, "alice"};
  EXPECT_EQ(ParseSubjectUri(SubjectUri(alice)).value(), alice);
  EXPECT_EQ(Describe(node), "node pi2 of cluster home");
  EXPECT_EQ(Describe(alice), "operator alice of cluster home");
}

TEST(SubjectUriTest, RefusesAnythingElse) {
  for (const char* uri :
       {"", "domian://", "domian://home", "domian://home/node", "domian://home/node/",
        "domian://home/admin/pi2", "domian://Home/node/pi2", "domian:///node/pi2",
        "domian://home/node/pi2/x", "domian://home/node/pi 2", "https://home/node/pi2",
        "DOMIAN://home/node/pi2", "domian://home//pi2"}) {
    absl::StatusOr<Subject> subject = ParseSubjectUri(uri);
    EXPECT_EQ(subject.status().code(), absl::StatusCode::kInvalidArgument) << uri;
  }
}

TEST(KeyTest, NewPrivateKeyIsPkcs8P256) {
  std::string pem = NewPrivateKey().value();
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_TRUE(internal::IsP256(ReadKey(pem).get()));
  EXPECT_NE(pem, NewPrivateKey().value());
}

TEST_F(PkiTest, AuthorityIsASelfSignedCaValidForever) {
  X509Ptr ca = ReadCert(home_.cert_pem);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_self_signed(ca.get(), 1), 1);
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  uint32_t usage = X509_get_key_usage(ca.get());
  EXPECT_EQ(usage, static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  std::array<char, 128> cn{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn.data(),
                            static_cast<int>(cn.size()));
  EXPECT_STREQ(cn.data(), "domian home CA");
  // 2000-01-01 (UTCTime) to 9999-12-31 (GeneralizedTime, RFC 5280).
  const ASN1_TIME* not_before = X509_get0_notBefore(ca.get());
  const ASN1_TIME* not_after = X509_get0_notAfter(ca.get());
  EXPECT_EQ(ASN1_STRING_type(not_before), V_ASN1_UTCTIME);
  EXPECT_EQ(ASN1_STRING_type(not_after), V_ASN1_GENERALIZEDTIME);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(not_before, kNotBeforeUnix), 0);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(not_after, kNotAfterUnix), 0);
  EXPECT_TRUE(KeyMatches(home_.key_pem, home_.cert_pem).value());
  // Two CAs of one cluster name are still two CAs.
  EXPECT_NE(Fingerprint(NewAuthority("home")->cert_pem).value(),
            Fingerprint(home_.cert_pem).value());
}

TEST(AuthorityTest, RefusesAnInvalidClusterName) {
  for (const char* cluster : {"", "Home", "-home", "home/x"}) {
    EXPECT_EQ(NewAuthority(cluster).status().code(), absl::StatusCode::kInvalidArgument) << cluster;
  }
  // The longest name still makes a certificate (its CN is cut to fit).
  EXPECT_TRUE(NewAuthority(std::string(63, 'h')).ok());
}

TEST_F(PkiTest, IssuedCertificateIsVerifiedAndNamesOnlyTheSubject) {
  Subject pi2 = Node("pi2");
  Holder holder = IssueFor(home_, pi2);

  absl::StatusOr<PeerCertificate> peer = roots_->Verify(holder.cert_pem, "home");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->subject, pi2);
  EXPECT_EQ(peer->issuer_fingerprint, Fingerprint(home_.cert_pem).value());
  EXPECT_GE(peer->serial.size(), 16u);
  EXPECT_EQ(peer->serial.find_first_not_of("0123456789ABCDEF"), std::string::npos) << peer->serial;
  EXPECT_TRUE(KeyMatches(holder.key_pem, holder.cert_pem).value());

  X509Ptr leaf = ReadCert(holder.cert_pem);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_NE(X509_get0_authority_key_id(leaf.get()), nullptr);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf.get()), kNotAfterUnix), 0);
  // Serials are random: two certificates for one subject differ.
  EXPECT_NE(roots_->Verify(IssueFor(home_, pi2).cert_pem, "home")->serial, peer->serial);
}

TEST_F(PkiTest, IssueWritesItsOwnNamesNotTheCsrs) {
  std::string key = NewPrivateKey().value();
  // The joiner asks to be an operator of another cluster...
  std::string csr = NewCsr(key, Subject{"other", Role::kOperator, "root"}).value();
  // ...and the signer decides.
  std::string cert = Issue(home_, csr, Node("pi3")).value();
  absl::StatusOr<PeerCertificate> peer = roots_->Verify(cert, "home");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->subject, Node("pi3"));
  std::array<char, 128> cn{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ReadCert(cert).get()), NID_commonName, cn.data(),
                            static_cast<int>(cn.size()));
  EXPECT_STREQ(cn.data(), "pi3");
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(ReadCert(cert).get(), NID_subject_alt_name, nullptr, nullptr)));
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(sk_GENERAL_NAME_num(names.get()), 1);
}

TEST_F(PkiTest, IssueRefusesACsrWhoseSignatureIsBroken) {
  std::string key = NewPrivateKey().value();
  std::string csr_pem = NewCsr(key, Node("pi2")).value();
  // Swap in another key without signing again: the signature no longer
  // proves that the sender holds the key the CSR carries.
  internal::BioPtr bio = internal::ReadBio(csr_pem);
  internal::CsrPtr csr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(csr, nullptr);
  KeyPtr other = ReadKey(NewPrivateKey().value());
  ASSERT_EQ(X509_REQ_set_pubkey(csr.get(), other.get()), 1);
  internal::BioPtr out(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(out.get(), csr.get()), 1);
  std::string forged = internal::BioContents(out.get());

  absl::StatusOr<std::string> cert = Issue(home_, forged, Node("pi2"));
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cert.status().message(), HasSubstr("signature does not match its key"));
}

TEST_F(PkiTest, IssueRefusesBadInput) {
  std::string csr = NewCsr(NewPrivateKey().value(), Node("pi2")).value();
  EXPECT_EQ(Issue(home_, "not a csr", Node("pi2")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Issue(home_, std::string(kMaxPemBytes + 1, 'x'), Node("pi2")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Issue(home_, csr, Node("pi 2")).status().code(), absl::StatusCode::kInvalidArgument);
  Authority mixed{home_.cert_pem, NewAuthority("home")->key_pem};
  EXPECT_THAT(Issue(mixed, csr, Node("pi2")).status().message(),
              HasSubstr("not the CA certificate's key"));
  Holder leaf = IssueFor(home_, Node("pi9"));
  EXPECT_THAT(Issue(Authority{leaf.cert_pem, leaf.key_pem}, csr, Node("pi2")).status().message(),
              HasSubstr("not a CA's"));
}

TEST_F(PkiTest, RefusesACertificateOfAnotherCa) {
  Authority other = NewAuthority("home").value();
  Holder holder = IssueFor(other, Node("pi2"));
  absl::StatusOr<PeerCertificate> peer = roots_->Verify(holder.cert_pem, "home");
  EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(peer.status().message(),
              HasSubstr("the certificate is not signed by cluster home's CA"));
}

TEST_F(PkiTest, RefusesACertificateOfAnotherCluster) {
  Holder holder = IssueFor(home_, Node("pi2"));
  // Verified for home first: what is remembered for home is not an
  // answer for other.
  ASSERT_TRUE(roots_->Verify(holder.cert_pem, "home").ok());
  absl::StatusOr<PeerCertificate> peer = roots_->Verify(holder.cert_pem, "other");
  EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(peer.status().message(), HasSubstr("the certificate names cluster home, not other"));
}

TEST_F(PkiTest, RefusesACaCertificatePresentedAsALeaf) {
  absl::StatusOr<PeerCertificate> peer = roots_->Verify(home_.cert_pem, "home");
  EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(peer.status().message(), HasSubstr("is a CA's"));
}

TEST_F(PkiTest, RefusesACertificateWithoutAUriName) {
  for (const char* san : {"", "DNS:kitchen-pi.local", "IP:192.168.1.20",
                          "URI:https://home/node/pi2", "URI:domian://home/admin/pi2"}) {
    absl::StatusOr<PeerCertificate> peer = roots_->Verify(HandMadeLeaf(home_, san), "home");
    EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated) << san;
    EXPECT_THAT(peer.status().message(), HasSubstr("the certificate names no domian identity"))
        << san;
  }
  // The hand-made leaf itself is fine once it names a holder.
  EXPECT_TRUE(roots_->Verify(HandMadeLeaf(home_, "URI:domian://home/node/pi2"), "home").ok());
  absl::StatusOr<PeerCertificate> two = roots_->Verify(
      HandMadeLeaf(home_, "URI:domian://home/node/pi2,URI:domian://home/node/pi3"), "home");
  EXPECT_THAT(two.status().message(), HasSubstr("more than one identity"));
}

TEST_F(PkiTest, DatesAreNotChecked) {
  // Valid from 2090 only: a clock-checking verifier would say "not yet
  // valid" until then.
  std::string leaf = HandMadeLeaf(home_, "URI:domian://home/node/pi2", kYear2090Unix);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notBefore(ReadCert(leaf).get()), kYear2090Unix), 0);
  absl::StatusOr<PeerCertificate> peer = roots_->Verify(leaf, "home");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->subject, Node("pi2"));
}

TEST_F(PkiTest, RefusesWhatIsNotACertificate) {
  for (const std::string& text : {std::string(), std::string("hello"), NewPrivateKey().value(),
                                  std::string(kMaxPemBytes + 1, 'x')}) {
    EXPECT_EQ(roots_->Verify(text, "home").status().code(), absl::StatusCode::kUnauthenticated);
  }
}

TEST_F(PkiTest, IgnoresTheChainAfterTheLeaf) {
  Holder holder = IssueFor(home_, Node("pi2"));
  EXPECT_TRUE(roots_->Verify(holder.cert_pem + home_.cert_pem, "home").ok());
  // A chain cannot lend a foreign leaf our CA's trust either.
  Authority other = NewAuthority("home").value();
  Holder foreign = IssueFor(other, Node("pi2"));
  EXPECT_FALSE(roots_->Verify(foreign.cert_pem + other.cert_pem, "home").ok());
}

TEST_F(PkiTest, VerifiesWithTwoRootsWhileRotating) {
  Authority next = NewAuthority("home").value();
  std::shared_ptr<const RootSet> both = RootSet::Parse(home_.cert_pem + next.cert_pem).value();
  EXPECT_EQ(both->fingerprints().size(), 2u);
  EXPECT_TRUE(both->Contains(Fingerprint(home_.cert_pem).value()));
  EXPECT_TRUE(both->Contains(Fingerprint(next.cert_pem).value()));
  EXPECT_FALSE(both->Contains(Fingerprint(NewAuthority("home")->cert_pem).value()));
  EXPECT_EQ(SplitBundle(both->pem())->size(), 2u);

  absl::StatusOr<PeerCertificate> old_peer =
      both->Verify(IssueFor(home_, Node("pi1")).cert_pem, "home");
  absl::StatusOr<PeerCertificate> new_peer =
      both->Verify(IssueFor(next, Node("pi2")).cert_pem, "home");
  ASSERT_TRUE(old_peer.ok()) << old_peer.status();
  ASSERT_TRUE(new_peer.ok()) << new_peer.status();
  EXPECT_EQ(old_peer->issuer_fingerprint, Fingerprint(home_.cert_pem).value());
  EXPECT_EQ(new_peer->issuer_fingerprint, Fingerprint(next.cert_pem).value());
}

TEST_F(PkiTest, RootSetRefusesWhatIsNotARootBundle) {
  Holder leaf = IssueFor(home_, Node("pi2"));
  EXPECT_THAT(RootSet::Parse(leaf.cert_pem).status().message(), HasSubstr("not a CA"));
  EXPECT_EQ(RootSet::Parse("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RootSet::Parse("no pem here").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(RootSet::Parse(home_.cert_pem + home_.key_pem).status().message(),
              HasSubstr("only certificates belong"));
  // The same root twice is one root.
  EXPECT_EQ(RootSet::Parse(home_.cert_pem + home_.cert_pem).value()->fingerprints().size(), 1u);
}

TEST_F(PkiTest, SplitBundleGivesEachCertificate) {
  Authority next = NewAuthority("home").value();
  std::vector<std::string> certs =
      SplitBundle("# roots\n" + home_.cert_pem + "\n" + next.cert_pem).value();
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(certs[0], home_.cert_pem);
  EXPECT_EQ(certs[1], next.cert_pem);
  EXPECT_FALSE(SplitBundle(home_.cert_pem + "-----BEGIN CERTIFICATE-----\nAAAA\n").ok());
}

TEST_F(PkiTest, KeyMatches) {
  Holder a = IssueFor(home_, Node("a"));
  Holder b = IssueFor(home_, Node("b"));
  EXPECT_TRUE(KeyMatches(a.key_pem, a.cert_pem).value());
  EXPECT_FALSE(KeyMatches(a.key_pem, b.cert_pem).value());
  EXPECT_FALSE(KeyMatches(home_.key_pem, a.cert_pem).value());
  EXPECT_FALSE(KeyMatches("nonsense", a.cert_pem).ok());
  EXPECT_FALSE(KeyMatches(a.key_pem, "nonsense").ok());
}

TEST_F(PkiTest, FingerprintIsStableHexOfThePublicKey) {
  std::string fingerprint = Fingerprint(home_.cert_pem).value();
  EXPECT_EQ(fingerprint.size(), 64u);
  EXPECT_EQ(fingerprint.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(Fingerprint(home_.cert_pem).value(), fingerprint);
  EXPECT_EQ(roots_->fingerprints(), std::vector<std::string>{fingerprint});

  // The SPKI's hash, as `openssl x509 -pubkey | openssl pkey -pubin
  // -outform DER | sha256sum` prints it.
  X509Ptr ca = ReadCert(home_.cert_pem);
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(X509_get0_pubkey(ca.get()), &der);
  ASSERT_GT(length, 0);
  std::string spki(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  EXPECT_EQ(internal::LowerHex(internal::Sha256(spki)), fingerprint);
  EXPECT_FALSE(Fingerprint("").ok());
}

TEST_F(PkiTest, AnInviteCardNamesItsInvitationAndKey) {
  const std::string key = NewPrivateKey().value();
  const std::string card = NewInviteCard(key, "abcd2345").value();
  absl::StatusOr<InviteCard> read = ReadInviteCard(card);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->invite_id, "abcd2345");
  EXPECT_EQ(read->key_fingerprint, Fingerprint(card).value());
  // Join compares it with the key the CSR asks to certify.
  EXPECT_EQ(CsrKeyFingerprint(NewCsr(key, Node("pi2")).value()).value(), read->key_fingerprint);
  EXPECT_NE(CsrKeyFingerprint(NewCsr(NewPrivateKey().value(), Node("pi2")).value()).value(),
            read->key_fingerprint);
  EXPECT_TRUE(KeyMatches(key, card).value());
  // A card is no certificate of the cluster.
  absl::StatusOr<PeerCertificate> verified = roots_->Verify(card, "home");
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(PkiTest, OnlyACardIsReadAsOne) {
  const std::string key = NewPrivateKey().value();
  // A node's certificate: signed by the CA, not by its own key, and
  // naming a domian:// identity.
  EXPECT_FALSE(ReadInviteCard(IssueFor(home_, Node("pi2")).cert_pem).ok());
  // The CA itself: self-signed, but a CA.
  EXPECT_FALSE(ReadInviteCard(home_.cert_pem).ok());
  // A CA-signed leaf naming an invitation is not self-signed.
  EXPECT_FALSE(ReadInviteCard(HandMadeLeaf(home_, "URI:domian-invite:abcd2345")).ok());
  EXPECT_FALSE(ReadInviteCard("not a certificate").ok());
  EXPECT_FALSE(ReadInviteCard(std::string(kMaxPemBytes + 1, 'x')).ok());
  // Ids are bounded and plain.
  EXPECT_FALSE(NewInviteCard(key, "").ok());
  EXPECT_FALSE(NewInviteCard(key, "abc/def").ok());
  EXPECT_FALSE(NewInviteCard(key, std::string(kMaxCardIdChars + 1, 'a')).ok());
  EXPECT_TRUE(NewInviteCard(key, std::string(kMaxCardIdChars, 'a')).ok());
}

TEST(SignatureTest, SignsAndVerifies) {
  Authority ca = NewAuthority("home").value();
  std::string signature = Sign(ca.key_pem, "revocation list 7").value();
  EXPECT_LE(signature.size(), 72u);
  EXPECT_TRUE(VerifySignature(ca.cert_pem, "revocation list 7", signature));
  EXPECT_FALSE(VerifySignature(ca.cert_pem, "revocation list 8", signature));
  EXPECT_FALSE(VerifySignature(NewAuthority("home")->cert_pem, "revocation list 7", signature));
  std::string flipped = signature;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);
  EXPECT_FALSE(VerifySignature(ca.cert_pem, "revocation list 7", flipped));
  EXPECT_FALSE(VerifySignature(ca.cert_pem, "revocation list 7", ""));
  EXPECT_FALSE(VerifySignature("nonsense", "revocation list 7", signature));
  EXPECT_FALSE(Sign("nonsense", "x").ok());
}

TEST(RandomBytesTest, GivesFreshBytes) {
  EXPECT_EQ(RandomBytes(0), "");
  EXPECT_EQ(RandomBytes(16).size(), 16u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

// Verify runs once per RPC: how fast it is on this machine, the first
// time a certificate is seen and then (remembered).
TEST_F(PkiTest, MeasuresTheRate) {
  // More certificates than RootSet remembers, so that its memory fills
  // and starts afresh along the way.
  constexpr int kDistinct = 300;
  std::vector<std::string> certs;
  for (int i = 0; i < kDistinct; ++i) {
    certs.push_back(IssueFor(home_, Node("pi" + std::to_string(i))).cert_pem);
  }
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kDistinct; ++i) {
    absl::StatusOr<PeerCertificate> peer = roots_->Verify(certs[static_cast<size_t>(i)], "home");
    ASSERT_TRUE(peer.ok()) << peer.status();
    ASSERT_EQ(peer->subject.name, "pi" + std::to_string(i));
  }
  double first_seen =
      kDistinct / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  constexpr auto kMeasureFor = std::chrono::milliseconds(300);
  int count = 0;
  start = std::chrono::steady_clock::now();
  auto elapsed = std::chrono::steady_clock::duration::zero();
  while (elapsed < kMeasureFor) {
    ASSERT_TRUE(roots_->Verify(certs[0], "home").ok());
    ++count;
    elapsed = std::chrono::steady_clock::now() - start;
  }
  double remembered = count / std::chrono::duration<double>(elapsed).count();
  std::printf(
      "RootSet::Verify on one thread: %.0f verifications/s of certificates seen first, "
      "%.0f/s of one seen before\n",
      first_seen, remembered);
  RecordProperty("first_seen_per_second", static_cast<int>(first_seen));
  RecordProperty("remembered_per_second", static_cast<int>(remembered));
}

TEST_F(PkiTest, VerifiesConcurrently) {
  Holder holder = IssueFor(home_, Node("pi2"));
  Holder foreign = IssueFor(NewAuthority("home").value(), Node("pi2"));

  // Many threads on one RootSet: every answer right.
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        if (!roots_->Verify(holder.cert_pem, "home").ok()) ++wrong;
        if (roots_->Verify(foreign.cert_pem, "home").ok()) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace domian::trust
