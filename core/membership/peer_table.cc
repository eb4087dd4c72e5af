// The merge rules and liveness state machine described in peer_table.h.
#include "core/membership/peer_table.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/common/net.h"

namespace domian::membership {
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

GossipPace PaceFor(const config::MembershipTimings& timings, size_t members) {
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
                     config::MembershipTimings timings, WireLimits limits)
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
  self_counters_.heartbeat = SaturatingAdd(self_counters_.heartbeat, 1);
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
  // A suspicion lasts only while the member is suspect: an answer, a
  // refutation or a death ends it.
  if (to != PeerState::kSuspect) peer.suspicion.reset();
  if (peer.state == to) return;
  ++view_generation_;
  changes.push_back({id, AddressOf(peer), peer.state, to, peer.left, false,
                     std::chrono::duration_cast<Millis>(clock_.Now() - peer.last_advanced)});
  peer.state = to;
  if (to == PeerState::kDead) peer.dead_since = clock_.Now();
}

uint64_t PeerTable::KnownEpoch(const std::string& service) const {
  uint64_t known = 0;
  auto scan = [&](const Identity& identity) {
    for (const ServiceRecord& record : identity.services) {
      if (record.name == service) known = std::max(known, record.epoch);
    }
  };
  scan(self_);
  for (const auto& [id, peer] : peers_) {
    if (peer.identity) scan(*peer.identity);
  }
  return known;
}

void PeerTable::AdoptIdentity(Peer& peer, const IdentityEntry& row, MergeOutcome& outcome) {
  Identity identity = *row.identity;
  // A service record with an epoch this node cannot fence with (beyond
  // the ceiling, or far ahead of every epoch known for that service)
  // costs that record, not the rest of the identity.
  std::erase_if(identity.services, [&](const ServiceRecord& record) {
    const uint64_t known = KnownEpoch(record.name);
    const uint64_t highest = std::max(record.epoch, record.hand_over_epoch);
    if (highest <= kMaxEpoch && highest <= SaturatingAdd(known, kMaxCounterLead, kMaxEpoch)) {
      return false;
    }
    outcome.dropped.push_back(row.id + ": service " + record.name + ": epoch " +
                              std::to_string(highest) + " is out of range (known: " +
                              std::to_string(known) + ")");
    return true;
  });
  peer.identity = std::move(identity);
  peer.payload_incarnation = row.counters.incarnation;
  peer.revision = row.revision;
  ++view_generation_;
}

