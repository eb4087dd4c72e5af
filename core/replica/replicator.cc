#include "core/replica/replicator.h"

#include <spdlog/spdlog.h>

#include "core/common/durable_file.h"

namespace domian::replica {
namespace {

// Answers of one round of copies sent to peers, shared with the transport's
// callbacks (which may come after the round's caller stopped waiting).
struct Round {
  absl::Mutex mu;
  size_t answered ABSL_GUARDED_BY(mu) = 0;
  size_t stored ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> failures ABSL_GUARDED_BY(mu);
};

constexpr mode_t kSetAsideMode = 0600;  // a state may hold credentials
// Not a service name (no dots in those): no copy's file can take its place.
constexpr char kSetAsideFolder[] = "set-aside.d";

}  // namespace

Replicator::Replicator(Options options, ReplicaTransport& transport, HybridClock clock)
    : options_(std::move(options)),
      transport_(transport),
      clock_(std::move(clock)),
      store_(options_.dir) {}

Replicator::~Replicator() { Stop(); }

void Replicator::Start() {
  sync_thread_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&sync_mu_);
        const auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
          return sync_stopped_ || sync_wanted_;
        };
        // Woken by PeersChanged; otherwise looks again every
        // kResyncInterval for peers whose copies failed.
        sync_mu_.AwaitWithTimeout(absl::Condition(&due), absl::FromChrono(kResyncInterval));
        if (sync_stopped_) return;
        sync_wanted_ = false;
      }
      Sync();
    }
  });
}

void Replicator::Stop() {
  {
    absl::MutexLock lock(&sync_mu_);
    sync_stopped_ = true;
  }
  if (sync_thread_.joinable()) sync_thread_.join();
}

absl::Status Replicator::Publish(const std::string& service, uint64_t epoch,
                                 const std::string& bytes, bool wait) {
  // A plugin that saves nothing deleted its state: the copy is a
  // tombstone, so no older copy comes back in its place.
  StateCopy copy{.service = service,
                 .epoch = epoch,
                 .writer = options_.self,
                 .deleted = bytes.empty(),
                 .bytes = bytes};
  {
    absl::MutexLock lock(&mu_);
    const auto run = runs_.find(service);
    const bool this_run = run != runs_.end() && run->second.run.epoch == epoch;
    std::optional<StateCopy> called_off;  // a queued restart's change, now the older one
    if (this_run) {
      Running& running = run->second;
      // A save that changed nothing is no change: a new version would
      // make a state nobody changed win over one somebody did. Nor is
      // the old instance's save of the state a queued restart replaces.
      if (running.bytes == bytes) return absl::OkStatus();
      if (running.pending && running.pending->replaced == bytes) return absl::OkStatus();
      if (running.pending) {
        // The old instance changed it after the later change came: this
        // change is the latest; the restart is called off.
        called_off = running.pending->adopted;
        called_off->bytes = running.bytes;
        running.base = running.pending->base;
        running.changed = running.pending->changed;
        running.own = running.pending->own;
        running.run.origin = running.pending->origin;
        running.pending.reset();
      }
    }
    const std::optional<StateCopy> last = store_.Get(service);
    copy.seq = last && last->writer == options_.self && last->epoch == epoch ? last->seq + 1 : 1;
    // After every change of the service this node heard of (its clock
    // observed them as they came), and after the copy it keeps whoever
    // made it: a new owner's first change never sorts before its
    // predecessor's last, whatever their clocks say.
    if (last) clock_.Observe(last->hlc);
    copy.hlc = clock_.Now();
    if (this_run) {
      copy.parent = run->second.base;
    } else if (last) {
      copy.parent = last->hlc;
    }
    if (copy.parent >= copy.hlc) copy.parent = {};  // a base never observed: no claim
    if (absl::Status valid = CheckCopy(copy); !valid.ok()) return valid;
    if (absl::StatusOr<ReplicaStore::Offered> kept = store_.Offer(copy); !kept.ok()) {
      return kept.status();
    }
    if (this_run) {
      Running& running = run->second;
      if (called_off) PutAside(running, *called_off, copy);
      running.bytes = bytes;
      running.changed = true;
      running.own = copy;
      running.own->bytes.clear();  // running.bytes holds them
    }
  }
  const std::vector<Peer> peers = options_.live_peers ? options_.live_peers() : std::vector<Peer>{};
  auto round = std::make_shared<Round>();
  for (const Peer& peer : peers) {
    transport_.Put(peer, copy, wait ? kPeerAckTimeout : kPushDeadline,
                   [round, peer, service](absl::Status status) {
                     absl::MutexLock lock(&round->mu);
                     ++round->answered;
                     if (status.ok()) {
                       ++round->stored;
                     } else {
                       spdlog::debug("state of {} not copied to {}: {}", service, peer.id,
                                     StatusMessage(status));
                       round->failures.push_back(peer.id + ": " + StatusMessage(status));
                     }
                   });
  }
  if (!wait || peers.empty()) return absl::OkStatus();
  absl::MutexLock lock(&round->mu);
  const auto settled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(round->mu) {
    return round->stored > 0 || round->answered == peers.size();
  };
  round->mu.AwaitWithTimeout(absl::Condition(&settled), absl::FromChrono(kPeerAckTimeout));
  if (round->stored > 0) return absl::OkStatus();
  std::string why = round->failures.empty() ? "no answer" : round->failures.front();
  return absl::UnavailableError("kept on this node, but none of " + std::to_string(peers.size()) +
                                " live peer(s) confirmed a copy within " +
                                std::to_string(kPeerAckTimeout.count()) + " ms (" + why + ")");
}

