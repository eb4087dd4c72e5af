// The core's own form of what the wire protocol carries (proto/domian/v1):
// identities, identity-list rows and ShareIdentityList messages. The RPC
// layer converts to and from protobuf; nothing below it sees protobuf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace domian {

// Wire protocol generation carried in every Identity.
inline constexpr uint32_t kProtocolVersion = 1;

enum class PeerState { kAlive, kSuspect, kDead };

// "alive", "suspect", "dead": the names domianctl prints.
std::string_view PeerStateName(PeerState state);

// Ownership epochs only grow by one per start or move; anything near the
// top of the range is a broken or hostile sender, refused so that "one
// above every epoch seen" can never wrap around.
inline constexpr uint64_t kMaxEpoch = uint64_t{1} << 62;

// Incarnations start at the wall-clock seconds of a node's start (about
// 2^31 today) and grow by one per refutation; heartbeats grow five times a
// second. 2^62 leaves room for billions of years of either, so a counter
// above it can only come from a broken or hostile sender: that row is
// refused, and every counter this node computes saturates there instead
// of wrapping to 0 (which every peer would take for a very old row).
inline constexpr uint64_t kMaxCounter = uint64_t{1} << 62;
// How far a second-hand row may put a known node's incarnation (or, within
// one incarnation, its heartbeat, or a service's epoch) ahead of what this
// node already knows. A restart moves an incarnation by the seconds the
// node was down, and a known peer is forgotten minutes after it died;
// 2^32 (136 years of seconds) covers every honest jump, while a liar
// pushing counters up one lead at a time would need 2^30 rounds to reach
// the ceiling instead of one message.
inline constexpr uint64_t kMaxCounterLead = uint64_t{1} << 32;

// a + b, held at `ceiling` instead of wrapping.
constexpr uint64_t SaturatingAdd(uint64_t a, uint64_t b, uint64_t ceiling = kMaxCounter) {
  return a >= ceiling || b >= ceiling - a ? ceiling : a + b;
}

struct ServiceRecord {
  std::string name;
  std::string state;
  std::string endpoint;
  uint64_t epoch = 0;
  std::string detail;  // why it is not healthy; empty when it is
  // Only while state is handing-over: to which node, under which epoch
  // (what the receiver checks a HandOver against).
  std::string hand_over_to;
  uint64_t hand_over_epoch = 0;
  bool operator==(const ServiceRecord&) const = default;
};

// A service's detail as a node shares it: it travels in every heartbeat,
// and peers refuse strings over WireLimits::max_string_bytes.
inline constexpr size_t kMaxServiceDetailBytes = 200;
// `detail` made valid UTF-8 (protobuf strings must be) and cut to
// kMaxServiceDetailBytes at a character boundary, marked with "..." when
// cut.
std::string BoundedDetail(std::string detail);

// What a node says about running one service: its YAML preference and,
// when it has the plugin, what the plugin says (see proto Offer).
struct Offer {
  std::string service;
  std::string run;   // always | prefer | allow | never
  int64_t weight = 0;
  bool listed = false;
  bool has_plugin = false;
  std::string placement;  // singleton | per-node; empty without the plugin
  std::vector<std::string> traits;
  std::vector<std::string> depends;
  bool gave_up = false;
  // Why it kept failing here, when gave_up (the plugin's last message,
  // BoundedDetail), so that every node's explain can show it.
  std::string gave_up_detail;
  std::string config_json;  // listed only
  bool operator==(const Offer&) const = default;
};

// What a node says about itself; only that node writes it.
struct Identity {
  std::string id;
  std::string cluster;
  std::string version;
  std::string address;  // host:port
  std::vector<ServiceRecord> services;
  std::vector<std::string> hostable;
  std::vector<std::string> traits;
  uint32_t protocol = kProtocolVersion;
  std::vector<Offer> offers;
  bool operator==(const Identity&) const = default;
};

// Owner-written counters; copies of a node's row are ordered by them.
struct Counters {
  uint64_t incarnation = 0;  // grows on every start and on every refutation
  uint64_t heartbeat = 0;    // grows on every heartbeat tick
  auto operator<=>(const Counters&) const = default;
};

// One row of an identity list: the counters, the sender's judgement and,
// when the receiver may lack it, the Identity itself.
struct IdentityEntry {
  std::string id;
  Counters counters;
  uint64_t revision = 0;  // of the Identity within the incarnation; 0 = not held
  bool leaving = false;   // the owner said goodbye
  PeerState state = PeerState::kAlive;
  std::optional<Identity> identity;
};

// A ShareIdentityList request or reply.
struct IdentityListMessage {
  IdentityEntry sender;  // carries its Identity
  std::vector<IdentityEntry> identity_list;
};

}  // namespace domian
