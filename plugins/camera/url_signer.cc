#include "plugins/camera/url_signer.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace domian::camera {
namespace {

constexpr size_t kMacBytes = 32;  // SHA-256
constexpr size_t kSigHexDigits = 2 * kMacBytes;
// The key file's layout; a newer one is refused rather than misread.
constexpr int kShareKeyFormat = 1;
// A key file is a few dozen bytes; reading stops well past that.
constexpr size_t kMaxShareKeyFileBytes = 4096;

constexpr char kHexDigits[] = "0123456789abcdef";

std::string Hex(const uint8_t* bytes, size_t size) {
  std::string text;
  text.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    text.push_back(kHexDigits[bytes[i] >> 4]);
    text.push_back(kHexDigits[bytes[i] & 0x0F]);
  }
  return text;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` (exactly 2 * N hex digits) as N bytes.
template <size_t N>
std::optional<std::array<uint8_t, N>> FromHex(std::string_view text) {
  if (text.size() != 2 * N) return std::nullopt;
  std::array<uint8_t, N> bytes{};
  for (size_t i = 0; i < N; ++i) {
    const int high = HexValue(text[2 * i]);
    const int low = HexValue(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return bytes;
}

// 1 to kMaxExpiresDigits decimal digits, nothing else (no sign, no space).
std::optional<int64_t> ParseExpires(std::string_view text) {
  if (text.empty() || text.size() > kMaxExpiresDigits) return std::nullopt;
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

[[noreturn]] void FileFailure(const std::string& what, const std::filesystem::path& file, int error) {
  throw std::runtime_error(what + " " + file.string() + ": " + std::strerror(error));
}

void SyncFolder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) FileFailure("cannot open", folder, errno);
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!synced) FileFailure("cannot sync", folder, error);
}

}  // namespace

std::chrono::system_clock::time_point SystemWallClock() { return std::chrono::system_clock::now(); }

int64_t UnixSeconds(const WallClock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock().time_since_epoch()).count();
}

ShareKey NewShareKey() {
  ShareKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("no random bytes for a share key (OpenSSL RAND_bytes failed)");
  }
  return key;
}

std::optional<ShareKey> ReadShareKey(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(file)) return std::nullopt;
    throw std::runtime_error("cannot read " + file.string());
  }
  std::string text(kMaxShareKeyFileBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  const nlohmann::json saved = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (saved.is_discarded() || !saved.is_object() || !saved.contains("format") ||
      !saved["format"].is_number_integer() || !saved.contains("key") || !saved["key"].is_string()) {
    throw std::runtime_error(file.string() + " is not a camera share key");
  }
  if (saved["format"].get<int64_t>() != kShareKeyFormat) {
    throw std::runtime_error(file.string() + " has format " + saved["format"].dump() +
                             ", not the " + std::to_string(kShareKeyFormat) + " this plugin knows");
  }
  const auto key = FromHex<kShareKeyBytes>(saved["key"].get<std::string>());
  if (!key) throw std::runtime_error(file.string() + " does not hold a key of 32 bytes in hex");
  return *key;
}

void WriteShareKey(const std::filesystem::path& file, const ShareKey& key) {
  const std::string content =
      nlohmann::json{{"format", kShareKeyFormat}, {"key", Hex(key.data(), key.size())}}.dump() + "\n";
  const std::filesystem::path temporary = file.string() + ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) FileFailure("cannot create", temporary, errno);
  // A file left over with looser permissions keeps them through O_TRUNC.
  bool written = ::fchmod(fd, 0600) == 0;
  size_t done = 0;
  while (written && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      written = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  written = written && ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!written) FileFailure("cannot write", temporary, error != 0 ? error : EIO);
  std::error_code renamed;
  std::filesystem::rename(temporary, file, renamed);
  if (renamed) FileFailure("cannot rename " + temporary.string() + " to", file, renamed.value());
  SyncFolder(file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path());
}

UrlSigner::UrlSigner(const ShareKey& key) : key_(key) {}

void UrlSigner::Replace(const ShareKey& key) {
  std::lock_guard lock(mu_);
  key_ = key;
}

std::array<uint8_t, 32> UrlSigner::Mac(std::string_view path, int64_t expires) const {
  const std::string message = std::string(path) + "\n" + std::to_string(expires);
  std::array<uint8_t, kMacBytes> mac{};
  unsigned int length = 0;
  ShareKey key;
  {
    std::lock_guard lock(mu_);
    key = key_;
  }
  const bool made = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                         reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                         mac.data(), &length) != nullptr;
  OPENSSL_cleanse(key.data(), key.size());
  if (!made || length != mac.size()) throw std::runtime_error("HMAC-SHA256 failed (OpenSSL)");
  return mac;
}

std::string UrlSigner::Query(std::string_view path, int64_t expires) const {
  const std::array<uint8_t, kMacBytes> mac = Mac(path, expires);
  return "expires=" + std::to_string(expires) + "&sig=" + Hex(mac.data(), mac.size());
}

UrlSigner::Verdict UrlSigner::Check(std::string_view path, std::string_view query, int64_t now) const {
  if (query.empty()) return Verdict::kMissing;
  if (query.size() > kMaxSignedQueryBytes) return Verdict::kInvalid;
  std::optional<std::string_view> expires_text;
  std::optional<std::string_view> sig_text;
  for (bool more = true; more;) {
    const size_t end = query.find('&');
    const std::string_view parameter = query.substr(0, end);
    more = end != std::string_view::npos;  // "a&" has an empty second part
    if (more) query.remove_prefix(end + 1);
    const size_t equals = parameter.find('=');
    if (equals == std::string_view::npos) return Verdict::kInvalid;
    const std::string_view name = parameter.substr(0, equals);
    std::optional<std::string_view>* slot = name == "expires" ? &expires_text
                                            : name == "sig"   ? &sig_text
                                                              : nullptr;
    if (slot == nullptr || slot->has_value()) return Verdict::kInvalid;
    *slot = parameter.substr(equals + 1);
  }
  if (!expires_text || !sig_text) return Verdict::kMissing;
  const std::optional<int64_t> expires = ParseExpires(*expires_text);
  const auto given = FromHex<kMacBytes>(*sig_text);
  if (!expires || !given) return Verdict::kInvalid;
  std::array<uint8_t, kMacBytes> expected{};
  try {
    expected = Mac(path, *expires);
  } catch (const std::runtime_error&) {
    return Verdict::kInvalid;
  }
  if (CRYPTO_memcmp(expected.data(), given->data(), kMacBytes) != 0) return Verdict::kInvalid;
  // Judged only for a genuine URL, so "expired" tells its holder to ask
  // for a new one and tells a forger nothing.
  if (now >= *expires) return Verdict::kExpired;
  return Verdict::kGranted;
}

std::string_view RefusalWord(UrlSigner::Verdict verdict) {
  switch (verdict) {
    case UrlSigner::Verdict::kGranted:
      return "";
    case UrlSigner::Verdict::kMissing:
      return "missing";
    case UrlSigner::Verdict::kExpired:
      return "expired";
    case UrlSigner::Verdict::kInvalid:
      return "invalid";
  }
  return "invalid";
}

}  // namespace domian::camera
