#include "core/trust/pki.h"

#include <absl/synchronization/mutex.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <unordered_map>
#include <vector>

#include "core/model/values.h"
#include "core/trust/internal/openssl.h"

namespace domian::trust {

using internal::Asn1IntegerPtr;
using internal::BignumPtr;
using internal::BioPtr;
using internal::CsrPtr;
using internal::ErrorQueueGuard;
using internal::ExtensionPtr;
using internal::GeneralNamesPtr;
using internal::KeyPtr;
using internal::kMaxSignatureBytes;
using internal::MdContextPtr;
using internal::OpenSslPtr;
using internal::Shown;
using internal::StoreContextPtr;
using internal::StorePtr;
using internal::WithErrors;
using internal::X509NamePtr;
using internal::X509Ptr;

namespace {

constexpr std::string_view kUriScheme = "domian://";
// Random bits in a serial: RFC 5280 allows 20 octets; 128 bits make a
// collision between two certificates of one CA beyond any concern.
constexpr size_t kSerialBytes = 16;
// RFC 5280's ub-common-name: a longer CN is not a valid certificate.
constexpr size_t kMaxCommonNameChars = 64;
// Certificates RootSet remembers as verified (see RootSet::Store).
constexpr size_t kMaxRememberedCertificates = 256;

// The validity dates are written with ASN1_TIME_set, which takes a time_t.
static_assert(sizeof(time_t) >= 8, "the year 9999 needs a 64-bit time_t");

using KeyContextPtr = OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
// sk_X509_EXTENSION_free is a macro.
struct ExtensionStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * stack) const { sk_X509_EXTENSION_free(stack); }
};

absl::Status CheckPemSize(std::string_view pem, std::string_view what) {
  if (pem.empty()) return absl::InvalidArgumentError(internal::Concat(what, " is empty"));
  if (pem.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(internal::Concat(
        what, " is ", pem.size(), " bytes, more than the ", kMaxPemBytes, " accepted"));
  }
  return absl::OkStatus();
}

absl::Status CheckSubject(const Subject& subject) {
  if (!IsValidClusterName(subject.cluster)) {
    return absl::InvalidArgumentError(
        internal::Concat("'", Shown(subject.cluster), "' is not a valid cluster name"));
  }
  if (!IsValidNodeId(subject.name)) {
    return absl::InvalidArgumentError(internal::Concat(
        "'", Shown(subject.name), "' is not a valid ", RoleName(subject.role), " name"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyPtr> NewP256Key() {
  KeyContextPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (context == nullptr || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(context.get(), SN_X9_62_prime256v1) != 1 ||
      EVP_PKEY_generate(context.get(), &key) != 1) {
    return absl::InternalError(WithErrors("cannot generate an EC P-256 key"));
  }
  return KeyPtr(key);
}

absl::StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY").
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(WithErrors("cannot write a private key as PEM"));
  }
  return internal::BioContents(bio.get());
}

// A private key this PKI can sign with: PEM, bounded, EC P-256.
absl::StatusOr<KeyPtr> ReadSigningKey(std::string_view pem, std::string_view what) {
  if (absl::Status size = CheckPemSize(pem, what); !size.ok()) return size;
  absl::StatusOr<KeyPtr> key = internal::ReadPrivateKey(pem, what);
  if (!key.ok()) return key.status();
  if (!internal::IsP256(key->get())) {
    return absl::InvalidArgumentError(internal::Concat(what, " is not an EC P-256 key"));
  }
  return key;
}

absl::StatusOr<X509Ptr> ReadBoundedCertificate(std::string_view pem, std::string_view what) {
  if (absl::Status size = CheckPemSize(pem, what); !size.ok()) return size;
  return internal::ReadCertificate(pem, what);
}

absl::StatusOr<X509NamePtr> CommonName(std::string_view text) {
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(text.data()),
                                 static_cast<int>(text.size()), -1, 0) != 1) {
    return absl::InternalError(WithErrors(internal::Concat("cannot make the name CN=", text)));
  }
  return name;
}

// The CA's CN is a label for people (the CA is known by its key's
// fingerprint), cut to fit RFC 5280's bound for a long cluster name.
std::string CaCommonName(std::string_view cluster) {
  constexpr std::string_view kCutEnd = "... CA";
  std::string name = internal::Concat("domian ", cluster, " CA");
  if (name.size() > kMaxCommonNameChars) {
    name = internal::Concat(name.substr(0, kMaxCommonNameChars - kCutEnd.size()), kCutEnd);
  }
  return name;
}

