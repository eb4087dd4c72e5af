// The placement loop: rounds, the decisions they make, and moves.
#include "core/placement/observed.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

namespace domian::placement {

uint64_t EpochAfter(uint64_t epoch, uint64_t step) {
  return epoch >= kMaxEpoch || kMaxEpoch - epoch <= step ? kMaxEpoch : epoch + step;
}

Placement::Placement(Options options, LocalServices& local, HandOverTransport& transport,
                     ClusterSource& cluster, std::function<void()> on_change, const Clock& clock)
    : options_(std::move(options)),
      local_services_(local),
      transport_(transport),
      cluster_(cluster),
      on_change_(std::move(on_change)),
      clock_(clock),
      started_at_(clock.Now()) {}

Placement::~Placement() { Stop(); }

void Placement::Start() {
  started_at_ = clock_.Now();
  loop_ = std::thread([this] { Loop(); });
}

void Placement::Stop() {
  leaving_ = true;  // from now on, hand-overs to this node are refused
  {
    absl::MutexLock lock(&loop_mu_);
    stopping_ = true;
  }
  loop_cv_.SignalAll();
  if (loop_.joinable()) loop_.join();
}

void Placement::Poke() {
  {
    absl::MutexLock lock(&loop_mu_);
    poked_ = true;
    ++pokes_;
  }
  loop_cv_.SignalAll();
}

void Placement::Loop() {
  while (true) {
    bool poked = false;
    {
      absl::MutexLock lock(&loop_mu_);
      const absl::Time until = absl::Now() + absl::FromChrono(kRoundInterval);
      while (!stopping_ && !poked_ && !loop_cv_.WaitWithDeadline(&loop_mu_, until)) {
      }
      if (stopping_) return;
      poked = std::exchange(poked_, false);
    }
    if (!RoundDue() && !poked) continue;
    RunOnce();
  }
}

bool Placement::RoundDue() {
  if (!options_.view_generation) return true;
  const MonoTime now = clock_.Now();
  // Read before the round: a change while it runs makes the next one due.
  const uint64_t generation = options_.view_generation();
  const bool due = generation != round_generation_ ||
                   now - last_round_ >= kQuietRoundInterval ||
                   // The end of `settle` is a timer too; start-up is short.
                   now - started_at_ < options_.timings.settle + kQuietRoundInterval;
  round_generation_ = generation;
  if (due) last_round_ = now;
  return due;
}

void Placement::AnnounceReady(MonoTime round_began) {
  if (round_began - started_at_ < options_.timings.settle) return;
  if (announced_ready_.exchange(true)) return;
  if (options_.ready) options_.ready();
}

void Placement::Changed() {
  if (on_change_) on_change_();
}

void Placement::RunOnce() {
  // Read before deciding: Reconcile's own clock reading is no earlier, so
  // a round that began after `settle` decided as a settled node.
  const MonoTime began = clock_.Now();
  std::vector<Action> actions;
  Observed seen;
  {
    absl::MutexLock apply(&apply_mu_);
    {
      absl::MutexLock lock(&mu_);
      seen = Observe();
      actions = Reconcile(seen);
    }
    Apply(actions);
  }
  // Before a move: ready means running what belongs here, and a move (a
  // better node for a service already running here) may wait seconds for
  // the other node.
  AnnounceReady(began);
  if (!actions.empty() && actions.back().kind == Action::Kind::kMove) {
    MoveTo(actions.back().service, actions.back().node, seen);
  }
  // Records also change with the plugin host's own state (starting ->
  // running, endpoints), so the node looks after every round.
  Changed();
}

void Placement::Apply(const std::vector<Action>& actions) {
  for (const Action& action : actions) {
    switch (action.kind) {
      case Action::Kind::kStart:
        local_services_.Start(action.service, action.config_json, action.epoch, action.state);
        break;
      case Action::Kind::kStop:
        local_services_.Stop(action.service);
        break;
      case Action::Kind::kMove:
        break;  // MoveTo, once apply_mu_ is released
    }
  }
}

std::vector<Placement::Action> Placement::Reconcile(Observed& seen) {
  const MonoTime now = clock_.Now();
  std::vector<Action> actions;
  std::optional<std::pair<std::string, std::string>> move;
  std::set<std::string> services = seen.wanted;
  for (const auto& [name, local] : local_) services.insert(name);

  for (const std::string& name : services) {
    const auto spec = seen.specs.find(name);
    auto mine = local_.find(name);
    if (spec == seen.specs.end()) {
      // Its plugin is gone everywhere, this node included.
      if (mine != local_.end()) actions.push_back(StopHere(name, "its plugin is gone"));
      continue;
    }
    const bool wanted = seen.wanted.contains(name);
    const Decision decision = seen.Decide(name);
    const auto verdict = std::find_if(decision.verdicts.begin(), decision.verdicts.end(),
                                      [&](const Verdict& v) { return v.node == seen.self; });
    const bool candidate = verdict != decision.verdicts.end() && verdict->candidate;
    const bool chosen_here = decision.state == PlacementState::kPlaced &&
                             std::find(decision.owners.begin(), decision.owners.end(),
                                       seen.self) != decision.owners.end();

    if (mine != local_.end() && !mine->second.handing_over.empty()) continue;
    const auto status = seen.local.find(name);
    const bool failed = mine != local_.end() && status != seen.local.end() &&
                        status->second.state == ServiceState::kFailed;

    if (spec->second.kind == Kind::kPerNode) {
      // No other node can stand in for this one's copy: a copy that kept
      // failing is tried again after failed_hold.
      if (failed) {
        Local& local = mine->second;
        if (!local.failed_at) {
          local.failed_at = now;
        } else if (now - *local.failed_at >= options_.timings.failed_hold) {
          actions.push_back(
              StopHere(name, "it failed " + Ms(options_.timings.failed_hold) + " ago; trying again"));
        }
        continue;
      }
      if (mine == local_.end()) {
        if (wanted && chosen_here) {
          // Each node's copy has epochs of its own.
          actions.push_back(StartHere(name, EpochAfter(local_services_.LastEpoch(name)), [&] {
            for (const config::ServiceConfig& s : options_.services) {
              if (s.name == name) return s.config_json;
            }
            return std::string("{}");
          }(), std::nullopt, "listed for this node"));
        }
      } else if (!wanted || !candidate) {
        actions.push_back(StopHere(name, !wanted ? "no node wants it any more"
                                         : verdict != decision.verdicts.end()
                                             ? verdict->reason
                                             : "it cannot run here"));
      }
      continue;
    }

    // A singleton.
    if (mine != local_.end()) {
      Local& local = mine->second;
      if (failed) {
        gave_up_[name] = now + options_.timings.failed_hold;
        gave_up_why_[name] = BoundedDetail(status->second.detail);
        actions.push_back(StopHere(name, "it kept failing here (" + status->second.detail +
                                             "); the next candidate takes it for " +
                                             Ms(options_.timings.failed_hold)));
        continue;
      }
      if (!wanted) {
        actions.push_back(StopHere(name, "no live node wants it any more"));
        continue;
      }
      // Two owners (a healed partition, a paused owner that woke up):
      // the higher epoch keeps it, then the better preference, then the
      // lower id. Both sides apply the same rule to the same two claims.
      const Preference here = seen.PreferenceOn(seen.self, name);
      const Claim* winner = nullptr;
      for (const Claim& claim : seen.claims[name]) {
        if (claim.node == seen.self) continue;
        const Preference there = seen.PreferenceOn(claim.node, name);
        const bool beats =
            claim.epoch != local.epoch
                ? claim.epoch > local.epoch
                : (std::pair(there.run, there.weight) != std::pair(here.run, here.weight)
                       ? StrictlyBetter(there, here)
                       : claim.node < seen.self);
        if (beats) {
          winner = &claim;
          break;
        }
      }
      if (winner != nullptr) {
        actions.push_back(StopHere(name, "node " + winner->node + " also runs it, under epoch " +
                                             std::to_string(winner->epoch) + " (here " +
                                             std::to_string(local.epoch) + "), and keeps it"));
        continue;
      }
      if (move || decision.state != PlacementState::kPlaced || decision.owners.front() == seen.self) continue;
      const std::string& better = decision.owners.front();
      if (candidate && !StrictlyBetter(seen.PreferenceOn(better, name), here)) continue;
      // Hysteresis: the better node has been alive long enough, and the
      // service has stayed here long enough.
      const auto alive = alive_since_.find(better);
      if (alive == alive_since_.end()) continue;
      if (candidate && now - alive->second.since < options_.timings.migrate_after) continue;
      if (candidate && now - local.since < options_.timings.migrate_after) continue;
      const auto refused = refused_.find({name, better});
      if (refused != refused_.end()) {
        if (refused->second > now) continue;
        refused_.erase(refused);
      }
      move = {name, better};
      continue;
    }

    if (!wanted || !seen.claims[name].empty()) continue;
    if (decision.state != PlacementState::kPlaced || decision.owners.front() != seen.self) continue;
    // A node that just started may not have heard of the owner yet.
    if (now - started_at_ < options_.timings.settle) continue;
    const auto config = seen.config.find(name);
    std::string why = "the best live node for it, and none runs it";
    std::optional<double> failover;
    if (const auto dead = seen.dead_claims.find(name); dead != seen.dead_claims.end()) {
      why = "failover: " + dead->second.first + ", which ran it, is dead";
      failover = std::chrono::duration<double>(dead->second.second).count();
    }
    actions.push_back(StartHere(name, EpochAfter(seen.max_epoch[name]),
                                config == seen.config.end() ? "{}" : config->second,
                                std::nullopt, std::move(why), failover));
  }
  if (move) actions.push_back({.kind = Action::Kind::kMove, .service = move->first,
                               .node = move->second});
  return actions;
}

Placement::Action Placement::StartHere(const std::string& service, uint64_t epoch,
                                       const std::string& config_json,
                                       const std::optional<std::string>& state,
                                       std::string why, std::optional<double> seconds) {
  const std::string config = nlohmann::json::accept(config_json) ? config_json : "{}";
  if (config != config_json) {
    spdlog::warn("service {}: its configuration is not JSON; starting it with {{}}", service);
  }
  spdlog::info("starting service {} here under epoch {}", service, epoch);
  Tell("started", service, why + " (epoch " + std::to_string(epoch) + ")", seconds);
  local_[service] = {.epoch = epoch, .since = clock_.Now(), .config_json = config};
  return {.kind = Action::Kind::kStart, .service = service, .epoch = epoch,
          .config_json = config, .state = state};
}

void Placement::Tell(std::string what, const std::string& service, std::string detail,
                     std::optional<double> seconds, std::string node) const {
  if (!options_.report) return;
  options_.report({.kind = events::Kind::kPlacement,
                   .what = std::move(what),
                   .node = std::move(node),
                   .service = service,
                   .detail = std::move(detail),
                   .seconds = seconds});
}

Placement::Action Placement::StopHere(const std::string& service, const std::string& why) {
  spdlog::info("stopping service {} here: {}", service, why);
  Tell("stopped", service, why);
  local_.erase(service);
  return {.kind = Action::Kind::kStop, .service = service};
}

bool Placement::MoveTo(const std::string& service, const std::string& node,
                       const Observed& seen, bool leaving) {
  HandOverRequest request;
  request.service = service;
  request.from = seen.self;
  request.cluster = options_.cluster;
  const auto address = seen.address.find(node);
  if (address == seen.address.end()) return false;
  uint64_t epoch = 0;  // the highest known for it, here or anywhere
  {
    absl::MutexLock lock(&mu_);
    const auto it = local_.find(service);
    if (it == local_.end()) return false;
    epoch = it->second.epoch;
    const auto seen_epoch = seen.max_epoch.find(service);
    if (seen_epoch != seen.max_epoch.end()) epoch = std::max(epoch, seen_epoch->second);
    request.epoch = EpochAfter(epoch);
    // Published before the request goes out: the receiver asks this node
    // and takes the service only if this record names it and the epoch.
    it->second.handing_over = node;
    it->second.hand_over_epoch = request.epoch;
    request.config_json = it->second.config_json;
  }
  Changed();  // peers see it moving, not free
  if (leaving) {
    spdlog::info("handing service {} to {} before this node stops", service, node);
  } else {
    spdlog::info("moving service {} to {}, a better node for it (alive for {} or more)",
                 service, node, Ms(options_.timings.migrate_after));
  }
  Tell("moving", service, leaving ? "this node is stopping" : "a better node for it", std::nullopt,
       node);
  const MonoTime begun = clock_.Now();
  {
    absl::MutexLock apply(&apply_mu_);
    request.state = local_services_.Stop(service);
  }
  const absl::Status answer = transport_.HandOver(address->second, request);
  // The receiver's words, or the code when it gave none.
  const std::string problem =
      answer.message().empty() ? absl::StatusCodeToString(answer.code())
                               : std::string(answer.message());
  {
    absl::MutexLock apply(&apply_mu_);
    std::optional<Action> restart;
    {
      absl::MutexLock lock(&mu_);
      if (answer.ok()) {
        local_.erase(service);
        spdlog::info("service {} moved to {} under epoch {} ({} from stop to running there)",
                     service, node, request.epoch, Ms(clock_.Now() - begun));
        Tell("moved", service, "to " + node + " under epoch " + std::to_string(request.epoch),
             std::chrono::duration<double>(clock_.Now() - begun).count(), node);
      } else if (leaving) {
        local_.erase(service);
        spdlog::warn("service {}: {} did not take it ({}); it stays stopped here", service, node,
                     problem);
        Tell("move_failed", service, node + " did not take it (" + problem + "); stopped here",
             std::nullopt, node);
      } else {
        spdlog::warn("service {}: {} did not take it ({}); running it here again", service, node,
                     problem);
        Tell("move_failed", service, node + " did not take it (" + problem + ")", std::nullopt,
             node);
        refused_[{service, node}] = clock_.Now() + options_.timings.migrate_after;
        // Above the epoch offered, in case the other node did start it.
        restart = StartHere(service, EpochAfter(epoch, 2), request.config_json, std::nullopt,
                            "a move to " + node + " failed");
      }
    }
    if (restart) Apply({*restart});
  }
  Changed();
  // Calls to the service reach this node first for a while (clients ask
  // the node they know): learn the new owner's record from the owner now,
  // rather than at its next heartbeat.
  if (answer.ok() && !leaving) cluster_.Confirm(node, kHandOverConfirmTimeout);
  return answer.ok();
}

void Placement::HandOffAll(std::chrono::milliseconds budget) {
  const MonoTime until = clock_.Now() + budget;
  std::vector<std::pair<std::string, std::string>> moves;  // service, to
  Observed seen;
  {
    absl::MutexLock lock(&mu_);
    seen = Observe();
    // Ranked as if this node were already gone.
    for (NodeView& node : seen.nodes) {
      if (node.id == seen.self) node.alive = false;
    }
    for (const auto& [name, local] : local_) {
      const auto spec = seen.specs.find(name);
      if (spec == seen.specs.end() || spec->second.kind != Kind::kSingleton) continue;
      const Decision decision = seen.Decide(name);
      if (decision.state == PlacementState::kPlaced) moves.emplace_back(name, decision.owners.front());
    }
  }
  for (const auto& [service, node] : moves) {
    if (clock_.Now() >= until) {
      spdlog::warn("no time left to hand over {}; it stops here with its state saved", service);
      continue;
    }
    MoveTo(service, node, seen, /*leaving=*/true);
  }
}

}  // namespace domian::placement
