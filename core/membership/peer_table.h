// PeerTable: what this node knows of every domain in its cluster, and the
// rules that keep that knowledge right.
//
// It merges identity lists, judges liveness on this node's own monotonic
// clock (alive -> suspect -> dead -> forgotten), refutes rumours of its own
// death, and decides what to send to whom. It does no I/O and takes no
// locks: Membership owns it and serialises access; tests drive it with a
// FakeClock.
//
// Who may say what. Any device on the LAN can send a message, so what a
// message says is weighed by where it came from:
//  - A reply to a call this node made, from the address it called, is the
//    answering domain speaking for itself: it alone sets that domain's
//    identity (address, traits, offers, services), its incarnation and its
//    goodbye. Only such a reply makes a stranger a peer, or brings back a
//    dead one.
//  - A request is a claim by whoever connected. Its sender row keeps a
//    known live peer alive when it matches what is known (same address,
//    same incarnation); anything new it says (an unknown id, a new
//    incarnation, a newer identity, a goodbye) only makes this node call
//    that domain back at the address it knows, and take the news from the
//    reply (see UrgentTargets).
//  - Relayed rows (the rest of any message) spread liveness and suspicion
//    of known peers, bounded to kMaxCounterLead ahead of what is known;
//    news in them is a reason to call the domain, never a rewrite of it. A
//    relayed row for an unknown id is an introduction (introductions.h).
//
// How liveness works: every node bumps its own heartbeat counter on each
// tick and gossips its table. A peer is alive while its counters keep
// growing *as seen here*; the time of the last growth is read from our
// own clock, never from the peer's. Counters from second-hand rows
// refresh a peer only when the sender also says it is alive, and never a
// dead one: a stale rumour cannot resurrect it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/config/node_config.h"
#include "core/membership/introductions.h"
#include "core/membership/probe_message.h"
#include "core/membership/prober.h"
#include "core/membership/rumours.h"
#include "core/membership/suspicion.h"
#include "core/membership/wire_limits.h"
#include "core/model/identity.h"

namespace domian::membership {

// A change worth logging (and, later, acting on).
struct PeerChange {
  std::string id;
  std::string address;
  std::optional<PeerState> from;  // nullopt: newly learned
  PeerState to;
  bool left = false;       // dead because it said goodbye
  bool forgotten = false;  // dead long enough to be dropped from the table
  // How long the peer had been silent (its counters had not grown) when it
  // changed: for a death, the time it took to detect it.
  Millis silent{0};
};

// One peer as `domianctl peers` shows it.
struct PeerView {
  Identity identity;
  PeerState state;
  Counters counters;
  bool left = false;
  Millis last_heard_ago{0};
};

// Somebody to send a ShareIdentityList to this tick.
struct HeartbeatTarget {
  std::string id;  // empty for a seed not yet known by id
  std::string address;
};

// How hard gossip runs at the cluster's current size.
//
// Every message carries a row per known peer, so a node that kept the
// configured fanout would send and parse O(N) rows per exchange and
// O(N * fanout) per heartbeat: its CPU and bandwidth would grow with the
// cluster, and on small machines that load delays heartbeats until
// healthy peers look dead (an overload that feeds itself). Beyond a
// budget of rows per heartbeat the exchange rate drops instead, to a
// fraction of one exchange per heartbeat if need be, and the suspect and
// dead timeouts stretch by the same factor and by the extra gossip hops a
// larger cluster needs (log N, as memberlist scales suspicion). Up to
// kFullSpeedMembers the configured timings apply unchanged.
struct GossipPace {
  size_t members = 1;             // this node and every peer in its table
  double exchanges_per_tick = 0;  // heartbeats this node starts per interval
  Millis suspect_after{0};
  Millis dead_after{0};

  bool operator==(const GossipPace&) const = default;
};

// Identity rows a node aims to send per heartbeat interval, summed over
// the exchanges it starts. 64 keeps the configured fanout of 3 up to a
// cluster of 21.
inline constexpr double kGossipRowsPerTick = 64;
// Clusters up to this size gossip with the configured timings; beyond it
// each doubling adds a gossip hop, so timeouts grow with log2(N) / 4.
inline constexpr size_t kFullSpeedMembers = 16;

GossipPace PaceFor(const config::MembershipTimings& timings, size_t members);

// Membership v2's timings (see prober.h and suspicion.h).
struct ProbeTimings {
  Millis interval{1000};  // between this node's regular probe rounds
  Millis timeout{500};    // for a direct probe, then for the relays
  Millis suspicion{500};  // a suspicion's shortest timeout up to 10 members (SuspicionMin)
};

// The wire protocol generation whose members are probed (Identity.protocol).
inline constexpr uint32_t kProbeProtocol = 2;

// Where a message came from, which decides what it may change (see the
// top of this file).
struct MessageOrigin {
  enum class Kind { kRequest, kReply };
  Kind kind = Kind::kRequest;
  std::string called;  // kReply: the address this node called

