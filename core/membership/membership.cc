// The heartbeat loop and the glue between PeerTable, the transport and
// the log.
#include "core/membership/membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

namespace domian::membership {
namespace {

// The kind of refusal in a RefusalLog key, so that one sender's refusals
// of different kinds are each logged.
std::string RefusalKindKey(absl::StatusCode code) {
  switch (code) {
    case kMalformed:
      return "0";
    case kWrongCluster:
      return "1";
    case kTooLarge:
      return "2";
    case kSpoofed:
      return "3";
    default:  // not a refusal (wire_limits.h); kept apart all the same
      return "code " + std::to_string(static_cast<int>(code));
  }
}

}  // namespace

Membership::Membership(Identity self, uint64_t incarnation, std::vector<std::string> seeds,
                       config::MembershipTimings timings, PeerTransport& transport,
                       const Clock& clock, std::function<void(uint64_t)> on_incarnation,
                       PeerMemory memory, MembershipObservers observers)
    : transport_(transport),
      clock_(clock),
      timings_(timings),
      seeds_(std::move(seeds)),
      on_incarnation_(std::move(on_incarnation)),
      refusal_log_(clock),
      table_(std::move(self), incarnation, clock, timings),
      discovered_(timings.seed_retry),
      remembered_(timings.seed_retry),
      remember_(std::move(memory.remember)),
      next_remember_(clock.Now()),
      observers_(std::move(observers)),
      reported_incarnation_(incarnation),
      persisted_incarnation_(incarnation) {
  const MonoTime now = clock.Now();
  for (const HeartbeatTarget& peer : memory.remembered) {
    if (remembered_.size() >= kMaxRemembered) break;
    if (peer.address != table_.self().address) remembered_.Add(peer.id, peer.address, now);
  }
  last_remembered_ = std::move(memory.remembered);
}

Membership::~Membership() { Stop(); }

void Membership::Start() {
  absl::MutexLock lock(&loop_mu_);
  if (loop_.joinable()) return;
  stopping_ = false;
  loop_ = std::thread([this] { Loop(); });
}

void Membership::Loop() {
  auto next = std::chrono::steady_clock::now();
  while (true) {
    {
      absl::MutexLock lock(&loop_mu_);
      if (stopping_) return;
    }
    RunOnce();
    next += timings_.heartbeat_interval;
    const auto now = std::chrono::steady_clock::now();
    // After a pause, carry on from now instead of catching up in a burst.
    if (next < now) next = now + timings_.heartbeat_interval;
    absl::MutexLock lock(&loop_mu_);
    const absl::Time until = absl::Now() + absl::FromChrono(next - now);
    while (!stopping_ && !loop_cv_.WaitWithDeadline(&loop_mu_, until)) {
    }
  }
}

void Membership::RunOnce() {
  std::vector<HeartbeatTarget> targets;
  std::optional<std::vector<HeartbeatTarget>> remember;
  Events events;
  {
    absl::MutexLock lock(&mu_);
    if (table_.leaving()) return;
    auto changes = table_.Tick();
    std::vector<std::string> seeds;
    for (const std::string& seed : seeds_) {
      if (!self_seeds_.contains(seed)) seeds.push_back(seed);
    }
    // Called by the table while mu_ is held.
    const auto busy = BusyForPick();
    targets = table_.PickTargets(seeds, busy);
    ApplyDiscoveries();
    const MonoTime now = clock_.Now();
    for (HeartbeatTarget& target :
         discovered_.Due(now, [this](const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
           const auto state = table_.StateOf(id);
           return state && *state != PeerState::kDead;
         })) {
      targets.push_back(std::move(target));
    }
    // Peers of an earlier life are called while nobody else answers.
    const bool lonely = table_.Lonely();
    for (HeartbeatTarget& target :
         remembered_.Due(now, [lonely](const std::string& /*id*/) { return !lonely; })) {
      if (!busy(target.address)) targets.push_back(std::move(target));
    }
    for (HeartbeatTarget& target : table_.UrgentTargets(busy)) targets.push_back(std::move(target));
    remember = PeersToRemember();
    events = CollectEvents(std::move(changes));
  }
  Report(events);
  if (remember && remember_) remember_(*remember);
  for (const HeartbeatTarget& target : targets) Send(target, /*force=*/false, nullptr);
}

bool Membership::Busy(const std::string& address) const {
  const auto it = in_flight_.find(address);
  return it != in_flight_.end() && it->second > 0;
}

std::function<bool(const std::string& address)> Membership::BusyForPick() {
  // Called only while mu_ is held (by the table, or by RunOnce under it).
  // The room is asked for only when an address needs a connection: once a
  // cluster is connected, a pick costs the transport nothing. An address
  // picked twice (a seed that is also a remembered peer) takes one place.
  return [this, room = std::optional<size_t>(),
          granted = std::set<std::string>()](const std::string& address) mutable {
    mu_.AssertHeld();
    if (Busy(address)) return true;
    if (granted.contains(address)) return false;
    if (!transport_.NeedsConnection(address)) return false;
    if (!room) room = transport_.ConnectionRoom();
    if (*room == 0) return true;
    --*room;
    granted.insert(address);
    return false;
  };
}

std::vector<HeartbeatTarget> Membership::UrgentTargetsLocked() {
  if (table_.leaving()) return {};
  return table_.UrgentTargets(BusyForPick());
}

void Membership::SendUrgent() {
  std::vector<HeartbeatTarget> targets;
  {
    absl::MutexLock lock(&mu_);
    targets = UrgentTargetsLocked();
  }
  for (const HeartbeatTarget& target : targets) Send(target, /*force=*/false, nullptr);
}

std::optional<std::vector<HeartbeatTarget>> Membership::PeersToRemember() {
  const MonoTime now = clock_.Now();
  if (now < next_remember_) return std::nullopt;
  next_remember_ = now + kRememberInterval;
  std::vector<HeartbeatTarget> live = table_.LiveTargets();
  // Live peers first, then those remembered before that are not live now
  // (a node that is down today may be the only one up after a power cut).
  std::vector<HeartbeatTarget> out = live;
  for (const HeartbeatTarget& old : last_remembered_) {
    if (out.size() >= kMaxRemembered) break;
    const bool listed = std::any_of(out.begin(), out.end(), [&](const HeartbeatTarget& t) {
      return t.id == old.id || t.address == old.address;
    });
    if (!listed) out.push_back(old);
  }
  if (out.size() > kMaxRemembered) out.resize(kMaxRemembered);
  auto same = [](const std::vector<HeartbeatTarget>& a, const std::vector<HeartbeatTarget>& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
             return x.id == y.id && x.address == y.address;
           });
  };
  if (live.empty() || same(out, last_remembered_)) return std::nullopt;
  last_remembered_ = out;
  return out;
}