absl::StatusOr<Asn1IntegerPtr> RandomSerial() {
  std::string bytes;
  // Zero is not a valid serial (RFC 5280 asks for a positive integer).
  do {
    bytes = RandomBytes(kSerialBytes);
  } while (std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; }));
  // As an unsigned big-endian number, so the serial is positive.
  BignumPtr number(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
  Asn1IntegerPtr serial(number ? BN_to_ASN1_INTEGER(number.get(), nullptr) : nullptr);
  if (serial == nullptr) return absl::InternalError(WithErrors("cannot make a serial number"));
  return serial;
}

absl::Status AddExtension(X509* certificate, X509V3_CTX* context, int nid, const char* value) {
  ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, context, nid, value));
  if (extension == nullptr || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return absl::InternalError(
        WithErrors(internal::Concat("cannot add the extension ", OBJ_nid2sn(nid), " = ", value)));
  }
  return absl::OkStatus();
}

// subjectAltName with the one URI; built from parts, not from a config
// string, so that nothing in the URI is read as syntax.
absl::StatusOr<GeneralNamesPtr> UriName(std::string_view uri) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  OpenSslPtr<GENERAL_NAME, GENERAL_NAME_free> name(GENERAL_NAME_new());
  OpenSslPtr<ASN1_IA5STRING, ASN1_IA5STRING_free> text(ASN1_IA5STRING_new());
  if (names == nullptr || name == nullptr || text == nullptr ||
      ASN1_STRING_set(text.get(), uri.data(), static_cast<int>(uri.size())) != 1) {
    return absl::InternalError(WithErrors("cannot make a subjectAltName"));
  }
  GENERAL_NAME_set0_value(name.get(), GEN_URI, text.release());
  if (sk_GENERAL_NAME_push(names.get(), name.get()) <= 0) {
    return absl::InternalError(WithErrors("cannot make a subjectAltName"));
  }
  name.release();  // owned by `names` now
  return names;
}

struct CertificateSpec {
  EVP_PKEY* key = nullptr;  // the holder's (public) key
  std::string common_name;
  bool ca = false;
  std::string uri;  // leaves only: the holder's identity
  // A self-signed leaf (a joiner's card) has no issuer's key id to name.
  bool names_issuer_key = true;
};

// A certificate for `spec`, signed by `issuer_key`; self-signed when
// `issuer` is null.
absl::StatusOr<X509Ptr> SignCertificate(const CertificateSpec& spec, X509* issuer,
                                        EVP_PKEY* issuer_key) {
  X509Ptr certificate(X509_new());
  absl::StatusOr<Asn1IntegerPtr> serial = RandomSerial();
  if (!serial.ok()) return serial.status();
  absl::StatusOr<X509NamePtr> name = CommonName(spec.common_name);
  if (!name.ok()) return name.status();
  if (certificate == nullptr || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(certificate.get(), serial->get()) != 1 ||
      // ASN1_TIME_set picks UTCTime up to 2049 and GeneralizedTime after,
      // as RFC 5280 requires.
      ASN1_TIME_set(X509_getm_notBefore(certificate.get()), kNotBeforeUnix) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate.get()), kNotAfterUnix) == nullptr ||
      X509_set_subject_name(certificate.get(), name->get()) != 1 ||
      X509_set_issuer_name(certificate.get(),
                           issuer ? X509_get_subject_name(issuer) : name->get()) != 1 ||
      X509_set_pubkey(certificate.get(), spec.key) != 1) {
    return absl::InternalError(WithErrors("cannot fill in a certificate"));
  }

  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer ? issuer : certificate.get(), certificate.get(), nullptr, nullptr,
                 0);
  struct Extension {
    int nid;
    const char* value;
  };
  std::vector<Extension> extensions;
  if (spec.ca) {
    extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                  {NID_key_usage, "critical,keyCertSign,cRLSign"},
                  {NID_subject_key_identifier, "hash"}};
    // A CA certified by another (CrossCertify) names its issuer's key:
    // both CAs of a cluster have the same name.
    if (issuer != nullptr) extensions.push_back({NID_authority_key_identifier, "keyid:always"});
  } else {
    extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                  {NID_key_usage, "critical,digitalSignature"},
                  {NID_ext_key_usage, "serverAuth,clientAuth"},
                  {NID_subject_key_identifier, "hash"}};
    if (spec.names_issuer_key) {
      extensions.push_back({NID_authority_key_identifier, "keyid:always"});
    }
  }
  for (const Extension& extension : extensions) {
    absl::Status added = AddExtension(certificate.get(), &context, extension.nid, extension.value);
    if (!added.ok()) return added;
  }
  if (!spec.uri.empty()) {
    absl::StatusOr<GeneralNamesPtr> names = UriName(spec.uri);
    if (!names.ok()) return names.status();
    if (X509_add1_ext_i2d(certificate.get(), NID_subject_alt_name, names->get(), 0,
                          X509V3_ADD_DEFAULT) != 1) {
      return absl::InternalError(WithErrors("cannot add the subjectAltName"));
    }
  }
  if (X509_sign(certificate.get(), issuer_key, EVP_sha256()) <= 0) {
    return absl::InternalError(WithErrors("cannot sign a certificate"));
  }
  return certificate;
}

