#include "plugins/lights/hue_api.h"

#include <domian/plugin.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace domian::lights {
namespace {

using nlohmann::json;

// The bridge takes "<application>#<device>" of at most 40 characters.
constexpr std::string_view kApplicationName = "domian";
constexpr size_t kDeviceTypeMax = 40;
constexpr size_t kBridgeIdLength = 16;

[[noreturn]] void Refuse(const std::string& message) {
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, message);
}

int IntegerField(const json& args, const char* field, int low, int high) {
  const json& value = args.at(field);
  if (!value.is_number_integer()) {
    Refuse(std::string(field) + " must be a whole number from " + std::to_string(low) + " to " +
           std::to_string(high) + ", not " + value.dump());
  }
  const auto number = value.get<int64_t>();
  if (number < low || number > high) {
    Refuse(std::string(field) + " must be from " + std::to_string(low) + " to " +
           std::to_string(high) + ", not " + std::to_string(number));
  }
  return static_cast<int>(number);
}

std::string LastPart(const std::string& address) {
  const size_t slash = address.rfind('/');
  if (slash == std::string::npos || slash + 1 == address.size()) return address;
  return address.substr(slash + 1);
}

const json& ObjectOfEntries(const json& body, const char* what) {
  if (!body.is_object()) {
    throw std::runtime_error(std::string("the bridge's ") + what + " list is not a JSON object");
  }
  return body;
}

}  // namespace

