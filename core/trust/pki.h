// The cluster's small PKI, on OpenSSL 3: one CA per cluster, one
// certificate per node and per operator, each naming its holder in a URI
// subject alternative name and nothing else:
//
//   domian://<cluster>/node/<node id>
//   domian://<cluster>/operator/<name>
//
// No host names or IP addresses: DHCP and mDNS names change, an identity
// does not. Keys are EC P-256. Certificates are valid from
// kNotBeforeUnix (long before any Pi boots with a wrong clock) to
// kNotAfterUnix: a Pi without a battery-backed clock must never find its
// cluster's certificates "not yet valid" or "expired"; a holder is shut
// out by revocation (revocations.h), never by expiry.
//
// Every function is thread-safe (no shared state); errors are statuses
// whose message says what was wrong with which input.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace domian::trust {

// 2000-01-01T00:00:00Z and 9999-12-31T23:59:59Z (RFC 5280's "no
// well-defined expiration date").
inline constexpr int64_t kNotBeforeUnix = 946684800;
inline constexpr int64_t kNotAfterUnix = 253402300799;
// The longest PEM document (a certificate, a key, a CSR, a bundle of a few
// roots) accepted from a peer, a joiner or a file.
inline constexpr size_t kMaxPemBytes = 16 * 1024;

enum class Role { kNode, kOperator };
std::string_view RoleName(Role role);  // "node" | "operator"
absl::StatusOr<Role> ParseRole(std::string_view name);

// Who a certificate names. `name` follows IsValidNodeId's rules (node ids
// and operator names alike), `cluster` IsValidClusterName's.
struct Subject {
  std::string cluster;
  Role role = Role::kNode;
  std::string name;
  bool operator==(const Subject&) const = default;
};
std::string SubjectUri(const Subject& subject);
// INVALID_ARGUMENT for anything but a well-formed domian:// URI with
// valid names.
absl::StatusOr<Subject> ParseSubjectUri(std::string_view uri);
// "node pi2 of cluster home" / "operator alice of cluster home".
std::string Describe(const Subject& subject);

// A new EC P-256 private key, PKCS#8 PEM.
absl::StatusOr<std::string> NewPrivateKey();

// A cluster's CA: a self-signed certificate (CA:TRUE, keyCertSign and
// cRLSign, subject CN "domian <cluster> CA", cut to RFC 5280's 64
// characters for a long cluster name, a random 128-bit serial) and its
// key, both PEM.
struct Authority {
  std::string cert_pem;
  std::string key_pem;
};
absl::StatusOr<Authority> NewAuthority(std::string_view cluster);

// A certificate signing request for `key_pem`, naming `subject` (so that
// the signer can show what was asked; Issue names what it decides). An
// empty cluster (a joiner that does not know it yet) is asked as
// kUnknownCluster.
inline constexpr char kUnknownCluster[] = "unknown";
absl::StatusOr<std::string> NewCsr(std::string_view key_pem, const Subject& subject);

// A leaf certificate for the CSR's key naming only `subject` (CA:FALSE,
// digitalSignature, serverAuth and clientAuth, a random 128-bit serial),
// signed by `authority`. The CSR's own signature must check out (proof
// that its sender holds the key), and its key must be EC P-256;
// INVALID_ARGUMENT otherwise. The names in the CSR are not trusted: Issue
// writes `subject`.
absl::StatusOr<std::string> Issue(const Authority& authority, std::string_view csr_pem,
                                  const Subject& subject);

// The CA `ca_cert_pem` (its subject and key, CA:TRUE) certified by
// `issuer` instead of by itself: while a cluster changes its CA, a member
// presents it after its certificate, so that whoever trusts only the
// replaced CA (`issuer`) can still build a chain to it (trust/rotation.h).
absl::StatusOr<std::string> CrossCertify(const Authority& issuer, std::string_view ca_cert_pem);

// SHA-256 of the certificate's SubjectPublicKeyInfo (DER), lowercase hex
// (64 characters), as kubeadm pins a CA. Of the first certificate in
// `pem`.
absl::StatusOr<std::string> Fingerprint(std::string_view cert_pem);
// Every certificate in a PEM bundle, each as its own PEM document; an
// empty bundle or one with anything but certificates is INVALID_ARGUMENT.
absl::StatusOr<std::vector<std::string>> SplitBundle(std::string_view pem);