  static MessageOrigin Request() { return {}; }
  static MessageOrigin Reply(std::string called) { return {Kind::kReply, std::move(called)}; }
};

struct MergeOutcome {
  absl::Status status;              // not OK: refused, nothing was merged
  std::vector<PeerChange> changes;
  bool refuted = false;             // our incarnation grew to refute a rumour
  bool from_self = false;           // the message was our own (a seed that is us)
  // Rows or service records left out of an accepted message, and why (for
  // the log): one bad row costs that row, not the whole message.
  std::vector<std::string> dropped;
};

class PeerTable {
 public:
  // Largest number of peers kept; a cluster bigger than this is refused
  // new members rather than growing without bound.
  static constexpr size_t kMaxPeers = 1024;
  // A pause of the local node longer than this many heartbeat intervals
  // is not held against peers (Lifeguard: a slow node must not declare
  // the others dead).
  static constexpr int kLateTickIntervals = 2;
  // Ids one message may introduce. A join introduces one domain; a
  // message naming hundreds of unknown ones is junk, and each
  // introduction costs calls.
  static constexpr size_t kMaxIntroductionsPerMessage = 8;
  // Calls to introduced addresses per heartbeat interval, however many
  // messages introduce them: what junk can cost this node in dialling
  // (80 a second), and what lets a whole cluster starting at once (every
  // node new to every other) meet within a few seconds.
  static constexpr size_t kIntroductionCallsPerTick = 16;
  // Calls one peer gets for its news, at most, per heartbeat interval. A
  // change often comes in steps (a service starting, then running) a few
  // tens of milliseconds apart, and each step is worth fetching; a liar
  // repeating "X has news" costs X no more than this.
  static constexpr int kNewsCallsPerInterval = 4;

  PeerTable(Identity self, uint64_t incarnation, const Clock& clock,
            config::MembershipTimings timings, WireLimits limits = {});

  // --- this node ---
  const Identity& self() const { return self_; }
  Counters self_counters() const { return self_counters_; }
  // Replaces this node's identity (e.g. its ServiceList); a change bumps
  // the revision so peers fetch it.
  void UpdateSelf(Identity identity);
  // Marks this node as leaving: the next messages tell peers to mark it
  // dead at once.
  void Leave();
  bool leaving() const { return leaving_; }

  // --- messages ---
  // Merges a request or a reply (`origin`). Validates first; a refused
  // message leaves the table untouched.
  MergeOutcome Merge(const IdentityListMessage& message, const MessageOrigin& origin);
  // The message to send to `receiver_id` (empty: a seed we do not know
  // yet, which gets every identity in full).
  IdentityListMessage MessageFor(const std::string& receiver_id) const;

  // --- time ---
  // Bumps our heartbeat and moves peers along alive -> suspect -> dead ->
  // forgotten according to the clock.
  std::vector<PeerChange> Tick();
  // The pace the last Tick judged by (see GossipPace).
  const GossipPace& pace() const { return pace_; }
  // Peers (and seeds) to contact now: the live peers heard from directly
  // longest ago, as many as the pace allows this tick (up to `fanout`);
  // one dead peer per reconnect interval (so partitions heal); every
  // unanswered seed once per seed_retry.
  //
  // Peers that answer come first: a peer whose last call went unanswered
  // (or that is suspect) gets at most one of the slots per tick, so the
  // peers a node can still reach keep getting exchanges however many
  // others are cut off. Addresses `busy` says have a call out (or cannot
  // be connected to yet) are skipped without using a slot; `busy` is asked
  // only of addresses that would be taken otherwise.
  std::vector<HeartbeatTarget> PickTargets(
      const std::vector<std::string>& seeds,
      const std::function<bool(const std::string& address)>& busy = nullptr);
  // Calls worth making now rather than at the next tick: domains whose
  // news this node heard second hand (a new incarnation or identity, a
  // goodbye, a dead peer calling again), at most kNewsCallsPerInterval per
  // heartbeat interval each, and introductions due, within
  // kIntroductionCallsPerTick.
  std::vector<HeartbeatTarget> UrgentTargets(
      const std::function<bool(const std::string& address)>& busy = nullptr);
  // A call to `target` went unanswered (or was refused).
  void NoteUnanswered(const HeartbeatTarget& target);
  // A seed address answered as node `id`: while that peer is alive the
  // seed needs no separate heartbeat (its advertised address may differ,
  // e.g. a seed given by host name).
  void NoteSeedAnswer(const std::string& seed, const std::string& id);
  // Every live peer, for goodbyes.
  std::vector<HeartbeatTarget> LiveTargets() const;