// A certificate signing request: bounded, PEM.
absl::StatusOr<CsrPtr> ReadCsr(std::string_view csr_pem) {
  if (absl::Status size = CheckPemSize(csr_pem, "the certificate signing request"); !size.ok()) {
    return size;
  }
  BioPtr bio = internal::ReadBio(csr_pem);
  CsrPtr request(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (request == nullptr) {
    return absl::InvalidArgumentError(
        WithErrors("the certificate signing request is not a PEM CSR"));
  }
  return request;
}

// The one URI a certificate's subjectAltName holds; a refusal's words
// otherwise.
absl::StatusOr<std::string> OneUri(X509* certificate) {
  int critical = 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, &critical, nullptr)));
  const ASN1_IA5STRING* uri = nullptr;
  int uris = 0;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    uri = name->d.uniformResourceIdentifier;
    ++uris;
  }
  if (uris == 0) return absl::InvalidArgumentError("the certificate names no domian identity");
  if (uris > 1) return absl::InvalidArgumentError("the certificate names more than one identity");
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<size_t>(ASN1_STRING_length(uri)));
}

// Invitation ids are kInviteIdChars of [a-z2-7] (join_code.h); a card is
// read more loosely and the invitations decide.
bool IsCardId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxCardIdChars &&
         std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

struct ParsedAuthority {
  X509Ptr certificate;
  KeyPtr key;
};

absl::StatusOr<ParsedAuthority> ReadAuthority(const Authority& authority) {
  absl::StatusOr<X509Ptr> certificate =
      ReadBoundedCertificate(authority.cert_pem, "the CA certificate");
  if (!certificate.ok()) return certificate.status();
  absl::StatusOr<KeyPtr> key = ReadSigningKey(authority.key_pem, "the CA key");
  if (!key.ok()) return key.status();
  if (X509_check_ca(certificate->get()) != 1) {
    return absl::InvalidArgumentError("the CA certificate is not a CA's (no CA:TRUE)");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(certificate->get()), key->get()) != 1) {
    return absl::InvalidArgumentError("the CA key is not the CA certificate's key");
  }
  return ParsedAuthority{*std::move(certificate), *std::move(key)};
}

absl::StatusOr<std::string> KeyFingerprint(EVP_PKEY* key) {
  int length = key ? i2d_PUBKEY(key, nullptr) : -1;
  if (length <= 0)
    return absl::InvalidArgumentError(WithErrors("the public key cannot be encoded"));
  std::string der(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(key, &out) != length) {
    return absl::InternalError(WithErrors("the public key cannot be encoded"));
  }
  return internal::LowerHex(internal::Sha256(der));
}

std::string SerialHex(X509* certificate) {
  BignumPtr number(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr));
  if (number == nullptr) return {};
  internal::OpenSslMemory<char> hex(BN_bn2hex(number.get()));
  return hex ? std::string(hex.get()) : std::string();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNode:
      return "node";
    case Role::kOperator:
      return "operator";
  }
  return "node";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  if (name == "node") return Role::kNode;
  if (name == "operator") return Role::kOperator;
  return absl::InvalidArgumentError(
      internal::Concat("'", Shown(name), "' is not a role (node or operator)"));
}

