// Validation of received identity lists: every field a peer sends is
// checked here, so the merge logic may assume well-formed rows.
#include "core/membership/wire_limits.h"

#include <algorithm>
#include <optional>
#include <unordered_set>
#include <vector>

#include "core/model/values.h"

namespace domian::membership {
namespace {

// Names the row a refusal is about ("sender", "identity_list[7]"). The
// name is built only when a refusal needs it: validation runs on every
// row of every message, and almost every row passes.
class RowName {
 public:
  RowName(const char* name) : name_(name) {}  // NOLINT: a plain name converts
  explicit RowName(size_t index) : index_(index) {}
  std::string str() const {
    return index_ ? "identity_list[" + std::to_string(*index_) + "]" : std::string(name_);
  }

 private:
  std::string_view name_;
  std::optional<size_t> index_;
};

std::string Quote(std::string_view s) {
  constexpr size_t kShown = 64;  // enough to recognise, not enough to flood a log
  std::string out = "'";
  out.append(s.substr(0, kShown));
  if (s.size() > kShown) out += "...";
  return out + "'";
}

absl::Status Malformed(const RowName& where, std::string message) {
  return absl::Status(kMalformed, where.str() + ": " + std::move(message));
}

absl::Status CheckString(const RowName& where, std::string_view field, std::string_view value,
                         const WireLimits& limits) {
  if (value.size() > limits.max_string_bytes) {
    return Malformed(where, std::string(field) + " is " + std::to_string(value.size()) +
                                " bytes, over the limit of " +
                                std::to_string(limits.max_string_bytes));
  }
  return absl::OkStatus();
}

// Offers feed placement on every node: a bad one must not reach it.
absl::Status CheckOffers(const RowName& where, const Identity& identity, const WireLimits& limits) {
  if (identity.offers.size() > limits.max_offers) {
    return absl::Status(kTooLarge, where.str() + ": " + std::to_string(identity.offers.size()) +
                                       " offers, over the limit of " +
                                       std::to_string(limits.max_offers));
  }
  std::unordered_set<std::string_view> seen;
  for (const Offer& offer : identity.offers) {
    if (!IsValidServiceName(offer.service)) {
      return Malformed(where, "offer for service " + Quote(offer.service) +
                                  ": not a valid service name");
    }
    const std::string what = "offer " + offer.service;
    if (!seen.insert(offer.service).second) return Malformed(where, what + " appears twice");
    if (!ParseRunMode(offer.run)) {
      return Malformed(where, what + ": run " + Quote(offer.run) + " is not a run mode");
    }
    if (offer.weight < kMinWeight || offer.weight > kMaxWeight) {
      return Malformed(where, what + ": weight " + std::to_string(offer.weight) +
                                  " is out of range");
    }
    if (offer.has_plugin != !offer.placement.empty() ||
        (offer.has_plugin && offer.placement != "singleton" && offer.placement != "per-node")) {
      return Malformed(where, what + ": placement " + Quote(offer.placement) +
                                  " does not match has_plugin");
    }
    if (offer.traits.size() > limits.max_names || offer.depends.size() > limits.max_names) {
      return absl::Status(kTooLarge, where.str() + ": " + what + ": more than " +
                                         std::to_string(limits.max_names) +
                                         " traits or dependencies");
    }
    for (const std::string& trait : offer.traits) {
      absl::Status refused = CheckString(where, "offer trait", trait, limits);
      if (!refused.ok()) return refused;
    }
    for (const std::string& depend : offer.depends) {
      if (!IsValidServiceName(depend)) {
        return Malformed(where, what + ": dependency " + Quote(depend) +
                                    " is not a valid service name");
      }
    }
    if (absl::Status refused = CheckString(where, what + " gave-up detail", offer.gave_up_detail,
                                           limits);
        !refused.ok()) {
      return refused;
    }
    if (!offer.gave_up && !offer.gave_up_detail.empty()) {
      return Malformed(where, what + ": carries a gave-up detail but did not give up");
    }
    if (offer.config_json.size() > limits.max_config_bytes) {
      return absl::Status(kTooLarge, where.str() + ": " + what + ": config is " +
                                         std::to_string(offer.config_json.size()) +
                                         " bytes, over the limit of " +
                                         std::to_string(limits.max_config_bytes));
    }
    if (!offer.config_json.empty() && !offer.listed) {
      return Malformed(where, what + ": carries a config but is not listed");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckIdentity(const RowName& where, const IdentityEntry& entry,
                           std::string_view cluster, const WireLimits& limits) {
  const Identity& identity = *entry.identity;
  if (identity.id != entry.id) {
    return Malformed(where, "identity id " + Quote(identity.id) + " differs from row id");
  }
  if (identity.cluster != cluster) {
    return absl::Status(kWrongCluster, where.str() + ": cluster " + Quote(identity.cluster) +
                                           " is not ours (" + Quote(cluster) + ")");
  }
  if (!IsValidSemver(identity.version)) {
    return Malformed(where, "version " + Quote(identity.version) + " is not a semantic version");
  }
  if (!IsValidHostPort(identity.address)) {
    return Malformed(where, "address " + Quote(identity.address) + " is not host:port");
  }
  if (identity.protocol == 0) return Malformed(where, "protocol version is missing");
  if (identity.services.size() > limits.max_services) {
    return absl::Status(kTooLarge, where.str() + ": " + std::to_string(identity.services.size()) +
                                       " services, over the limit of " +
                                       std::to_string(limits.max_services));
  }
  if (identity.traits.size() > limits.max_names || identity.hostable.size() > limits.max_names) {
    return absl::Status(kTooLarge, where.str() + ": more than " + std::to_string(limits.max_names) +
                                       " traits or hostable services");
  }
  for (const ServiceRecord& service : identity.services) {
    for (auto [field, value] : {std::pair<std::string_view, std::string_view>{"service name",
                                                                              service.name},
                                {"service state", service.state},
                                {"service endpoint", service.endpoint},
                                {"service detail", service.detail}}) {
      if (absl::Status refused = CheckString(where, field, value, limits); !refused.ok()) {
        return refused;
      }
    }
    if (service.name.empty()) return Malformed(where, "a service has no name");
    // An epoch out of range (the service's or the hand-over's) costs that
    // service record only (PeerTable drops it), not the member's whole row.
    if (!service.hand_over_to.empty() && !IsValidNodeId(service.hand_over_to)) {
      return Malformed(where, "service " + Quote(service.name) + ": hand_over_to " +
                                  Quote(service.hand_over_to) + " is not a node id");
    }
  }
  for (const auto* names : {&identity.traits, &identity.hostable}) {
    for (const std::string& name : *names) {
      absl::Status refused = CheckString(where, "trait or service name", name, limits);
      if (!refused.ok()) return refused;
    }
  }
  return CheckOffers(where, identity, limits);
}

absl::Status CheckEntry(const RowName& where, const IdentityEntry& entry, std::string_view cluster,
                        const WireLimits& limits) {
  if (!IsValidNodeId(entry.id)) return Malformed(where, "id " + Quote(entry.id) + " is not valid");
  if (entry.counters.incarnation == 0) return Malformed(where, "incarnation is 0");
  if (entry.identity && entry.revision == 0) {
    return Malformed(where, "carries an identity but revision 0");
  }
  if (entry.identity) return CheckIdentity(where, entry, cluster, limits);
  return absl::OkStatus();
}

}  // namespace

bool IsRefusal(absl::StatusCode code) {
  return code == kMalformed || code == kWrongCluster || code == kTooLarge || code == kSpoofed;
}

absl::Status ValidateIdentityList(const IdentityListMessage& message, std::string_view cluster,
                                  const WireLimits& limits) {
  if (!message.sender.identity) return Malformed("sender", "carries no identity");
  if (absl::Status refused = CheckEntry("sender", message.sender, cluster, limits); !refused.ok()) {
    return refused;
  }
  // A sender's own counters at the ceiling could never grow again: it is
  // broken or lying. (A relayed row out of range costs only that row.)
  if (message.sender.counters.incarnation > kMaxCounter ||
      message.sender.counters.heartbeat > kMaxCounter) {
    return Malformed("sender", "counters (" + std::to_string(message.sender.counters.incarnation) +
                                   ", " + std::to_string(message.sender.counters.heartbeat) +
                                   ") are out of range (at most " + std::to_string(kMaxCounter) +
                                   ")");
  }
  if (message.identity_list.size() > limits.max_entries) {
    return absl::Status(kTooLarge,
                        "identity list has " + std::to_string(message.identity_list.size()) +
                            " entries, over the limit of " + std::to_string(limits.max_entries));
  }
  for (size_t i = 0; i < message.identity_list.size(); ++i) {
    absl::Status refused = CheckEntry(RowName(i), message.identity_list[i], cluster, limits);
    if (!refused.ok()) return refused;
  }
  // Duplicates, found by sorting the ids (one allocation, not one per row).
  std::vector<std::pair<std::string_view, size_t>> ids;
  ids.reserve(message.identity_list.size() + 1);
  ids.emplace_back(message.sender.id, 0);
  for (size_t i = 0; i < message.identity_list.size(); ++i) {
    ids.emplace_back(message.identity_list[i].id, i + 1);
  }
  std::sort(ids.begin(), ids.end());
  for (size_t k = 1; k < ids.size(); ++k) {
    if (ids[k].first == ids[k - 1].first) {
      // The later of the two rows is the one that repeats an id.
      return Malformed(RowName(ids[k].second - 1), "id " + Quote(ids[k].first) + " appears twice");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateProbe(const ProbeMessage& message, std::string_view cluster,
                           const WireLimits& limits) {
  if (message.cluster != cluster) {
    return absl::Status(kWrongCluster, "probe: cluster " + Quote(message.cluster) +
                                           " is not ours (" + Quote(cluster) + ")");
  }
  if (!IsValidNodeId(message.sender)) {
    return Malformed("probe", "sender " + Quote(message.sender) + " is not a node id");
  }
  if (message.incarnation == 0 || message.incarnation > kMaxCounter ||
      message.revision > kMaxCounter) {
    return Malformed("probe", "sender counters (" + std::to_string(message.incarnation) + ", " +
                                  std::to_string(message.revision) + ") are out of range");
  }
  if (!message.target.empty() && !IsValidNodeId(message.target)) {
    return Malformed("probe", "target " + Quote(message.target) + " is not a node id");
  }
  if (message.relay && message.target.empty()) {
    return Malformed("probe", "asks for a relayed probe but names no target");
  }
  if (message.rumours.size() > kMaxRumoursPerMessage) {
    return absl::Status(kTooLarge, "probe: " + std::to_string(message.rumours.size()) +
                                       " rumours, over the limit of " +
                                       std::to_string(kMaxRumoursPerMessage));
  }
  std::vector<std::string_view> abouts;
  abouts.reserve(message.rumours.size());
  for (size_t i = 0; i < message.rumours.size(); ++i) {
    const Rumour& rumour = message.rumours[i];
    const std::string where = "rumours[" + std::to_string(i) + "]";
    const RowName row(where.c_str());
    if (!IsValidNodeId(rumour.about)) {
      return Malformed(row, "about " + Quote(rumour.about) + " is not a node id");
    }
    if (rumour.incarnation == 0) return Malformed(row, "incarnation is 0");
    switch (rumour.kind) {
      case Rumour::Kind::kAlive:
      case Rumour::Kind::kDead:
      case Rumour::Kind::kLeft:
        break;
      case Rumour::Kind::kSuspect:
        if (!IsValidNodeId(rumour.from)) {
          return Malformed(row, "a suspicion by " + Quote(rumour.from) + ", not a node id");
        }
        break;
      default:
        return Malformed(
            row, "kind " + std::to_string(static_cast<int>(rumour.kind)) + " is not a rumour");
    }
    if (rumour.kind != Rumour::Kind::kSuspect && !rumour.from.empty()) {
      return Malformed(row, "names a suspector but is no suspicion");
    }
    if (!rumour.address.empty() &&
        (rumour.kind != Rumour::Kind::kAlive || !IsValidHostPort(rumour.address) ||
         rumour.address.size() > limits.max_string_bytes)) {
      return Malformed(
          row, "address " + Quote(rumour.address) + " is not the host:port of a live member");
    }
    abouts.push_back(rumour.about);
  }
  std::sort(abouts.begin(), abouts.end());
  if (auto twice = std::adjacent_find(abouts.begin(), abouts.end()); twice != abouts.end()) {
    return Malformed("probe", "two rumours about " + Quote(*twice));
  }
  return absl::OkStatus();
}

}  // namespace domian::membership
