// Membership: the owner of the PeerTable. It runs the heartbeat loop (tick,
// pick peers, send ShareIdentityList), answers incoming identity lists,
// says goodbye on shutdown and logs what changes. The RPC layer calls in
// from gRPC threads; all table access is serialised here.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/config/node_config.h"
#include "core/membership/discovered_peers.h"
#include "core/membership/peer_table.h"

namespace domian::membership {

// How Membership reaches peers; the gRPC client implements it, tests may
// wire nodes together in memory.
class PeerTransport {
 public:
  struct Reply {
    IdentityListMessage message;
    size_t wire_bytes = 0;  // serialized size, checked against kMaxMessageBytes
  };
  // The reply, or the status that came back instead: a refusal
  // (wire_limits.h) or why the call failed (UNAVAILABLE, DEADLINE_EXCEEDED...).
  using Result = absl::StatusOr<Reply>;
  using Done = std::function<void(Result)>;

  virtual ~PeerTransport() = default;
  // Sends asynchronously; `done` runs exactly once, on any thread.
  virtual void ShareIdentityList(const std::string& address, IdentityListMessage message,
                                 Millis deadline, Done done) = 0;
  // Nobody answers at this address for now (a dead peer, a seed that did
  // not answer): release what is held for it. gRPC would otherwise keep
  // reconnecting a channel in the background, about once a second for
  // every dead peer, while membership already decides when to try again.
  virtual void Forget(const std::string& address) = 0;
  // A transport may open only a few connections at once (gRPC's does:
  // over TLS each costs a handshake, see rpc/channels.h). How many more it
  // may open now, and whether a call to `address` needs a new one. A
  // target that needs one while there is no room is left for a later
  // heartbeat, as a busy one is: not called, not counted as unanswered.
  virtual size_t ConnectionRoom() { return std::numeric_limits<size_t>::max(); }
  virtual bool NeedsConnection(const std::string& /*address*/) { return false; }
};

// Peers a node knew in an earlier life, so that a restart with no seed that
// answers (or without mDNS) still finds its cluster: Serf's snapshot, for
// the same reason. Kept by the daemon in node.state_dir.
// Who hears of changes; wired when the node is built, before anything
// starts, so no observer is ever missing or replaced while in use.
struct MembershipObservers {
  // Called with the new value whenever this node becomes lonely or stops
  // being lonely, in order, never concurrently (Discovery browses harder
  // while lonely).
  std::function<void(bool lonely)> lonely;
  // Called (outside the membership lock, on the thread that noticed) after
  // any peer changed state: placement reacts to a death at once instead of
  // at its next round. Must not block.
  std::function<void()> peers_changed;
  // Each change itself, before peers_changed, for the node's event
  // journal; same thread rules. Must not block.
  std::function<void(const PeerChange& change)> peer_changed;
};

struct PeerMemory {
  // Called while lonely, with a growing pause, like discovered addresses.
  std::vector<HeartbeatTarget> remembered;
  // Told the peers worth remembering (live ones first) whenever they
  // change, at most every kRememberInterval; on the heartbeat thread.
  std::function<void(const std::vector<HeartbeatTarget>&)> remember;
};

struct MembershipStatus {
  Identity self;
  Counters counters;
  bool lonely = true;
};

// Refusals are logged, but a misconfigured neighbour retrying every second
// must not flood the journal: one line per sender and kind per interval,
// with a count of what was held back.
class RefusalLog {
 public:
  static constexpr auto kInterval = std::chrono::seconds(30);
  static constexpr size_t kMaxKeys = 1024;

  explicit RefusalLog(const Clock& clock) : clock_(clock) {}
  // nullopt: do not log now. Otherwise log, mentioning how many were held back.
  std::optional<size_t> Admit(const std::string& key);
  static std::string Suffix(size_t suppressed);

 private:
  struct Entry {
    MonoTime last_logged;
    size_t suppressed;
  };
  const Clock& clock_;
  absl::Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

class Membership {
 public:
  // `on_incarnation` persists the incarnation whenever it grows (refuting
  // a rumour), so a restart always starts above it.
  // How many peers a node remembers across restarts, and how often it
  // looks whether they changed.
  static constexpr size_t kMaxRemembered = 64;
  static constexpr std::chrono::seconds kRememberInterval{5};

  // `on_incarnation` persists the incarnation whenever it grows (refuting
  // a rumour), so a restart always starts above it.
  Membership(Identity self, uint64_t incarnation, std::vector<std::string> seeds,
             config::MembershipTimings timings, PeerTransport& transport,
             const Clock& clock, std::function<void(uint64_t)> on_incarnation,
             PeerMemory memory = {}, MembershipObservers observers = {});
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  void Start();
  // Tells every live peer we are leaving and waits (at most
  // timings.leave_timeout) for each to answer and to call back for our
  // own word on it (a goodbye is believed only from a reply: see
  // peer_table.h), then stops the loop.
  void Leave();
  void Stop();

  // An incoming ShareIdentityList of `wire_bytes` serialized bytes: merge
  // it and fill the reply. Returns OK, or the refusal (wire_limits.h; the
  // reply is then empty); every refusal is logged.
  absl::Status HandleShareIdentityList(const IdentityListMessage& request, size_t wire_bytes,
                                       IdentityListMessage& reply);

  // Replaces this node's identity (address once bound, ServiceList).
  void UpdateSelf(Identity self);