std::string SubjectUri(const Subject& subject) {
  return internal::Concat(kUriScheme, subject.cluster, "/", RoleName(subject.role), "/",
                          subject.name);
}

absl::StatusOr<Subject> ParseSubjectUri(std::string_view uri) {
  auto refuse = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        internal::Concat("'", Shown(uri), "' is not a domian identity: ", why));
  };
  if (!uri.starts_with(kUriScheme)) return refuse("it does not start with domian://");
  std::string_view rest = uri.substr(kUriScheme.size());
  size_t first = rest.find('/');
  size_t second = first == std::string_view::npos ? first : rest.find('/', first + 1);
  if (second == std::string_view::npos) {
    return refuse("not of the form domian://<cluster>/<role>/<name>");
  }
  Subject subject;
  subject.cluster = std::string(rest.substr(0, first));
  std::string_view role = rest.substr(first + 1, second - first - 1);
  subject.name = std::string(rest.substr(second + 1));
  if (!IsValidClusterName(subject.cluster)) return refuse("the cluster name is not valid");
  absl::StatusOr<Role> parsed_role = ParseRole(role);
  if (!parsed_role.ok()) return refuse("the role is not node or operator");
  subject.role = *parsed_role;
  // IsValidNodeId refuses '/', so a name cannot hide more path.
  if (!IsValidNodeId(subject.name)) return refuse("the name is not valid");
  return subject;
}

std::string Describe(const Subject& subject) {
  return internal::Concat(RoleName(subject.role), " ", subject.name, " of cluster ",
                          subject.cluster);
}

absl::StatusOr<std::string> NewPrivateKey() {
  ErrorQueueGuard guard;
  absl::StatusOr<KeyPtr> key = NewP256Key();
  if (!key.ok()) return key.status();
  return PrivateKeyPem(key->get());
}

absl::StatusOr<Authority> NewAuthority(std::string_view cluster) {
  ErrorQueueGuard guard;
  if (!IsValidClusterName(cluster)) {
    return absl::InvalidArgumentError(
        internal::Concat("'", Shown(cluster), "' is not a valid cluster name"));
  }
  absl::StatusOr<KeyPtr> key = NewP256Key();
  if (!key.ok()) return key.status();
  CertificateSpec spec{.key = key->get(), .common_name = CaCommonName(cluster), .ca = true};
  absl::StatusOr<X509Ptr> certificate = SignCertificate(spec, nullptr, key->get());
  if (!certificate.ok()) return certificate.status();
  absl::StatusOr<std::string> cert_pem = internal::CertificatePem(certificate->get());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = PrivateKeyPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return Authority{*std::move(cert_pem), *std::move(key_pem)};
}

