// UrlSigner: who may watch the camera. A viewer's request must carry
//
//   ?expires=<unix seconds>&sig=<hex HMAC-SHA256 of "<path>\n<expires>">
//
// made with this camera's share key (32 random bytes, kept in the
// service's folder, see ReadShareKey). Only an operator can make one (the
// `share` command), so the URL itself is the credential: it works until it
// expires on this node's wall clock or until the key is replaced
// (`revoke_shares`), from any client that can reach the port, including
// ones with no way to send a password (Home Assistant's MJPEG camera,
// ffplay, an <img> tag).
//
// A refusal says only "missing", "expired" or "invalid", never which part
// of a signature was wrong; signatures are compared in constant time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace domian::camera {

inline constexpr size_t kShareKeyBytes = 32;
using ShareKey = std::array<uint8_t, kShareKeyBytes>;

// The query a signed request carries is never longer than this (names,
// at most kMaxExpiresDigits digits, 64 hex digits): anything longer is
// refused before it is parsed.
inline constexpr size_t kMaxSignedQueryBytes = 128;
// An expiry of up to 11 digits reaches the year 5138, and keeps every
// value far from int64_t's end.
inline constexpr size_t kMaxExpiresDigits = 11;

// The wall clock expiry is judged by (a fake one in tests).
using WallClock = std::function<std::chrono::system_clock::time_point()>;
std::chrono::system_clock::time_point SystemWallClock();
// Seconds since 1970 on `clock`.
int64_t UnixSeconds(const WallClock& clock);

// 32 bytes from OpenSSL's RAND_bytes; throws std::runtime_error when it
// has none to give.
ShareKey NewShareKey();

// The key in `file`, nullopt when there is none. Throws std::runtime_error
// naming the file when it cannot be read or is not a key.
std::optional<ShareKey> ReadShareKey(const std::filesystem::path& file);
// Replaces `file` with `key`, mode 0600, durably: once this returns, a
// power cut cannot bring back the key it replaced (revoke_shares relies on
// it). Throws std::runtime_error naming the file and the reason.
void WriteShareKey(const std::filesystem::path& file, const ShareKey& key);

class UrlSigner {
 public:
  enum class Verdict { kGranted, kMissing, kExpired, kInvalid };

  explicit UrlSigner(const ShareKey& key);
  UrlSigner(const UrlSigner&) = delete;
  UrlSigner& operator=(const UrlSigner&) = delete;

  // Every URL signed before stops working (revoke_shares); requests being
  // checked meanwhile see either key.
  void Replace(const ShareKey& key);

  // "expires=<expires>&sig=<hex>" for `path` (e.g. "/stream.mjpg").
  std::string Query(std::string_view path, int64_t expires) const;

  // Whether a request for `path` with the raw query `query` (what follows
  // '?', empty when none) may be served at unix time `now`. Exactly the
  // two parameters, each once, in either order: anything else is invalid.
  Verdict Check(std::string_view path, std::string_view query, int64_t now) const;

 private:
  std::array<uint8_t, 32> Mac(std::string_view path, int64_t expires) const;

  mutable std::mutex mu_;
  ShareKey key_;
};

// "missing", "expired", "invalid" ("" for kGranted): all a refusal says.
std::string_view RefusalWord(UrlSigner::Verdict verdict);

}  // namespace domian::camera