void Membership::Send(const HeartbeatTarget& target, bool force,
                      std::function<void(bool)> after) {
  IdentityListMessage message;
  {
    absl::MutexLock lock(&mu_);
    int& outstanding = in_flight_[target.address];
    if (outstanding > 0 && !force) {
      // A peer that is slow to answer gets no pile of calls.
      if (after) after(false);
      return;
    }
    ++outstanding;
    ++in_flight_total_;
    message = table_.MessageFor(target.id);
  }
  transport_.ShareIdentityList(
      target.address, std::move(message), timings_.rpc_timeout,
      [this, target, after = std::move(after)](PeerTransport::Result result) {
        const bool merged = OnReply(target, std::move(result));
        {
          absl::MutexLock lock(&mu_);
          if (--in_flight_[target.address] <= 0) in_flight_.erase(target.address);
          --in_flight_total_;
        }
        in_flight_cv_.SignalAll();
        if (after) after(merged);
      });
}

bool Membership::OnReply(const HeartbeatTarget& target, PeerTransport::Result result) {
  if (!result.ok()) {
    bool reachable = false;
    {
      absl::MutexLock lock(&mu_);
      table_.NoteUnanswered(target);
      const auto state = target.id.empty() ? std::nullopt : table_.StateOf(target.id);
      reachable = state && *state != PeerState::kDead;
    }
    // A probe of a dead peer or an unanswered seed: its channel would
    // only reconnect in the background until the next try.
    if (!reachable) transport_.Forget(target.address);
    if (IsRefusal(result.status().code())) {
      if (const auto suppressed = refusal_log_.Admit("out " + target.address)) {
        spdlog::warn("peer at {} refused our identity list: {}{}", target.address,
                     StatusMessage(result.status()), RefusalLog::Suffix(*suppressed));
      }
    } else {
      spdlog::debug("heartbeat to {} ({}) failed: {}", target.id.empty() ? "seed" : target.id,
                    target.address, StatusMessage(result.status()));
    }
    return false;
  }
  const auto& [reply, wire_bytes] = *result;
  if (absl::Status refused = CheckSize(wire_bytes); !refused.ok()) {
    LogRefusal(target.address, refused);
    return false;
  }
  MergeOutcome outcome;
  Events events;
  std::vector<HeartbeatTarget> urgent;
  {
    absl::MutexLock lock(&mu_);
    outcome = table_.Merge(reply, MessageOrigin::Reply(target.address));
    if (!outcome.status.ok()) table_.NoteUnanswered(target);
    const bool discovered = target.id.empty() && discovered_.Contains(target.address);
    if (outcome.from_self && discovered) {
      discovered_.IsSelf(target.address);
    } else if (outcome.from_self && self_seeds_.insert(target.address).second) {
      spdlog::info("seed {} is this node; not contacting it again", target.address);
    }
    if (outcome.status.ok() && !outcome.from_self && target.id.empty()) {
      if (discovered) discovered_.Answered(target.address, reply.sender.id);
      // Only configured seeds are remembered by address: discovered
      // addresses come and go (IPv6 privacy addresses, link-local ones).
      if (std::find(seeds_.begin(), seeds_.end(), target.address) != seeds_.end()) {
        table_.NoteSeedAnswer(target.address, reply.sender.id);
      }
      if (remembered_.Contains(target.address)) {
        remembered_.Answered(target.address, reply.sender.id);
      }
    }
    urgent = UrgentTargetsLocked();
    events = CollectEvents(std::move(outcome.changes));
  }
  if (!outcome.status.ok()) LogRefusal(target.address, outcome.status);
  LogDropped(target.address, outcome.dropped);
  Report(events);
  for (const HeartbeatTarget& next : urgent) Send(next, /*force=*/false, nullptr);
  return outcome.status.ok() && !outcome.from_self;
}

