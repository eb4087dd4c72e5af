#include "core/placement/placement.h"

#include "core/common/utf8.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <nlohmann/json.hpp>

namespace domian::placement {
namespace {

// How often a hand-over being started here looks again without a Poke():
// a change a LocalServices did not report is seen this late at worst.
constexpr std::chrono::milliseconds kStartRecheck{1000};

std::optional<Kind> ParseKind(std::string_view text) {
  if (text == "singleton") return Kind::kSingleton;
  if (text == "per-node") return Kind::kPerNode;
  return std::nullopt;
}

std::string_view KindName(Kind kind) {
  return kind == Kind::kSingleton ? "singleton" : "per-node";
}

Preference PreferenceOf(const NodeView& node, const std::string& service) {
  const auto it = node.preferences.find(service);
  return it == node.preferences.end() ? Preference{} : it->second;
}

// Ordering of (run, weight): the only differences worth moving a running
// service for. Tie-breakers (load, id) choose a first owner, never a move.
bool StrictlyBetter(const Preference& a, const Preference& b) {
  return std::pair(a.run, a.weight) > std::pair(b.run, b.weight);
}

std::string Ms(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

uint64_t EpochAfter(uint64_t epoch, uint64_t step) {
  return epoch >= kMaxEpoch || kMaxEpoch - epoch <= step ? kMaxEpoch : epoch + step;
}

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

// One round's reading of the cluster: every node's offers and claims.
struct Placement::Observed {
  std::string self;
  std::vector<NodeView> nodes;
  std::map<std::string, std::set<std::string>> runs;  // node -> services it claims
  std::map<std::string, ServiceSpec> specs;
  std::map<std::string, std::vector<Claim>> claims;   // service -> live claims
  std::map<std::string, uint64_t> max_epoch;          // service -> highest seen anywhere
  // service -> highest in any node's records (this node's included), not
  // counting this node's saved history (LocalServices::LastEpoch)
  std::map<std::string, uint64_t> reported_epoch;
  std::set<std::string> running_anywhere;
  std::map<std::string, std::string> config;          // service -> config that travels
  std::map<std::string, std::string> address;         // node -> address
  std::set<std::string> wanted;
  std::map<std::string, LocalServices::Status> local;  // this node's services

  const NodeView* Node(const std::string& id) const {
    for (const NodeView& node : nodes) {
      if (node.id == id) return &node;
    }
    return nullptr;
  }
  Preference PreferenceOn(const std::string& node, const std::string& service) const {
    const NodeView* view = Node(node);
    return view ? PreferenceOf(*view, service) : Preference{};
  }
  Decision Decide(const std::string& service) const {
    std::vector<NodeView> ranked = nodes;
    for (NodeView& node : ranked) {
      const auto it = runs.find(node.id);
      node.running = it == runs.end() ? 0 : it->second.size() - it->second.count(service);
    }
    return placement::Decide(specs.at(service), ranked, running_anywhere);
  }
};

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
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

void Placement::Poke() {
  {
    std::lock_guard lock(loop_mu_);
    poked_ = true;
    ++pokes_;
  }
  loop_cv_.notify_all();
}

void Placement::Loop() {
  while (true) {
    bool poked = false;
    {
      std::unique_lock lock(loop_mu_);
      loop_cv_.wait_for(lock, kRoundInterval, [this] { return stopping_ || poked_; });
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

void Placement::Changed() {
  if (on_change_) on_change_();
}

Placement::Observed Placement::Observe() {
  Observed seen;
  const ClusterView view = cluster_.View();
  const MonoTime now = clock_.Now();
  seen.self = view.self.id;
  seen.address[view.self.id] = view.self.address;

  // This node, from its YAML and its plugins.
  NodeView self;
  self.id = view.self.id;
  self.traits = {view.self.traits.begin(), view.self.traits.end()};
  for (const ServiceSpec& spec : local_services_.Plugins()) {
    self.plugins.insert(spec.name);
    seen.specs[spec.name] = spec;
  }
  for (const config::ServiceConfig& service : options_.services) {
    self.preferences[service.name] = {service.run, service.weight, true};
  }
  for (auto it = gave_up_.begin(); it != gave_up_.end();) {
    if (it->second <= now) {
      spdlog::info("service {} may run here again (its failures here are {} old)", it->first,
                   Ms(options_.timings.failed_hold));
      it = gave_up_.erase(it);
    } else {
      self.gave_up.insert(it->first);
      ++it;
    }
  }
  for (const LocalServices::Status& status : local_services_.Services()) {
    seen.local[status.name] = status;
  }
  for (const auto& [name, local] : local_) {
    seen.max_epoch[name] = std::max(seen.max_epoch[name], local.epoch);
    seen.reported_epoch[name] = std::max(seen.reported_epoch[name], local.epoch);
    std::optional<ServiceState> state;
    if (!local.handing_over.empty()) state = ServiceState::kHandingOver;
    std::string endpoint;
    if (const auto it = seen.local.find(name); it != seen.local.end()) {
      if (!state) state = it->second.state;
      endpoint = it->second.endpoint;
    }
    if (state && IsClaim(*state)) {
      seen.claims[name].push_back({self.id, view.self.address, *state, local.epoch, endpoint,
                                   local.handing_over, local.hand_over_epoch});
      seen.runs[self.id].insert(name);
      if (*state == ServiceState::kRunning) seen.running_anywhere.insert(name);
    }
  }
  seen.nodes.push_back(std::move(self));

  // Peers, from their identities. Dead ones still count for epochs (an
  // epoch must stay above every one ever used), for nothing else: not for
  // what is wanted, where, nor how it is described or configured.
  std::set<std::string> present;
  for (const membership::PeerView& peer : view.peers) {
    const Identity& identity = peer.identity;
    if (identity.id.empty()) continue;
    present.insert(identity.id);
    seen.address[identity.id] = identity.address;
    NodeView node;
    node.id = identity.id;
    node.alive = peer.state != PeerState::kDead;
    node.traits = {identity.traits.begin(), identity.traits.end()};
    for (const Offer& offer : identity.offers) {
      if (offer.has_plugin) {
        node.plugins.insert(offer.service);
        const auto kind = ParseKind(offer.placement);
        if (kind && node.alive && !seen.specs.contains(offer.service)) {
          seen.specs[offer.service] = {offer.service, *kind, offer.traits, offer.depends};
        }
      }
      if (offer.listed) {
        node.preferences[offer.service] = {ParseRunMode(offer.run).value_or(RunMode::kAllow),
                                           offer.weight, true};
      }
      if (offer.gave_up) node.gave_up.insert(offer.service);
    }
    for (const ServiceRecord& record : identity.services) {
      seen.max_epoch[record.name] = std::max(seen.max_epoch[record.name], record.epoch);
      seen.reported_epoch[record.name] = std::max(seen.reported_epoch[record.name], record.epoch);
      const ServiceState state = ParseServiceState(record.state);
      if (!node.alive || !IsClaim(state)) continue;
      seen.claims[record.name].push_back({identity.id, identity.address, state, record.epoch,
                                          record.endpoint, record.hand_over_to,
                                          record.hand_over_epoch});
      seen.runs[identity.id].insert(record.name);
      if (state == ServiceState::kRunning) seen.running_anywhere.insert(record.name);
    }
    // Alive without a break, in the same incarnation: what migrate_after
    // is measured from.
    if (peer.state == PeerState::kAlive) {
      const auto it = alive_since_.find(identity.id);
      if (it == alive_since_.end() || it->second.incarnation != peer.counters.incarnation) {
        alive_since_[identity.id] = {peer.counters.incarnation, now};
      }
    } else {
      alive_since_.erase(identity.id);
    }
    seen.nodes.push_back(std::move(node));
  }
  std::erase_if(alive_since_, [&](const auto& entry) { return !present.contains(entry.first); });

  // The configuration a singleton carries: that of the best-ranked live
  // node listing it with settings, so every node starts it the same way.
  // It is read only when a singleton starts afresh (a first start or a
  // failover); a running one keeps the configuration it started or was
  // handed with, whatever other nodes list meanwhile.
  std::map<std::string, std::tuple<int, int64_t, std::string>> best;  // lower is better
  auto consider = [&](const std::string& node, const std::string& service, RunMode run,
                      int64_t weight, const std::string& config) {
    if (config.empty() || config == "{}") return;
    const auto rank = std::make_tuple(-static_cast<int>(run), -weight, node);
    const auto it = best.find(service);
    if (it == best.end() || rank < it->second) {
      best[service] = rank;
      seen.config[service] = config;
    }
  };
  for (const config::ServiceConfig& service : options_.services) {
    consider(seen.self, service.name, service.run, service.weight, service.config_json);
  }
  for (const membership::PeerView& peer : view.peers) {
    if (peer.state == PeerState::kDead) continue;
    for (const Offer& offer : peer.identity.offers) {
      if (!offer.listed) continue;
      consider(peer.identity.id, offer.service, ParseRunMode(offer.run).value_or(RunMode::kAllow),
               offer.weight, offer.config_json);
    }
  }
  RememberConfigs(seen, best);
  for (const auto& [name, spec] : seen.specs) {
    seen.max_epoch[name] = std::max(seen.max_epoch[name], local_services_.LastEpoch(name));
  }
  const std::vector<std::string> wanted = Wanted(seen.nodes, seen.specs);
  seen.wanted = {wanted.begin(), wanted.end()};
  return seen;
}

void Placement::RememberConfigs(
    Observed& seen, const std::map<std::string, std::tuple<int, int64_t, std::string>>& best) {
  for (const auto& [service, config] : seen.config) {
    if (last_config_.size() >= kMaxRememberedConfigs && !last_config_.contains(service)) continue;
    last_config_[service] = {std::get<2>(best.at(service)), config};
  }
  // No live node configures it now: the configuration last seen from a
  // live node, so a failover after the node that configured it died
  // still starts it that way. Unless that node is alive and lists it
  // without one now: then it was taken away on purpose.
  for (auto it = last_config_.begin(); it != last_config_.end();) {
    const auto& [service, remembered] = *it;
    if (!seen.config.contains(service)) {
      const NodeView* node = seen.Node(remembered.node);
      if (node != nullptr && node->alive) {
        it = last_config_.erase(it);
        continue;
      }
      seen.config[service] = remembered.config;
    }
    ++it;
  }
}

void Placement::RunOnce() {
  std::vector<Action> actions;
  Observed seen;
  {
    std::lock_guard apply(apply_mu_);
    {
      std::lock_guard lock(mu_);
      seen = Observe();
      actions = Reconcile(seen);
    }
    Apply(actions);
  }
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
          }(), std::nullopt));
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
    actions.push_back(StartHere(name, EpochAfter(seen.max_epoch[name]),
                                config == seen.config.end() ? "{}" : config->second,
                                std::nullopt));
  }
  if (move) actions.push_back({.kind = Action::Kind::kMove, .service = move->first,
                               .node = move->second});
  return actions;
}

Placement::Action Placement::StartHere(const std::string& service, uint64_t epoch,
                                       const std::string& config_json,
                                       const std::optional<std::string>& state) {
  const std::string config = nlohmann::json::accept(config_json) ? config_json : "{}";
  if (config != config_json) {
    spdlog::warn("service {}: its configuration is not JSON; starting it with {{}}", service);
  }
  spdlog::info("starting service {} here under epoch {}", service, epoch);
  local_[service] = {.epoch = epoch, .since = clock_.Now(), .config_json = config};
  return {.kind = Action::Kind::kStart, .service = service, .epoch = epoch,
          .config_json = config, .state = state};
}

Placement::Action Placement::StopHere(const std::string& service, const std::string& why) {
  spdlog::info("stopping service {} here: {}", service, why);
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
    std::lock_guard lock(mu_);
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
  const MonoTime begun = clock_.Now();
  {
    std::lock_guard apply(apply_mu_);
    request.state = local_services_.Stop(service);
  }
  const absl::Status answer = transport_.HandOver(address->second, request);
  // The receiver's words, or the code when it gave none.
  const std::string problem =
      answer.message().empty() ? absl::StatusCodeToString(answer.code())
                               : std::string(answer.message());
  {
    std::lock_guard apply(apply_mu_);
    std::optional<Action> restart;
    {
      std::lock_guard lock(mu_);
      if (answer.ok()) {
        local_.erase(service);
        spdlog::info("service {} moved to {} under epoch {} ({} from stop to running there)",
                     service, node, request.epoch, Ms(clock_.Now() - begun));
      } else if (leaving) {
        local_.erase(service);
        spdlog::warn("service {}: {} did not take it ({}); it stays stopped here", service, node,
                     problem);
      } else {
        spdlog::warn("service {}: {} did not take it ({}); running it here again", service, node,
                     problem);
        refused_[{service, node}] = clock_.Now() + options_.timings.migrate_after;
        // Above the epoch offered, in case the other node did start it.
        restart = StartHere(service, EpochAfter(epoch, 2), request.config_json, std::nullopt);
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
    std::lock_guard lock(mu_);
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
    std::lock_guard lock(mu_);
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
    std::lock_guard apply(apply_mu_);
    Action start;
    {
      std::lock_guard lock(mu_);
      const Observed seen = Observe();
      if (absl::Status problem = RefuseHandOver(request, seen, /*confirmed=*/true);
          !problem.ok()) {
        return refused(problem);
      }
      // Never below an epoch this node used before for it.
      epoch = std::max(request.epoch, EpochAfter(local_services_.LastEpoch(request.service)));
      start = StartHere(request.service, epoch, request.config_json, request.state);
    }
    Apply({start});
  }
  Changed();
  std::string detail;
  const std::optional<ServiceState> state = AwaitStarted(request.service, detail, deadline);
  if (state == ServiceState::kRunning) {
    spdlog::info("took over service {} from {} under epoch {}", request.service, request.from,
                 epoch);
    return absl::OkStatus();
  }
  {
    std::lock_guard apply(apply_mu_);
    std::optional<Action> stop;
    {
      std::lock_guard lock(mu_);
      if (local_.contains(request.service)) {
        stop = StopHere(request.service, "taking it over failed");
      }
      // Not a candidate for a while, or the sender would try again and again.
      gave_up_[request.service] = clock_.Now() + options_.timings.failed_hold;
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
      std::lock_guard lock(loop_mu_);
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
    std::unique_lock lock(loop_mu_);
    if (stopping_ || std::chrono::steady_clock::now() >= deadline) return state;
    loop_cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + kStartRecheck),
                        [&] { return pokes_ != pokes || stopping_; });
  }
}

std::vector<ServiceRecord> Placement::Records() const {
  std::map<std::string, LocalServices::Status> statuses;
  for (const LocalServices::Status& status : local_services_.Services()) {
    statuses[status.name] = status;
  }
  std::lock_guard lock(mu_);
  std::vector<ServiceRecord> records;
  for (const auto& [name, local] : local_) {
    ServiceRecord record{name, std::string(ServiceStateName(ServiceState::kStarting)), "",
                         local.epoch};
    if (const auto it = statuses.find(name); it != statuses.end()) {
      record.state = ServiceStateName(it->second.state);
      // Plugin text: peers refuse a whole list that is not UTF-8.
      record.endpoint = ToValidUtf8(it->second.endpoint);
      record.detail = BoundedDetail(it->second.detail);
    }
    if (!local.handing_over.empty()) {
      record.state = ServiceStateName(ServiceState::kHandingOver);
      record.hand_over_to = local.handing_over;
      record.hand_over_epoch = local.hand_over_epoch;
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<Offer> Placement::Offers() const {
  std::map<std::string, Offer> offers;
  for (const ServiceSpec& spec : local_services_.Plugins()) {
    Offer& offer = offers[spec.name];
    offer.service = spec.name;
    offer.run = RunModeName(RunMode::kAllow);
    offer.has_plugin = true;
    offer.placement = KindName(spec.kind);
    offer.traits = spec.traits;
    offer.depends = spec.depends;
  }
  for (const config::ServiceConfig& service : options_.services) {
    Offer& offer = offers[service.name];
    offer.service = service.name;
    offer.run = RunModeName(service.run);
    offer.weight = service.weight;
    offer.listed = true;
    offer.config_json = service.config_json;
  }
  std::lock_guard lock(mu_);
  const MonoTime now = clock_.Now();
  for (const auto& [name, until] : gave_up_) {
    if (until > now && offers.contains(name)) offers[name].gave_up = true;
  }
  std::vector<Offer> out;
  for (auto& [name, offer] : offers) out.push_back(std::move(offer));
  return out;
}

Explanation Placement::Explain(const std::string& service) {
  std::lock_guard lock(mu_);
  Observed seen = Observe();
  Explanation out;
  out.service = service;
  out.running = seen.claims[service];
  const auto spec = seen.specs.find(service);
  if (spec == seen.specs.end()) {
    for (const NodeView& node : seen.nodes) {
      const auto it = node.preferences.find(service);
      if (node.alive && it != node.preferences.end() && it->second.listed &&
          it->second.run != RunMode::kNever) {
        out.wanted = true;
      }
    }
    out.state = out.wanted ? PlacementState::kUnplaced : PlacementState::kNotWanted;
    out.detail = "no live node has a plugin for it";
    for (const NodeView& node : seen.nodes) out.verdicts.push_back({node.id, false, "no plugin"});
    return out;
  }
  out.placement = KindName(spec->second.kind);
  out.depends = spec->second.depends;
  out.wanted = seen.wanted.contains(service);
  const Decision decision = seen.Decide(service);
  out.verdicts = decision.verdicts;
  if (!out.wanted) {
    out.state = PlacementState::kNotWanted;
    out.detail = "no live node lists it with always, prefer or allow, and no wanted service "
                 "depends on it";
    return out;
  }
  out.state = decision.state;
  out.detail = decision.detail;
  out.chosen = decision.owners;
  return out;
}

std::vector<Unrun> Placement::UnrunServices() {
  std::lock_guard lock(mu_);
  Observed seen = Observe();
  std::vector<Unrun> out;
  for (const std::string& name : seen.wanted) {
    if (!seen.claims[name].empty()) continue;
    const Decision decision = seen.Decide(name);
    Unrun unrun{name, decision.state, "", decision.detail};
    if (decision.state == PlacementState::kPlaced) {
      unrun.state = PlacementState::kStarting;
      unrun.node = decision.owners.front();
    }
    out.push_back(std::move(unrun));
  }
  // Listed by a live node, yet no live node has its plugin.
  std::set<std::string> listed;
  for (const NodeView& node : seen.nodes) {
    for (const auto& [name, preference] : node.preferences) {
      if (node.alive && preference.listed && preference.run != RunMode::kNever &&
          !seen.specs.contains(name)) {
        listed.insert(name);
      }
    }
  }
  for (const std::string& name : listed) {
    out.push_back({name, PlacementState::kUnplaced, "", "no live node has a plugin for it"});
  }
  return out;
}

}  // namespace domian::placement
