// Placement: the owner of "what runs here". Every node runs one; there is
// no leader. Each round it reads the cluster as this node sees it (every
// identity's Offers and ServiceList), ranks candidates (ranking.h) and
// acts only on this node:
//
//  - starts a singleton when this node is the best candidate and no live
//    node claims it (first start, and failover when the owner is dead);
//  - hands a singleton it runs to a better node (better run mode or
//    weight, never just a tie-breaker) once that node has been alive for
//    migrate_after and the service has stayed here as long: it stops the
//    service, saves its state and sends state and configuration with
//    HandOver; if the receiver cannot take it, it starts it again here.
//    A receiver takes a HandOver only once the sender, asked directly,
//    confirms it (see HandOverRequest);
//  - stops a singleton when another live node claims it with a higher
//    epoch (or the same epoch and a better preference, or the same and a
//    lower id): the rule both sides of a healed partition apply alike;
//  - gives a service up for failed_hold when it kept crashing here (its
//    plugin host gave up), so the next candidate runs it;
//  - runs per-node services wherever they are listed and can run.
//
// Epochs: a singleton's owner starts it under an epoch above every epoch
// it has seen for it (in any identity, and its own last one); only grows,
// and never past kMaxEpoch.
//
// Only live nodes have a say: a dead node's offers make nothing wanted,
// rank nothing and configure nothing (its epochs still count).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/events/event_journal.h"
#include "core/config/node_config.h"
#include "core/membership/peer_table.h"
#include "core/model/identity.h"
#include "core/model/service_state.h"
#include "core/placement/ranking.h"