absl::Status Membership::CheckSize(size_t wire_bytes) {
  if (wire_bytes <= kMaxMessageBytes) return absl::OkStatus();
  return absl::Status(kTooLarge, "message of " + std::to_string(wire_bytes) +
                                     " bytes is over the limit of " +
                                     std::to_string(kMaxMessageBytes));
}

absl::Status Membership::HandleShareIdentityList(const IdentityListMessage& request,
                                                 size_t wire_bytes, IdentityListMessage& reply) {
  const std::string from = request.sender.identity ? request.sender.identity->address
                                                   : std::string("an unnamed sender");
  if (absl::Status refused = CheckSize(wire_bytes); !refused.ok()) {
    LogRefusal(from, refused);
    return refused;
  }
  MergeOutcome outcome;
  Events events;
  std::vector<HeartbeatTarget> urgent;
  {
    absl::MutexLock lock(&mu_);
    outcome = table_.Merge(request, MessageOrigin::Request());
    if (outcome.status.ok()) reply = table_.MessageFor(request.sender.id);
    if (table_.leaving() && outcome.status.ok()) {
      pulled_.insert(request.sender.id);
      pulled_cv_.SignalAll();
    }
    // A claim's news is taken from the claimant's own reply: call it now,
    // not at the next tick (a goodbye must be heard before the node goes).
    urgent = UrgentTargetsLocked();
    events = CollectEvents(std::move(outcome.changes));
  }
  if (!outcome.status.ok()) LogRefusal(from, outcome.status);
  LogDropped(from, outcome.dropped);
  Report(events);
  for (const HeartbeatTarget& next : urgent) Send(next, /*force=*/false, nullptr);
  return outcome.status;
}

Membership::Events Membership::CollectEvents(std::vector<PeerChange> changes) {
  Events events;
  events.changes = std::move(changes);
  const bool lonely = table_.Lonely();
  if (lonely != was_lonely_) {
    was_lonely_ = lonely;
    events.lonely = lonely;
    events.lonely_sequence = ++lonely_sequence_;
  }
  events.pace = table_.pace();
  if (events.pace != reported_pace_) {
    reported_pace_ = events.pace;
    events.pace_changed = true;
  }
  const uint64_t incarnation = table_.self_counters().incarnation;
  if (incarnation > reported_incarnation_) {
    reported_incarnation_ = incarnation;
    events.incarnation = incarnation;
  }
  return events;
}