std::vector<Replicator::NodeCopy> Replicator::AskPeers(const std::vector<Peer>& peers,
                                                       const std::string& service,
                                                       size_t& answered) {
  struct Answers {
    absl::Mutex mu;
    size_t answered ABSL_GUARDED_BY(mu) = 0;
    std::vector<NodeCopy> copies ABSL_GUARDED_BY(mu);
  };
  auto answers = std::make_shared<Answers>();
  {
    absl::MutexLock lock(&answers->mu);
    for (const Peer& peer : peers) answers->copies.push_back({.node = peer.id, .error = "no answer"});
  }
  for (size_t i = 0; i < peers.size(); ++i) {
    transport_.Get(peers[i], service, kFetchTimeout,
                   [answers, i](absl::StatusOr<HeldCopy> answer) {
                     absl::MutexLock lock(&answers->mu);
                     ++answers->answered;
                     NodeCopy& slot = answers->copies[i];
                     slot.error = answer.ok() ? "" : StatusMessage(answer.status());
                     if (!answer.ok()) return;
                     slot.copy = std::move(answer->copy);
                     slot.report = std::move(answer->report);
                   });
  }
  absl::MutexLock lock(&answers->mu);
  const auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(answers->mu) {
    return answers->answered == peers.size();
  };
  answers->mu.AwaitWithTimeout(absl::Condition(&all), absl::FromChrono(kFetchTimeout));
  answered = answers->answered;
  return answers->copies;
}

Replicator::Fetched Replicator::Freshest(const std::string& service) {
  Fetched fetched;
  {
    absl::MutexLock lock(&mu_);
    fetched.copy = store_.Get(service);
  }
  const std::vector<Peer> peers = options_.live_peers ? options_.live_peers() : std::vector<Peer>{};
  fetched.asked = peers.size();
  if (peers.empty()) return fetched;
  std::vector<NodeCopy> answers = AskPeers(peers, service, fetched.answered);
  std::optional<Adoption> adopt;  // when the service already runs here
  {
    absl::MutexLock lock(&mu_);
    for (NodeCopy& answer : answers) {
      if (!answer.copy) continue;
      StateCopy& copy = *answer.copy;
      // What a peer answers is checked as a PutState is: a copy dated far
      // ahead of this node's clock would otherwise win every comparison.
      if (copy.service != service || !CheckCopy(copy).ok() || !clock_.Acceptable(copy.hlc)) {
        spdlog::warn("state copy of {} from {} left out: not a valid copy, or dated too far ahead",
                     service, answer.node);
        continue;
      }
      if (fetched.copy && !Newer(copy, *fetched.copy)) continue;
      fetched.copy = std::move(copy);
      fetched.from = answer.node;
    }
    if (!fetched.from.empty()) {
      clock_.Observe(fetched.copy->hlc);
      if (absl::StatusOr<bool> kept = Keep(*fetched.copy, adopt); !kept.ok()) {
        spdlog::warn("state copy of {} from {} not kept here: {}", service, fetched.from,
                     StatusMessage(kept.status()));
      }
    }
  }
  if (adopt && options_.adopt) {
    options_.adopt(adopt->service, adopt->epoch, adopt->bytes, adopt->generation);
  }
  return fetched;
}

