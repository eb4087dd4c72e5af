// PeerTable: what this node knows of every domain in its cluster, and the
// rules that keep that knowledge right.
//
// It merges identity lists (newer owner counters win, unknown peers are
// added), judges liveness on this node's own monotonic clock
// (alive -> suspect -> dead -> forgotten), refutes rumours of its own
// death, and decides what to send to whom. It does no I/O and takes no
// locks: Membership owns it and serialises access; tests drive it with a
// FakeClock.
//
// How liveness works: every node bumps its own heartbeat counter on each
// tick and gossips its table. A peer is alive while its counters keep
// growing *as seen here*; the time of the last growth is read from our
// own clock, never from the peer's. Counters from second-hand rows
// refresh a peer only when the sender also says it is alive; a dead peer
// comes back only by direct contact (it talks to us, or answers us) so a
// stale rumour cannot resurrect it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/clock.h"
#include "core/config/node_config.h"
#include "core/membership/identity.h"
#include "core/membership/wire_limits.h"

namespace domian {

// A change worth logging (and, later, acting on).
struct PeerChange {
  std::string id;
  std::string address;
  std::optional<PeerState> from;  // nullopt: newly learned
  PeerState to;
  bool left = false;       // dead because it said goodbye
  bool forgotten = false;  // dead long enough to be dropped from the table
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

GossipPace PaceFor(const MembershipTimings& timings, size_t members);

struct MergeOutcome {
  std::optional<Refusal> refusal;   // set: nothing was merged
  std::vector<PeerChange> changes;
  bool refuted = false;             // our incarnation grew to refute a rumour
  bool from_self = false;           // the message was our own (a seed that is us)
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

  PeerTable(Identity self, uint64_t incarnation, const Clock& clock, MembershipTimings timings,
            WireLimits limits = {});

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
  // Merges a request or reply. Validates first; a refused message leaves
  // the table untouched.
  MergeOutcome Merge(const IdentityListMessage& message);
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
  std::vector<HeartbeatTarget> PickTargets(const std::vector<std::string>& seeds);
  // A seed address answered as node `id`: while that peer is alive the
  // seed needs no separate heartbeat (its advertised address may differ,
  // e.g. a seed given by host name).
  void NoteSeedAnswer(const std::string& seed, const std::string& id);
  // Every live peer, for goodbyes.
  std::vector<HeartbeatTarget> LiveTargets() const;

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
    std::optional<Identity> identity;  // absent until some row carries it
    Counters counters;
    uint64_t payload_incarnation = 0;  // incarnation `identity` belongs to
    uint64_t revision = 0;
    bool left = false;
    PeerState state = PeerState::kAlive;
    MonoTime last_advanced;            // our clock: counters last grew
    MonoTime dead_since;
    std::optional<MonoTime> last_direct;   // last request from / reply by it
    std::optional<MonoTime> last_attempt;  // last time we tried to reach it
    // What this peer holds of every identity, per its last message.
    // Decides which rows go in full. Updated in place, since it is
    // rewritten on every message the peer sends.
    struct Held {
      std::pair<uint64_t, uint64_t> version;  // (incarnation, revision)
      uint64_t message = 0;                   // holds_message when last listed
    };
    std::unordered_map<std::string, Held> holds;
    uint64_t holds_message = 0;  // 0: nothing known yet
  };

  void MergeSelfRow(const IdentityEntry& row, MergeOutcome& outcome);
  void MergeRow(const IdentityEntry& row, bool direct, MergeOutcome& outcome);
  void AdoptIdentity(Peer& peer, const IdentityEntry& row);
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
  MembershipTimings timings_;
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
};

}  // namespace domian
