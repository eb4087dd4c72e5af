// Suspicion and local health: how long a suspect peer is given to refute a
// rumour of its death, and how much this node trusts its own judgement.
//
// Both follow Lifeguard (Dadgar, Phillips, Currey: "Lifeguard: Local
// Health Awareness for More Accurate Failure Detection", 2018), the
// refinement of SWIM in HashiCorp's memberlist:
//  - A suspicion starts at its longest timeout and shrinks, on a log
//    scale, as other members independently suspect the same peer: a dead
//    peer is confirmed by everybody who probes it, while a false suspicion
//    (one slow link, one slow prober) stays alone and leaves the suspect
//    the full time to refute it.
//  - A node whose own probes keep failing without the nacks that prove its
//    links work is probably the slow one (a starved CPU, a paused process,
//    a saturated link); it stretches its probe timeouts instead of accusing
//    healthy peers.
//
// Pure and clock-free: times come in as arguments. PeerTable owns both.
#pragma once

#include <cstddef>
#include <set>
#include <string>

#include "core/common/clock.h"
#include "core/common/duration.h"

namespace domian::membership {

// The shortest suspicion at a cluster size: `base` up to ten members, then
// growing with log10(N), as memberlist's does, because a refutation takes
// about log(N) gossip hops to reach every suspector.
Millis SuspicionMin(Millis base, size_t members);

class Suspicion {
 public:
  // Independent suspectors (besides the first) after which the timeout is
  // at its shortest. Lifeguard's evaluation found 3 the knee: more waits
  // for confirmations a dead peer's probers are slow to send, fewer lets
  // two slow links decide.
  static constexpr size_t kConfirmationsForMin = 3;
  // The longest timeout, as a multiple of the shortest: a lone suspicion
  // waits this long (memberlist's suspicionMaxTimeoutMult).
  static constexpr int kMaxTimeoutFactor = 6;

  // Starts a suspicion raised by `suspector` at `since`.
  Suspicion(MonoTime since, Millis min, const std::string& suspector);

  // Another member suspects the same peer at the same incarnation. True
  // when it counts: a suspector not heard before, while confirmations can
  // still shorten the timeout. Repeats and the first suspector do not.
  bool Confirm(const std::string& suspector);

  // This node did not run for `pause` (it was stopped or starved): the
  // suspect could not be heard meanwhile, so its time starts later.
  void Delay(Millis pause) { since_ += pause; }

  // When the suspect is declared dead unless it refutes first.
  MonoTime Deadline() const;
  MonoTime since() const { return since_; }
  size_t confirmations() const { return suspectors_.size() - 1; }

 private:
  MonoTime since_;
  Millis min_;
  Millis max_;
  // Who suspected, the first included; at most kConfirmationsForMin + 1.
  std::set<std::string> suspectors_;
};

// Lifeguard's local health multiplier: 0 while this node's probes are
// answered, up to kMaxScore while they are not and nobody tells it that
// its own links work.
class LocalHealth {
 public:
  // memberlist's awarenessMaxMultiplier is 8: timeouts stretch at most
  // ninefold, so a node that was starved for a while is back to full speed
  // within nine good probes.
  static constexpr int kMaxScore = 8;

  // A probe of ours was answered (directly or through a relay).
  void ProbeAnswered() { Add(-1); }
  // A probe of ours got no answer. `missing_nacks` counts the relays that
  // did not even say they could not reach the target: each is a sign that
  // the trouble is here, not there.
  void ProbeUnanswered(size_t missing_nacks) { Add(missing_nacks > 0 ? 1 : 0); }
  // Somebody suspected this node: whatever the cause, it was slow to
  // answer, and should be slower to accuse.
  void Suspected() { Add(1); }

  int score() const { return score_; }
  // `d` stretched by the score: d * (score + 1).
  Millis Scale(Millis d) const { return d * (score_ + 1); }

 private:
  void Add(int delta);
  int score_ = 0;
};

}  // namespace domian::membership
