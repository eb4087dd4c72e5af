// Hand-overs received: what is refused before and after the sender
// confirms, and the wait for the service to run here.
#include "core/placement/observed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace domian::placement {
namespace {

// How often a hand-over being started here looks again without a Poke():
// a change a LocalServices did not report is seen this late at worst.
constexpr std::chrono::milliseconds kStartRecheck{1000};

}  // namespace

absl::Status CheckHandOverRequest(const HandOverRequest& request) {
  std::string malformed;
  if (!IsValidServiceName(request.service)) {
    malformed = "service is not a service name";
  } else if (!IsValidNodeId(request.from)) {
    malformed = "from is not a node id";
  } else if (request.epoch == 0 || request.epoch > kMaxEpoch) {
    malformed = "epoch " + std::to_string(request.epoch) + " is out of range (1 to " +
                std::to_string(kMaxEpoch) + ")";
  } else if (request.config_json.size() > kMaxHandOverConfigBytes) {
    malformed = "config_json is " + std::to_string(request.config_json.size()) +
                " bytes, over the limit of " + std::to_string(kMaxHandOverConfigBytes);
  }
  if (!malformed.empty()) {
    // The names may be anything here: not logged.
    spdlog::warn("refused a malformed hand-over: {}", malformed);
    return absl::InvalidArgumentError("malformed hand-over: " + malformed);
  }
  if (request.state && request.state->size() > kMaxHandOverStateBytes) {
    const std::string why = "its state is " + std::to_string(request.state->size()) +
                            " bytes, over the limit of " + std::to_string(kMaxHandOverStateBytes);
    spdlog::warn("refused a hand-over of {} from {}: {}", request.service, request.from, why);
    return absl::ResourceExhaustedError(why);
  }
  return absl::OkStatus();
}

absl::Status Placement::RefuseHandOver(const HandOverRequest& request, const Observed& seen,
                                       bool confirmed) const {
  using Code = absl::StatusCode;
  auto refuse = [](Code code, const std::string& why) {
    return absl::Status(code, why);
  };
  const std::string& service = request.service;
  if (request.cluster != options_.cluster) {
    return refuse(Code::kFailedPrecondition, "cluster '" + request.cluster + "' is not ours");
  }
  // A stopping node would only stop it again, with its state stuck here.
  if (leaving_) return refuse(Code::kUnavailable, "this node is stopping");
  if (request.state && request.state->size() > kMaxHandOverStateBytes) {
    return refuse(Code::kResourceExhausted,
                  "its state is " + std::to_string(request.state->size()) +
                      " bytes, over the limit of " + std::to_string(kMaxHandOverStateBytes));
  }
  if (request.epoch == 0 || request.epoch > kMaxEpoch) {
    return refuse(Code::kOutOfRange, "epoch " + std::to_string(request.epoch) +
                                   " is out of range (1 to " + std::to_string(kMaxEpoch) + ")");
  }
  const NodeView* from = seen.Node(request.from);
  if (from == nullptr || !from->alive || request.from == seen.self) {
    return refuse(Code::kPermissionDenied, "'" + request.from + "' is not a live peer of this node");
  }
  const auto spec = seen.specs.find(service);
  if (spec == seen.specs.end() || !seen.Node(seen.self)->plugins.contains(service)) {
    return refuse(Code::kFailedPrecondition, "no plugin for " + service + " here");
  }
  if (spec->second.kind != Kind::kSingleton) {
    return refuse(Code::kFailedPrecondition, service + " is a per-node service: each node runs its own");
  }
  const Decision decision = seen.Decide(service);
  for (const Verdict& verdict : decision.verdicts) {
    if (verdict.node == seen.self && !verdict.candidate) {
      return refuse(Code::kFailedPrecondition, service + " cannot run here: " + verdict.reason);
    }
  }
  if (local_.contains(service)) return refuse(Code::kAlreadyExists, service + " already runs here");
  static const std::vector<Claim> kNoClaims;
  const auto found = seen.claims.find(service);
  const std::vector<Claim>& claims = found == seen.claims.end() ? kNoClaims : found->second;
  // The sender's own claim counts too: a hand-over that arrives late,
  // after the sender gave up and runs it again under a higher epoch, is
  // refused rather than making a second owner.
  for (const Claim& claim : claims) {
    if (claim.epoch >= request.epoch) {
      return refuse(Code::kAborted, "node " + claim.node + " runs " + service + " under epoch " +
                                  std::to_string(claim.epoch));
    }
  }
  if (!confirmed) return absl::OkStatus();

  // The sender, in its own words: the owner, moving it here, under this epoch.
  const auto sender = std::find_if(claims.begin(), claims.end(),
                                   [&](const Claim& claim) { return claim.node == request.from; });
  if (sender == claims.end()) {
    return refuse(Code::kPermissionDenied, "node " + request.from + " does not run " + service +
                                         " (asked just now)");
  }
  if (sender->state != ServiceState::kHandingOver || sender->hand_over_to != seen.self ||
      sender->hand_over_epoch != request.epoch) {
    return refuse(Code::kPermissionDenied,
                  "node " + request.from + " does not hand " + service +
                      " to this node under epoch " + std::to_string(request.epoch) +
                      ": asked just now, it says " + std::string(ServiceStateName(sender->state)) +
                      (sender->state == ServiceState::kHandingOver
                           ? " to '" + sender->hand_over_to + "' under epoch " +
                                 std::to_string(sender->hand_over_epoch)
                           : " under epoch " + std::to_string(sender->epoch)));
  }
  for (const Claim& claim : claims) {
    if (claim.node != request.from && claim.epoch >= sender->epoch) {
      return refuse(Code::kAborted, "node " + claim.node + " runs " + service + " under epoch " +
                                  std::to_string(claim.epoch) + ", not below " + request.from +
                                  "'s " + std::to_string(sender->epoch));
    }
  }
  // Above every epoch any node reports for it (dead ones included); this
  // node's own saved history is not in the sender's view, so a lower
  // offer is raised above it when started, not refused.
  const auto reported = seen.reported_epoch.find(service);
  if (reported != seen.reported_epoch.end() && request.epoch <= reported->second) {
    return refuse(Code::kOutOfRange, "epoch " + std::to_string(request.epoch) + " is not above " +
                                   std::to_string(reported->second) +
                                   ", the highest this node knows for " + service);
  }
  const auto known = seen.max_epoch.find(service);
  const uint64_t highest = known == seen.max_epoch.end() ? 0 : known->second;
  if (request.epoch > EpochAfter(highest, kMaxHandOverEpochLead)) {
    return refuse(Code::kOutOfRange, "epoch " + std::to_string(request.epoch) + " is more than " +
                                   std::to_string(kMaxHandOverEpochLead) + " above " +
                                   std::to_string(highest) + ", the highest this node knows for " +
                                   service);
  }
  return absl::OkStatus();
}

