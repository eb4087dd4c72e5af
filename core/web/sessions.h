// SessionBook: who may see the dashboard. An operator asks the node for a
// one-time login link (`domianctl dashboard`, CreateDashboardLink); the
// browser that opens it gets a session, kept in a cookie, and the link is
// spent. Nothing is written to disk: a daemon restart ends every session
// (the operator makes a new link).
//
// Tokens and session ids are 256 random bits (OpenSSL's RAND_bytes) as
// base64url, compared in constant time (CRYPTO_memcmp), so neither can be
// guessed nor learned from response times. Both are bounded, so a
// stranger who cannot log in cannot grow the book, and an operator who
// makes links in a loop only replaces the oldest.
//
// Threads: every method may be called from any thread (CivetWeb's
// workers, the gRPC handler that makes links).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "core/common/clock.h"
#include "core/common/status.h"

namespace domian::web {

// A login link opens a session only this long after it was made: long
// enough to copy it from a terminal to a browser.
inline constexpr std::chrono::minutes kLoginLinkTtl{5};
// Unused links kept at once; a new one beyond that replaces the oldest.
inline constexpr size_t kMaxLoginLinks = 16;
// Sessions kept at once (a household's phones, tablets and laptops, many
// times over); a new one beyond that ends the least recently used.
inline constexpr size_t kMaxSessions = 64;
// A session unused this long ends: a phone used weekly stays logged in,
// a lost or sold one stops working within a month.
inline constexpr std::chrono::hours kSessionIdle{30 * 24};
// Random bytes in a token or session id: 256 bits, 43 base64url characters.
inline constexpr size_t kTokenBytes = 32;

// `bytes` random bytes (RAND_bytes) as base64url without padding.
absl::StatusOr<std::string> RandomToken(size_t bytes = kTokenBytes);

class SessionBook {
 public:
  struct Limits {
    std::chrono::nanoseconds link_ttl = kLoginLinkTtl;
    size_t max_links = kMaxLoginLinks;
    size_t max_sessions = kMaxSessions;
    std::chrono::nanoseconds session_idle = kSessionIdle;
  };

  explicit SessionBook(const Clock& clock) : SessionBook(clock, Limits{}) {}
  SessionBook(const Clock& clock, Limits limits);

  // A new login token, valid for link_ttl and once. INTERNAL when the
  // system has no randomness to give.
  absl::StatusOr<std::string> NewLoginToken() ABSL_LOCKS_EXCLUDED(mu_);

  // Spends `token`: the id of a new session, or PERMISSION_DENIED when it
  // is not a token this book made, was used, or expired.
  absl::StatusOr<std::string> Redeem(std::string_view token) ABSL_LOCKS_EXCLUDED(mu_);

  // Whether `session` is a live session; using it restarts its idle time.
  bool Use(std::string_view session) ABSL_LOCKS_EXCLUDED(mu_);

  size_t sessions() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::string secret;
    MonoTime at;  // a link: when made; a session: when last used
  };
  // Drops expired links and sessions.
  void Expire(MonoTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const Limits limits_;
  mutable absl::Mutex mu_;
  std::deque<Entry> links_ ABSL_GUARDED_BY(mu_);     // oldest first
  std::deque<Entry> sessions_ ABSL_GUARDED_BY(mu_);  // least recently used first
};

}  // namespace domian::web