namespace domian::placement {

// How often the cluster view is read again; bounds how late placement
// reacts to a peer's death on top of the failure detector itself.
inline constexpr std::chrono::milliseconds kRoundInterval{100};
// With a view generation to watch (Options::view_generation), a round whose
// cluster view has not changed and that nobody poked is skipped, down to
// one round per this interval for placement's own timers (migrate_after,
// failed_hold: seconds to minutes, so up to this much later is harmless).
// Reading 200 peers' identities ten times a second was a third of an idle
// daemon's CPU in a 200-node cluster.
inline constexpr std::chrono::milliseconds kQuietRoundInterval{1000};
// How long a node taking over a singleton may take to have it running.
inline constexpr std::chrono::seconds kHandOverStartDeadline{12};
// How long the old owner waits for the HandOver answer (start included).
inline constexpr std::chrono::seconds kHandOverDeadline{15};
// How long a node receiving a HandOver waits for the sender to confirm it
// (one identity-list exchange with the sender: milliseconds on a home LAN).
inline constexpr std::chrono::milliseconds kHandOverConfirmTimeout{2000};
static_assert(kHandOverConfirmTimeout + kHandOverStartDeadline < kHandOverDeadline,
              "the receiver must answer before the sender stops waiting");
// How far a handed-over epoch may be above the highest this node knows
// for the service. The sender offers one above the highest it knows, and
// may have seen a few starts this node did not (the other side of a
// healed partition); each is a start or a move, so never many. Anything
// more is a broken or hostile sender pushing epochs towards the top.
inline constexpr uint64_t kMaxHandOverEpochLead = 16;
// Largest state a HandOver carries: what a plugin may save
// (services::kMaxStateBytes, kept equal), so any state that can be saved
// can be handed over.
inline constexpr size_t kMaxHandOverStateBytes = size_t{1} << 20;
// Largest configuration a HandOver carries: a service's configuration is
// at most 4 KiB where it is written (WireLimits::max_config_bytes), so
// this only bounds what a broken sender can make a receiver hold.
inline constexpr size_t kMaxHandOverConfigBytes = size_t{1} << 20;

// `epoch` + `step`, at most kMaxEpoch: "one above every epoch seen" must
// never wrap around to 0 (every peer refuses an identity above the range,
// and 0 loses to every other claim). At the top, starts reuse kMaxEpoch
// and the two-owner rule settles equal epochs; no honest cluster gets
// there (one step per start or move).
uint64_t EpochAfter(uint64_t epoch, uint64_t step = 1);

// The services of this node, as placement needs them (ServiceHost in the
// daemon).
class LocalServices {
 public:
  struct Status {
    std::string name;
    ServiceState state = ServiceState::kStopped;
    std::string detail;
    std::string endpoint;  // "name=host:port,..." as the plugin published them
  };
  virtual ~LocalServices() = default;
  // Starts `service` here under `epoch` with `config_json`; `state`, when
  // set, replaces the saved state first. Returns once it is starting (an
  // isolated service becomes running later) or has failed.
  virtual void Start(const std::string& service, const std::string& config_json,
                     uint64_t epoch, const std::optional<std::string>& state) = 0;
  // Stops it, saving its state; the state as saved (nullopt: none).
  virtual std::optional<std::string> Stop(const std::string& service) = 0;
  virtual std::vector<Status> Services() const = 0;
  // The loaded plugins' descriptions of their services.
  virtual std::vector<ServiceSpec> Plugins() const = 0;
  // The last epoch this node ran `service` under (kept across restarts).
  virtual uint64_t LastEpoch(const std::string& service) const = 0;
};

// Services whose configuration placement remembers after the live node
// that listed it is gone (see Placement::RememberConfigs); each is at
// most WireLimits::max_config_bytes (4 KiB).
inline constexpr size_t kMaxRememberedConfigs = 256;

// A planned move, as sent to the new owner. The receiver takes it only
// from the node it sees owning the service, which must say so itself:
// asked directly (ClusterSource::Confirm), the sender's record for the
// service is handing-over to the receiver at exactly `epoch`, and `epoch`
// is above every epoch the receiver knows for it, by at most
// kMaxHandOverEpochLead.
struct HandOverRequest {
  std::string service;
  uint64_t epoch = 0;
  std::string from;
  std::string cluster;
  std::optional<std::string> state;
  std::string config_json;
};

// What is wrong with `request` by itself, before a lane or placement's
// own state is involved: INVALID_ARGUMENT ("malformed hand-over: ...")
// for a field no honest sender writes, RESOURCE_EXHAUSTED for a state
// over kMaxHandOverStateBytes. OK when placement may look at it.
absl::Status CheckHandOverRequest(const HandOverRequest& request);

// How the old owner reaches the new one (routing::ServiceRouter in the
// daemon).
class HandOverTransport {
 public:
  virtual ~HandOverTransport() = default;
  // Blocks until the receiver runs it; OK, or why not.
  virtual absl::Status HandOver(const std::string& address, const HandOverRequest& request) = 0;
};

// This node and its peers, as Membership knows them.
struct ClusterView {
  Identity self;
  std::vector<membership::PeerView> peers;
};

// Where placement reads the cluster (Membership in the daemon).
class ClusterSource {
 public:
  virtual ~ClusterSource() = default;
  virtual ClusterView View() const = 0;
  // This node's id, without copying every peer as View() does (a call
  // answered here names the node that answered).
  virtual std::string SelfId() const { return View().self.id; }
  // Asks live peer `id` for its own word now (a call to it, its reply
  // merged), so that the next View() holds what `id` says of itself, not
  // what others relayed. False when `id` is not a live peer or did not
  // answer within `timeout`. Blocks: never called with placement's lock
  // held.
  virtual bool Confirm(const std::string& id, std::chrono::milliseconds timeout) = 0;
};

// One node running (or moving) a service.
struct Claim {
  std::string node;
  std::string address;
  ServiceState state = ServiceState::kUnknown;
  uint64_t epoch = 0;
  std::string endpoint;
  // While state is handing-over: to which node, under which epoch.
  std::string hand_over_to;
  uint64_t hand_over_epoch = 0;
};

// What `domianctl explain` shows.
struct Explanation {
  std::string service;
  std::string placement;  // singleton | per-node | "" when no node has its plugin
  bool wanted = false;
  PlacementState state = PlacementState::kNotWanted;  // placed, waiting, unplaced, not wanted
  std::string detail;
  std::vector<std::string> chosen;
  std::vector<Claim> running;
  std::vector<Verdict> verdicts;
  std::vector<std::string> depends;
};

// A wanted service that runs nowhere, for `domianctl services`.
struct Unrun {
  std::string service;
  PlacementState state = PlacementState::kUnplaced;  // waiting, unplaced or starting
  std::string node;   // where it is about to start, when starting
  std::string detail;
};

class Placement {
 public:
  struct Options {
    std::string cluster;
    std::vector<config::ServiceConfig> services;  // this node's YAML
    config::PlacementTimings timings;
    // Where to read whether the cluster view changed (Membership's
    // ViewGeneration): rounds that would read the same view are skipped
    // as kQuietRoundInterval allows. Unset: every round runs.
    std::function<uint64_t()> view_generation;
    // Told each decision this node acts on (started, stopped, moving,
    // moved, move_failed, took_over), for the node's event journal. May be
    // called with placement's lock held: it must not block nor call back.
    std::function<void(events::Event)> report;
    // Called once, when this node is ready: `settle` is over and the first
    // round after it has started (or stopped) what it decided here, so the
    // node runs what it should. The node's health check turns SERVING
    // then. On the round's thread, without placement's locks held; it
    // must not block.
    std::function<void()> ready;
  };