absl::StatusOr<std::string> NewCsr(std::string_view key_pem, const Subject& subject) {
  ErrorQueueGuard guard;
  // A joiner that does not know its cluster yet (an operator with no
  // node.yaml) asks under the cluster of its placeholder; the signer
  // writes the real one either way.
  const Subject asked = subject.cluster.empty()
                            ? Subject{kUnknownCluster, subject.role, subject.name}
                            : subject;
  if (absl::Status valid = CheckSubject(asked); !valid.ok()) return valid;
  absl::StatusOr<KeyPtr> key = ReadSigningKey(key_pem, "the private key");
  if (!key.ok()) return key.status();
  absl::StatusOr<X509NamePtr> name = CommonName(asked.name);
  if (!name.ok()) return name.status();
  absl::StatusOr<GeneralNamesPtr> names = UriName(SubjectUri(asked));
  if (!names.ok()) return names.status();

  CsrPtr request(X509_REQ_new());
  ExtensionPtr san(X509V3_EXT_i2d(NID_subject_alt_name, 0, names->get()));
  // Frees the stack only: `san` keeps its extension.
  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionStackFree> extensions(
      sk_X509_EXTENSION_new_null());
  if (request == nullptr || san == nullptr || extensions == nullptr ||
      X509_REQ_set_version(request.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(request.get(), name->get()) != 1 ||
      X509_REQ_set_pubkey(request.get(), key->get()) != 1 ||
      sk_X509_EXTENSION_push(extensions.get(), san.get()) <= 0 ||
      X509_REQ_add_extensions(request.get(), extensions.get()) != 1 ||
      X509_REQ_sign(request.get(), key->get(), EVP_sha256()) <= 0) {
    return absl::InternalError(WithErrors("cannot make a certificate signing request"));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_REQ(bio.get(), request.get()) != 1) {
    return absl::InternalError(WithErrors("cannot write a certificate signing request"));
  }
  return internal::BioContents(bio.get());
}

absl::StatusOr<std::string> Issue(const Authority& authority, std::string_view csr_pem,
                                  const Subject& subject) {
  ErrorQueueGuard guard;
  if (absl::Status valid = CheckSubject(subject); !valid.ok()) return valid;
  absl::StatusOr<ParsedAuthority> ca = ReadAuthority(authority);
  if (!ca.ok()) return ca.status();

  absl::StatusOr<CsrPtr> request = ReadCsr(csr_pem);
  if (!request.ok()) return request.status();
  EVP_PKEY* key = X509_REQ_get0_pubkey(request->get());
  if (!internal::IsP256(key)) {
    return absl::InvalidArgumentError(
        WithErrors("the certificate signing request's key is not an EC P-256 key"));
  }
  // The CSR's signature is the sender's proof that it holds the key.
  if (X509_REQ_verify(request->get(), key) != 1) {
    return absl::InvalidArgumentError(
        WithErrors("the certificate signing request's signature does not match its key"));
  }
  CertificateSpec spec{
      .key = key, .common_name = subject.name, .ca = false, .uri = SubjectUri(subject)};
  absl::StatusOr<X509Ptr> certificate = SignCertificate(spec, ca->certificate.get(), ca->key.get());
  if (!certificate.ok()) return certificate.status();
  return internal::CertificatePem(certificate->get());
}

absl::StatusOr<std::string> CrossCertify(const Authority& issuer, std::string_view ca_cert_pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<ParsedAuthority> ca = ReadAuthority(issuer);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<X509Ptr> subject = ReadBoundedCertificate(ca_cert_pem, "the CA to certify");
  if (!subject.ok()) return subject.status();
  if (X509_check_ca(subject->get()) != 1) {
    return absl::InvalidArgumentError("the certificate to cross-certify is not a CA's");
  }
  // The same name as the certificate's own, so that a chain built by name
  // finds either.
  char common_name[kMaxCommonNameChars + 1] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(subject->get()), NID_commonName,
                                common_name, sizeof common_name) <= 0) {
    return absl::InvalidArgumentError("the CA to certify has no common name");
  }
  CertificateSpec spec{
      .key = X509_get0_pubkey(subject->get()), .common_name = common_name, .ca = true};
  absl::StatusOr<X509Ptr> certificate = SignCertificate(spec, ca->certificate.get(), ca->key.get());
  if (!certificate.ok()) return certificate.status();
  return internal::CertificatePem(certificate->get());
}

absl::StatusOr<std::string> Fingerprint(std::string_view cert_pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<X509Ptr> certificate = ReadBoundedCertificate(cert_pem, "the certificate");
  if (!certificate.ok()) return certificate.status();
  return KeyFingerprint(X509_get0_pubkey(certificate->get()));
}

absl::StatusOr<std::vector<std::string>> SplitBundle(std::string_view pem) {
  ErrorQueueGuard guard;
  if (absl::Status size = CheckPemSize(pem, "the certificate bundle"); !size.ok()) return size;
  BioPtr bio = internal::ReadBio(pem);
  if (bio == nullptr) return absl::InternalError(WithErrors("cannot read the certificate bundle"));
  std::vector<std::string> certificates;
  for (;;) {
    char* raw_name = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long length = 0;
    int read = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &length);
    internal::OpenSslMemory<char> name(raw_name), header(raw_header);
    internal::OpenSslMemory<unsigned char> data(raw_data);
    if (read != 1) {
      unsigned long error = ERR_peek_last_error();
      // The end of the text: no further "-----BEGIN".
      if (ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE) {
        break;
      }
      return absl::InvalidArgumentError(WithErrors(internal::Concat(
          "PEM document ", certificates.size() + 1, " of the certificate bundle is malformed")));
    }
    if (std::string_view(name.get()) != PEM_STRING_X509) {
      return absl::InvalidArgumentError(internal::Concat(
          "the certificate bundle holds a ", Shown(name.get()), " where only certificates belong"));
    }
    const unsigned char* cursor = data.get();
    X509Ptr certificate(d2i_X509(nullptr, &cursor, length));
    if (certificate == nullptr || cursor != data.get() + length) {
      return absl::InvalidArgumentError(WithErrors(internal::Concat(
          "certificate ", certificates.size() + 1, " of the bundle is malformed")));
    }
    absl::StatusOr<std::string> one = internal::CertificatePem(certificate.get());
    if (!one.ok()) return one.status();
    certificates.push_back(*std::move(one));
  }
  if (certificates.empty()) {
    return absl::InvalidArgumentError("the certificate bundle holds no certificate");
  }
  return certificates;
}

