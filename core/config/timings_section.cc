// The membership: and placement: sections: how fast failures are detected
// and how eagerly services move. Membership timings only make sense in a
// certain order (a peer is suspected before it is declared dead...), so
// besides each value this checks how they relate, including to defaults
// the file leaves in place.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/duration.h"
#include "core/config/internal/sections.h"

namespace domian::config::internal {
namespace {

constexpr uint32_t kMinFanout = 1;
constexpr uint32_t kMaxFanout = 64;

// Below this, heartbeats from a few dozen nodes would keep the CPU and the
// Wi-Fi of small boards busy for no gain in detection time.
constexpr Millis kMinHeartbeatInterval{10};

constexpr char kDurationHelp[] = "a number with a unit ms, s, m or h, like 1500ms or 1.5s";

// A duration key of a section and the field it sets.
template <typename Timings>
struct DurationKey {
  std::string_view name;
  Millis Timings::*field;
};

constexpr std::array<DurationKey<MembershipTimings>, 8> kTimingKeys = {{
    {"heartbeat_interval", &MembershipTimings::heartbeat_interval},
    {"suspect_after", &MembershipTimings::suspect_after},
    {"dead_after", &MembershipTimings::dead_after},
    {"forget_after", &MembershipTimings::forget_after},
    {"rpc_timeout", &MembershipTimings::rpc_timeout},
    {"seed_retry", &MembershipTimings::seed_retry},
    {"reconnect_interval", &MembershipTimings::reconnect_interval},
    {"leave_timeout", &MembershipTimings::leave_timeout},
}};
constexpr std::string_view kFanoutKey = "fanout";
// The timings, then fanout: documentation order, which also breaks ties
// between suggestions for a mistyped key.
constexpr std::array<std::string_view, kTimingKeys.size() + 1> kMembershipKeys = [] {
  std::array<std::string_view, kTimingKeys.size() + 1> names{};
  for (size_t i = 0; i < kTimingKeys.size(); ++i) names[i] = kTimingKeys[i].name;
  names.back() = kFanoutKey;
  return names;
}();

constexpr std::array<DurationKey<PlacementTimings>, 3> kPlacementKeys = {{
    {"migrate_after", &PlacementTimings::migrate_after},
    {"settle", &PlacementTimings::settle},
    {"failed_hold", &PlacementTimings::failed_hold},
}};
constexpr auto kPlacementKeyNames = KeyNames(kPlacementKeys);
// The one placement timing that may be zero: the node then starts
// singletons as soon as it is up, without listening first.
constexpr std::string_view kSettleKey = "settle";

template <typename Timings, size_t N>
const DurationKey<Timings>& FindKey(const std::array<DurationKey<Timings>, N>& keys,
                                    std::string_view name) {
  // Fields() passed only known names on.
  return *std::find_if(keys.begin(), keys.end(),
                       [&](const DurationKey<Timings>& key) { return key.name == name; });
}

// The duration in `field`, or nullopt after reporting why there is none.
std::optional<Millis> ReadDuration(YamlWalk& walk, const Field& field) {
  const auto text = walk.Scalar(field, "a duration like 1500ms or 1.5s");
  if (!text) return std::nullopt;
  std::optional<Millis> value = ParseDuration(*text);
  if (!value) {
    walk.AddIssue(field, "invalid duration " + Quote(*text) + ": expected " + kDurationHelp);
  }
  return value;
}

// A membership timing as the cross-field checks see it.
struct Timing {
  std::string_view name;
  Millis value{0};
  bool in_file = false;  // false: the default is in effect
  bool valid = true;     // false: already reported, do not compare
  YAML::Mark mark;
};

// Reads the membership section, then checks how its timings relate.
class MembershipParser {
 public:
  MembershipParser(YamlWalk& walk, MembershipTimings& timings)
      : walk_(walk), membership_(timings) {}

  void Parse(const Field& section) {
    for (const Field& field : walk_.Fields(section.value, section.path, kMembershipKeys)) {
      if (field.name == kFanoutKey) {
        ParseFanout(field);
      } else {
        ParseTiming(field);
      }
    }
    CheckTimings();
  }

 private:
  void ParseTiming(const Field& field) {
    const DurationKey<MembershipTimings>& key = FindKey(kTimingKeys, field.name);
    Timing& timing = TimingState(key.name);
    timing.in_file = true;
    timing.mark = field.mark;
    timing.valid = false;
    const std::optional<Millis> value = ReadDuration(walk_, field);
    if (!value) return;
    membership_.*(key.field) = *value;
    timing.value = *value;
    timing.valid = true;
  }