std::string StringOr(const json& object, const char* key, const std::string& fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool StateChange::empty() const { return !on && !bri && !HasColour() && !scene; }

StateChange ParseStateChange(const json& args, bool allow_scene,
                             std::initializer_list<std::string_view> other_keys) {
  if (!args.is_object()) Refuse("arguments must be a JSON object");
  StateChange change;
  for (const auto& [key, value] : args.items()) {
    if (std::find(other_keys.begin(), other_keys.end(), key) != other_keys.end()) continue;
    if (key == "on") {
      if (!value.is_boolean()) Refuse("on must be true or false, not " + value.dump());
      change.on = value.get<bool>();
    } else if (key == "bri") {
      if (value.is_number_integer() && value.get<int64_t>() == 0) {
        Refuse("bri 0 does not switch a Hue light off (it is the dimmest level, 1); use "
               "\"on\": false");
      }
      change.bri = IntegerField(args, "bri", kBriMin, kBriMax);
    } else if (key == "hue") {
      change.hue = IntegerField(args, "hue", 0, kHueMax);
    } else if (key == "sat") {
      change.sat = IntegerField(args, "sat", 0, kSatMax);
    } else if (key == "ct") {
      change.ct = IntegerField(args, "ct", kCtMin, kCtMax);
    } else if (key == "transition_ms") {
      change.transition_ms = IntegerField(args, "transition_ms", 0, kTransitionMsMax);
    } else if (key == "xy") {
      if (!value.is_array() || value.size() != 2 || !value[0].is_number() ||
          !value[1].is_number()) {
        Refuse("xy must be [x, y] with two numbers from 0 to 1, not " + value.dump());
      }
      const double x = value[0].get<double>();
      const double y = value[1].get<double>();
      if (!(x >= 0.0 && x <= 1.0 && y >= 0.0 && y <= 1.0)) {
        Refuse("xy must be [x, y] with two numbers from 0 to 1, not " + value.dump());
      }
      change.xy = std::array<double, 2>{x, y};
    } else if (key == "scene" && allow_scene) {
      if (!value.is_string() || value.get<std::string>().empty()) {
        Refuse("scene must be a scene id or name, not " + value.dump());
      }
      change.scene = value.get<std::string>();
    } else {
      std::string known = "on, bri, hue, sat, ct, xy, transition_ms";
      for (const std::string_view other : other_keys) known += ", " + std::string(other);
      Refuse("unknown field \"" + key + "\" (known: " + known + ")");
    }
  }
  if (change.on == false && (change.bri || change.HasColour())) {
    Refuse("brightness or colour cannot be set while switching the light off (the bridge "
           "refuses changes to a light that is off); send them with \"on\": true");
  }
  return change;
}

json ToBody(const StateChange& change) {
  json body = json::object();
  if (change.scene) body["scene"] = *change.scene;
  if (change.on) {
    body["on"] = *change.on;
  } else if (change.bri || change.HasColour()) {
    body["on"] = true;  // a light that is off answers 201 to everything else
  }
  if (change.bri) body["bri"] = *change.bri;
  if (change.hue) body["hue"] = *change.hue;
  if (change.sat) body["sat"] = *change.sat;
  if (change.ct) body["ct"] = *change.ct;
  if (change.xy) body["xy"] = json::array({(*change.xy)[0], (*change.xy)[1]});
  if (change.transition_ms) {
    body["transitiontime"] = static_cast<int>(
        std::lround(static_cast<double>(*change.transition_ms) / kTransitionUnitMs));
  }
  return body;
}

StateChange Merge(const StateChange& older, const StateChange& newer) {
  if (newer.scene) return newer;
  StateChange merged = older;
  if (newer.on) merged.on = newer.on;
  if (newer.on == false) {
    merged.bri.reset();
    merged.hue.reset();
    merged.sat.reset();
    merged.ct.reset();
    merged.xy.reset();
  }
  if (newer.bri) merged.bri = newer.bri;
  // Colour by mode: xy, ct, or hue with sat. A newer mode replaces the
  // older ones; hue and sat are one mode and keep each other.
  if (newer.xy || newer.ct) {
    merged.hue.reset();
    merged.sat.reset();
  }
  if (newer.xy || newer.hue || newer.sat) merged.ct.reset();
  if (newer.ct || newer.hue || newer.sat) merged.xy.reset();
  if (newer.hue) merged.hue = newer.hue;
  if (newer.sat) merged.sat = newer.sat;
  if (newer.ct) merged.ct = newer.ct;
  if (newer.xy) merged.xy = newer.xy;
  if (merged.on == false && (merged.bri || merged.HasColour())) merged.on.reset();
  if (newer.transition_ms) merged.transition_ms = newer.transition_ms;
  return merged;
}

std::vector<ItemResult> ReadItems(const json& body) {
  if (!body.is_array()) throw std::runtime_error("the bridge's reply is not a JSON array");
  std::vector<ItemResult> items;
  for (const json& item : body) {
    if (!item.is_object()) throw std::runtime_error("the bridge's reply holds a non-object item");
    if (const auto success = item.find("success"); success != item.end()) {
      if (success->is_object()) {
        for (const auto& [address, value] : success->items()) {
          items.push_back(ItemResult{LastPart(address), true, 0, "", value});
        }
      } else {
        items.push_back(ItemResult{"", true, 0, "", *success});
      }
    } else if (const auto error = item.find("error"); error != item.end() && error->is_object()) {
      const auto type = error->find("type");
      items.push_back(ItemResult{
          LastPart(StringOr(*error, "address")), false,
          type != error->end() && type->is_number_integer() ? type->get<int>() : -1,
          StringOr(*error, "description", "no description"), nullptr});
    } else {
      throw std::runtime_error("the bridge's reply holds an item that is neither success nor "
                               "error: " + item.dump());
    }
  }
  return items;
}

std::optional<ItemResult> FirstError(const json& body) {
  if (!body.is_array()) return std::nullopt;
  try {
    for (ItemResult& item : ReadItems(body)) {
      if (!item.ok) return std::move(item);
    }
  } catch (const std::runtime_error&) {
  }
  return std::nullopt;
}

std::string Describe(const std::vector<ItemResult>& items) {
  std::string text;
  for (const ItemResult& item : items) {
    if (!text.empty()) text += "; ";
    const std::string field = item.field.empty() ? "request" : item.field;
    if (item.ok) {
      text += field + " set";
    } else {
      text += field + " refused (error " + std::to_string(item.error) + ": " + item.description +
              ")";
    }
  }
  return text.empty() ? "the bridge answered nothing" : text;
}

std::string NormalizeBridgeId(std::string_view id) {
  std::string upper(id);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper;
}

bool IsBridgeId(std::string_view id) {
  return id.size() == kBridgeIdLength &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isxdigit(c); });
}

