#include "core/membership/prober.h"

#include <algorithm>

namespace domian::membership {

Prober::Prober(Options options, uint64_t seed, MonoTime now)
    : options_(options), order_(seed), next_round_(now) {}

void Prober::Remove(const std::string& id) {
  order_.Remove(id);
  rounds_.erase(id);
}

Prober::Actions Prober::Poll(MonoTime now, const LocalHealth& health, const Eligible& eligible,
                             const PickRelays& pick_relays) {
  Actions actions;
  const Millis timeout = health.Scale(options_.timeout);
  if (now >= next_round_) {
    next_round_ = now + health.Scale(options_.interval);
    const auto target =
        order_.Next([&](const std::string& id) { return rounds_.count(id) == 0 && eligible(id); });
    if (target) rounds_.emplace(*target, Round{});
  }
  for (auto it = rounds_.begin(); it != rounds_.end();) {
    const std::string& target = it->first;
    Round& round = it->second;
    if (!round.sent) {
      round.sent = true;
      round.deadline = now + timeout;
      actions.probes.push_back(target);
    }
    if (round.answered) {
      actions.verdicts.push_back({target, true, 0});
      it = rounds_.erase(it);
      continue;
    }
    if (round.stage == Round::Stage::kDirect && (round.direct_failed || now >= round.deadline)) {
      std::vector<std::string> via = pick_relays(target, options_.relays);
      if (via.empty()) {
        // Nobody to ask (a cluster of two): the direct probe decides.
        actions.verdicts.push_back({target, false, 0});
        it = rounds_.erase(it);
        continue;
      }
      round.stage = Round::Stage::kRelayed;
      round.deadline = now + timeout;
      round.asked.insert(via.begin(), via.end());
      actions.relays.push_back({target, std::move(via)});
    } else if (round.stage == Round::Stage::kRelayed &&
               (now >= round.deadline || round.nacked.size() == round.asked.size())) {
      // Out of time, or every relay said it could not reach the target
      // either: waiting longer would only delay the verdict.
      actions.verdicts.push_back({target, false, round.asked.size() - round.nacked.size()});
      it = rounds_.erase(it);
      continue;
    }
    ++it;
  }
  return actions;
}

MonoTime Prober::NextWake() const {
  MonoTime wake = next_round_;
  for (const auto& [target, round] : rounds_) {
    if (!round.sent || round.answered || round.direct_failed ||
        (round.stage == Round::Stage::kRelayed && round.nacked.size() == round.asked.size())) {
      return MonoTime{};  // due now
    }
    wake = std::min(wake, round.deadline);
  }
  return wake;
}

void Prober::Answered(const std::string& target) {
  auto it = rounds_.find(target);
  if (it != rounds_.end()) it->second.answered = true;
}

void Prober::DirectFailed(const std::string& target) {
  auto it = rounds_.find(target);
  if (it != rounds_.end() && it->second.stage == Round::Stage::kDirect) {
    it->second.direct_failed = true;
  }
}

void Prober::Nacked(const std::string& target, const std::string& relay) {
  auto it = rounds_.find(target);
  if (it == rounds_.end() || !it->second.asked.count(relay)) return;  // not asked: not counted
  it->second.nacked.insert(relay);
}

void Prober::Hint(const std::string& target) {
  if (rounds_.count(target) || HintedRounds() >= kMaxHintedRounds) return;
  Round round;
  round.hinted = true;
  rounds_.emplace(target, std::move(round));
}

size_t Prober::HintedRounds() const {
  return static_cast<size_t>(std::count_if(rounds_.begin(), rounds_.end(),
                                           [](const auto& entry) { return entry.second.hinted; }));
}

}  // namespace domian::membership
