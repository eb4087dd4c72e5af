// Prober: SWIM's failure detector, one probe round at a time.
//
// Every `interval` this node starts a round: it probes the next member of
// its ProbeOrder directly. No answer within `timeout` (or a refusal before
// it), and it asks `relays` other members to probe that member for it (an
// indirect probe), so that one bad link between two healthy nodes is not
// taken for a death. No answer through any of them within another
// `timeout`, and the round ends unanswered: the owner suspects the member.
//
// A round may also start out of turn, on a hint: the connection to a
// member broke (its process died and the kernel closed its sockets, so
// every peer connected to it learns within milliseconds). Such a round
// runs beside the regular one, at most kMaxHintedRounds at a time; a
// silent failure (a power cut, a paused process) waits for its turn.
//
// Both times stretch by the local health multiplier (suspicion.h): a node
// that is itself slow probes less often and waits longer before it blames
// anybody (Lifeguard).
//
// Pure: no I/O, no clock of its own, no lock. The owner (PeerTable, under
// Membership's lock) sends what Poll() asks for, reports what came back,
// and acts on the verdicts.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/common/clock.h"
#include "core/common/duration.h"
#include "core/membership/probe_order.h"
#include "core/membership/suspicion.h"

namespace domian::membership {

class Prober {
 public:
  struct Options {
    Millis interval{1000};  // between regular rounds
    Millis timeout{500};    // for the direct probe, then again for the relays
    size_t relays = 3;      // members asked to probe indirectly (SWIM's k)
  };
  // Hinted rounds at once: a switch that dies takes several members' links
  // with it, and each deserves a prompt probe, but a flood of hints (a
  // restart of this node's network) must not become a flood of probes.
  static constexpr size_t kMaxHintedRounds = 4;

  // What the owner is asked to do, and what rounds ended.
  struct Relay {
    std::string target;
    std::vector<std::string> via;
  };
  struct Verdict {
    std::string target;
    bool answered = false;
    // Relays that neither answered nor said they could not reach the
    // target (LocalHealth::ProbeUnanswered).
    size_t missing_nacks = 0;
  };
  struct Actions {
    std::vector<std::string> probes;  // probe these directly now
    std::vector<Relay> relays;        // ask these relays to probe the target
    std::vector<Verdict> verdicts;    // rounds that ended

    bool empty() const { return probes.empty() && relays.empty() && verdicts.empty(); }
  };

  // `eligible(id)`: whether a member may be probed in turn (alive or
  // suspect). `pick_relays(target, count)`: up to `count` live members
  // other than the target to ask for an indirect probe.
  using Eligible = std::function<bool(const std::string& id)>;
  using PickRelays =
      std::function<std::vector<std::string>(const std::string& target, size_t count)>;

  Prober(Options options, uint64_t seed, MonoTime now);

  // Members to probe in turn.
  void Add(const std::string& id) { order_.Add(id); }
  void Remove(const std::string& id);

  // Moves every round along to `now`: starts the regular round when due,
  // sends relays for direct probes that failed, ends rounds whose relays
  // did not answer in time.
  Actions Poll(MonoTime now, const LocalHealth& health, const Eligible& eligible,
               const PickRelays& pick_relays);
  // When Poll next has something to do (absent new reports).
  MonoTime NextWake() const;

  // --- what came back ---
  // `target` answered a probe, directly or through a relay: its round ends
  // answered at the next Poll.
  void Answered(const std::string& target);
  // The direct probe of `target` failed before its deadline (refused,
  // unreachable): the relays go out at the next Poll.
  void DirectFailed(const std::string& target);
  // `relay` could not reach `target` either: this node's own links work.
  void Nacked(const std::string& target, const std::string& relay);
  // The connection to `target` broke: probe it now, out of turn (unless a
  // round for it is running or kMaxHintedRounds are).
  void Hint(const std::string& target);

  // Whether a round for `target` is running.
  bool Probing(const std::string& target) const { return rounds_.count(target) != 0; }

 private:
  struct Round {
    enum class Stage { kDirect, kRelayed };
    Stage stage = Stage::kDirect;
    MonoTime deadline;
    bool hinted = false;
    bool answered = false;
    bool direct_failed = false;
    std::set<std::string> asked;  // relays
    std::set<std::string> nacked;
    bool sent = false;  // the direct probe was handed out by Poll
  };

  size_t HintedRounds() const;

  Options options_;
  ProbeOrder order_;
  MonoTime next_round_;
  std::map<std::string, Round> rounds_;  // by target
  // Targets of rounds started since the last Poll, to probe directly.
  std::vector<std::string> to_probe_;
};

}  // namespace domian::membership