void Membership::Report(const Events& events) {
  for (const PeerChange& change : events.changes) {
    if (change.to == PeerState::kDead && !change.address.empty()) transport_.Forget(change.address);
    const auto to = PeerStateName(change.to);
    if (change.forgotten) {
      spdlog::info("forgot peer {} ({}), dead for {}", change.id, change.address,
                   FormatDuration(timings_.forget_after));
    } else if (!change.from) {
      spdlog::info("learned of peer {} at {} ({})", change.id, change.address, to);
    } else if (change.to == PeerState::kDead) {
      if (change.left) {
        spdlog::info("peer {} ({}) left", change.id, change.address);
      } else {
        spdlog::warn("peer {} ({}) is dead: silent for {}", change.id, change.address,
                     FormatDuration(events.pace.dead_after));
      }
    } else if (change.to == PeerState::kSuspect) {
      spdlog::info("peer {} ({}) is suspect", change.id, change.address);
    } else {
      spdlog::info("peer {} ({}) is {} again (was {})", change.id, change.address, to,
                   PeerStateName(*change.from));
    }
    if (observers_.peer_changed) observers_.peer_changed(change);
  }
  if (events.pace_changed) {
    spdlog::debug("{} member(s): {:.2f} heartbeat exchange(s) per interval, suspect after {}, "
                  "dead after {}",
                  events.pace.members, events.pace.exchanges_per_tick,
                  FormatDuration(events.pace.suspect_after), FormatDuration(events.pace.dead_after));
  }
  if (!events.changes.empty() && observers_.peers_changed) observers_.peers_changed();
  if (events.lonely) {
    if (*events.lonely) {
      spdlog::warn("no live peers: this domain is lonely");
    } else {
      spdlog::info("no longer lonely");
    }
    // Threads may report in another order than the flips happened; an
    // older flip arriving late is dropped, so the observer ends on the
    // latest value.
    absl::MutexLock lock(&observer_mu_);
    if (observers_.lonely && events.lonely_sequence > observed_lonely_sequence_) {
      observed_lonely_sequence_ = events.lonely_sequence;
      observers_.lonely(*events.lonely);
    }
  }
  if (events.incarnation) {
    spdlog::info("refuted a rumour of this node's death: incarnation is now {}",
                 *events.incarnation);
    absl::MutexLock lock(&persist_mu_);
    if (*events.incarnation > persisted_incarnation_) {
      persisted_incarnation_ = *events.incarnation;
      if (on_incarnation_) on_incarnation_(*events.incarnation);
    }
  }
}

void Membership::LogRefusal(const std::string& from, const absl::Status& refusal) {
  const auto suppressed = refusal_log_.Admit("in " + from + " " + RefusalKindKey(refusal.code()));
  if (suppressed) {
    spdlog::warn("refused identity list from {}: {}{}", from, StatusMessage(refusal),
                 RefusalLog::Suffix(*suppressed));
  }
}

void Membership::LogDropped(const std::string& from, const std::vector<std::string>& dropped) {
  if (dropped.empty()) return;
  if (const auto suppressed = refusal_log_.Admit("dropped " + from)) {
    spdlog::warn("ignored {} row(s) of the identity list from {}: {}{}{}", dropped.size(), from,
                 dropped.front(), dropped.size() > 1 ? "; ..." : "",
                 RefusalLog::Suffix(*suppressed));
  }
}

std::optional<size_t> RefusalLog::Admit(const std::string& key) {
  absl::MutexLock lock(&mu_);
  const MonoTime now = clock_.Now();
  if (entries_.size() > kMaxKeys) entries_.clear();  // a flood of senders: start afresh
  auto [it, fresh] = entries_.try_emplace(key, Entry{now, 0});
  if (!fresh && now - it->second.last_logged < kInterval) {
    ++it->second.suppressed;
    return std::nullopt;
  }
  const size_t suppressed = fresh ? 0 : it->second.suppressed;
  it->second = Entry{now, 0};
  return suppressed;
}

std::string RefusalLog::Suffix(size_t suppressed) {
  return suppressed == 0 ? std::string()
                         : " (" + std::to_string(suppressed) + " more like it not logged)";
}

