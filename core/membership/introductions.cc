#include "core/membership/introductions.h"

namespace domian::membership {

bool Introductions::Add(const std::string& id, const std::string& address, bool own_claim,
                        MonoTime now) {
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    if (own_claim && it->second.address != address) it->second = Entry{address, now, 0};
    return true;
  }
  if (entries_.size() >= kMaxIntroductions) return false;
  entries_.emplace(id, Entry{address, now, 0});
  return true;
}

void Introductions::Remove(const std::string& id) { entries_.erase(id); }

bool Introductions::Unanswered(const std::string& id, MonoTime now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  Entry& entry = it->second;
  if (++entry.attempts >= kMaxAttempts) {
    entries_.erase(it);
    return true;
  }
  // 1 s, 2 s, 4 s, ... after the first call.
  entry.next_attempt = now + kFirstRetry * (1 << (entry.attempts - 1));
  return false;
}

std::vector<Introductions::Target> Introductions::Due(
    MonoTime now, size_t budget, const std::function<bool(const std::string& address)>& busy) {
  std::vector<Target> due;
  for (auto& [id, entry] : entries_) {
    if (due.size() >= budget) break;
    if (now < entry.next_attempt || busy(entry.address)) continue;
    due.push_back({id, entry.address});
    // Not again before this call ends (Unanswered or Remove decides);
    // a call that never reports back still ends the entry in time.
    entry.next_attempt = now + kFirstRetry * (1 << entry.attempts);
  }
  return due;
}

}  // namespace domian::membership
