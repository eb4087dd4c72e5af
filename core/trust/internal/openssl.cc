#include "core/trust/internal/openssl.h"

#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <array>
#include <climits>
#include <cstdlib>

namespace domian::trust::internal {
namespace {

// OpenSSL's password callback for PEM reads. Returning 0 means "no
// passphrase": without it OpenSSL would prompt on the terminal, and a
// daemon must never block on a prompt.
int NoPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string TakeErrors() {
  std::string text;
  // ERR_error_string_n writes at most this much, NUL included.
  std::array<char, 256> buffer{};
  while (unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, buffer.data(), buffer.size());
    if (!text.empty()) text += "; ";
    text += buffer.data();
  }
  return text;
}

std::string WithErrors(std::string_view what) {
  std::string errors = TakeErrors();
  if (errors.empty()) return std::string(what);
  return std::string(what) + ": " + errors;
}

BioPtr ReadBio(std::string_view text) {
  if (text.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<KeyPtr> ReadPrivateKey(std::string_view pem, std::string_view what) {
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr)
    return absl::InvalidArgumentError(WithErrors(std::string(what) + " cannot be read"));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        WithErrors(std::string(what) + " is not an unencrypted PEM private key"));
  }
  return key;
}

absl::StatusOr<X509Ptr> ReadCertificate(std::string_view pem, std::string_view what) {
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr)
    return absl::InvalidArgumentError(WithErrors(std::string(what) + " cannot be read"));
  X509Ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (certificate == nullptr) {
    return absl::InvalidArgumentError(WithErrors(std::string(what) + " is not a PEM certificate"));
  }
  return certificate;
}

absl::StatusOr<std::string> CertificatePem(X509* certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), certificate) != 1) {
    return absl::InternalError(WithErrors("cannot write a certificate as PEM"));
  }
  return BioContents(bio.get());
}

bool IsP256(const EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1) return false;
  std::array<char, 64> group{};
  size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1) return false;
  // OpenSSL names P-256 by its X9.62 name.
  return std::string_view(group.data(), length) == SN_X9_62_prime256v1;
}

std::string Shown(std::string_view text) {
  std::string shown;
  for (char c : text.substr(0, kShownChars)) shown += (c >= ' ' && c <= '~') ? c : '?';
  if (text.size() > kShownChars) shown += "...";
  return shown;
}

std::string Sha256(std::string_view data) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(digest.data()), &length,
                 EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    // Only an allocation failure inside OpenSSL gets here; a wrong digest
    // would silently break every comparison made with it.
    spdlog::critical("{}", WithErrors("SHA-256 failed"));
    std::abort();
  }
  return digest;
}

std::string LowerHex(std::string_view bytes) {
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto byte = static_cast<unsigned char>(c);
    hex += kHexDigits[byte >> 4];
    hex += kHexDigits[byte & 0xf];
  }
  return hex;
}

std::optional<std::string> ParseLowerHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int high = HexValue(hex[i]);
    int low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>((high << 4) | low);
  }
  return bytes;
}

}  // namespace domian::trust::internal