absl::Status Placement::AcceptHandOver(const HandOverRequest& request) {
  auto refused = [&request](absl::Status status) {
    spdlog::warn("refused a hand-over of {} from {}: {}", request.service, request.from,
                 StatusMessage(status));
    return status;
  };
  // What this node already holds rules most bad requests out before it
  // calls anyone.
  {
    absl::MutexLock lock(&mu_);
    const Observed seen = Observe();
    if (absl::Status problem = RefuseHandOver(request, seen, /*confirmed=*/false); !problem.ok()) {
      return refused(problem);
    }
  }
  // The request is only a claim by whoever connected; the sender's record
  // for the service, as the sender itself states it now, decides. Outside
  // the lock: it is a call over the network.
  if (!cluster_.Confirm(request.from, kHandOverConfirmTimeout)) {
    return refused(absl::PermissionDeniedError(
        "node " + request.from + " did not confirm it: not a live peer, or no answer within " +
        Ms(kHandOverConfirmTimeout)));
  }
  const auto deadline = std::chrono::steady_clock::now() + kHandOverStartDeadline;
  uint64_t epoch = 0;
  {
    absl::MutexLock apply(&apply_mu_);
    Action start;
    {
      absl::MutexLock lock(&mu_);
      const Observed seen = Observe();
      if (absl::Status problem = RefuseHandOver(request, seen, /*confirmed=*/true);
          !problem.ok()) {
        return refused(problem);
      }
      // Never below an epoch this node used before for it.
      epoch = std::max(request.epoch, EpochAfter(local_services_.LastEpoch(request.service)));
      start = StartHere(request.service, epoch, request.config_json, request.state,
                        "handed over by " + request.from);
    }
    Apply({start});
  }
  Changed();
  std::string detail;
  const std::optional<ServiceState> state = AwaitStarted(request.service, detail, deadline);
  if (state == ServiceState::kRunning) {
    spdlog::info("took over service {} from {} under epoch {}", request.service, request.from,
                 epoch);
    Tell("took_over", request.service, "from " + request.from + " under epoch " +
                                           std::to_string(epoch));
    // Published before the answer: the sender asks this node for its
    // record as soon as it hears (ClusterSource::Confirm) and routes calls
    // by it, so the record must already say running, not wait for the
    // round the same change pokes.
    Changed();
    return absl::OkStatus();
  }
  {
    absl::MutexLock apply(&apply_mu_);
    std::optional<Action> stop;
    {
      absl::MutexLock lock(&mu_);
      if (local_.contains(request.service)) {
        stop = StopHere(request.service, "taking it over failed");
      }
      // Not a candidate for a while, or the sender would try again and again.
      gave_up_[request.service] = clock_.Now() + options_.timings.failed_hold;
      gave_up_why_[request.service] = BoundedDetail(detail);
    }
    if (stop) Apply({*stop});
  }
  Changed();
  return refused(absl::AbortedError(
      request.service + " did not start here: " +
      (!detail.empty() ? detail
       : state        ? std::string(ServiceStateName(*state))
                      : std::string("gone"))));
}

std::optional<ServiceState> Placement::AwaitStarted(
    const std::string& service, std::string& detail,
    std::chrono::steady_clock::time_point deadline) {
  while (true) {
    uint64_t pokes = 0;
    {
      absl::MutexLock lock(&loop_mu_);
      pokes = pokes_;
    }
    // nullopt: stopped meanwhile (a round found it failed).
    std::optional<ServiceState> state;
    detail.clear();
    for (const LocalServices::Status& status : local_services_.Services()) {
      if (status.name == service) {
        state = status.state;
        detail = status.detail;
      }
    }
    if (!state || *state == ServiceState::kRunning || *state == ServiceState::kFailed) {
      return state;
    }
    absl::MutexLock lock(&loop_mu_);
    const auto now = std::chrono::steady_clock::now();
    if (stopping_ || now >= deadline) return state;
    const absl::Time until =
        absl::Now() + absl::FromChrono(std::min<std::chrono::nanoseconds>(deadline - now, kStartRecheck));
    while (pokes_ == pokes && !stopping_ && !loop_cv_.WaitWithDeadline(&loop_mu_, until)) {
    }
  }
}

}  // namespace domian::placement
