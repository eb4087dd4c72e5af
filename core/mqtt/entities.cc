#include "core/mqtt/entities.h"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <set>
#include <utility>

#include "core/common/utf8.h"
#include "core/services/entity_names.h"

namespace domian::mqtt {
namespace {

using Json = nlohmann::ordered_json;

// A description's nesting: entities, their config, a list in it, an
// object in that (a light's effect list, a climate's presets).
constexpr int kMaxDescriptionDepth = 8;

constexpr std::array<std::string_view, 11> kPlatforms = {
    "light", "climate", "sensor", "binary_sensor", "switch", "number",
    "select", "text", "button", "notify", "camera"};

// Config keys domiand sets itself (and their abbreviations): a plugin that
// set them could point an entity at another service's topics or device.
const std::set<std::string, std::less<>>& ReservedKeys() {
  static const std::set<std::string, std::less<>> keys = {
      "~", "availability", "avty", "availability_mode", "avty_mode", "availability_template",
      "avty_tpl", "payload_available", "pl_avail", "payload_not_available", "pl_not_avail",
      "device", "dev", "origin", "o", "unique_id", "uniq_id", "object_id", "obj_id",
      "default_entity_id", "def_ent_id", "platform", "p", "name", "qos", "retain", "ret", "t"};
  return keys;
}

bool IsTopicKey(std::string_view key) { return key == "topic" || key.ends_with("_topic"); }

// Parses `text` as JSON no deeper than `max_depth`; nullopt otherwise.
std::optional<Json> ParseBounded(std::string_view text, int max_depth) {
  bool too_deep = false;
  Json parsed = Json::parse(
      text,
      [&](int depth, Json::parse_event_t, Json&) {
        if (depth > max_depth) too_deep = true;
        return !too_deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep || parsed.is_discarded()) return std::nullopt;
  return parsed;
}

absl::Status Problem(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(where + ": " + what);
}

absl::StatusOr<EntityCommand> ParseCommand(const std::string& where, const Json& value) {
  if (!value.is_object()) return Problem(where, "must be an object");
  EntityCommand command;
  for (const auto& [key, item] : value.items()) {
    if (key == "command") {
      if (!item.is_string() || item.get<std::string>().empty() ||
          item.get<std::string>().size() > kMaxCommandNameBytes) {
        return Problem(where + ".command", "must be a command name of 1 to " +
                                              std::to_string(kMaxCommandNameBytes) + " bytes");
      }
      command.command = item.get<std::string>();
    } else if (key == "arg") {
      if (!item.is_string() || item.get<std::string>().empty() ||
          item.get<std::string>().size() > kMaxCommandNameBytes) {
        return Problem(where + ".arg", "must be an argument name of 1 to " +
                                          std::to_string(kMaxCommandNameBytes) + " bytes");
      }
      command.arg = item.get<std::string>();
    } else if (key == "as") {
      const std::string as = item.is_string() ? item.get<std::string>() : "";
      if (as == "text") {
        command.as = PayloadAs::kText;
      } else if (as == "number") {
        command.as = PayloadAs::kNumber;
      } else if (as == "json") {
        command.as = PayloadAs::kJson;
      } else {
        return Problem(where + ".as", "must be \"text\", \"number\" or \"json\"");
      }
    } else if (key == "args") {
      if (!item.is_object()) return Problem(where + ".args", "must be an object");
      command.args_json = item.dump();
      if (command.args_json.size() > kMaxCommandArgsBytes) {
        return Problem(where + ".args",
                       "more than " + std::to_string(kMaxCommandArgsBytes) + " bytes");
      }
    } else {
      return Problem(where, "unknown key '" + BoundedText(key, 64) + "'");
    }
  }
  if (command.command.empty()) return Problem(where + ".command", "missing");
  if (!command.arg.empty() && Json::parse(command.args_json).contains(command.arg)) {
    return Problem(where + ".args", "sets '" + command.arg + "', the payload's argument");
  }
  return command;
}

absl::StatusOr<Entity> ParseEntity(const std::string& where, const Json& value) {
  if (!value.is_object()) return Problem(where, "must be an object");
  Entity entity;
  bool has_name = false;
  for (const auto& [key, item] : value.items()) {
    if (key == "id") {
      if (!item.is_string() || !IsEntityId(item.get<std::string>())) {
        return Problem(where + ".id", "must be 1 to 64 of a-z, 0-9 and _");
      }
      entity.id = item.get<std::string>();
    } else if (key == "platform") {
      if (!item.is_string() || !IsEntityPlatform(item.get<std::string>())) {
        std::string known;
        for (const std::string_view platform : kPlatforms) {
          known += (known.empty() ? "" : ", ") + std::string(platform);
        }
        return Problem(where + ".platform", "must be one of " + known);
      }
      entity.platform = item.get<std::string>();
    } else if (key == "name") {
      has_name = true;
      if (item.is_null()) continue;
      if (!item.is_string() || item.get<std::string>().empty() ||
          item.get<std::string>().size() > kMaxEntityNameBytes) {
        return Problem(where + ".name", "must be null or a name of 1 to " +
                                           std::to_string(kMaxEntityNameBytes) + " bytes");
      }
      entity.name = item.get<std::string>();
    } else if (key == "config") {
      if (!item.is_object()) return Problem(where + ".config", "must be an object");
      for (const auto& [config_key, unused] : item.items()) {
        if (IsTopicKey(config_key) || config_key.ends_with("_t") ||
            ReservedKeys().contains(config_key)) {
          return Problem(where + ".config",
                         "'" + BoundedText(config_key, 64) + "' is domiand's to set");
        }
      }
      entity.config_json = item.dump();
      if (entity.config_json.size() > kMaxEntityConfigBytes) {
        return Problem(where + ".config",
                       "more than " + std::to_string(kMaxEntityConfigBytes) + " bytes");
      }
    } else if (key == "states") {
      if (!item.is_object()) return Problem(where + ".states", "must be an object");
      for (const auto& [topic_key, state] : item.items()) {
        if (!IsTopicKey(topic_key) || topic_key == "availability_topic") {
          return Problem(where + ".states", "'" + BoundedText(topic_key, 64) +
                                                "' is not a state's topic key (\"..._topic\" or "
                                                "\"topic\"; availability is domiand's)");
        }
        if (!state.is_string() || !IsStateName(state.get<std::string>())) {
          return Problem(where + ".states." + topic_key,
                         "must be a state name of 1 to 32 of a-z, 0-9 and _ (not \"set\")");
        }
        entity.states[topic_key] = state.get<std::string>();
      }
    } else if (key == "commands") {
      if (!item.is_object()) return Problem(where + ".commands", "must be an object");
      for (const auto& [topic_key, command] : item.items()) {
        if (!topic_key.ends_with("_topic") || topic_key.size() > 64 ||
            !services::IsEntityWord(topic_key, 64) || topic_key == "availability_topic") {
          return Problem(where + ".commands",
                         "'" + BoundedText(topic_key, 64) + "' is not a topic key (\"..._topic\")");
        }
        absl::StatusOr<EntityCommand> parsed =
            ParseCommand(where + ".commands." + topic_key, command);
        if (!parsed.ok()) return parsed.status();
        entity.commands[topic_key] = *std::move(parsed);
      }
    } else {
      return Problem(where, "unknown key '" + BoundedText(key, 64) + "'");
    }
  }
  if (entity.id.empty()) return Problem(where + ".id", "missing");
  if (entity.platform.empty()) return Problem(where + ".platform", "missing");
  if (!has_name) return Problem(where + ".name", "missing (null for the service's main entity)");
  if (entity.states.size() + entity.commands.size() > kMaxTopicKeysPerEntity) {
    return Problem(where, "more than " + std::to_string(kMaxTopicKeysPerEntity) + " topic keys");
  }
  for (const auto& [topic_key, unused] : entity.commands) {
    if (entity.states.contains(topic_key)) {
      return Problem(where + ".commands." + topic_key, "is a state's topic key too");
    }
  }
  return entity;
}

}  // namespace

bool IsEntityPlatform(std::string_view platform) {
  for (const std::string_view known : kPlatforms) {
    if (platform == known) return true;
  }
  return false;
}

bool IsEntityId(std::string_view id) { return services::IsValidEntityId(id); }

bool IsStateName(std::string_view name) { return services::IsValidEntityStateName(name); }

absl::StatusOr<std::vector<Entity>> ParseEntities(std::string_view json) {
  if (json.size() > kMaxDescriptionBytes) {
    return absl::InvalidArgumentError("more than " + std::to_string(kMaxDescriptionBytes) +
                                      " bytes");
  }
  if (!IsValidUtf8(json)) return absl::InvalidArgumentError("not UTF-8");
  const std::optional<Json> parsed = ParseBounded(json, kMaxDescriptionDepth);
  if (!parsed) {
    return absl::InvalidArgumentError("not JSON, or nested deeper than " +
                                      std::to_string(kMaxDescriptionDepth));
  }
  if (!parsed->is_object() || !parsed->contains("entities") ||
      !(*parsed)["entities"].is_array()) {
    return absl::InvalidArgumentError("must be an object with a list \"entities\"");
  }
  const Json& list = (*parsed)["entities"];
  if (list.size() > kMaxEntities) {
    return absl::InvalidArgumentError(std::to_string(list.size()) + " entities, more than " +
                                      std::to_string(kMaxEntities));
  }
  std::vector<Entity> entities;
  std::set<std::string> ids;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "entities." + std::to_string(i);
    absl::StatusOr<Entity> entity = ParseEntity(where, list[i]);
    if (!entity.ok()) return entity.status();
    if (!ids.insert(entity->id).second) {
      return Problem(where + ".id", "'" + entity->id + "' is used twice");
    }
    entities.push_back(*std::move(entity));
  }
  return entities;
}

std::string ServiceTopicBase(const EntityOwner& owner) {
  return owner.per_node
             ? "domian/" + owner.cluster + "/node/" + owner.node_id + "/service/" + owner.service
             : "domian/" + owner.cluster + "/service/" + owner.service;
}

std::string StateTopic(const EntityOwner& owner, const std::string& entity,
                       const std::string& state) {
  return ServiceTopicBase(owner) + "/" + entity + "/" + state;
}

std::string CommandTopic(const EntityOwner& owner, const std::string& entity,
                         const std::string& key) {
  const std::string stem = key.ends_with("_topic") ? key.substr(0, key.size() - 6) : key;
  return ServiceTopicBase(owner) + "/" + entity + "/set/" + stem;
}

std::string CommandFilter(const EntityOwner& owner) { return ServiceTopicBase(owner) + "/+/set/+"; }

std::string ServiceAvailabilityTopic(const EntityOwner& owner) {
  return "domian/" + owner.cluster + "/node/" + owner.node_id + "/service/" + owner.service +
         "/availability";
}

std::string DiscoveryTopic(const EntityOwner& owner, const Entity& entity) {
  std::string object = "domian_" + owner.cluster + "_" + owner.service;
  if (owner.per_node) {
    // A topic level of Home Assistant's discovery takes [A-Za-z0-9_-].
    std::string node = owner.node_id;
    for (char& c : node) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_')) {
        c = '_';
      }
    }
    object = "domian-node_" + owner.cluster + "_" + owner.service + "_" + node;
  }
  return owner.discovery_prefix + "/" + entity.platform + "/" + object + "/" + entity.id +
         "/config";
}