  // --- membership v2: probes (peer_table_probe.cc) ---
  //
  // With probing enabled, members that speak kProbeProtocol are judged by
  // probes instead of heartbeat counters: a round that goes unanswered,
  // directly and through relays, makes this node suspect the member; a
  // suspicion that nobody refutes in time (Suspicion::Deadline) makes it
  // dead; rumours spread both, and refutations. Members of protocol 1
  // keep being judged by their counters.
  void EnableProbing(ProbeTimings timings, uint64_t seed);
  bool probing() const { return prober_.has_value(); }
  // Moves the probe rounds along: probes and relay requests to send now,
  // and the verdicts of rounds that ended (already applied: see changes).
  struct ProbeStep {
    Prober::Actions actions;
    std::vector<PeerChange> changes;
  };
  ProbeStep PollProbes();
  // When PollProbes or Tick next has something to do for probing: the
  // next round, a deadline of one, or of a suspicion.
  MonoTime NextProbeWake() const;
  // The probe (or, with `relay`, the request to probe `target` for us) to
  // send to `receiver`, with rumours to piggyback and our digest. A probe
  // of a suspect carries the suspicion, so it can refute it at once.
  ProbeMessage ProbeFor(const std::string& receiver, const std::string& target, bool relay);
  // The answer to a probe about `target` (ourselves, or the member a
  // relay probed), `ack` saying whether it answered.
  ProbeMessage AnswerFor(const std::string& target, bool ack);
  // Merges a probe, relay request or answer (`origin` as for identity
  // lists: an answer from the address called is the sender's own word).
  // An answer also moves its round along (Prober::Answered or Nacked).
  MergeOutcome MergeProbe(const ProbeMessage& message, const MessageOrigin& origin);
  // The direct probe of `target` failed before its deadline.
  void ProbeFailed(const std::string& target);
  // The connection to member `id` broke: probe it out of turn.
  void ConnectionBroke(const std::string& id);
  // This node's ViewDigest (view_digest.h).
  uint64_t Digest() const;
  // Lifeguard's local health score (0: healthy).
  int health_score() const { return health_.score(); }

  // --- views ---
  std::vector<PeerView> Peers() const;
  // Grows whenever something Peers() or self() shows changes, other than
  // heartbeat counters and times: a peer learned, forgotten or changing
  // state, a new identity or incarnation, this node's identity. An unchanged value
  // means a reader that acts on the view would find nothing new.
  uint64_t view_generation() const { return view_generation_; }
  std::optional<PeerState> StateOf(const std::string& id) const;
  // No peer is alive or suspect: the seed's "lonely" domain.
  bool Lonely() const;
  size_t size() const { return peers_.size(); }

 private:
  struct Peer {
    std::optional<Identity> identity;  // as the peer itself last said
    Counters counters;
    uint64_t payload_incarnation = 0;  // incarnation `identity` belongs to
    uint64_t revision = 0;
    bool left = false;
    PeerState state = PeerState::kAlive;
    MonoTime last_advanced;            // our clock: counters last grew
    MonoTime dead_since;
    std::optional<MonoTime> last_direct;   // last request from / reply by it
    std::optional<MonoTime> last_attempt;  // last time we tried to reach it
    int unanswered = 0;                    // our calls since its last reply
    // Heard second hand that it has news: call it (UrgentTargets), at
    // `news_address` when a dead peer says it is back elsewhere.
    bool news = false;
    std::string news_address;
    std::optional<MonoTime> last_news_call;
    // What this peer holds of every identity, per its last message.
    // Decides which rows go in full. Updated in place, since it is
    // rewritten on every message the peer sends.
    struct Held {
      std::pair<uint64_t, uint64_t> version;  // (incarnation, revision)
      uint64_t message = 0;                   // holds_message when last listed
    };
    std::unordered_map<std::string, Held> holds;
    uint64_t holds_message = 0;  // 0: nothing known yet
    // Membership v2: the suspicion running against it, and how many of
    // its probes in a row carried a digest other than ours.
    std::optional<Suspicion> suspicion;
    int digest_mismatches = 0;
  };

