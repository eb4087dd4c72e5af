// The merge rules and liveness state machine described in peer_table.h.
#include "core/membership/peer_table.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace domian {
namespace {

using PayloadVersion = std::pair<uint64_t, uint64_t>;  // (incarnation, revision)

template <typename PeerT>
std::string AddressOf(const PeerT& peer) {
  return peer.identity ? peer.identity->address : std::string();
}

Millis Scaled(Millis value, double factor) {
  return Millis(static_cast<Millis::rep>(std::llround(static_cast<double>(value.count()) * factor)));
}

}  // namespace

GossipPace PaceFor(const MembershipTimings& timings, size_t members) {
  members = std::max<size_t>(members, 1);
  const double fanout = std::max<uint32_t>(timings.fanout, 1);
  const double exchanges = std::min(fanout, kGossipRowsPerTick / static_cast<double>(members));
  const double hops = std::max(1.0, std::log2(static_cast<double>(members)) /
                                        std::log2(static_cast<double>(kFullSpeedMembers)));
  const double stretch = fanout / exchanges * hops;
  return {members, exchanges, Scaled(timings.suspect_after, stretch),
          Scaled(timings.dead_after, stretch)};
}

PeerTable::PeerTable(Identity self, uint64_t incarnation, const Clock& clock,
                     MembershipTimings timings, WireLimits limits)
    : self_(std::move(self)),
      self_counters_{incarnation, 0},
      clock_(clock),
      timings_(timings),
      limits_(limits),
      last_tick_(clock.Now()),
      last_dead_probe_(clock.Now()),
      pace_(PaceFor(timings, 1)) {}

void PeerTable::UpdateSelf(Identity identity) {
  if (identity == self_) return;
  self_ = std::move(identity);
  ++self_revision_;
  ++view_generation_;
}

void PeerTable::Leave() {
  leaving_ = true;
  // A fresh counter makes the goodbye newer than every copy peers hold.
  ++self_counters_.heartbeat;
}

IdentityEntry PeerTable::SelfRow() const {
  IdentityEntry row;
  row.id = self_.id;
  row.counters = self_counters_;
  row.revision = self_revision_;
  row.leaving = leaving_;
  row.state = PeerState::kAlive;
  row.identity = self_;
  return row;
}

uint64_t PeerTable::HeldRevision(const Peer& peer) const {
  // An identity from an earlier incarnation may be stale: report holding
  // nothing, so a peer with the current one sends it.
  return peer.identity && peer.payload_incarnation == peer.counters.incarnation ? peer.revision
                                                                                : 0;
}

IdentityEntry PeerTable::RowFor(const std::string& id, const Peer& peer,
                                const Peer* receiver) const {
  IdentityEntry row;
  row.id = id;
  row.counters = peer.counters;
  row.revision = HeldRevision(peer);
  row.leaving = peer.left;
  row.state = peer.state;
  bool receiver_lacks = true;
  if (receiver != nullptr && receiver->holds_message != 0) {
    auto held = receiver->holds.find(id);
    receiver_lacks = held == receiver->holds.end() ||
                     held->second.message != receiver->holds_message ||
                     held->second.version < PayloadVersion{peer.counters.incarnation, row.revision};
  }
  if (row.revision != 0 && receiver_lacks) row.identity = peer.identity;
  return row;
}

IdentityListMessage PeerTable::MessageFor(const std::string& receiver_id) const {
  IdentityListMessage message;
  message.sender = SelfRow();
  auto receiver_it = peers_.find(receiver_id);
  const Peer* receiver = receiver_it == peers_.end() ? nullptr : &receiver_it->second;
  message.identity_list.reserve(std::min(peers_.size(), limits_.max_entries));
  for (const auto& [id, peer] : peers_) {
    if (message.identity_list.size() >= limits_.max_entries) break;
    IdentityEntry row = RowFor(id, peer, receiver);
    // The receiver's own row only carries our judgement of it (so it can
    // refute a suspicion); its identity would be news to nobody.
    if (id == receiver_id) row.identity.reset();
    message.identity_list.push_back(std::move(row));
  }
  return message;
}

