// The Philips Hue bridge's HTTP API v1 as data: what a caller may ask of a
// light or a group, the body a bridge accepts for it, and how to read
// every item of a bridge's reply. No I/O here, so every rule is tested on
// its own (hue_api_test.cc).
//
// API v1 answers HTTP 200 even when it refuses: the body is an array with
// one success or error item per field, and each must be read. Error 1
// means the bridge does not know the username (pair again); error 201 is
// what a light that is off answers to a brightness or colour change, which
// ToBody() avoids by switching the light on in the same request.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace domian::lights {

// Field ranges of API v1 light state.
inline constexpr int kBriMin = 1;  // 0 is not "off" on a Hue bridge
inline constexpr int kBriMax = 254;
inline constexpr int kHueMax = 65535;
inline constexpr int kSatMax = 254;
inline constexpr int kCtMin = 153;  // mirek; a bulb may accept less, and says so (error 7)
inline constexpr int kCtMax = 500;
inline constexpr int kTransitionUnitMs = 100;  // transitiontime counts 100 ms steps
inline constexpr int kTransitionMsMax = 65535 * kTransitionUnitMs;

// Error types of API v1 replies.
inline constexpr int kErrorUnauthorized = 1;
inline constexpr int kErrorNotAvailable = 3;
inline constexpr int kErrorInvalidValue = 7;
inline constexpr int kErrorLinkButton = 101;
inline constexpr int kErrorDeviceOff = 201;

// A change of state for a light or a group, as a caller asked for it.
struct StateChange {
  std::optional<bool> on;
  std::optional<int> bri;
  std::optional<int> hue;
  std::optional<int> sat;
  std::optional<int> ct;
  std::optional<std::array<double, 2>> xy;
  std::optional<int> transition_ms;
  std::optional<std::string> scene;  // groups only: recall this scene

  bool empty() const;
  bool HasColour() const { return hue || sat || ct || xy; }
  bool operator==(const StateChange&) const = default;
};

// Reads the state fields of a command's arguments: on, bri, hue, sat, ct,
// xy, transition_ms, and scene when `allow_scene`. Keys in `other_keys`
// belong to the command (e.g. "light", "wait") and are skipped; any other
// key, a value out of range, bri 0, or brightness/colour together with
// on:false is refused with domian::sdk::Error(INVALID_ARGUMENT) naming the
// field.
StateChange ParseStateChange(const nlohmann::json& args, bool allow_scene,
                             std::initializer_list<std::string_view> other_keys);

// The body of PUT lights/<id>/state or groups/<id>/action. Adds on:true
// when brightness or colour comes without `on`, so a light that is off
// does not refuse them with error 201.
nlohmann::json ToBody(const StateChange& change);

// `newer` applied after `older`, as one change: only the newest pending
// state of a light is sent, and it must leave the light as both would
// have. Switching off drops older brightness and colour; a newer colour
// mode (xy, ct, or hue/sat) replaces the older modes (the bridge would
// otherwise pick one by its own priority), while hue and sat keep each
// other; a scene replaces everything before it.
StateChange Merge(const StateChange& older, const StateChange& newer);

// One item of a v1 reply.
struct ItemResult {
  std::string field;  // last part of the item's address ("on", "bri"), or the address
  bool ok = false;
  int error = 0;  // error type when !ok
  std::string description;
  nlohmann::json value;  // what a success item says was set
};

// object[key] when it is a string, else `fallback` (bridge replies, saved
// state and files are read, never trusted to be well-formed).
std::string StringOr(const nlohmann::json& object, const char* key, const std::string& fallback = "");

// Every item of a v1 reply array. Throws std::runtime_error when the body
// is not an array of success/error objects.
std::vector<ItemResult> ReadItems(const nlohmann::json& body);
// The first error item of a v1 reply, if the body is such an array and
// holds one (GET answers are objects on success, arrays on failure).
std::optional<ItemResult> FirstError(const nlohmann::json& body);
// "bri refused (error 201: ...); on set" for messages.
std::string Describe(const std::vector<ItemResult>& items);

// GET /api/config (needs no user).
struct BridgeInfo {
  std::string bridge_id;  // upper-case, 16 hex digits
  std::string name;
  std::string api_version;
  std::string sw_version;
  std::string model_id;
};
// Throws std::runtime_error when `body` is not a bridge's config.
BridgeInfo ReadBridgeInfo(const nlohmann::json& body);
// Bridge ids compare in upper case ("001788fffe..." in mDNS TXT records).
std::string NormalizeBridgeId(std::string_view id);
bool IsBridgeId(std::string_view id);

// POST /api {"devicetype": ..., "generateclientkey": true}.
struct Pairing {
  std::string username;
  std::string client_key;
};
// The device type a bridge accepts: "<app>#<device>", 40 characters at
// most.
std::string DeviceType(std::string_view host_name);
// Success: the pairing. Otherwise the error item (101 while the link button
// is not pressed). Throws std::runtime_error on a body that is neither.
struct PairingReply {
  std::optional<Pairing> pairing;
  ItemResult error;
};
PairingReply ReadPairing(const nlohmann::json& body);

// GET lights / groups / scenes.
struct LightInfo {
  std::string id;
  std::string name;
  std::string type;
  nlohmann::json state;  // as the bridge reports it
  nlohmann::json capabilities = nlohmann::json::object();  // e.g. control.ct {min, max}
};
struct GroupInfo {
  std::string id;
  std::string name;
  std::vector<std::string> lights;
};
struct SceneInfo {
  std::string id;
  std::string name;
  std::string group;  // empty for a scene that is not a group scene
};
// Throw std::runtime_error when `body` is not an object of id -> entry.
std::vector<LightInfo> ReadLights(const nlohmann::json& body);
std::vector<GroupInfo> ReadGroups(const nlohmann::json& body);
std::vector<SceneInfo> ReadScenes(const nlohmann::json& body);

}  // namespace domian::lights