std::vector<Replicator::NodeCopy> Replicator::Survey(const std::string& service) {
  std::vector<NodeCopy> out;
  out.push_back({.node = options_.self, .copy = Get(service), .report = ReportOf(service)});
  const std::vector<Peer> peers = options_.live_peers ? options_.live_peers() : std::vector<Peer>{};
  size_t answered = 0;
  for (NodeCopy& copy : AskPeers(peers, service, answered)) out.push_back(std::move(copy));
  for (NodeCopy& copy : out) {
    if (!copy.copy) continue;
    copy.state_bytes = copy.copy->bytes.size();
    copy.copy->bytes.clear();
  }
  return out;
}

absl::StatusOr<bool> Replicator::Accept(const StateCopy& copy) {
  if (absl::Status valid = CheckCopy(copy); !valid.ok()) return valid;
  std::optional<Adoption> adopt;
  absl::StatusOr<bool> kept;
  {
    absl::MutexLock lock(&mu_);
    if (!clock_.Acceptable(copy.hlc)) {
      return absl::InvalidArgumentError("the copy of " + copy.service + " is dated " +
                                        copy.hlc.ToString() +
                                        ", too far ahead of this node's clock");
    }
    clock_.Observe(copy.hlc);
    kept = Keep(copy, adopt);
  }
  if (adopt && options_.adopt) {
    options_.adopt(adopt->service, adopt->epoch, adopt->bytes, adopt->generation);
  }
  return kept;
}

absl::StatusOr<bool> Replicator::Keep(const StateCopy& copy, std::optional<Adoption>& adopt) {
  const std::optional<StateCopy> before = store_.Get(copy.service);
  absl::StatusOr<ReplicaStore::Offered> kept = store_.Offer(copy);
  if (!kept.ok()) return kept.status();
  const bool stored = *kept == ReplicaStore::Offered::kStored;
  const auto run = runs_.find(copy.service);
  if (run == runs_.end() || copy.writer == options_.self) return stored;
  Running& running = run->second;
  if (!stored) {
    // Older than what is kept here, yet a change the running state does
    // not include, with other bytes: made apart from this node's own
    // later change, which wins. Set aside (once).
    if (copy.hlc > running.base && copy.bytes != running.bytes && before) {
      PutAside(running, copy, *before);
    }
    return false;
  }
  if (copy.bytes == running.bytes) {  // the same state: nothing to restart
    running.base = std::max(running.base, copy.hlc);
    return true;
  }
  // Its writer's run began from (or took) this node's last change: it
  // includes it, no rival. (Timestamps of different lineages say nothing
  // of what includes what: only the very change counts.)
  const bool includes_ours = running.own && copy.parent == running.own->hlc;
  if (running.changed && running.own && !includes_ours) {
    StateCopy lost = *running.own;
    lost.bytes = running.bytes;
    PutAside(running, lost, copy);
  } else {
    spdlog::info("service {}: a later change of its state was made on {} ({}); it continues "
                 "from that one",
                 copy.service, copy.writer, copy.Version());
  }
  if (!running.pending) {
    running.pending = Pending{.replaced = running.bytes,
                              .base = running.base,
                              .changed = running.changed,
                              .own = running.own,
                              .origin = running.run.origin};
  }
  running.pending->generation = ++generations_;
  running.pending->adopted = copy;
  running.pending->adopted.bytes.clear();  // running.bytes holds them
  running.bytes = copy.bytes;
  running.base = copy.hlc;
  running.changed = false;
  running.own.reset();
  running.run.origin = "the later change " + copy.Version() + ", taken while it ran here";
  adopt = Adoption{copy.service, running.run.epoch, copy.bytes, running.pending->generation};
  return true;
}

void Replicator::PutAside(Running& running, const StateCopy& lost, const StateCopy& won) {
  const std::string version = lost.Version();
  if (running.set_aside && running.set_aside->version == version) return;
  const std::filesystem::path file = options_.dir / kSetAsideFolder / lost.service;
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  if (absl::Status written = WriteDurable(file, EncodeCopy(lost), kSetAsideMode); !written.ok()) {
    spdlog::error("service {}: the state set aside ({}) could not be kept: {}", lost.service,
                  version, StatusMessage(written));
  }
  spdlog::warn("service {}: its state was changed on two sides apart (a partition, or a node "
               "that ran alone): {} lost to the later {}; the lost state is kept in {}",
               lost.service, version, won.Version(), file.string());
  running.set_aside = SetAside{.version = version, .lost_to = won.Version(), .file = file.string()};
  set_aside_[lost.service] = *running.set_aside;
}