BridgeInfo ReadBridgeInfo(const json& body) {
  if (!body.is_object() || !body.contains("bridgeid") || !body["bridgeid"].is_string()) {
    throw std::runtime_error("the answer to /api/config is not a Hue bridge's config (no "
                             "bridgeid)");
  }
  BridgeInfo info;
  info.bridge_id = NormalizeBridgeId(body["bridgeid"].get<std::string>());
  info.name = StringOr(body, "name");
  info.api_version = StringOr(body, "apiversion");
  info.sw_version = StringOr(body, "swversion");
  info.model_id = StringOr(body, "modelid");
  return info;
}

std::string DeviceType(std::string_view host_name) {
  std::string device;
  for (const char c : host_name) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
      device += c;
    }
  }
  if (device.empty()) device = "node";
  std::string type = std::string(kApplicationName) + "#" + device;
  if (type.size() > kDeviceTypeMax) type.resize(kDeviceTypeMax);
  return type;
}

PairingReply ReadPairing(const json& body) {
  PairingReply reply;
  for (const ItemResult& item : ReadItems(body)) {
    if (!item.ok) {
      reply.error = item;
      return reply;
    }
    if (item.field == "username" && item.value.is_string()) {
      if (!reply.pairing) reply.pairing.emplace();
      reply.pairing->username = item.value.get<std::string>();
    } else if (item.field == "clientkey" && item.value.is_string()) {
      if (!reply.pairing) reply.pairing.emplace();
      reply.pairing->client_key = item.value.get<std::string>();
    }
  }
  if (!reply.pairing || reply.pairing->username.empty()) {
    throw std::runtime_error("the bridge's pairing answer holds no username");
  }
  return reply;
}

std::vector<LightInfo> ReadLights(const json& body) {
  std::vector<LightInfo> lights;
  for (const auto& [id, entry] : ObjectOfEntries(body, "light").items()) {
    if (!entry.is_object()) throw std::runtime_error("light " + id + " is not a JSON object");
    LightInfo light{id, StringOr(entry, "name", id), StringOr(entry, "type"),
                    entry.contains("state") && entry["state"].is_object() ? entry["state"]
                                                                          : json::object()};
    if (entry.contains("capabilities") && entry["capabilities"].is_object()) {
      light.capabilities = entry["capabilities"];
    }
    lights.push_back(std::move(light));
  }
  return lights;
}

std::vector<GroupInfo> ReadGroups(const json& body) {
  std::vector<GroupInfo> groups;
  for (const auto& [id, entry] : ObjectOfEntries(body, "group").items()) {
    if (!entry.is_object()) throw std::runtime_error("group " + id + " is not a JSON object");
    GroupInfo group{id, StringOr(entry, "name", id), {}};
    if (entry.contains("lights") && entry["lights"].is_array()) {
      for (const json& light : entry["lights"]) {
        if (light.is_string()) group.lights.push_back(light.get<std::string>());
      }
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

std::vector<SceneInfo> ReadScenes(const json& body) {
  std::vector<SceneInfo> scenes;
  for (const auto& [id, entry] : ObjectOfEntries(body, "scene").items()) {
    if (!entry.is_object()) throw std::runtime_error("scene " + id + " is not a JSON object");
    scenes.push_back(SceneInfo{id, StringOr(entry, "name", id), StringOr(entry, "group")});
  }
  return scenes;
}

}  // namespace domian::lights