  // `on_change` runs (without locks held) after every round and every
  // move, so the node can update its identity from Records and Offers
  // (it compares; most rounds change nothing).
  Placement(Options options, LocalServices& local, HandOverTransport& transport,
            ClusterSource& cluster, std::function<void()> on_change, const Clock& clock);
  ~Placement();  // Stop()
  Placement(const Placement&) = delete;
  Placement& operator=(const Placement&) = delete;

  void Start();
  // Stops deciding (services keep running; the daemon stops them after).
  void Stop();
  // A local service changed: look again soon.
  void Poke();
  // For a clean shutdown, after Stop(): hands every singleton running here
  // to the best other candidate, state and all, so a restart or an
  // upgrade of this node loses nothing. Services no other node can take
  // stay here, to be stopped (and their state saved) with the node. Gives
  // up starting new hand-overs after `budget`.
  void HandOffAll(std::chrono::milliseconds budget);

  // One round (the loop runs it every kRoundInterval; tests may call it).
  void RunOnce();

  // A peer hands us `request.service`. Blocks until it runs here (or
  // failed); OK, or why not (logged). Confirms the hand-over with the
  // sender first (see HandOverRequest).
  absl::Status AcceptHandOver(const HandOverRequest& request);

  // For this node's identity.
  std::vector<ServiceRecord> Records() const;
  std::vector<Offer> Offers() const;

  Explanation Explain(const std::string& service);
  std::vector<Unrun> UnrunServices();

 private:
  struct Local {
    uint64_t epoch = 0;
    MonoTime since;             // started, or taken over, here
    std::string handing_over;   // to this node, while a move is under way
    uint64_t hand_over_epoch = 0;  // the epoch offered to it
    std::string config_json;
    std::optional<MonoTime> failed_at;  // a per-node service that failed here
  };
  struct Observed;  // one round's reading of the cluster

  Observed Observe() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps the configuration `seen` found for each service from a live node
  // (`best`: its rank and node), and fills in a remembered one where no
  // live node gives any.
  void RememberConfigs(
      Observed& seen, const std::map<std::string, std::tuple<int, int64_t, std::string>>& best)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();
  // Whether the loop's next round has anything new to read (loop thread).
  bool RoundDue();
  // What a round (or an accepted hand-over) does to this node's services.
  // Decided under mu_, where local_ already records the outcome; applied
  // after mu_ is released (Apply), because a plugin may take seconds to
  // start and an isolated one up to ~15 s to stop, and Records, Offers,
  // Explain and the services list must not wait for that.
  struct Action {
    enum class Kind { kStart, kStop, kMove };
    Kind kind;
    std::string service;
    uint64_t epoch = 0;        // kStart
    std::string config_json;   // kStart
    std::optional<std::string> state;  // kStart: replaces the saved state
    std::string node;          // kMove: to
  };