namespace {
std::string DeviceId(const EntityOwner& owner) {
  return "domian." + owner.cluster + "." + owner.service +
         (owner.per_node ? "@" + owner.node_id : "");
}
}  // namespace

std::string UniqueId(const EntityOwner& owner, const std::string& entity) {
  return DeviceId(owner) + "." + entity;
}

std::string DiscoveryConfig(const EntityOwner& owner, const Entity& entity) {
  // Checked by ParseEntities: an object. Keys sorted, so the same
  // description always makes the same bytes (a config is published again
  // only when they change).
  nlohmann::json config = nlohmann::json::parse(entity.config_json);
  config["name"] = entity.name ? nlohmann::json(*entity.name) : nlohmann::json(nullptr);
  config["unique_id"] = UniqueId(owner, entity.id);
  for (const auto& [key, state] : entity.states) config[key] = StateTopic(owner, entity.id, state);
  for (const auto& [key, unused] : entity.commands) {
    config[key] = CommandTopic(owner, entity.id, key);
  }
  // Both must say online: the node (its last will says offline when it
  // dies) and the service on it (offline when it stops or moves away).
  config["availability"] = nlohmann::json::array(
      {{{"topic", "domian/" + owner.cluster + "/node/" + owner.node_id + "/availability"}},
       {{"topic", ServiceAvailabilityTopic(owner)}}});
  config["availability_mode"] = "all";
  config["qos"] = 1;
  // The device is the service, not the Pi running it today: the same
  // device and entities whichever node runs it (a per-node service: the
  // one on this node).
  config["device"] = {
      {"identifiers", nlohmann::json::array({DeviceId(owner)})},
      {"name", owner.per_node ? owner.service + " on " + owner.node_id : owner.service},
      {"manufacturer", "domian"},
      {"model", owner.plugin + " plugin"},
      {"sw_version", owner.plugin_version}};
  config["origin"] = {{"name", "domian"}, {"sw_version", owner.domian_version}};
  return config.dump();
}

