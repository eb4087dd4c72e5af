#include "plugins/lights/home_assistant.h"

#include <domian/plugin.hpp>
#include <domian/plugin_json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "plugins/lights/hue_api.h"

namespace domian::lights {
namespace {

using nlohmann::json;

// Home Assistant's hue is 0-360 degrees and saturation 0-100 %; the
// bridge's 0-65535 and 0-254.
constexpr double kHaHueMax = 360.0;
constexpr double kHaSatMax = 100.0;

[[noreturn]] void Refuse(const std::string& message) {
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "Home Assistant command: " + message);
}

int IntOr(const json& object, const char* key, int fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

std::string EntityId(std::string_view prefix, std::string_view hue_id) {
  std::string id(prefix);
  for (const char c : hue_id) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    id += ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9')) ? lower : '_';
  }
  return id;
}

double NumberField(const json& object, const char* key, double low, double high) {
  const auto it = object.find(key);
  if (!it->is_number() || !(it->get<double>() >= low && it->get<double>() <= high)) {
    Refuse(std::string(key) + " must be a number from " + sdk::ShownNumber(low) + " to " +
           sdk::ShownNumber(high) + ", not " + it->dump());
  }
  return it->get<double>();
}

}  // namespace

LightTraits TraitsOf(std::string_view type, const json& state, const json& capabilities) {
  LightTraits traits;
  // API v1's light types (the Hue developer documentation, "Supported
  // lights"), in lower case: bridges differ in case.
  std::string lower;
  for (const char c : type) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "on/off plug-in unit" || lower == "on/off light") {
    return traits;
  } else if (lower == "dimmable light") {
    traits.dims = true;
  } else if (lower == "color temperature light") {
    traits.dims = traits.temperature = true;
  } else if (lower == "color light") {
    traits.dims = traits.colour = true;
  } else if (lower == "extended color light") {
    traits.dims = traits.colour = traits.temperature = true;
  } else if (state.is_object()) {
    traits.dims = state.contains("bri");
    traits.colour = state.contains("xy");
    traits.temperature = state.contains("ct");
  }
  if (traits.temperature) {
    // The bulb's own range when the bridge says it (capabilities.control.ct).
    const json* ct = nullptr;
    if (capabilities.is_object() && capabilities.contains("control") &&
        capabilities["control"].is_object() && capabilities["control"].contains("ct") &&
        capabilities["control"]["ct"].is_object()) {
      ct = &capabilities["control"]["ct"];
    }
    traits.ct_min = std::clamp(ct ? IntOr(*ct, "min", kCtMin) : kCtMin, kCtMin, kCtMax);
    traits.ct_max = std::clamp(ct ? IntOr(*ct, "max", kCtMax) : kCtMax, traits.ct_min, kCtMax);
  }
  return traits;
}

LightTraits TraitsOfGroup(const std::vector<LightTraits>& members) {
  LightTraits traits;
  for (const LightTraits& member : members) {
    traits.dims = traits.dims || member.dims;
    traits.colour = traits.colour || member.colour;
    if (member.temperature) {
      traits.ct_min = traits.temperature ? std::min(traits.ct_min, member.ct_min) : member.ct_min;
      traits.ct_max = traits.temperature ? std::max(traits.ct_max, member.ct_max) : member.ct_max;
      traits.temperature = true;
    }
  }
  return traits;
}

std::string LightEntityId(std::string_view hue_id) { return EntityId("light_", hue_id); }
std::string GroupEntityId(std::string_view hue_id) { return EntityId("group_", hue_id); }

json DescribeLight(const std::string& entity_id, const std::string& name,
                   const LightTraits& traits, const char* target_key, const std::string& hue_id) {
  // Home Assistant: onoff and brightness stand alone; colour modes imply
  // brightness.
  json modes = json::array();
  if (traits.colour) modes.push_back("xy");
  if (traits.temperature) modes.push_back("color_temp");
  if (modes.empty()) modes.push_back(traits.dims ? "brightness" : "onoff");
  json config = {{"schema", "json"},
                 {"supported_color_modes", modes},
                 {"brightness", traits.dims || traits.colour || traits.temperature},
                 {"transition", true},
                 {"flash", false}};
  if (config["brightness"] == true) config["brightness_scale"] = kBriMax;
  if (traits.temperature) {
    config["min_mireds"] = traits.ct_min;
    config["max_mireds"] = traits.ct_max;
  }
  return {{"id", entity_id},
          {"platform", "light"},
          {"name", name},
          {"config", config},
          {"states", {{"state_topic", kLightState}}},
          {"commands",
           {{"command_topic",
             {{"command", kHomeAssistantCommand},
              {"arg", "ha"},
              {"as", "json"},
              {"args", {{target_key, hue_id}}}}}}}};
}