void PeerTable::SetState(const std::string& id, Peer& peer, PeerState to,
                         std::vector<PeerChange>& changes) {
  if (peer.state == to) return;
  ++view_generation_;
  changes.push_back({id, AddressOf(peer), peer.state, to, peer.left, false});
  peer.state = to;
  if (to == PeerState::kDead) peer.dead_since = clock_.Now();
}

void PeerTable::AdoptIdentity(Peer& peer, const IdentityEntry& row) {
  peer.identity = *row.identity;
  peer.payload_incarnation = row.counters.incarnation;
  peer.revision = row.revision;
  ++view_generation_;
}

MergeOutcome PeerTable::Merge(const IdentityListMessage& message) {
  MergeOutcome outcome;
  if (auto refusal = ValidateIdentityList(message, self_.cluster, limits_)) {
    outcome.refusal = std::move(refusal);
    return outcome;
  }
  const IdentityEntry& sender = message.sender;
  const std::string& address = sender.identity->address;
  if (sender.id == self_.id) {
    if (sender.counters.incarnation == self_counters_.incarnation && address == self_.address) {
      outcome.from_self = true;  // a seed that turned out to be us
    } else {
      outcome.refusal = Refusal{RefusalKind::kSpoofed,
                                "sender claims this node's id '" + self_.id + "' from " + address};
    }
    return outcome;
  }
  auto known = peers_.find(sender.id);
  if (known != peers_.end()) {
    const Peer& peer = known->second;
    if (peer.state != PeerState::kDead && peer.identity && peer.identity->address != address) {
      outcome.refusal = Refusal{RefusalKind::kSpoofed,
                                "sender claims the id of live peer '" + sender.id + "' (at " +
                                    peer.identity->address + ") from " + address};
      return outcome;
    }
  } else if (peers_.size() >= kMaxPeers) {
    outcome.refusal = Refusal{RefusalKind::kTooLarge,
                              "peer table is full (" + std::to_string(kMaxPeers) + " peers)"};
    return outcome;
  }

  MergeRow(sender, /*direct=*/true, outcome);
  for (const IdentityEntry& row : message.identity_list) {
    if (row.id == self_.id) {
      MergeSelfRow(row, outcome);
    } else if (row.id != sender.id) {
      MergeRow(row, /*direct=*/false, outcome);
    }
  }

  // Remember what the sender holds, so our next message to it carries in
  // full only what it lacks.
  if (auto it = peers_.find(sender.id); it != peers_.end()) {
    Peer& peer = it->second;
    const uint64_t stamp = ++peer.holds_message;
    for (const IdentityEntry& row : message.identity_list) {
      peer.holds.try_emplace(row.id).first->second = {{row.counters.incarnation, row.revision},
                                                      stamp};
    }
    // Rows the sender no longer lists (peers it forgot) go; the rest were
    // overwritten in place, without allocating.
    if (peer.holds.size() > message.identity_list.size()) {
      std::erase_if(peer.holds, [stamp](const auto& entry) { return entry.second.message != stamp; });
    }
  }
  return outcome;
}

void PeerTable::MergeSelfRow(const IdentityEntry& row, MergeOutcome& outcome) {
  if (leaving_) return;
  if (row.counters.incarnation > self_counters_.incarnation) {
    // Somebody holds a later incarnation of us than we have: an earlier
    // life whose state was lost, or an impostor. Either way, outgrow it.
    self_counters_.incarnation = row.counters.incarnation + 1;
    outcome.refuted = true;
  } else if (row.counters.incarnation == self_counters_.incarnation &&
             row.state != PeerState::kAlive) {
    // A peer suspects us or thinks us dead (we were paused, or a network
    // hiccup): a new incarnation overrides that rumour everywhere.
    ++self_counters_.incarnation;
    outcome.refuted = true;
  }
}