absl::StatusOr<bool> KeyMatches(std::string_view key_pem, std::string_view cert_pem) {
  ErrorQueueGuard guard;
  if (absl::Status size = CheckPemSize(key_pem, "the private key"); !size.ok()) return size;
  absl::StatusOr<KeyPtr> key = internal::ReadPrivateKey(key_pem, "the private key");
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> certificate = ReadBoundedCertificate(cert_pem, "the certificate");
  if (!certificate.ok()) return certificate.status();
  return EVP_PKEY_eq(X509_get0_pubkey(certificate->get()), key->get()) == 1;
}

// The roots, in a store built once: OpenSSL's X509_STORE takes its own
// lock for lookups, so one store serves concurrent verifications, each
// with its own X509_STORE_CTX.
//
// Verification is called per RPC, and OpenSSL 3.0 takes over 100 us just
// to decode a certificate's public key, so the certificates verified are
// remembered. The outcome depends on nothing but the roots (fixed), the
// certificate and the cluster (no dates), so a remembered answer is the
// answer; revocation is checked apart (revocations.h). Only successes are
// kept, which needs a certificate of these roots: a household's handful of
// holders fit, and a full memory is simply started afresh.
struct RootSet::Store {
  StorePtr store;
  struct Root {
    X509Ptr certificate;
    std::string fingerprint;
  };
  std::vector<Root> roots;

  // The verification itself, without the memory.
  absl::StatusOr<PeerCertificate> Check(std::string_view leaf_pem, std::string_view cluster,
                                        bool any_cluster = false) const;

  absl::Mutex mutex;
  // Key: SHA-256 of the cluster and the presented PEM.
  std::unordered_map<std::string, PeerCertificate> verified ABSL_GUARDED_BY(mutex);
};

RootSet::~RootSet() = default;

absl::StatusOr<std::shared_ptr<const RootSet>> RootSet::Parse(std::string_view roots_pem) {
  absl::StatusOr<std::vector<std::string>> pems = SplitBundle(roots_pem);
  if (!pems.ok()) return pems.status();
  ErrorQueueGuard guard;
  std::shared_ptr<RootSet> set(new RootSet());
  set->store_ = std::make_unique<Store>();
  set->store_->store.reset(X509_STORE_new());
  X509_STORE* store = set->store_->store.get();
  // Dates are never checked (see pki.h): a Pi may boot in 1970.
  if (store == nullptr || X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME) != 1) {
    return absl::InternalError(WithErrors("cannot make a certificate store"));
  }
  for (size_t i = 0; i < pems->size(); ++i) {
    absl::StatusOr<X509Ptr> root = internal::ReadCertificate((*pems)[i], "a root");
    if (!root.ok()) return root.status();
    // Also fills OpenSSL's cached view of the extensions now, while one
    // thread holds the certificate, rather than during verification.
    if (X509_check_ca(root->get()) != 1) {
      return absl::InvalidArgumentError(
          internal::Concat("root ", i + 1, " of the bundle is not a CA certificate"));
    }
    if (X509_self_signed(root->get(), 1) != 1) {
      return absl::InvalidArgumentError(
          WithErrors(internal::Concat("root ", i + 1, " of the bundle is not self-signed")));
    }
    absl::StatusOr<std::string> fingerprint = KeyFingerprint(X509_get0_pubkey(root->get()));
    if (!fingerprint.ok()) return fingerprint.status();
    if (set->Contains(*fingerprint)) continue;  // the same root twice
    if (X509_STORE_add_cert(store, root->get()) != 1) {
      return absl::InternalError(WithErrors("cannot add a root to the certificate store"));
    }
    set->pem_ += (*pems)[i];
    set->fingerprints_.push_back(*fingerprint);
    set->store_->roots.push_back({*std::move(root), *std::move(fingerprint)});
  }
  return std::shared_ptr<const RootSet>(std::move(set));
}

