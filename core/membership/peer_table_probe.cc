// Membership v2 in PeerTable: probe rounds, suspicions and rumours (see
// "membership v2" in peer_table.h). The rules of who may say what are the
// identity lists' (top of peer_table.h): a probe's sender speaks for
// itself only in an answer from the address this node called; a rumour is
// a relayed row, which may spread suspicion and death of a known member at
// its known incarnation or a bounded lead beyond it, and makes this node
// call the member for anything else (a new life, a newer identity, a
// goodbye). A dead member comes back only by its own word.
#include <algorithm>

#include "core/membership/peer_table.h"
#include "core/membership/view_digest.h"

namespace domian::membership {

void PeerTable::EnableProbing(ProbeTimings timings, uint64_t seed) {
  probe_timings_ = timings;
  prober_.emplace(Prober::Options{timings.interval, timings.timeout, Prober::Options{}.relays},
                  seed, clock_.Now());
  relay_random_.seed(seed ^ 0x9e3779b97f4a7c15ULL);
  for (const auto& [id, peer] : peers_) prober_->Add(id);
}

bool PeerTable::Probed(const Peer& peer) const {
  return prober_ && peer.identity && peer.identity->protocol >= kProbeProtocol;
}

Millis PeerTable::SuspicionTimeout() const {
  return SuspicionMin(probe_timings_ ? probe_timings_->suspicion : Millis(0), peers_.size() + 1);
}

PeerTable::ProbeStep PeerTable::PollProbes() {
  ProbeStep step;
  if (!prober_) return step;
  const MonoTime now = clock_.Now();
  step.actions = prober_->Poll(
      now, health_,
      [this](const std::string& id) {
        auto it = peers_.find(id);
        return it != peers_.end() && it->second.state != PeerState::kDead && Probed(it->second);
      },
      [this](const std::string& target, size_t count) { return PickRelays(target, count); });
  for (const Prober::Verdict& verdict : step.actions.verdicts) {
    if (verdict.answered) {
      health_.ProbeAnswered();
      continue;
    }
    health_.ProbeUnanswered(verdict.missing_nacks);
    auto it = peers_.find(verdict.target);
    if (it == peers_.end() || it->second.state == PeerState::kDead) continue;
    it->second.unanswered = std::min(it->second.unanswered + 1, 1 << 20);
    Suspect(verdict.target, it->second, self_.id, step.changes);
  }
  ExpireSuspicions(step.changes);
  return step;
}

MonoTime PeerTable::NextProbeWake() const {
  if (!prober_) return MonoTime::max();
  MonoTime wake = prober_->NextWake();
  for (const auto& [id, peer] : peers_) {
    if (peer.suspicion) wake = std::min(wake, peer.suspicion->Deadline());
  }
  return wake;
}

std::vector<std::string> PeerTable::PickRelays(const std::string& target, size_t count) {
  std::vector<std::string> candidates;
  for (const auto& [id, peer] : peers_) {
    // Only members that answer: a relay that is itself in doubt would
    // only add a missing nack.
    if (id != target && peer.state == PeerState::kAlive && Probed(peer)) candidates.push_back(id);
  }
  std::vector<std::string> chosen;
  std::sample(candidates.begin(), candidates.end(), std::back_inserter(chosen), count,
              relay_random_);
  return chosen;
}

void PeerTable::Suspect(const std::string& id, Peer& peer, const std::string& suspector,
                        std::vector<PeerChange>& changes) {
  bool news = false;
  if (!peer.suspicion) {
    peer.suspicion.emplace(clock_.Now(), SuspicionTimeout(), suspector);
    news = true;
  } else {
    news = peer.suspicion->Confirm(suspector);
  }
  SetState(id, peer, PeerState::kSuspect, changes);
  if (!news) return;
  Rumour rumour;
  rumour.about = id;
  rumour.kind = Rumour::Kind::kSuspect;
  rumour.incarnation = peer.counters.incarnation;
  rumour.from = suspector;
  rumours_.Add(std::move(rumour));
}

void PeerTable::Declare(const std::string& id, Peer& peer, std::vector<PeerChange>& changes) {
  peer.suspicion.reset();
  SetState(id, peer, PeerState::kDead, changes);
  Rumour rumour;
  rumour.about = id;
  rumour.kind = Rumour::Kind::kDead;
  rumour.incarnation = peer.counters.incarnation;
  rumours_.Add(std::move(rumour));
}

void PeerTable::ExpireSuspicions(std::vector<PeerChange>& changes) {
  const MonoTime now = clock_.Now();
  for (auto& [id, peer] : peers_) {
    if (peer.suspicion && now >= peer.suspicion->Deadline()) Declare(id, peer, changes);
  }
}

uint64_t PeerTable::Digest() const {
  std::vector<DigestEntry> entries;
  entries.reserve(peers_.size() + 1);
  entries.push_back({self_.id, self_counters_.incarnation, self_revision_, false});
  for (const auto& [id, peer] : peers_) {
    if (!peer.identity) continue;
    entries.push_back(
        {id, peer.counters.incarnation, HeldRevision(peer), peer.state == PeerState::kDead});
  }
  return ViewDigest(std::move(entries));
}

ProbeMessage PeerTable::ProbeFor(const std::string& receiver, const std::string& target,
                                 bool relay) {
  ProbeMessage message = AnswerFor(target, false);
  message.relay = relay;
  // A suspect hears of its suspicion from every probe it gets, whatever
  // the rumours' turn: it refutes at once if it is alive.
  if (const Rumour* about = rumours_.About(receiver);
      about != nullptr && about->kind == Rumour::Kind::kSuspect &&
      std::none_of(message.rumours.begin(), message.rumours.end(),
                   [&](const Rumour& r) { return r.about == receiver; })) {
    if (message.rumours.size() >= kRumoursPerProbe) message.rumours.pop_back();
    message.rumours.push_back(*about);
  }
  return message;
}

ProbeMessage PeerTable::AnswerFor(const std::string& target, bool ack) {
  ProbeMessage message;
  message.cluster = self_.cluster;
  message.sender = self_.id;
  message.incarnation = self_counters_.incarnation;
  message.revision = self_revision_;
  message.leaving = leaving_;
  message.target = target;
  message.ack = ack;
  message.rumours = rumours_.Take(kRumoursPerProbe, peers_.size() + 1);
  message.digest = Digest();
  return message;
}

void PeerTable::ProbeFailed(const std::string& target) {
  if (prober_) prober_->DirectFailed(target);
}

void PeerTable::ConnectionBroke(const std::string& id) {
  auto it = peers_.find(id);
  if (!prober_ || it == peers_.end() || it->second.state == PeerState::kDead ||
      !Probed(it->second)) {
    return;
  }
  prober_->Hint(id);
}

void PeerTable::Refute(uint64_t rumoured_incarnation, MergeOutcome& outcome) {
  if (rumoured_incarnation > self_counters_.incarnation &&
      rumoured_incarnation - self_counters_.incarnation > kMaxCounterLead) {
    outcome.dropped.push_back("a rumour about this node claims incarnation " +
                              std::to_string(rumoured_incarnation) + ", too far above ours (" +
                              std::to_string(self_counters_.incarnation) + ")");
    return;
  }
  self_counters_.incarnation =
      SaturatingAdd(std::max(self_counters_.incarnation, rumoured_incarnation), 1);
  outcome.refuted = true;
  health_.Suspected();
  Rumour alive;
  alive.about = self_.id;
  alive.kind = Rumour::Kind::kAlive;
  alive.incarnation = self_counters_.incarnation;
  alive.revision = self_revision_;
  alive.address = self_.address;
  rumours_.Add(std::move(alive));
}

MergeOutcome PeerTable::MergeProbe(const ProbeMessage& message, const MessageOrigin& origin) {
  MergeOutcome outcome;
  outcome.status = ValidateProbe(message, self_.cluster, limits_);
  if (!outcome.status.ok()) return outcome;
  if (message.sender == self_.id) {
    outcome.status =
        absl::Status(kSpoofed, "a probe claims to come from this node's id '" + self_.id + "'");
    return outcome;
  }
  const MonoTime now = clock_.Now();
  const bool answer = origin.kind == MessageOrigin::Kind::kReply;
  if (auto it = peers_.find(message.sender); it != peers_.end()) {
    Peer& peer = it->second;
    const bool own_word = answer && peer.identity && origin.called == peer.identity->address;
    const bool same_life = message.incarnation == peer.counters.incarnation;
    // News (a new life, a newer identity, a goodbye, a dead member
    // speaking) is fetched from the member itself, in an identity list.
    if (message.incarnation > peer.counters.incarnation ||
        (same_life && message.revision > HeldRevision(peer)) || (message.leaving && !peer.left) ||
        peer.state == PeerState::kDead) {
      peer.news = true;
    }
    if (peer.state != PeerState::kDead && !message.leaving &&
        message.incarnation >= peer.counters.incarnation && (own_word || same_life)) {
      // It answered us from its address, or called us as the life we
      // know: it runs. Its own answer also clears our suspicion; a request
      // (a claim) only refreshes a member we hold alive.
      peer.last_direct = now;
      peer.last_advanced = now;
      if (own_word) {
        peer.unanswered = 0;
        peer.suspicion.reset();
        SetState(message.sender, peer, PeerState::kAlive, outcome.changes);
      }
    }
    if (message.digest != Digest()) {
      if (++peer.digest_mismatches >= kDigestMismatchesBeforeExchange) {
        peer.news = true;
        peer.digest_mismatches = 0;
      }
    } else {
      peer.digest_mismatches = 0;
    }
    if (own_word && prober_) {
      if (message.target == message.sender || message.target.empty()) {
        if (message.ack) prober_->Answered(message.sender);
      } else if (message.ack) {
        prober_->Answered(message.target);  // through this relay
      } else {
        prober_->Nacked(message.target, message.sender);
      }
    }
  }
  size_t introductions_left = kMaxIntroductionsPerMessage;
  for (const Rumour& rumour : message.rumours) MergeRumour(rumour, introductions_left, outcome);
  return outcome;
}

void PeerTable::MergeRumour(const Rumour& rumour, size_t& introductions_left,
                            MergeOutcome& outcome) {
  if (rumour.incarnation > kMaxCounter) {
    outcome.dropped.push_back(rumour.about + ": incarnation " + std::to_string(rumour.incarnation) +
                              " is out of range");
    return;
  }
  if (rumour.about == self_.id) {
    if (leaving_) return;
    const bool doubt = rumour.kind == Rumour::Kind::kSuspect ||
                       rumour.kind == Rumour::Kind::kDead || rumour.kind == Rumour::Kind::kLeft;
    if ((doubt && rumour.incarnation >= self_counters_.incarnation) ||
        (rumour.kind == Rumour::Kind::kAlive && rumour.incarnation > self_counters_.incarnation)) {
      Refute(rumour.incarnation, outcome);
    }
    return;
  }
  auto it = peers_.find(rumour.about);
  if (it == peers_.end()) {
    if (auto tomb = tombstones_.find(rumour.about);
        tomb != tombstones_.end() && rumour.incarnation <= tomb->second.counters.incarnation) {
      return;  // a forgotten member's old news still going round
    }
    if (rumour.kind != Rumour::Kind::kAlive || rumour.address.empty()) return;
    IntroduceRelayed(rumour.about, rumour.address, introductions_left, outcome);
    return;
  }
  Peer& peer = it->second;
  const uint64_t known = peer.counters.incarnation;
  if (rumour.incarnation > known && rumour.incarnation - known > kMaxCounterLead) {
    outcome.dropped.push_back(rumour.about + ": incarnation " + std::to_string(rumour.incarnation) +
                              " is too far ahead of what is known (" + std::to_string(known) + ")");
    return;
  }
  switch (rumour.kind) {
    case Rumour::Kind::kAlive:
      if (rumour.incarnation == known && rumour.revision > HeldRevision(peer)) peer.news = true;
      if (rumour.incarnation > known) {
        // A new life, or a refutation: the member outgrew a suspicion of
        // it. Its identity is fetched from itself (news); the rumour goes
        // on, so every suspector hears it. A dead member comes back only
        // by its own word.
        peer.news = true;
        peer.counters.incarnation = rumour.incarnation;
        ++view_generation_;
        rumours_.Add(rumour);
        if (peer.state == PeerState::kSuspect && Probed(peer)) {
          SetState(rumour.about, peer, PeerState::kAlive, outcome.changes);
        }
      }
      break;
    case Rumour::Kind::kSuspect:
      if (rumour.incarnation < known || peer.state == PeerState::kDead || !Probed(peer)) break;
      if (rumour.incarnation > known) {
        // A life we have not seen yet, already in doubt: fetch it, and
        // judge that life.
        peer.news = true;
        peer.counters.incarnation = rumour.incarnation;
        peer.suspicion.reset();
        ++view_generation_;
      }
      Suspect(rumour.about, peer, rumour.from, outcome.changes);
      break;
    case Rumour::Kind::kDead:
      if (rumour.incarnation < known || peer.state == PeerState::kDead || !Probed(peer)) break;
      if (rumour.incarnation > known) ++view_generation_;
      peer.counters.incarnation = rumour.incarnation;
      Declare(rumour.about, peer, outcome.changes);
      break;
    case Rumour::Kind::kLeft:
      // A goodbye is believed only from the member itself.
      if (rumour.incarnation >= known && !peer.left) peer.news = true;
      break;
  }
}

}  // namespace domian::membership