// True when `key_pem` is the private key of the first certificate in
// `cert_pem` (a node's files belong together).
absl::StatusOr<bool> KeyMatches(std::string_view key_pem, std::string_view cert_pem);

// What a verified certificate says.
struct PeerCertificate {
  Subject subject;
  std::string serial;       // hex, uppercase, as OpenSSL prints it
  std::string issuer_fingerprint;  // Fingerprint() of the root that signed it
};

// Checks certificates against a set of trusted roots (one CA, or two
// while the CA is being rotated). Immutable once made; Verify may be
// called from any thread.
class RootSet {
 public:
  // INVALID_ARGUMENT when `roots_pem` holds no certificate, one that is
  // not a CA, or anything that is not a certificate.
  static absl::StatusOr<std::shared_ptr<const RootSet>> Parse(std::string_view roots_pem);
  ~RootSet();

  // Verifies `leaf_pem` (one certificate, optionally followed by its
  // chain, which is ignored: leaves are signed by a root directly):
  // signed by one of the roots, a leaf (CA:FALSE), exactly one URI SAN
  // that parses as a Subject, and that Subject's cluster equal to
  // `cluster`. Validity dates are not checked (see above). Refusals are
  // UNAUTHENTICATED with a message for the caller, e.g. "the certificate
  // is not signed by cluster home's CA".
  absl::StatusOr<PeerCertificate> Verify(std::string_view leaf_pem,
                                         std::string_view cluster) const;
  // The same checks for a certificate of whichever cluster it names (a
  // holder's own files; an operator joining without a node.yaml).
  absl::StatusOr<PeerCertificate> VerifyAnyCluster(std::string_view leaf_pem) const;

  // The roots as one PEM bundle, and their fingerprints.
  const std::string& pem() const { return pem_; }
  const std::vector<std::string>& fingerprints() const { return fingerprints_; }
  bool Contains(std::string_view fingerprint) const;

 private:
  struct Store;
  RootSet() = default;
  std::string pem_;
  std::vector<std::string> fingerprints_;
  std::unique_ptr<Store> store_;
};

// ECDSA-SHA256 over `data` with a PEM private key; the signature in DER.
absl::StatusOr<std::string> Sign(std::string_view key_pem, std::string_view data);
// True when `signature` is valid for `data` under the public key of the
// certificate `cert_pem`.
bool VerifySignature(std::string_view cert_pem, std::string_view data,
                     std::string_view signature);

// A joiner's card: what a machine that holds an invitation but no
// certificate yet presents at a member's TLS door. A member's port
// requires a client certificate in the handshake, so that a stranger
// never reaches gRPC (core/rpc/transport_security.h); a joiner has none
// of the cluster's yet, so it shows this: a leaf self-signed by its own
// key (the one its CSR asks to certify) naming only the invitation,
//
//   domian-invite:<invite id>
//
// It proves only that its holder knows an invitation's id, which the
// door checks against the invitations it knows; the secret is still
// checked by Join, sent over the connection the card opened once the
// joiner has checked the member's CA against its pin. TLS 1.3 sends the
// card encrypted, so a listener on the LAN does not learn the id.
inline constexpr char kInviteUriScheme[] = "domian-invite:";
// The longest invitation id a card may name (ids are shorter; this only
// bounds what is read before the invitations are asked).
inline constexpr size_t kMaxCardIdChars = 64;
absl::StatusOr<std::string> NewInviteCard(std::string_view key_pem, std::string_view invite_id);
struct InviteCard {
  std::string invite_id;
  std::string key_fingerprint;  // as Fingerprint(): its key's SPKI
};
// INVALID_ARGUMENT unless `cert_pem` is a card: bounded, a leaf
// (CA:FALSE) whose signature checks under its own EC P-256 key, naming
// exactly one URI, of the scheme above, with an id of 1 to
// kMaxCardIdChars letters and digits.
absl::StatusOr<InviteCard> ReadInviteCard(std::string_view cert_pem);
// Fingerprint() of the key a CSR asks to certify (Join compares it with
// the card's: the certificate goes to the key that opened the
// connection).
absl::StatusOr<std::string> CsrKeyFingerprint(std::string_view csr_pem);

// `count` bytes from OpenSSL's CSPRNG.
std::string RandomBytes(size_t count);

}  // namespace domian::trust