  // Discovery's findings: domain `id` (as its record claims) may be
  // reached at `address`, or that record is gone. Callable from any
  // thread without waiting on the membership lock; applied at the next
  // heartbeat tick. A vanished record never makes a peer dead.
  void NoteDiscovered(const std::string& id, const std::string& address);
  void NoteVanished(const std::string& address);

  // Exchanges identity lists with live peer `id`, at the address this node
  // knows for it, and merges the reply before returning: what the table
  // then holds of `id` is what `id` itself said a moment ago (a hand-over
  // is checked this way against the sender's own word). False when `id`
  // is not a live peer or did not answer within `timeout`. Blocks: not for
  // the heartbeat or gRPC event threads.
  bool Exchange(const std::string& id, Millis timeout);

  MembershipStatus Status() const;
  std::vector<PeerView> Peers() const;
  // PeerTable::view_generation: cheaper to ask than Peers() is to copy.
  uint64_t ViewGeneration() const;

  // One heartbeat round; the loop calls it every interval, tests may call
  // it directly.
  void RunOnce();

 private:
  // What one step changed, gathered under mu_ and reported outside it.
  struct Events {
    std::vector<PeerChange> changes;
    std::optional<bool> lonely;            // set when it flipped
    uint64_t lonely_sequence = 0;          // orders flips reported by different threads
    std::optional<uint64_t> incarnation;   // set when it grew
    GossipPace pace;                       // what verdicts were judged by
    bool pace_changed = false;
  };

  void Loop();
  // Calls worth making at once after a merge (PeerTable::UrgentTargets),
  // sent outside the lock. Not while leaving.
  void SendUrgent();
  std::vector<HeartbeatTarget> UrgentTargetsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a call to `address` is out.
  bool Busy(const std::string& address) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Busy for one pick of targets (a tick, or the urgent calls after a
  // merge): also true for an address that needs a new connection once the
  // pick has taken the transport's room for them.
  std::function<bool(const std::string& address)> BusyForPick()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What to remember, when it changed (RunOnce).
  std::optional<std::vector<HeartbeatTarget>> PeersToRemember()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends our identity list to `target` unless a call to it is still out
  // (`force`: send anyway, for goodbyes). `after` runs once the call ends,
  // told whether a reply came back and was merged.
  void Send(const HeartbeatTarget& target, bool force, std::function<void(bool)> after)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Merges a reply (or notes a failure); true when a reply was merged.
  bool OnReply(const HeartbeatTarget& target, PeerTransport::Result result);
  Events CollectEvents(std::vector<PeerChange> changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  GossipPace reported_pace_ ABSL_GUARDED_BY(mu_);
  void Report(const Events& events) ABSL_LOCKS_EXCLUDED(mu_);
  void LogRefusal(const std::string& from, const absl::Status& refusal);
  void LogDropped(const std::string& from, const std::vector<std::string>& dropped);
  void ApplyDiscoveries() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static absl::Status CheckSize(size_t wire_bytes);

  PeerTransport& transport_;
  const Clock& clock_;
  config::MembershipTimings timings_;
  std::vector<std::string> seeds_;
  std::function<void(uint64_t)> on_incarnation_;
  RefusalLog refusal_log_;

  // The one every heartbeat, incoming list and status takes; never held
  // across a call to another node or an observer.
  mutable absl::Mutex mu_;
  PeerTable table_ ABSL_GUARDED_BY(mu_);
  // address -> calls outstanding
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  int in_flight_total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar in_flight_cv_;  // a call ended
  // Seed addresses that turned out to be us.
  std::set<std::string> self_seeds_ ABSL_GUARDED_BY(mu_);
  bool was_lonely_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t lonely_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  DiscoveredPeers discovered_ ABSL_GUARDED_BY(mu_);
  DiscoveredPeers remembered_ ABSL_GUARDED_BY(mu_);  // called while lonely
  std::function<void(const std::vector<HeartbeatTarget>&)> remember_;
  std::vector<HeartbeatTarget> last_remembered_ ABSL_GUARDED_BY(mu_);
  MonoTime next_remember_ ABSL_GUARDED_BY(mu_);
  // While leaving: the peers that called since, i.e. heard our goodbye
  // from our own reply. Leave() waits for every goodbye target.
  std::set<std::string> pulled_ ABSL_GUARDED_BY(mu_);
  absl::CondVar pulled_cv_;  // a peer called while leaving

  // Discovery's findings wait here, behind a lock held only to store or
  // swap, so Avahi's thread never waits for a merge. Only the latest
  // finding per address matters, so a burst cannot overflow it: discovery
  // itself follows a bounded number of records.
  struct Finding {
    std::string id;
    bool vanished = false;
  };
  static constexpr size_t kMaxPendingDiscoveries = 1024;  // addresses
  absl::Mutex inbox_mu_ ABSL_ACQUIRED_AFTER(mu_);  // swapped out under mu_
  std::map<std::string, Finding> inbox_ ABSL_GUARDED_BY(inbox_mu_);  // by address

  absl::Mutex observer_mu_;  // serialises observers_.lonely calls
  const MembershipObservers observers_;
  uint64_t observed_lonely_sequence_ ABSL_GUARDED_BY(observer_mu_) = 0;
  uint64_t reported_incarnation_ ABSL_GUARDED_BY(mu_);
  absl::Mutex persist_mu_;  // orders on_incarnation_ calls
  uint64_t persisted_incarnation_ ABSL_GUARDED_BY(persist_mu_);

  absl::Mutex loop_mu_;
  absl::CondVar loop_cv_;  // stop
  bool stopping_ ABSL_GUARDED_BY(loop_mu_) = false;
  std::thread loop_;
};

}  // namespace domian::membership