void Membership::Leave() {
  std::vector<HeartbeatTarget> targets;
  {
    absl::MutexLock lock(&mu_);
    if (table_.leaving()) return;
    table_.Leave();
    targets = table_.LiveTargets();
  }
  spdlog::info("leaving: saying goodbye to {} peer(s)", targets.size());
  // Shared with the callbacks, which may outlive this call on a timeout.
  struct Goodbyes {
    absl::Mutex mu;
    absl::CondVar cv;
    size_t remaining ABSL_GUARDED_BY(mu) = 0;
  };
  auto goodbyes = std::make_shared<Goodbyes>();
  {
    absl::MutexLock lock(&goodbyes->mu);
    goodbyes->remaining = targets.size();
  }
  for (const HeartbeatTarget& target : targets) {
    Send(target, /*force=*/true, [goodbyes](bool /*answered*/) {
      absl::MutexLock lock(&goodbyes->mu);
      --goodbyes->remaining;
      goodbyes->cv.SignalAll();
    });
  }
  const absl::Time deadline = absl::Now() + absl::FromChrono(timings_.leave_timeout);
  {
    absl::MutexLock lock(&goodbyes->mu);
    while (goodbyes->remaining > 0 && !goodbyes->cv.WaitWithDeadline(&goodbyes->mu, deadline)) {
    }
    if (goodbyes->remaining > 0) {
      spdlog::warn("{} peer(s) did not answer our goodbye in {}", goodbyes->remaining,
                   FormatDuration(timings_.leave_timeout));
      return;
    }
  }
  // Peers believe a goodbye only from our reply to their call: stay to
  // answer each of them, within the same time.
  absl::MutexLock lock(&mu_);
  auto all_pulled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const HeartbeatTarget& target : targets) {
      if (!pulled_.contains(target.id)) return false;
    }
    return true;
  };
  while (!all_pulled() && !pulled_cv_.WaitWithDeadline(&mu_, deadline)) {
  }
  if (!all_pulled()) {
    spdlog::info("not every peer called back for our goodbye in {}; they will see us dead",
                 FormatDuration(timings_.leave_timeout));
  }
}

void Membership::Stop() {
  {
    absl::MutexLock lock(&loop_mu_);
    stopping_ = true;
  }
  loop_cv_.SignalAll();
  if (loop_.joinable()) loop_.join();
  // Calls carry a deadline, so this wait is bounded; their callbacks
  // touch this object and must finish before it goes away.
  absl::MutexLock lock(&mu_);
  const absl::Time until = absl::Now() + absl::FromChrono(timings_.rpc_timeout * 2);
  while (in_flight_total_ != 0 && !in_flight_cv_.WaitWithDeadline(&mu_, until)) {
  }
}

void Membership::UpdateSelf(Identity self) {
  absl::MutexLock lock(&mu_);
  table_.UpdateSelf(std::move(self));
}

void Membership::NoteDiscovered(const std::string& id, const std::string& address) {
  absl::MutexLock lock(&inbox_mu_);
  if (inbox_.size() < kMaxPendingDiscoveries || inbox_.contains(address)) {
    inbox_[address] = {id, false};
  }
}

void Membership::NoteVanished(const std::string& address) {
  absl::MutexLock lock(&inbox_mu_);
  if (inbox_.size() < kMaxPendingDiscoveries || inbox_.contains(address)) {
    inbox_[address] = {"", true};
  }
}

void Membership::ApplyDiscoveries() {
  std::map<std::string, Finding> pending;
  {
    absl::MutexLock lock(&inbox_mu_);
    pending.swap(inbox_);
  }
  const MonoTime now = clock_.Now();
  for (const auto& [address, found] : pending) {
    if (found.vanished) {
      discovered_.Remove(address);
    } else if (found.id != table_.self().id && address != table_.self().address) {
      discovered_.Add(found.id, address, now);
    }
  }
}

bool Membership::Exchange(const std::string& id, Millis timeout) {
  std::optional<HeartbeatTarget> target;
  {
    absl::MutexLock lock(&mu_);
    for (HeartbeatTarget& live : table_.LiveTargets()) {
      if (live.id == id) target = std::move(live);
    }
  }
  if (!target) return false;
  // Shared with the callback, which may outlive this call on a timeout.
  struct Answer {
    absl::Mutex mu;
    absl::CondVar cv;
    std::optional<bool> merged ABSL_GUARDED_BY(mu);
  };
  auto answer = std::make_shared<Answer>();
  Send(*target, /*force=*/true, [answer](bool merged) {
    absl::MutexLock lock(&answer->mu);
    answer->merged = merged;
    answer->cv.SignalAll();
  });
  absl::MutexLock lock(&answer->mu);
  const absl::Time until = absl::Now() + absl::FromChrono(timeout);
  while (!answer->merged && !answer->cv.WaitWithDeadline(&answer->mu, until)) {
  }
  return answer->merged.value_or(false);
}

MembershipStatus Membership::Status() const {
  absl::MutexLock lock(&mu_);
  return {table_.self(), table_.self_counters(), table_.Lonely()};
}

std::vector<PeerView> Membership::Peers() const {
  absl::MutexLock lock(&mu_);
  return table_.Peers();
}

uint64_t Membership::ViewGeneration() const {
  absl::MutexLock lock(&mu_);
  return table_.view_generation();
}

}  // namespace domian::membership
