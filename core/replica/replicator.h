// Replicator: copies each change of a service's state to the live peers,
// and finds the freshest copy when a service starts here. The owner of
// this node's ReplicaStore and HybridClock.
//
//   ServiceHost ──a state stored (StateKeeper)──▶ Publish ──Put──▶ every live peer
//   peer's Put ──▶ Accept (kept when newer)
//   Placement starts a service here ──▶ Freshest ──Get──▶ every live peer
//
// A change is numbered (epoch, seq) by the node that made it and ordered
// by its hybrid logical clock timestamp, never by a wall clock alone.
// Publish with `wait` (a change a caller is about to be told of) returns
// once one live peer has stored it, or says none did within
// kPeerAckTimeout; with no live peer it is kept on this node alone.
//
// Heals (a partition, a node that booted alone after a power cut): while
// a service runs here (Began .. Ended), a later change made elsewhere
// replaces its state (Options::adopt restarts it from that copy without
// saving), and a save that changed nothing is no change, so a copy that
// changed nothing during a split never overwrites one that did. When
// both sides changed it, the later change wins; the other side's last
// state is set aside (state_dir/replicas/set-aside.d/<service>, one per
// service, the latest) and reported in the log and by ReportOf. A change
// whose parent (the change its writer's run began from or took) is this
// node's own last change includes it: no rival, nothing set aside. Copies reach
// a peer that comes back to life at once (PeersChanged; the sync thread
// sends them and tries again while a peer fails), so the two sides
// compare as soon as they see each other.
//
// A restart from a later change is queued (Options::adopt) and made by
// the service host later; until it is made (Adopted), a save of the state
// being replaced is no change, and a change the old instance makes in
// between (a call answered meanwhile) is the later one: the restart is
// called off (StillAdopting says so) and the copy it would have taken is
// set aside.
//
// Thread contract: every public method may be called from any thread.
// Transport callbacks arrive on the transport's thread (the daemon's
// EventLoop) and only record an answer and signal; nothing here blocks
// that thread. Publish(wait) and Freshest block their caller for at most
// kPeerAckTimeout / kFetchTimeout. PeersChanged only signals the sync
// thread (Start .. Stop; without it, Sync() does the work when called).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/common/status.h"
#include "core/replica/hlc.h"
#include "core/replica/replica_store.h"

namespace domian::replica {

// How long a change a caller waits for may wait for a peer to confirm it
// stored the copy: a round trip and an fsync on a loaded SD card, with
// room; past it the caller hears the change is kept on this node only.
inline constexpr std::chrono::milliseconds kPeerAckTimeout{2000};
// How long a node about to start a service waits for the peers' copies.
inline constexpr std::chrono::milliseconds kFetchTimeout{1500};
// The deadline of one copy sent to a peer that nobody waits for.
inline constexpr std::chrono::milliseconds kPushDeadline{5000};
// How soon the copies are sent again to a live peer that failed to take
// them (its channel still reconnecting after a heal, say).
inline constexpr std::chrono::milliseconds kResyncInterval{2000};

struct Peer {
  std::string id;
  std::string address;
};

// A state that lost to a later change made elsewhere.
struct SetAside {
  std::string version;   // the lost change's version (StateCopy::Version)
  std::string lost_to;   // the version of the change that won
  std::string file;      // where its bytes are kept, on the node that set it aside
};
// A node's run of a service.
struct StateRun {
  uint64_t epoch = 0;
  std::string origin;  // what it began from (Replicator::Began), or the change it took last
};
// What a node says of a service's state besides its copy (for people:
// `domianctl services NAME --state`, `explain`).
struct StateReport {
  std::optional<StateRun> run;        // while it runs there
  std::optional<SetAside> set_aside;  // the last one there, whether it runs or not
};
// Strings in a peer's report are cut to this (they are only shown).
inline constexpr size_t kMaxReportStringBytes = 1024;

// A node's answer to "your copy of this service".
struct HeldCopy {
  std::optional<StateCopy> copy;  // nullopt: it has none
  StateReport report;
};

// How copies travel (rpc::ReplicaClient over gRPC; a fake in tests).
class ReplicaTransport {
 public:
  using PutDone = std::function<void(absl::Status)>;
  using GetDone = std::function<void(absl::StatusOr<HeldCopy>)>;
  virtual ~ReplicaTransport() = default;
  virtual void Put(const Peer& peer, const StateCopy& copy, std::chrono::milliseconds deadline,
                   PutDone done) = 0;
  virtual void Get(const Peer& peer, const std::string& service,
                   std::chrono::milliseconds deadline, GetDone done) = 0;
};

class Replicator {
 public:
  struct Options {
    std::filesystem::path dir;  // state_dir/replicas
    std::string self;           // this node's id
    std::function<std::vector<Peer>()> live_peers;
    // A service running here (Began) is to continue from `bytes`, a later
    // change made elsewhere: restart it from them without saving its
    // state first. Called on any thread with no lock held; must not
    // block (queue it). Unset: nothing is restarted.
    // `generation` names this restart (StillAdopting, Adopted).
    std::function<void(const std::string& service, uint64_t epoch, const std::string& bytes,
                       uint64_t generation)>
        adopt;
  };
  Replicator(Options options, ReplicaTransport& transport, HybridClock clock = HybridClock());
  ~Replicator();  // Stop()