  // The round's decisions, in order; at most one move (last).
  std::vector<Action> Reconcile(Observed& seen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the starts and stops of `actions` (not the move).
  void Apply(const std::vector<Action>& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Why `request` cannot be taken, or OK when it can as far as `seen`
  // tells. `confirmed`: `seen` holds the sender's own word, so its record
  // for the service is checked too.
  absl::Status RefuseHandOver(const HandOverRequest& request, const Observed& seen,
                              bool confirmed) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands `service` to `node`. When the node does not take it: runs it
  // here again, or (leaving) just leaves it stopped. True when moved.
  // Takes apply_mu_ for the stop and a restart, never across the call.
  bool MoveTo(const std::string& service, const std::string& node, const Observed& seen,
              bool leaving = false) ABSL_LOCKS_EXCLUDED(apply_mu_, mu_);
  // Records a start or stop in local_ and returns the action that does
  // it.
  // `why` and `seconds` go to the event it reports (seconds: for a
  // failover, how long ago the dead owner was last heard).
  Action StartHere(const std::string& service, uint64_t epoch, const std::string& config_json,
                   const std::optional<std::string>& state, std::string why,
                   std::optional<double> seconds = std::nullopt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action StopHere(const std::string& service, const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One decision to the event journal (Options::report).
  void Tell(std::string what, const std::string& service, std::string detail,
            std::optional<double> seconds = std::nullopt, std::string node = "") const;
  // Waits until `service` is running or failed here (nullopt: gone), up
  // to `deadline`: woken by Poke(), which the node calls on every change
  // of a local service.
  std::optional<ServiceState> AwaitStarted(const std::string& service, std::string& detail,
                                          std::chrono::steady_clock::time_point deadline)
      ABSL_LOCKS_EXCLUDED(loop_mu_);
  void Changed();
  // Tells options_.ready, once, when a round that began at `round_began`
  // (after its starts and stops are applied) ran past the settle period.
  void AnnounceReady(MonoTime round_began);

  Options options_;
  LocalServices& local_services_;
  HandOverTransport& transport_;
  ClusterSource& cluster_;
  std::function<void()> on_change_;
  const Clock& clock_;
  MonoTime started_at_;

  // Held while actions are applied (a round's, an accepted hand-over's,
  // a move's stop and restart): local starts and stops never interleave.
  // Never held across an outgoing HandOver, so two nodes moving services
  // to each other cannot wait on each other. Taken before mu_.
  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Guards what placement knows (local_ and the maps below); held while a
  // round reads the cluster and decides, never while a plugin starts or
  // stops.
  mutable absl::Mutex mu_;
  std::map<std::string, Local> local_ ABSL_GUARDED_BY(mu_);  // services this node owns
  std::map<std::string, MonoTime> gave_up_ ABSL_GUARDED_BY(mu_);  // service -> until
  // Why, for those of gave_up_ that say (the service's last detail here).
  std::map<std::string, std::string> gave_up_why_ ABSL_GUARDED_BY(mu_);
  struct RememberedConfig {
    std::string node;  // the live node it came from
    std::string config;
  };
  std::map<std::string, RememberedConfig> last_config_ ABSL_GUARDED_BY(mu_);  // by service
  // (service, node) -> until
  std::map<std::pair<std::string, std::string>, MonoTime> refused_ ABSL_GUARDED_BY(mu_);
  struct AliveSince {
    uint64_t incarnation;
    MonoTime since;
  };
  // Peers alive without a break.
  std::map<std::string, AliveSince> alive_since_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> leaving_{false};               // Stop() was called
  std::atomic<bool> announced_ready_{false};       // options_.ready was called

  absl::Mutex loop_mu_;
  absl::CondVar loop_cv_;  // stop, a poke
  bool stopping_ ABSL_GUARDED_BY(loop_mu_) = false;
  bool poked_ ABSL_GUARDED_BY(loop_mu_) = false;
  // Every Poke(): what a waiting hand-over watches.
  uint64_t pokes_ ABSL_GUARDED_BY(loop_mu_) = 0;
  // The loop thread's own: what its last round read, and when.
  std::optional<uint64_t> round_generation_;
  MonoTime last_round_;
  std::thread loop_;
};

}  // namespace domian::placement
