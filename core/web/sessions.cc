#include "core/web/sessions.h"

#include <absl/strings/escaping.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <vector>

namespace domian::web {
namespace {

// Whether `a` and `b` are the same secret, in time that depends on their
// length only (which every token shares).
bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The entry holding `secret`. Every entry is compared, so the time taken
// does not say how many entries share a prefix with it.
size_t Find(const auto& entries, std::string_view secret) {
  size_t found = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (SameSecret(entries[i].secret, secret)) found = i;
  }
  return found;
}

}  // namespace

absl::StatusOr<std::string> RandomToken(size_t bytes) {
  std::vector<unsigned char> random(bytes);
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return absl::InternalError("the system gives no randomness (RAND_bytes failed)");
  }
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

SessionBook::SessionBook(const Clock& clock, Limits limits) : clock_(clock), limits_(limits) {}

absl::StatusOr<std::string> SessionBook::NewLoginToken() {
  absl::StatusOr<std::string> token = RandomToken();
  if (!token.ok()) return token.status();
  const MonoTime now = clock_.Now();
  absl::MutexLock lock(&mu_);
  Expire(now);
  while (!links_.empty() && links_.size() >= limits_.max_links) links_.pop_front();
  links_.push_back({*token, now});
  return token;
}

absl::StatusOr<std::string> SessionBook::Redeem(std::string_view token) {
  // Made before the lock: a failure leaves the link unspent.
  absl::StatusOr<std::string> session = RandomToken();
  if (!session.ok()) return session.status();
  const MonoTime now = clock_.Now();
  absl::MutexLock lock(&mu_);
  Expire(now);
  const auto found = Find(links_, token);
  if (found == links_.size()) {
    return absl::PermissionDeniedError(
        "this login link is not valid: it was used already, it is older than 5 minutes, or the "
        "daemon restarted since it was made. Make a new one with `domianctl dashboard`");
  }
  links_.erase(links_.begin() + static_cast<std::ptrdiff_t>(found));
  while (!sessions_.empty() && sessions_.size() >= limits_.max_sessions) sessions_.pop_front();
  sessions_.push_back({*session, now});
  return session;
}

bool SessionBook::Use(std::string_view session) {
  const MonoTime now = clock_.Now();
  absl::MutexLock lock(&mu_);
  Expire(now);
  const auto found = Find(sessions_, session);
  if (found == sessions_.size()) return false;
  // The most recently used go last, so a full book ends the idlest.
  Entry used = std::move(sessions_[found]);
  sessions_.erase(sessions_.begin() + static_cast<std::ptrdiff_t>(found));
  used.at = now;
  sessions_.push_back(std::move(used));
  return true;
}

size_t SessionBook::sessions() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void SessionBook::Expire(MonoTime now) {
  // Both lists are in time order: what expired is at the front.
  while (!links_.empty() && now - links_.front().at >= limits_.link_ttl) links_.pop_front();
  while (!sessions_.empty() && now - sessions_.front().at >= limits_.session_idle) {
    sessions_.pop_front();
  }
}

}  // namespace domian::web