bool RootSet::Contains(std::string_view fingerprint) const {
  return std::find(fingerprints_.begin(), fingerprints_.end(), fingerprint) != fingerprints_.end();
}

absl::StatusOr<PeerCertificate> RootSet::Verify(std::string_view leaf_pem,
                                                std::string_view cluster) const {
  if (leaf_pem.size() > kMaxPemBytes) {
    return absl::UnauthenticatedError(
        internal::Concat("the certificate is longer than ", kMaxPemBytes, " bytes"));
  }
  // The cluster name cannot hold a NUL, so the key is unambiguous.
  std::string key = internal::Sha256(internal::Concat(cluster, '\0', leaf_pem));
  {
    absl::MutexLock lock(&store_->mutex);
    auto it = store_->verified.find(key);
    if (it != store_->verified.end()) return it->second;
  }
  absl::StatusOr<PeerCertificate> peer = store_->Check(leaf_pem, cluster);
  if (peer.ok()) {
    absl::MutexLock lock(&store_->mutex);
    if (store_->verified.size() >= kMaxRememberedCertificates) store_->verified.clear();
    store_->verified.emplace(std::move(key), *peer);
  }
  return peer;
}

absl::StatusOr<PeerCertificate> RootSet::VerifyAnyCluster(std::string_view leaf_pem) const {
  if (leaf_pem.size() > kMaxPemBytes) {
    return absl::UnauthenticatedError(
        internal::Concat("the certificate is longer than ", kMaxPemBytes, " bytes"));
  }
  return store_->Check(leaf_pem, "", /*any_cluster=*/true);
}

absl::StatusOr<PeerCertificate> RootSet::Store::Check(std::string_view leaf_pem,
                                                      std::string_view cluster,
                                                      bool any_cluster) const {
  ErrorQueueGuard guard;
  auto refuse = [](std::string message) { return absl::UnauthenticatedError(std::move(message)); };
  absl::StatusOr<X509Ptr> leaf = internal::ReadCertificate(leaf_pem, "the certificate");
  if (!leaf.ok()) return refuse(std::string(leaf.status().message()));
  if (X509_check_ca(leaf->get()) != 0) {
    return refuse("the certificate is a CA's, not a node's or an operator's");
  }

  // No untrusted chain: leaves are signed by a root directly, so whatever
  // followed the leaf is ignored.
  StoreContextPtr context(X509_STORE_CTX_new());
  if (context == nullptr ||
      X509_STORE_CTX_init(context.get(), store.get(), leaf->get(), nullptr) != 1) {
    return absl::InternalError(WithErrors("cannot start a certificate verification"));
  }
  if (X509_verify_cert(context.get()) != 1) {
    int error = X509_STORE_CTX_get_error(context.get());
    if (any_cluster) {
      return refuse(internal::Concat("the certificate is not signed by a trusted CA (",
                                     X509_verify_cert_error_string(error), ")"));
    }
    return refuse(internal::Concat("the certificate is not signed by cluster ", Shown(cluster),
                                   "'s CA (", X509_verify_cert_error_string(error), ")"));
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(context.get());
  X509* root = chain && sk_X509_num(chain) == 2 ? sk_X509_value(chain, 1) : nullptr;
  auto signer = std::find_if(roots.begin(), roots.end(), [&](const auto& r) {
    return root != nullptr && X509_cmp(r.certificate.get(), root) == 0;
  });
  if (signer == roots.end()) {
    return refuse(internal::Concat("the certificate is not signed by cluster ", Shown(cluster),
                                   "'s CA directly"));
  }
  // Every holder is both a TLS client and a TLS server.
  if (X509_check_purpose(leaf->get(), X509_PURPOSE_SSL_CLIENT, 0) != 1 ||
      X509_check_purpose(leaf->get(), X509_PURPOSE_SSL_SERVER, 0) != 1) {
    return refuse("the certificate is not for both TLS clients and servers");
  }

  absl::StatusOr<std::string> uri_text = OneUri(leaf->get());
  if (!uri_text.ok()) return refuse(std::string(uri_text.status().message()));
  absl::StatusOr<Subject> subject = ParseSubjectUri(*uri_text);
  if (!subject.ok()) {
    return refuse(internal::Concat("the certificate names no domian identity (",
                                   std::string(subject.status().message()), ")"));
  }
  if (!any_cluster && subject->cluster != cluster) {
    return refuse(internal::Concat("the certificate names cluster ", subject->cluster, ", not ",
                                   Shown(cluster)));
  }
  return PeerCertificate{*std::move(subject), SerialHex(leaf->get()), signer->fingerprint};
}

absl::StatusOr<std::string> Sign(std::string_view key_pem, std::string_view data) {
  ErrorQueueGuard guard;
  absl::StatusOr<KeyPtr> key = ReadSigningKey(key_pem, "the signing key");
  if (!key.ok()) return key.status();
  MdContextPtr context(EVP_MD_CTX_new());
  std::string signature(static_cast<size_t>(std::max(EVP_PKEY_get_size(key->get()), 0)), '\0');
  size_t length = signature.size();
  if (context == nullptr ||
      EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key->get()) != 1 ||
      EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return absl::InternalError(WithErrors("cannot sign"));
  }
  signature.resize(length);
  return signature;
}