void PeerTable::MergeRow(const IdentityEntry& row, bool direct, MergeOutcome& outcome) {
  const MonoTime now = clock_.Now();
  auto it = peers_.find(row.id);
  if (it == peers_.end()) {
    if (auto tomb = tombstones_.find(row.id);
        tomb != tombstones_.end() && row.counters <= tomb->second.counters) {
      return;  // a forgotten peer's old row still going round
    }
    // Without an identity we cannot reach it; a later row will carry one.
    if (!row.identity || peers_.size() >= kMaxPeers) return;
    Peer& peer = peers_[row.id];
    peer.counters = row.counters;
    AdoptIdentity(peer, row);
    peer.last_advanced = now;
    if (direct) peer.last_direct = now;
    peer.left = row.leaving;
    peer.state = row.leaving || (!direct && row.state == PeerState::kDead) ? PeerState::kDead
                                                                           : PeerState::kAlive;
    peer.dead_since = now;
    tombstones_.erase(row.id);
    outcome.changes.push_back({row.id, AddressOf(peer), std::nullopt, peer.state, peer.left, false});
    return;
  }

  Peer& peer = it->second;
  if (row.identity && PayloadVersion{row.counters.incarnation, row.revision} >
                          PayloadVersion{peer.payload_incarnation, peer.revision}) {
    AdoptIdentity(peer, row);
  }

  if (direct) {
    if (row.counters < peer.counters) return;  // an old message: counters never go back
    if (row.counters.incarnation != peer.counters.incarnation) ++view_generation_;
    peer.counters = row.counters;
    peer.last_direct = now;
    peer.last_advanced = now;
    peer.left = row.leaving;
    SetState(row.id, peer, row.leaving ? PeerState::kDead : PeerState::kAlive, outcome.changes);
    return;
  }

  if (row.counters <= peer.counters) {
    // Nothing newer, but a second opinion: the sender holds the same last
    // heartbeat and already judged it dead while we only suspect it.
    if (row.counters == peer.counters && row.state == PeerState::kDead &&
        peer.state == PeerState::kSuspect) {
      SetState(row.id, peer, PeerState::kDead, outcome.changes);
    }
    return;
  }
  if (row.counters.incarnation != peer.counters.incarnation) ++view_generation_;
  peer.counters = row.counters;
  if (row.leaving) {
    peer.left = true;
    SetState(row.id, peer, PeerState::kDead, outcome.changes);
    return;
  }
  // Only direct contact brings back a dead peer: a newer counter heard
  // second-hand may have been written just before it died.
  if (peer.state == PeerState::kDead) return;
  if (row.state == PeerState::kAlive) {
    peer.last_advanced = now;
    SetState(row.id, peer, PeerState::kAlive, outcome.changes);
  } else if (row.state == PeerState::kDead && peer.state == PeerState::kSuspect) {
    SetState(row.id, peer, PeerState::kDead, outcome.changes);
  }
}

std::vector<PeerChange> PeerTable::Tick() {
  const MonoTime now = clock_.Now();
  std::vector<PeerChange> changes;
  const auto gap = now - last_tick_;
  if (gap > kLateTickIntervals * timings_.heartbeat_interval) {
    // We were paused or starved: that time says nothing about the peers.
    const auto pause = gap - timings_.heartbeat_interval;
    for (auto& [id, peer] : peers_) {
      if (peer.state != PeerState::kDead) peer.last_advanced = std::min(now, peer.last_advanced + pause);
    }
  }
  last_tick_ = now;
  ++self_counters_.heartbeat;
  pace_ = PaceFor(timings_, peers_.size() + 1);

  for (auto it = peers_.begin(); it != peers_.end();) {
    const std::string& id = it->first;
    Peer& peer = it->second;
    if (peer.state == PeerState::kDead) {
      if (now - peer.dead_since >= timings_.forget_after) {
        tombstones_[id] = {peer.counters, now + timings_.forget_after};
        changes.push_back({id, AddressOf(peer), PeerState::kDead, PeerState::kDead, peer.left, true});
        it = peers_.erase(it);
        ++view_generation_;
        continue;
      }
    } else {
      const auto silent = now - peer.last_advanced;
      const PeerState to = silent >= pace_.dead_after      ? PeerState::kDead
                           : silent >= pace_.suspect_after ? PeerState::kSuspect
                                                           : PeerState::kAlive;
      SetState(id, peer, to, changes);
    }
    ++it;
  }
  std::erase_if(tombstones_, [now](const auto& entry) { return entry.second.until <= now; });
  return changes;
}

