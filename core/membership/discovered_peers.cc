#include "core/membership/discovered_peers.h"

#include <algorithm>

namespace domian::membership {

void DiscoveredPeers::Add(const std::string& id, const std::string& address, MonoTime now) {
  auto it = entries_.find(address);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxAddresses) return;
    entries_.emplace(address, Entry{id, now, first_retry_});
    return;
  }
  if (it->second.self) return;
  it->second.id = id;
  it->second.next_attempt = now;
  it->second.pause = first_retry_;
}

void DiscoveredPeers::Remove(const std::string& address) { entries_.erase(address); }

void DiscoveredPeers::Answered(const std::string& address, const std::string& id) {
  auto it = entries_.find(address);
  if (it == entries_.end()) return;
  it->second.id = id;
  it->second.pause = first_retry_;  // once it dies, try it again promptly
}

void DiscoveredPeers::IsSelf(const std::string& address) {
  auto it = entries_.find(address);
  if (it != entries_.end()) it->second.self = true;
}

std::vector<HeartbeatTarget> DiscoveredPeers::Due(
    MonoTime now, const std::function<bool(const std::string& id)>& is_live) {
  std::vector<HeartbeatTarget> due;
  for (auto& [address, entry] : entries_) {
    if (entry.self || is_live(entry.id) || now < entry.next_attempt) continue;
    due.push_back({"", address});
    entry.next_attempt = now + entry.pause;
    entry.pause = std::min(entry.pause * 2, kMaxRetry);
  }
  return due;
}

}  // namespace domian::membership