  void ParseFanout(const Field& field) {
    const std::string expected = "a whole number from " + std::to_string(kMinFanout) + " to " +
                                 std::to_string(kMaxFanout);
    const auto text = walk_.Scalar(field, expected);
    if (!text) return;
    const std::optional<int64_t> fanout = ParseWholeNumber(*text, kMinFanout, kMaxFanout);
    if (!fanout) {
      walk_.AddIssue(field, "invalid fanout " + Quote(*text) + ": expected " + expected);
      return;
    }
    membership_.fanout = static_cast<uint32_t>(*fanout);
  }

  Timing& TimingState(std::string_view name) {
    auto it = timings_.find(name);
    if (it == timings_.end()) {
      const DurationKey<MembershipTimings>& key = FindKey(kTimingKeys, name);
      Timing timing;
      timing.name = key.name;
      timing.value = membership_.*(key.field);
      it = timings_.emplace(std::string(name), timing).first;
    }
    return it->second;
  }

  // "dead_after (1.2s)", or "dead_after (1.2s, the default)" so that a
  // complaint about a key the person never wrote makes sense.
  static std::string Show(const Timing& timing) {
    return std::string(timing.name) + " (" + FormatDuration(timing.value) +
           (timing.in_file ? ")" : ", the default)");
  }

  void AddTimingIssue(const Timing& at, std::string message) {
    walk_.AddIssue(at.mark, JoinPath("membership", at.name), std::move(message));
  }

  // Reports unless ok(subject, other) holds, as "<subject> must be
  // <relation> <other>". The issue goes on whichever of the two keys comes
  // later in the file, the one that contradicts what was already set;
  // two defaults are never in conflict.
  void CheckPair(std::string_view subject_name, std::string_view relation,
                 std::string_view other_name, bool (*ok)(Millis, Millis)) {
    const Timing& subject = TimingState(subject_name);
    const Timing& other = TimingState(other_name);
    if (!subject.valid || !other.valid) return;
    if (!subject.in_file && !other.in_file) return;
    if (ok(subject.value, other.value)) return;
    const bool at_subject =
        !other.in_file ||
        (subject.in_file && std::pair(subject.mark.line, subject.mark.column) >
                                std::pair(other.mark.line, other.mark.column));
    AddTimingIssue(at_subject ? subject : other,
                   Show(subject) + " must be " + std::string(relation) + " " + Show(other));
  }

  void CheckPositive(std::string_view name) {
    const Timing& timing = TimingState(name);
    if (timing.valid && timing.in_file && timing.value <= Millis::zero()) {
      AddTimingIssue(timing, Show(timing) + " must be longer than 0ms");
    }
  }

  // Orderings without which failure detection cannot work: a peer must be
  // able to miss a few heartbeats before it is suspected, suspicion must
  // come before death, a heartbeat RPC must give up no later than its
  // target would be declared dead anyway, and a dead peer must stay in the
  // table at least until it could have been declared dead.
  void CheckTimings() {
    const Timing& heartbeat = TimingState("heartbeat_interval");
    if (heartbeat.valid && heartbeat.in_file && heartbeat.value < kMinHeartbeatInterval) {
      AddTimingIssue(heartbeat, Show(heartbeat) + " must be at least " +
                                    FormatDuration(kMinHeartbeatInterval));
    }
    CheckPair("suspect_after", "longer than", "heartbeat_interval",
              [](Millis s, Millis o) { return s > o; });
    CheckPair("dead_after", "longer than", "suspect_after",
              [](Millis s, Millis o) { return s > o; });
    CheckPositive("rpc_timeout");
    CheckPair("rpc_timeout", "no longer than", "dead_after",
              [](Millis s, Millis o) { return s <= o; });
    CheckPair("forget_after", "at least as long as", "dead_after",
              [](Millis s, Millis o) { return s >= o; });
    // Zero periods would make these retry loops spin.
    CheckPositive("seed_retry");
    CheckPositive("reconnect_interval");
  }

  YamlWalk& walk_;
  MembershipTimings& membership_;
  std::map<std::string, Timing, std::less<>> timings_;
};

}  // namespace

void ParseMembershipSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  MembershipParser(walk, config.membership).Parse(section);
}

void ParsePlacementSection(YamlWalk& walk, const Field& section, NodeConfig& config) {
  for (const Field& field : walk.Fields(section.value, section.path, kPlacementKeyNames)) {
    const std::optional<Millis> value = ReadDuration(walk, field);
    if (!value) continue;
    if (*value <= Millis::zero() && field.name != kSettleKey) {
      walk.AddIssue(field, field.name + " must be longer than 0ms");
      continue;
    }
    config.placement.*(FindKey(kPlacementKeys, field.name).field) = *value;
  }
}

}  // namespace domian::config::internal