MergeOutcome PeerTable::Merge(const IdentityListMessage& message, const MessageOrigin& origin) {
  MergeOutcome outcome;
  outcome.status = ValidateIdentityList(message, self_.cluster, limits_);
  if (!outcome.status.ok()) return outcome;
  const IdentityEntry& sender = message.sender;
  const std::string& address = sender.identity->address;
  const bool reply = origin.kind == MessageOrigin::Kind::kReply;
  if (sender.id == self_.id) {
    if (sender.counters.incarnation == self_counters_.incarnation && address == self_.address) {
      outcome.from_self = true;  // a seed that turned out to be us
    } else {
      outcome.status =
          absl::Status(kSpoofed, "sender claims this node's id '" + self_.id + "' from " + address);
    }
    return outcome;
  }
  auto known = peers_.find(sender.id);
  if (known != peers_.end()) {
    const Peer& peer = known->second;
    if (peer.state != PeerState::kDead && peer.identity && peer.identity->address != address) {
      outcome.status =
          absl::Status(kSpoofed, "sender claims the id of live peer '" + sender.id + "' (at " +
                                     peer.identity->address + ") from " + address);
      return outcome;
    }
  } else if (reply && address == origin.called && peers_.size() >= kMaxPeers) {
    outcome.status =
        absl::Status(kTooLarge, "peer table is full (" + std::to_string(kMaxPeers) + " peers)");
    return outcome;
  }

  // Only a reply from the address the domain advertises is its own word;
  // a seed or a discovered address that answers as a domain advertising
  // another address is called there too, like any claim.
  if (reply && address == origin.called) {
    MergeOwnWord(sender, outcome);
  } else {
    MergeClaim(sender, outcome);
  }
  size_t introductions_left = kMaxIntroductionsPerMessage;
  for (const IdentityEntry& row : message.identity_list) {
    if (row.id == self_.id) {
      MergeSelfRow(row, outcome);
    } else if (row.id != sender.id) {
      MergeRelayed(row, introductions_left, outcome);
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
  if (row.counters.incarnation > kMaxCounter || row.counters.heartbeat > kMaxCounter) {
    outcome.dropped.push_back("a row for this node has counters out of range (" +
                              std::to_string(row.counters.incarnation) + ", " +
                              std::to_string(row.counters.heartbeat) + ")");
    return;
  }
  if (row.counters.incarnation > self_counters_.incarnation) {
    // Somebody holds a later incarnation of us than we have: an earlier
    // life whose state was lost, or an impostor. Either way, outgrow it,
    // unless it is further ahead than any earlier life could be: then it
    // is a lie meant to push our counter to its ceiling.
    if (row.counters.incarnation - self_counters_.incarnation > kMaxCounterLead) {
      outcome.dropped.push_back("a row for this node claims incarnation " +
                                std::to_string(row.counters.incarnation) + ", too far above ours (" +
                                std::to_string(self_counters_.incarnation) + ")");
      return;
    }
    self_counters_.incarnation = SaturatingAdd(row.counters.incarnation, 1);
    outcome.refuted = true;
    return;
  }
  if (row.counters.incarnation != self_counters_.incarnation) return;
  if (row.state != PeerState::kAlive) {
    // A peer suspects us or thinks us dead (we were paused, or a network
    // hiccup): a new incarnation overrides that rumour everywhere.
    self_counters_.incarnation = SaturatingAdd(self_counters_.incarnation, 1);
    outcome.refuted = true;
  } else if (row.counters.heartbeat > self_counters_.heartbeat &&
             row.counters.heartbeat - self_counters_.heartbeat <= kMaxCounterLead) {
    // Somebody spread a heartbeat of ours we never sent: peers would take
    // our real ones for old news until we caught up. Jump past it.
    self_counters_.heartbeat = SaturatingAdd(row.counters.heartbeat, 1);
  }
}

void PeerTable::Introduce(const std::string& id, const std::string& address, bool own_claim,
                          MergeOutcome& outcome) {
  if (introductions_.Contains(id) && !own_claim) return;
  const std::string why = own_claim ? UndialableClaimReason(address, self_.address)
                                    : UndialableHintReason(address, self_.address);
  if (!why.empty()) {
    outcome.dropped.push_back(id + ": not calling " + address + ": " + why);
    return;
  }
  if (!introductions_.Add(id, address, own_claim, clock_.Now())) {
    outcome.dropped.push_back(id + ": too many domains being introduced (" +
                              std::to_string(Introductions::kMaxIntroductions) + ")");
  }
}

void PeerTable::IntroduceRelayed(const std::string& id, const std::string& address,
                                 size_t& introductions_left, MergeOutcome& outcome) {
  if (introductions_.Contains(id)) return;
  if (introductions_left == 0) {
    outcome.dropped.push_back(id + ": more than " + std::to_string(kMaxIntroductionsPerMessage) +
                              " unknown domains in one message");
    return;
  }
  --introductions_left;
  Introduce(id, address, /*own_claim=*/false, outcome);
}

void PeerTable::MergeOwnWord(const IdentityEntry& row, MergeOutcome& outcome) {
  const MonoTime now = clock_.Now();
  introductions_.Remove(row.id);
  auto it = peers_.find(row.id);
  if (it == peers_.end()) {
    // A forgotten peer's tombstone holds back old rows about it; its own
    // word is fresh.
    tombstones_.erase(row.id);
    Peer& peer = peers_[row.id];
    peer.counters = row.counters;
    AdoptIdentity(peer, row, outcome);
    peer.last_advanced = now;
    peer.last_direct = now;
    peer.left = row.leaving;
    peer.state = row.leaving ? PeerState::kDead : PeerState::kAlive;
    peer.dead_since = now;
    outcome.changes.push_back({row.id, AddressOf(peer), std::nullopt, peer.state, peer.left, false});
    if (prober_) prober_->Add(row.id);
    return;
  }
  Peer& peer = it->second;
  if (PayloadVersion{row.counters.incarnation, row.revision} >
      PayloadVersion{peer.payload_incarnation, peer.revision}) {
    AdoptIdentity(peer, row, outcome);
  }
  // Counters never go back: lower ones here mean somebody spread higher
  // ones in its name, which it outgrows once it sees them.
  if (row.counters.incarnation > peer.counters.incarnation) ++view_generation_;
  peer.counters = std::max(peer.counters, row.counters);
  peer.last_direct = now;
  peer.last_advanced = now;
  peer.unanswered = 0;
  peer.news = false;
  peer.news_address.clear();
  peer.left = row.leaving;
  SetState(row.id, peer, row.leaving ? PeerState::kDead : PeerState::kAlive, outcome.changes);
}

void PeerTable::MergeClaim(const IdentityEntry& row, MergeOutcome& outcome) {
  const std::string& address = row.identity->address;
  auto it = peers_.find(row.id);
  if (it == peers_.end()) {
    if (auto tomb = tombstones_.find(row.id);
        tomb != tombstones_.end() && row.counters <= tomb->second.counters) {
      return;  // a forgotten peer's old message
    }
    Introduce(row.id, address, /*own_claim=*/true, outcome);
    return;
  }
  Peer& peer = it->second;
  if (!peer.identity || peer.identity->address != address) {
    // A dead peer says it is back at another address: ask it there.
    if (UndialableClaimReason(address, self_.address).empty()) {
      peer.news = true;
      peer.news_address = address;
    }
    return;
  }
  const bool same_life = row.counters.incarnation == peer.counters.incarnation;
  if (same_life && !row.leaving && peer.state != PeerState::kDead &&
      row.counters.heartbeat >= peer.counters.heartbeat &&
      row.counters.heartbeat - peer.counters.heartbeat <= kMaxCounterLead) {
    // What we know, with a fresh heartbeat: it keeps the peer alive, as a
    // relayed "alive" would, and counts as this interval's exchange.
    const MonoTime now = clock_.Now();
    peer.counters.heartbeat = row.counters.heartbeat;
    peer.last_direct = now;
    peer.last_advanced = now;
    SetState(row.id, peer, PeerState::kAlive, outcome.changes);
    if (row.revision > HeldRevision(peer)) peer.news = true;
    return;
  }
  // Another incarnation, a goodbye, or a dead peer calling again: only
  // its own answer may change what we hold.
  if (row.counters > peer.counters || row.leaving || peer.state == PeerState::kDead) {
    peer.news = true;
  }
}

void PeerTable::MergeRelayed(const IdentityEntry& row, size_t& introductions_left,
                             MergeOutcome& outcome) {
  if (row.counters.incarnation > kMaxCounter || row.counters.heartbeat > kMaxCounter) {
    outcome.dropped.push_back(row.id + ": counters (" + std::to_string(row.counters.incarnation) +
                              ", " + std::to_string(row.counters.heartbeat) +
                              ") are out of range");
    return;
  }
  const MonoTime now = clock_.Now();
  auto it = peers_.find(row.id);
  if (it == peers_.end()) {
    if (auto tomb = tombstones_.find(row.id);
        tomb != tombstones_.end() && row.counters <= tomb->second.counters) {
      return;  // a forgotten peer's old row still going round
    }
    // Only a live domain with an address is worth calling.
    if (!row.identity || row.leaving || row.state != PeerState::kAlive) return;
    IntroduceRelayed(row.id, row.identity->address, introductions_left, outcome);
    return;
  }

  Peer& peer = it->second;
  const bool ahead_too_far =
      row.counters.incarnation > peer.counters.incarnation
          ? row.counters.incarnation - peer.counters.incarnation > kMaxCounterLead
          : row.counters.incarnation == peer.counters.incarnation &&
                row.counters.heartbeat > peer.counters.heartbeat &&
                row.counters.heartbeat - peer.counters.heartbeat > kMaxCounterLead;
  if (ahead_too_far) {
    outcome.dropped.push_back(row.id + ": counters (" + std::to_string(row.counters.incarnation) +
                              ", " + std::to_string(row.counters.heartbeat) +
                              ") are too far ahead of what is known (" +
                              std::to_string(peer.counters.incarnation) + ", " +
                              std::to_string(peer.counters.heartbeat) + ")");
    return;
  }
  // News about it (a new life, a newer identity, a goodbye) is fetched
  // from the peer itself; a relay only says there is some.
  if (row.counters.incarnation > peer.counters.incarnation ||
      (row.leaving && !peer.left && row.counters >= peer.counters) ||
      (row.counters.incarnation == peer.counters.incarnation &&
       row.revision > HeldRevision(peer))) {
    peer.news = true;
  }
  if (row.leaving) return;

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
  // Only direct contact brings back a dead peer: a newer counter heard
  // second-hand may have been written just before it died. A probed
  // member's state comes from probes and rumours, not from counters.
  if (peer.state == PeerState::kDead || Probed(peer)) return;
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
      // Nor can a suspect refute while we do not run.
      if (peer.suspicion) peer.suspicion->Delay(std::chrono::duration_cast<Millis>(pause));
    }
  }
  last_tick_ = now;
  self_counters_.heartbeat = SaturatingAdd(self_counters_.heartbeat, 1);
  pace_ = PaceFor(timings_, peers_.size() + 1);
  introduction_calls_left_ = kIntroductionCallsPerTick;

  for (auto it = peers_.begin(); it != peers_.end();) {
    const std::string& id = it->first;
    Peer& peer = it->second;
    if (peer.state == PeerState::kDead) {
      if (now - peer.dead_since >= timings_.forget_after) {
        tombstones_[id] = {peer.counters, now + timings_.forget_after};
        if (prober_) prober_->Remove(id);
        rumours_.Forget(id);
        changes.push_back({id, AddressOf(peer), PeerState::kDead, PeerState::kDead, peer.left, true});
        it = peers_.erase(it);
        ++view_generation_;
        continue;
      }
    } else if (!Probed(peer)) {  // probed members: PollProbes, ExpireSuspicions
      const auto silent = now - peer.last_advanced;
      const PeerState to = silent >= pace_.dead_after      ? PeerState::kDead
                           : silent >= pace_.suspect_after ? PeerState::kSuspect
                                                           : PeerState::kAlive;
      SetState(id, peer, to, changes);
    }
    ++it;
  }
  ExpireSuspicions(changes);
  std::erase_if(tombstones_, [now](const auto& entry) { return entry.second.until <= now; });
  return changes;
}

