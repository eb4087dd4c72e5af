// What core/trust's implementation (and its tests) share about OpenSSL:
// owning pointers for its objects, its thread-local error queue turned
// into message text, and the digest every part uses. Not for use outside
// core/trust.
#pragma once

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/status.h"

namespace domian::trust::internal {

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* object) const {
    kFree(object);
  }
};
template <typename T, auto kFree>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter<kFree>>;

// What OpenSSL allocates for the caller to free with OPENSSL_free (a
// macro, so not usable as a deleter itself).
inline void OpenSslFree(void* memory) { OPENSSL_free(memory); }
template <typename T>
using OpenSslMemory = OpenSslPtr<T, OpenSslFree>;

using BioPtr = OpenSslPtr<BIO, BIO_free_all>;
using BignumPtr = OpenSslPtr<BIGNUM, BN_free>;
using Asn1IntegerPtr = OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using KeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using MdContextPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;
using CsrPtr = OpenSslPtr<X509_REQ, X509_REQ_free>;
using X509NamePtr = OpenSslPtr<X509_NAME, X509_NAME_free>;
using ExtensionPtr = OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamesPtr = OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using StorePtr = OpenSslPtr<X509_STORE, X509_STORE_free>;
using StoreContextPtr = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;

// A DER ECDSA P-256 signature is at most 72 bytes; anything far longer is
// not one and is not worth handing to OpenSSL.
inline constexpr size_t kMaxSignatureBytes = 256;

// OpenSSL keeps its errors in a per-thread queue that outlives the call
// that failed; a guard at the top of every entry point makes sure one
// call's leftovers never show up in another's message.
class ErrorQueueGuard {
 public:
  ErrorQueueGuard() { ERR_clear_error(); }
  ~ErrorQueueGuard() { ERR_clear_error(); }
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// The queued errors as "; "-separated text (empty when none), emptying the
// queue.
std::string TakeErrors();
// "<what>" or "<what>: <OpenSSL's errors>".
std::string WithErrors(std::string_view what);

// A read-only BIO over `text` (which must outlive it); null when `text`
// is longer than an int can say.
BioPtr ReadBio(std::string_view text);
// Everything written to a memory BIO.
std::string BioContents(BIO* bio);

// A private key from PEM. Never prompts for a passphrase: an encrypted
// key is refused. INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<KeyPtr> ReadPrivateKey(std::string_view pem, std::string_view what);
// The first certificate in `pem`.
absl::StatusOr<X509Ptr> ReadCertificate(std::string_view pem, std::string_view what);
absl::StatusOr<std::string> CertificatePem(X509* certificate);
// True for an EC key on P-256, the only kind this PKI makes or accepts.
bool IsP256(const EVP_PKEY* key);

// Its arguments, formatted by {fmt} one after the other. (Debian 12's
// Abseil has its own string_view, which absl::StrCat does not take from
// std::string_view.)
template <typename... Args>
std::string Concat(const Args&... args) {
  std::string text;
  (fmt::format_to(std::back_inserter(text), "{}", args), ...);
  return text;
}

// Untrusted text for a message: at most kShownChars, anything but
// printable ASCII as '?', and "..." when cut.
inline constexpr size_t kShownChars = 64;
std::string Shown(std::string_view text);

// SHA-256 of `data`, 32 raw bytes.
std::string Sha256(std::string_view data);
std::string LowerHex(std::string_view bytes);
// Lowercase hex to bytes; nullopt for anything else (an odd length,
// uppercase, another character).
std::optional<std::string> ParseLowerHex(std::string_view hex);

}  // namespace domian::trust::internal