  void MergeSelfRow(const IdentityEntry& row, MergeOutcome& outcome);
  // The domain's own word (a reply from the address it advertises).
  void MergeOwnWord(const IdentityEntry& row, MergeOutcome& outcome);
  // A sender row nobody vouches for (a request, or a reply from another
  // address than the one it advertises).
  void MergeClaim(const IdentityEntry& row, MergeOutcome& outcome);
  // A relayed row; `introductions_left` counts down per message.
  void MergeRelayed(const IdentityEntry& row, size_t& introductions_left, MergeOutcome& outcome);
  void Introduce(const std::string& id, const std::string& address, bool own_claim,
                 MergeOutcome& outcome);
  // A domain heard of second hand (a relayed row, a rumour): introduced
  // unless it already is, within one message's kMaxIntroductionsPerMessage.
  void IntroduceRelayed(const std::string& id, const std::string& address,
                        size_t& introductions_left, MergeOutcome& outcome);
  void AdoptIdentity(Peer& peer, const IdentityEntry& row, MergeOutcome& outcome);
  Millis NewsCallSpacing() const;
  // The highest epoch any identity this node holds reports for `service`.
  uint64_t KnownEpoch(const std::string& service) const;
  void SetState(const std::string& id, Peer& peer, PeerState to, std::vector<PeerChange>& changes);
  IdentityEntry SelfRow() const;
  IdentityEntry RowFor(const std::string& id, const Peer& peer, const Peer* receiver) const;
  uint64_t HeldRevision(const Peer& peer) const;

  Identity self_;
  Counters self_counters_;
  uint64_t self_revision_ = 1;
  bool leaving_ = false;
  uint64_t view_generation_ = 0;
  const Clock& clock_;
  config::MembershipTimings timings_;
  WireLimits limits_;
  MonoTime last_tick_;
  MonoTime last_dead_probe_;
  GossipPace pace_;
  // Fractional exchanges owed: a pace of 0.5 per tick starts one every
  // other tick.
  double exchange_credit_ = 0;
  std::map<std::string, Peer> peers_;  // ordered: stable output and tie-breaks
  // Forgotten peers' last counters, so an old row cannot bring them back.
  struct Tombstone {
    Counters counters;
    MonoTime until;
  };
  std::unordered_map<std::string, Tombstone> tombstones_;
  std::unordered_map<std::string, MonoTime> seed_attempts_;
  std::unordered_map<std::string, std::string> seed_ids_;  // seed address -> node id
  Introductions introductions_;

  // --- membership v2 (peer_table_probe.cc) ---
  // Whether `peer` is judged by probes rather than by its counters.
  bool Probed(const Peer& peer) const;
  Millis SuspicionTimeout() const;
  // Starts or confirms a suspicion of `id` by `suspector` at the peer's
  // incarnation; queues the rumour when it is news.
  void Suspect(const std::string& id, Peer& peer, const std::string& suspector,
               std::vector<PeerChange>& changes);
  void Declare(const std::string& id, Peer& peer, std::vector<PeerChange>& changes);
  void MergeRumour(const Rumour& rumour, size_t& introductions_left, MergeOutcome& outcome);
  // Suspicions past their deadline become deaths (from Tick).
  void ExpireSuspicions(std::vector<PeerChange>& changes);
  std::vector<std::string> PickRelays(const std::string& target, size_t count);
  // Outgrows a rumour of our own suspicion or death and tells the cluster.
  void Refute(uint64_t rumoured_incarnation, MergeOutcome& outcome);

  // Two digests in a row that differ from ours, with no rumour that
  // explains them, make this node fetch the sender's whole list.
  static constexpr int kDigestMismatchesBeforeExchange = 2;
  // Rumours piggybacked on one probe or answer.
  static constexpr size_t kRumoursPerProbe = 8;

  std::optional<ProbeTimings> probe_timings_;
  std::optional<Prober> prober_;
  LocalHealth health_;
  Rumours rumours_;
  std::mt19937_64 relay_random_;
  size_t introduction_calls_left_ = kIntroductionCallsPerTick;
};

}  // namespace domian::membership