std::vector<HeartbeatTarget> PeerTable::PickTargets(
    const std::vector<std::string>& seeds,
    const std::function<bool(const std::string& address)>& busy) {
  const MonoTime now = clock_.Now();
  std::vector<HeartbeatTarget> targets;
  auto is_busy = [&](const std::string& address) { return busy && busy(address); };

  // Live peers heard from directly longest ago come first; a peer we
  // exchanged lists with within the last interval (either side asking)
  // needs no heartbeat from us: the seed's "contact when the last one is
  // too old". One exchange per pair per interval is enough, since each
  // carries both sides' lists. Peers that stopped answering would always
  // be the ones heard from longest ago: left in that order, a partition
  // would give every slot to the unreachable side and starve the
  // reachable one, so they queue apart and get one slot per tick.
  const auto recent = timings_.heartbeat_interval;
  std::vector<std::pair<std::string, Peer*>> answering, silent;
  for (auto& [id, peer] : peers_) {
    if (peer.state == PeerState::kDead || !peer.identity) continue;
    if (peer.last_direct && now - *peer.last_direct < recent) continue;
    const bool answers = peer.state == PeerState::kAlive && peer.unanswered == 0;
    (answers ? answering : silent).emplace_back(id, &peer);
  }
  auto key = [](const Peer* peer) {
    return std::make_tuple(peer->last_direct.value_or(MonoTime::min()),
                           peer->last_attempt.value_or(MonoTime::min()));
  };
  auto by_key = [&](const auto& a, const auto& b) { return key(a.second) < key(b.second); };
  std::sort(answering.begin(), answering.end(), by_key);
  // The silent take turns by when they were last tried.
  std::sort(silent.begin(), silent.end(), [](const auto& a, const auto& b) {
    return a.second->last_attempt.value_or(MonoTime::min()) <
           b.second->last_attempt.value_or(MonoTime::min());
  });
  exchange_credit_ = std::min(exchange_credit_ + pace_.exchanges_per_tick,
                              static_cast<double>(std::max<uint32_t>(timings_.fanout, 1)));
  const auto due = static_cast<size_t>(exchange_credit_);
  exchange_credit_ -= static_cast<double>(due);
  auto take = [&](const std::string& id, Peer* peer) {
    targets.push_back({id, peer->identity->address});
    peer->last_attempt = now;
  };
  // Busy is asked only of the peers about to be taken: it may hand out
  // the room for new connections (Membership::BusyForPick), which a peer
  // passed over would waste.
  for (auto& [id, peer] : answering) {
    if (targets.size() >= due) break;
    if (!is_busy(peer->identity->address)) take(id, peer);
  }
  if (targets.size() < due) {
    for (auto& [id, peer] : silent) {
      if (is_busy(peer->identity->address)) continue;
      take(id, peer);
      break;
    }
  }

  // One dead peer now and then, so both halves of a healed partition find
  // each other again. Peers that said goodbye will call us when they return.
  if (now - last_dead_probe_ >= timings_.reconnect_interval) {
    Peer* oldest = nullptr;
    const std::string* oldest_id = nullptr;
    for (auto& [id, peer] : peers_) {
      if (peer.state != PeerState::kDead || peer.left || !peer.identity) continue;
      if (is_busy(peer.identity->address)) continue;
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
    if (answered || is_busy(seed)) continue;
    auto [attempt, fresh] = seed_attempts_.try_emplace(seed, now);
    if (!fresh && now - attempt->second < timings_.seed_retry) continue;
    attempt->second = now;
    targets.push_back({"", seed});
  }
  return targets;
}

Millis PeerTable::NewsCallSpacing() const {
  return std::max(Millis(1), timings_.heartbeat_interval / kNewsCallsPerInterval);
}

std::vector<HeartbeatTarget> PeerTable::UrgentTargets(
    const std::function<bool(const std::string& address)>& busy) {
  const MonoTime now = clock_.Now();
  auto is_busy = [&](const std::string& address) { return busy && busy(address); };
  std::vector<HeartbeatTarget> targets;
  for (auto& [id, peer] : peers_) {
    if (!peer.news || !peer.identity) continue;
    const std::string& address = peer.news_address.empty() ? peer.identity->address
                                                           : peer.news_address;
    if (peer.last_news_call && now - *peer.last_news_call < NewsCallSpacing()) continue;
    if (is_busy(address)) continue;
    peer.last_news_call = now;
    peer.last_attempt = now;
    targets.push_back({id, address});
  }
  for (Introductions::Target& due :
       introductions_.Due(now, introduction_calls_left_, is_busy)) {
    --introduction_calls_left_;
    targets.push_back({std::move(due.id), std::move(due.address)});
  }
  return targets;
}

void PeerTable::NoteUnanswered(const HeartbeatTarget& target) {
  if (target.id.empty()) return;
  auto it = peers_.find(target.id);
  if (it == peers_.end()) {
    introductions_.Unanswered(target.id, clock_.Now());
    return;
  }
  Peer& peer = it->second;
  peer.unanswered = std::min(peer.unanswered + 1, 1 << 20);
  // The news waits for the next hint rather than calling a silent peer
  // every interval.
  peer.news = false;
  peer.news_address.clear();
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

}  // namespace domian::membership