std::string LightStateJson(const json& state, const LightTraits& traits) {
  const bool on = state.is_object() && state.value("on", false);
  json ha = {{"state", on ? "ON" : "OFF"}};
  if (!state.is_object()) return ha.dump();
  const bool dims = traits.dims || traits.colour || traits.temperature;
  if (dims && state.contains("bri") && state["bri"].is_number_integer()) {
    ha["brightness"] = state["bri"];
  }
  // The bridge reports xy in every colour mode (it converts hue/sat), so
  // hs is shown as xy, the mode offered.
  const std::string mode = StringOr(state, "colormode");
  const bool xy = state.contains("xy") && state["xy"].is_array() && state["xy"].size() == 2 &&
                  state["xy"][0].is_number() && state["xy"][1].is_number();
  if (traits.temperature && mode == "ct" && state.contains("ct") && state["ct"].is_number_integer()) {
    ha["color_mode"] = "color_temp";
    ha["color_temp"] = state["ct"];
  } else if (traits.colour && xy) {
    ha["color_mode"] = "xy";
    ha["color"] = {{"x", state["xy"][0]}, {"y", state["xy"][1]}};
  } else if (traits.temperature && state.contains("ct") && state["ct"].is_number_integer()) {
    ha["color_mode"] = "color_temp";
    ha["color_temp"] = state["ct"];
  } else {
    ha["color_mode"] = dims ? "brightness" : "onoff";
  }
  return ha.dump();
}

json HueArgsFromHomeAssistant(const json& command) {
  if (!command.is_object()) Refuse("must be a JSON object, not " + command.dump());
  json args = json::object();
  std::optional<bool> on;
  for (const auto& [key, value] : command.items()) {
    if (key == "state") {
      if (value != "ON" && value != "OFF") Refuse("state must be ON or OFF, not " + value.dump());
      on = value == "ON";
    } else if (key == "brightness") {
      // 0 is off in Home Assistant; on a Hue bridge bri 0 is not.
      const double brightness = NumberField(command, "brightness", 0, kBriMax);
      if (std::lround(brightness) == 0) {
        on = false;
      } else {
        args["bri"] = std::clamp<long>(std::lround(brightness), kBriMin, kBriMax);
      }
    } else if (key == "color_temp") {
      // Home Assistant keeps within the light's min/max_mireds; a value
      // just outside the bridge's range is taken as its end.
      args["ct"] = std::clamp<long>(std::lround(NumberField(command, "color_temp", 0, 1000000)),
                                    kCtMin, kCtMax);
    } else if (key == "color") {
      if (!value.is_object()) Refuse("color must be an object, not " + value.dump());
      if (value.contains("x") && value.contains("y")) {
        args["xy"] = {NumberField(value, "x", 0, 1), NumberField(value, "y", 0, 1)};
      } else if (value.contains("h") && value.contains("s")) {
        args["hue"] = std::lround(NumberField(value, "h", 0, kHaHueMax) / kHaHueMax * kHueMax);
        args["sat"] = std::lround(NumberField(value, "s", 0, kHaSatMax) / kHaSatMax * kSatMax);
      } else {
        Refuse("color must have x and y, or h and s (the modes offered), not " + value.dump());
      }
    } else if (key == "transition") {
      args["transition_ms"] =
          std::lround(NumberField(command, "transition", 0, kTransitionMsMax / kMsPerSecond) *
                      kMsPerSecond);
    } else {
      Refuse("unknown field \"" + key +
             "\" (known: state, brightness, color, color_temp, transition)");
    }
  }
  if (on == false) {
    // Off is off: what else came with it (a brightness) is not for a
    // light that is off, which the bridge would refuse.
    json off = {{"on", false}};
    if (args.contains("transition_ms")) off["transition_ms"] = args["transition_ms"];
    return off;
  }
  if (on) args["on"] = true;
  return args;
}

}  // namespace domian::lights
