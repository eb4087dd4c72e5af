#include "core/replica/replicator.h"

#include <spdlog/spdlog.h>

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

}  // namespace

Replicator::Replicator(Options options, ReplicaTransport& transport, HybridClock clock)
    : options_(std::move(options)),
      transport_(transport),
      clock_(std::move(clock)),
      store_(options_.dir) {}

absl::Status Replicator::Publish(const std::string& service, uint64_t epoch,
                                 const std::string& bytes, bool wait) {
  StateCopy copy{.service = service, .epoch = epoch, .writer = options_.self, .bytes = bytes};
  {
    absl::MutexLock lock(&mu_);
    const std::optional<StateCopy> last = store_.Get(service);
    copy.seq = last && last->writer == options_.self && last->epoch == epoch ? last->seq + 1 : 1;
    // After every change of the service this node heard of (its clock
    // observed them as they came), and after the copy it keeps whoever
    // made it: a new owner's first change never sorts before its
    // predecessor's last, whatever their clocks say.
    if (last) clock_.Observe(last->hlc);
    copy.hlc = clock_.Now();
    if (absl::Status valid = CheckCopy(copy); !valid.ok()) return valid;
    if (absl::StatusOr<ReplicaStore::Offered> kept = store_.Offer(copy); !kept.ok()) {
      return kept.status();
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
                   [answers, i](absl::StatusOr<std::optional<StateCopy>> answer) {
                     absl::MutexLock lock(&answers->mu);
                     ++answers->answered;
                     NodeCopy& slot = answers->copies[i];
                     slot.error = answer.ok() ? "" : StatusMessage(answer.status());
                     if (answer.ok()) slot.copy = *std::move(answer);
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
    if (absl::StatusOr<ReplicaStore::Offered> kept = store_.Offer(*fetched.copy); !kept.ok()) {
      spdlog::warn("state copy of {} from {} not kept here: {}", service, fetched.from,
                   StatusMessage(kept.status()));
    }
  }
  return fetched;
}

std::vector<Replicator::NodeCopy> Replicator::Survey(const std::string& service) {
  std::vector<NodeCopy> out;
  out.push_back({.node = options_.self, .copy = Get(service)});
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
  absl::MutexLock lock(&mu_);
  if (!clock_.Acceptable(copy.hlc)) {
    return absl::InvalidArgumentError("the copy of " + copy.service + " is dated " +
                                      copy.hlc.ToString() + ", too far ahead of this node's clock");
  }
  clock_.Observe(copy.hlc);
  absl::StatusOr<ReplicaStore::Offered> kept = store_.Offer(copy);
  if (!kept.ok()) return kept.status();
  return *kept == ReplicaStore::Offered::kStored;
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