std::optional<StateCopy> Replicator::Began(const std::string& service, uint64_t epoch,
                                           const std::string& bytes, std::string origin,
                                           std::optional<Hlc> base) {
  absl::MutexLock lock(&mu_);
  Running running{.run = {.epoch = epoch, .origin = std::move(origin)}, .bytes = bytes};
  const std::optional<StateCopy> kept = store_.Get(service);
  running.base = base ? *base : kept ? kept->hlc : Hlc{};
  std::optional<StateCopy> later;
  if (kept && kept->writer != options_.self && kept->hlc > running.base && kept->bytes != bytes) {
    later = kept;
    running.bytes = kept->bytes;
    running.base = kept->hlc;
    running.run.origin = "the later change " + kept->Version() + ", which came as it started";
    spdlog::info("service {}: a later change of its state came as it started ({}); it starts "
                 "from that one",
                 service, kept->Version());
  }
  runs_[service] = std::move(running);
  return later;
}

bool Replicator::StillAdopting(const std::string& service, uint64_t generation) const {
  absl::MutexLock lock(&mu_);
  const auto run = runs_.find(service);
  return run != runs_.end() && run->second.pending &&
         run->second.pending->generation == generation;
}

void Replicator::Adopted(const std::string& service, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  const auto run = runs_.find(service);
  if (run != runs_.end() && run->second.pending &&
      run->second.pending->generation == generation) {
    run->second.pending.reset();
  }
}

std::optional<std::string> Replicator::Ended(const std::string& service) {
  absl::MutexLock lock(&mu_);
  const auto run = runs_.find(service);
  if (run == runs_.end()) return std::nullopt;
  std::optional<std::string> adopted;
  if (run->second.pending) adopted = run->second.bytes;
  runs_.erase(run);
  return adopted;
}

Replicator::Report Replicator::ReportOf(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  Report report;
  if (const auto run = runs_.find(service); run != runs_.end()) report.run = run->second.run;
  if (const auto aside = set_aside_.find(service); aside != set_aside_.end()) {
    report.set_aside = aside->second;
  }
  return report;
}

void Replicator::PeersChanged() {
  absl::MutexLock lock(&sync_mu_);
  sync_wanted_ = true;
}

void Replicator::Sync() {
  const std::vector<Peer> peers = options_.live_peers ? options_.live_peers() : std::vector<Peer>{};
  std::vector<Peer> to_send;
  {
    absl::MutexLock lock(&sync_mu_);
    std::set<std::string> live;
    for (const Peer& peer : peers) live.insert(peer.id);
    // A peer that died is sent everything again when it comes back.
    std::erase_if(in_step_, [&](const std::string& id) { return !live.contains(id); });
    for (const Peer& peer : peers) {
      if (in_step_.contains(peer.id) || syncing_.contains(peer.id)) continue;
      syncing_.insert(peer.id);
      to_send.push_back(peer);
    }
  }
  if (to_send.empty()) return;
  const std::vector<StateCopy> copies = All();
  for (const Peer& peer : to_send) {
    if (copies.empty()) {
      absl::MutexLock lock(&sync_mu_);
      syncing_.erase(peer.id);
      in_step_.insert(peer.id);
      continue;
    }
    struct Sent {
      absl::Mutex mu;
      size_t left ABSL_GUARDED_BY(mu) = 0;
      bool failed ABSL_GUARDED_BY(mu) = false;
    };
    auto sent = std::make_shared<Sent>();
    {
      absl::MutexLock lock(&sent->mu);
      sent->left = copies.size();
    }
    for (const StateCopy& copy : copies) {
      transport_.Put(peer, copy, kPushDeadline,
                     [this, sent, peer, service = copy.service](absl::Status status) {
                       if (!status.ok()) {
                         spdlog::debug("state of {} not copied to {}: {}", service, peer.id,
                                       StatusMessage(status));
                       }
                       bool failed = false;
                       {
                         absl::MutexLock lock(&sent->mu);
                         sent->failed = sent->failed || !status.ok();
                         if (--sent->left > 0) return;
                         failed = sent->failed;
                       }
                       absl::MutexLock lock(&sync_mu_);
                       syncing_.erase(peer.id);
                       // A failed one is tried again at the next sync.
                       if (!failed) in_step_.insert(peer.id);
                     });
    }
  }
}

std::optional<StateCopy> Replicator::Get(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  return store_.Get(service);
}

std::vector<StateCopy> Replicator::All() const {
  absl::MutexLock lock(&mu_);
  return store_.All();
}

}  // namespace domian::replica