std::optional<CommandTarget> ParseCommandTopic(const EntityOwner& owner, std::string_view topic) {
  const std::string base = ServiceTopicBase(owner) + "/";
  if (topic.substr(0, base.size()) != base) return std::nullopt;
  std::string_view rest = topic.substr(base.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view entity = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  if (rest.substr(0, 4) != "set/") return std::nullopt;
  const std::string_view stem = rest.substr(4);
  if (!IsEntityId(entity) || !services::IsEntityWord(stem, 64)) return std::nullopt;
  return CommandTarget{std::string(entity), std::string(stem) + "_topic"};
}

absl::StatusOr<std::string> CommandArgs(const EntityCommand& command, std::string_view payload) {
  // Checked by ParseEntities: an object.
  Json args = Json::parse(command.args_json);
  if (command.arg.empty()) return args.dump();
  if (!IsValidUtf8(payload)) return absl::InvalidArgumentError("the payload is not UTF-8");
  switch (command.as) {
    case PayloadAs::kText:
      args[command.arg] = std::string(payload);
      break;
    case PayloadAs::kNumber: {
      double number = 0;
      std::string_view text = payload;
      while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
          !std::isfinite(number)) {
        return absl::InvalidArgumentError("the payload '" + BoundedText(std::string(payload), 40) +
                                          "' is not a number");
      }
      args[command.arg] = number;
      break;
    }
    case PayloadAs::kJson: {
      std::optional<Json> value = ParseBounded(payload, kMaxPayloadDepth);
      if (!value) {
        return absl::InvalidArgumentError("the payload is not JSON (or nested deeper than " +
                                          std::to_string(kMaxPayloadDepth) + ")");
      }
      args[command.arg] = *std::move(value);
      break;
    }
  }
  return args.dump();
}

}  // namespace domian::mqtt