bool VerifySignature(std::string_view cert_pem, std::string_view data, std::string_view signature) {
  ErrorQueueGuard guard;
  if (signature.empty() || signature.size() > kMaxSignatureBytes) return false;
  absl::StatusOr<X509Ptr> certificate = ReadBoundedCertificate(cert_pem, "the certificate");
  if (!certificate.ok()) return false;
  MdContextPtr context(EVP_MD_CTX_new());
  return context != nullptr &&
         EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr,
                              X509_get0_pubkey(certificate->get())) == 1 &&
         EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

absl::StatusOr<std::string> NewInviteCard(std::string_view key_pem, std::string_view invite_id) {
  ErrorQueueGuard guard;
  if (!IsCardId(invite_id)) {
    return absl::InvalidArgumentError(
        internal::Concat("'", Shown(invite_id), "' is not an invitation id"));
  }
  absl::StatusOr<KeyPtr> key = ReadSigningKey(key_pem, "the private key");
  if (!key.ok()) return key.status();
  CertificateSpec spec{.key = key->get(),
                       .common_name = "domian joiner",
                       .ca = false,
                       .uri = internal::Concat(kInviteUriScheme, invite_id),
                       .names_issuer_key = false};
  absl::StatusOr<X509Ptr> certificate = SignCertificate(spec, nullptr, key->get());
  if (!certificate.ok()) return certificate.status();
  return internal::CertificatePem(certificate->get());
}

absl::StatusOr<InviteCard> ReadInviteCard(std::string_view cert_pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<X509Ptr> card = ReadBoundedCertificate(cert_pem, "the certificate");
  if (!card.ok()) return card.status();
  EVP_PKEY* key = X509_get0_pubkey(card->get());
  if (X509_check_ca(card->get()) != 0 || !internal::IsP256(key) ||
      X509_verify(card->get(), key) != 1) {
    return absl::InvalidArgumentError("the certificate is not a joiner's card");
  }
  absl::StatusOr<std::string> uri = OneUri(card->get());
  if (!uri.ok()) return uri.status();
  std::string_view id(*uri);
  if (!id.starts_with(kInviteUriScheme)) {
    return absl::InvalidArgumentError("the certificate names no invitation");
  }
  id.remove_prefix(std::string_view(kInviteUriScheme).size());
  if (!IsCardId(id)) {
    return absl::InvalidArgumentError("the certificate's invitation id is not one");
  }
  absl::StatusOr<std::string> fingerprint = KeyFingerprint(key);
  if (!fingerprint.ok()) return fingerprint.status();
  return InviteCard{std::string(id), *std::move(fingerprint)};
}

absl::StatusOr<std::string> CsrKeyFingerprint(std::string_view csr_pem) {
  ErrorQueueGuard guard;
  absl::StatusOr<CsrPtr> request = ReadCsr(csr_pem);
  if (!request.ok()) return request.status();
  return KeyFingerprint(X509_REQ_get0_pubkey(request->get()));
}

std::string RandomBytes(size_t count) {
  std::string bytes(count, '\0');
  if (count > static_cast<size_t>(INT_MAX) ||
      RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    // Keys, serials and join secrets come from here: carrying on with
    // predictable bytes would be worse than stopping.
    spdlog::critical("{}", WithErrors("OpenSSL's random generator failed"));
    std::abort();
  }
  return bytes;
}

}  // namespace domian::trust