std::vector<HeartbeatTarget> PeerTable::PickTargets(const std::vector<std::string>& seeds) {
  const MonoTime now = clock_.Now();
  std::vector<HeartbeatTarget> targets;

  // Live peers heard from directly longest ago come first; a peer we
  // exchanged lists with within the last interval (either side asking)
  // needs no heartbeat from us: the seed's "contact when the last one is
  // too old". One exchange per pair per interval is enough, since each
  // carries both sides' lists.
  const auto recent = timings_.heartbeat_interval;
  std::vector<std::pair<std::string, Peer*>> live;
  for (auto& [id, peer] : peers_) {
    if (peer.state == PeerState::kDead || !peer.identity) continue;
    if (peer.last_direct && now - *peer.last_direct < recent) continue;
    live.emplace_back(id, &peer);
  }
  auto key = [](const Peer* peer) {
    return std::make_tuple(peer->last_direct.value_or(MonoTime::min()),
                           peer->last_attempt.value_or(MonoTime::min()));
  };
  std::sort(live.begin(), live.end(),
            [&](const auto& a, const auto& b) { return key(a.second) < key(b.second); });
  exchange_credit_ = std::min(exchange_credit_ + pace_.exchanges_per_tick,
                              static_cast<double>(std::max<uint32_t>(timings_.fanout, 1)));
  const auto due = static_cast<size_t>(exchange_credit_);
  exchange_credit_ -= static_cast<double>(due);
  for (auto& [id, peer] : live) {
    if (targets.size() >= due) break;
    targets.push_back({id, peer->identity->address});
    peer->last_attempt = now;
  }

  // One dead peer now and then, so both halves of a healed partition find
  // each other again. Peers that said goodbye will call us when they return.
  if (now - last_dead_probe_ >= timings_.reconnect_interval) {
    Peer* oldest = nullptr;
    const std::string* oldest_id = nullptr;
    for (auto& [id, peer] : peers_) {
      if (peer.state != PeerState::kDead || peer.left || !peer.identity) continue;
      if (oldest == nullptr || peer.last_attempt < oldest->last_attempt) {
        oldest = &peer;
        oldest_id = &id;
      }
    }
    if (oldest != nullptr) {
      targets.push_back({*oldest_id, oldest->identity->address});
      oldest->last_attempt = now;
      last_dead_probe_ = now;
    }
  }

  for (const std::string& seed : seeds) {
    if (seed == self_.address) continue;
    const auto named = seed_ids_.find(seed);
    const bool answered = std::any_of(peers_.begin(), peers_.end(), [&](const auto& entry) {
      const bool is_seed = (named != seed_ids_.end() && entry.first == named->second) ||
                           (entry.second.identity && entry.second.identity->address == seed);
      return is_seed && entry.second.state != PeerState::kDead;
    });
    if (answered) continue;
    auto [attempt, fresh] = seed_attempts_.try_emplace(seed, now);
    if (!fresh && now - attempt->second < timings_.seed_retry) continue;
    attempt->second = now;
    targets.push_back({"", seed});
  }
  return targets;
}

void PeerTable::NoteSeedAnswer(const std::string& seed, const std::string& id) {
  seed_ids_[seed] = id;
}

std::vector<HeartbeatTarget> PeerTable::LiveTargets() const {
  std::vector<HeartbeatTarget> targets;
  for (const auto& [id, peer] : peers_) {
    if (peer.state != PeerState::kDead && peer.identity) targets.push_back({id, peer.identity->address});
  }
  return targets;
}

std::vector<PeerView> PeerTable::Peers() const {
  const MonoTime now = clock_.Now();
  std::vector<PeerView> views;
  views.reserve(peers_.size());
  for (const auto& [id, peer] : peers_) {
    if (!peer.identity) continue;
    views.push_back({*peer.identity, peer.state, peer.counters, peer.left,
                     std::chrono::duration_cast<Millis>(now - peer.last_advanced)});
  }
  return views;
}

std::optional<PeerState> PeerTable::StateOf(const std::string& id) const {
  auto it = peers_.find(id);
  if (it == peers_.end()) return std::nullopt;
  return it->second.state;
}

bool PeerTable::Lonely() const {
  return std::none_of(peers_.begin(), peers_.end(), [](const auto& entry) {
    return entry.second.state != PeerState::kDead;
  });
}

}  // namespace domian
