// Hue lights and groups as Home Assistant sees them (domian.entities/1,
// plugin.h): a `light` entity with `schema: json` each, the state JSON
// that schema reads, and the command JSON it sends turned into the
// arguments of `set`. No I/O: the service decides when to describe and
// publish (README.md, "Home Assistant").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace domian::lights {

// The one state of every light and group entity: the JSON schema's state.
inline constexpr char kLightState[] = "state";
// The command Home Assistant's JSON messages become.
inline constexpr char kHomeAssistantCommand[] = "ha_set";
// Home Assistant sends transitions in seconds.
inline constexpr double kMsPerSecond = 1000.0;

// What a light can do, from what its bridge reports: its type when it is
// one of API v1's light types, else the fields of its state (a feature
// the bulb lacks has no field: an on/off plug reports only "on").
struct LightTraits {
  bool dims = false;
  bool colour = false;       // xy
  bool temperature = false;  // ct
  int ct_min = 0;            // mirek, when `temperature`
  int ct_max = 0;
  bool operator==(const LightTraits&) const = default;
};
// `type`, `state` and `capabilities` as GET lights/<id> reports them.
LightTraits TraitsOf(std::string_view type, const nlohmann::json& state,
                     const nlohmann::json& capabilities);
// What a group can do: what any of its lights can.
LightTraits TraitsOfGroup(const std::vector<LightTraits>& members);

// "light_3", "group_0": [a-z0-9_] only, from the bridge's ids, so stable
// across restarts and nodes.
std::string LightEntityId(std::string_view hue_id);
std::string GroupEntityId(std::string_view hue_id);

// One entity of the description: `target_key` is "light" or "group",
// `hue_id` its id on the bridge.
nlohmann::json DescribeLight(const std::string& entity_id, const std::string& name,
                             const LightTraits& traits, const char* target_key,
                             const std::string& hue_id);

// The JSON schema's state for a light whose bridge state is `state`:
// {"state": "ON", "brightness": 1-254, "color_mode": ..., "color":
// {"x", "y"}, "color_temp": mirek}, with only what `traits` has.
std::string LightStateJson(const nlohmann::json& state, const LightTraits& traits);

// Home Assistant's command JSON ({"state": "ON", "brightness": 128,
// "color": {"x": .3, "y": .3} or {"h": 30, "s": 100}, "color_temp": 300,
// "transition": 2}) as the arguments of set / group_set (without the
// target): every value sets, so a message delivered twice does no more
// than once. Throws domian::sdk::Error(INVALID_ARGUMENT) naming the field.
nlohmann::json HueArgsFromHomeAssistant(const nlohmann::json& command);

}  // namespace domian::lights