  // The sync thread: copies to peers that came back (PeersChanged), and
  // again to those that failed to take them, every kResyncInterval.
  void Start() ABSL_LOCKS_EXCLUDED(sync_mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(sync_mu_);

  // This node's instance of `service`, running under `epoch`, stored a
  // new state: numbered, kept as this node's copy, sent to every live
  // peer. An empty state is a deletion (a tombstone). With `wait`, returns once a peer stored it (or why not).
  // INVALID_ARGUMENT for a state over kMaxReplicaStateBytes: no copy is
  // made or sent (the service's own state file here still holds it).
  absl::Status Publish(const std::string& service, uint64_t epoch, const std::string& bytes,
                       bool wait) ABSL_LOCKS_EXCLUDED(mu_);

  struct Fetched {
    std::optional<StateCopy> copy;  // the freshest, this node's or a peer's
    std::string from;               // where it was found ("" for this node)
    size_t asked = 0;               // live peers asked
    size_t answered = 0;            // of them, those that answered in time
  };
  // The freshest copy of `service` among this node's and the live peers'
  // (waits at most kFetchTimeout); a peer's newer copy is kept here.
  Fetched Freshest(const std::string& service) ABSL_LOCKS_EXCLUDED(mu_);

  // Each live node's copy of `service` (this node's first), as the nodes
  // that answered within kFetchTimeout hold them: for people
  // (`domianctl services NAME --state`), so without the states' bytes.
  struct NodeCopy {
    std::string node;
    std::optional<StateCopy> copy;  // nullopt: it has none; else without bytes
    size_t state_bytes = 0;         // the size of the state it holds
    std::string error;              // it did not answer, or why it failed
    StateReport report;
  };
  std::vector<NodeCopy> Survey(const std::string& service) ABSL_LOCKS_EXCLUDED(mu_);

  // `service` is about to begin here under `epoch` with `bytes` as its
  // state, as `origin` says ("the copy from node-b (epoch 3 seq 7 ...)"),
  // a state that includes the changes up to `base` (the version of the
  // copy it starts from; nullopt: the copy kept here now). From now on a
  // save of the same bytes is no change, and a later change made
  // elsewhere replaces it (see the top of the file). Returns a later copy
  // made elsewhere that came meanwhile (say between Freshest and this
  // call): the service must start from it instead.
  std::optional<StateCopy> Began(const std::string& service, uint64_t epoch,
                                 const std::string& bytes, std::string origin,
                                 std::optional<Hlc> base) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether restart `generation` of `service` (Options::adopt) is still to
  // be made: not when the running instance changed the state since.
  bool StillAdopting(const std::string& service, uint64_t generation) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The service host made restart `generation`: the instance runs the
  // adopted state.
  void Adopted(const std::string& service, uint64_t generation) ABSL_LOCKS_EXCLUDED(mu_);
  // It stopped here (after its last save). When a restart from a later
  // change was still queued, that change's state: what a hand-over must
  // carry instead of the state the instance stopped with.
  std::optional<std::string> Ended(const std::string& service) ABSL_LOCKS_EXCLUDED(mu_);

  using Report = StateReport;
  Report ReportOf(const std::string& service) const ABSL_LOCKS_EXCLUDED(mu_);

  // Membership changed: every copy kept here is to be sent (without
  // waiting) to each live peer that was not live at the last sync, so
  // after a heal or a reboot both sides compare at once. On any thread
  // (Membership's heartbeat thread); only signals the sync thread.
  void PeersChanged() ABSL_LOCKS_EXCLUDED(sync_mu_);
  // One sync (the sync thread's work): sends every copy to each live peer
  // not yet in step (new since the last sync, or whose last sync failed).
  void Sync() ABSL_LOCKS_EXCLUDED(mu_, sync_mu_);

  // A peer's copy (PutState): kept when newer. False when not newer.
  absl::StatusOr<bool> Accept(const StateCopy& copy) ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<StateCopy> Get(const std::string& service) const ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& self() const { return options_.self; }
  std::vector<StateCopy> All() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Asks `peers` for their copies of `service` at once and waits up to
  // kFetchTimeout: one entry per peer, in order ("no answer" for those
  // that did not answer in time); `answered` says how many did.
  std::vector<NodeCopy> AskPeers(const std::vector<Peer>& peers, const std::string& service,
                                 size_t& answered) ABSL_LOCKS_EXCLUDED(mu_);

  // A restart from a later change, queued and not yet made.
  struct Pending {
    uint64_t generation = 0;
    std::string replaced;  // the state the instance still runs with
    StateCopy adopted;     // the change it is to take (without bytes)
    // The run as it was before (restored when the restart is called off).
    Hlc base;
    bool changed = false;
    std::optional<StateCopy> own;
    std::string origin;
  };
  struct Running {
    StateRun run;
    std::optional<SetAside> set_aside;  // the last state set aside while it ran here
    std::string bytes;  // its state as this node knows it (began, saved or adopted)
    Hlc base;  // the latest change made elsewhere that its state includes
    bool changed = false;  // changes of its own since it began or adopted
    std::optional<StateCopy> own;  // its last change (for the set-aside)
    std::optional<Pending> pending;
  };
  // Keeps a copy another node made (a PutState, or a peer's answer to
  // Freshest), and sets aside whichever of two concurrent changes lost.
  // A restart to make returns its (service, epoch, bytes, generation).
  struct Adoption {
    std::string service;
    uint64_t epoch = 0;
    std::string bytes;
    uint64_t generation = 0;
  };
  absl::StatusOr<bool> Keep(const StateCopy& copy, std::optional<Adoption>& adopt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PutAside(Running& running, const StateCopy& lost, const StateCopy& won)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Options options_;
  ReplicaTransport& transport_;
  mutable absl::Mutex mu_;
  HybridClock clock_ ABSL_GUARDED_BY(mu_);
  ReplicaStore store_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Running> runs_ ABSL_GUARDED_BY(mu_);  // by service
  std::map<std::string, SetAside> set_aside_ ABSL_GUARDED_BY(mu_);  // the last, by service
  uint64_t generations_ ABSL_GUARDED_BY(mu_) = 0;

  // The sync thread's (bounded by the membership: live peers only).
  absl::Mutex sync_mu_ ABSL_ACQUIRED_AFTER(mu_);
  bool sync_wanted_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool sync_stopped_ ABSL_GUARDED_BY(sync_mu_) = false;
  // Live peers in step (every copy they were sent was taken), and those
  // being sent copies now (a failure takes them out of both). Answers
  // come on the transport's thread and use them: the transport delivers
  // its last answer before this is destroyed (the node shuts its
  // EventLoop down first).
  std::set<std::string> in_step_ ABSL_GUARDED_BY(sync_mu_);
  std::set<std::string> syncing_ ABSL_GUARDED_BY(sync_mu_);
  std::thread sync_thread_;
};

}  // namespace domian::replica
