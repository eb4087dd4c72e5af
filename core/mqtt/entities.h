// Entities: a service's Home Assistant entities as its plugin describes
// them (plugin ABI domian.entities/1, rules in plugin.h), checked, and
// what is made of them for MQTT discovery: the topics, the discovery
// configs, and the invoke a command message becomes. Pure functions: no
// broker, no threads, no clock (HomeAssistant drives them).
//
// Topics (cluster names are [a-z0-9-], service names [a-z0-9_-], entity
// and state names [a-z0-9_], so no two services or entities share one):
//   <base>/<entity>/<state>          a state (retained)
//   <base>/<entity>/set/<key stem>   a command
//   domian/<cluster>/node/<node>/service/<service>/availability
//   <prefix>/<platform>/<object>/<entity>/config
// where, for a singleton (one owner in the cluster, moving between nodes):
//   <base>    domian/<cluster>/service/<service>
//   <object>  domian_<cluster>_<service>
//   unique id domian.<cluster>.<service>.<entity>, device the service
// and for a per-node service (one on each node that can run it, each its
// own device in Home Assistant: the speaker in the hall, the one in the
// kitchen):
//   <base>    domian/<cluster>/node/<node>/service/<service>
//   <object>  domian-node_<cluster>_<service>_<node, other than
//             [A-Za-z0-9_-] as _>
//   unique id domian.<cluster>.<service>@<node>.<entity>
// A singleton's states and commands belong to it whichever node runs it;
// the service's availability is its current owner's, so a late `offline`
// from the node it left cannot hide it on the node it moved to.
#pragma once

#include <domian/plugin.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/status.h"

namespace domian::mqtt {

// The plugin ABI's bounds, and domiand's own on each part.
inline constexpr size_t kMaxEntities = DOMIAN_ENTITIES_MAX;
inline constexpr size_t kMaxDescriptionBytes = DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES;
inline constexpr size_t kMaxEntityStateBytes = DOMIAN_ENTITY_STATE_MAX_BYTES;
// One entity's platform keys: a light with a list of effects is about 1 KiB.
inline constexpr size_t kMaxEntityConfigBytes = 8 * 1024;
inline constexpr size_t kMaxEntityNameBytes = 128;
// Topic keys per entity: HA's climate, the richest platform, has about 30.
inline constexpr size_t kMaxTopicKeysPerEntity = 32;
inline constexpr size_t kMaxCommandNameBytes = 64;
inline constexpr size_t kMaxCommandArgsBytes = 4 * 1024;
// A command's JSON payload (a light's: a handful of keys, one level down).
inline constexpr int kMaxPayloadDepth = 8;

enum class PayloadAs { kText, kNumber, kJson };

struct EntityCommand {
  std::string command;  // the plugin command invoked
  std::string arg;      // where the payload goes in the arguments; empty: nowhere
  PayloadAs as = PayloadAs::kText;
  std::string args_json = "{}";  // the fixed arguments, an object
};

struct Entity {
  std::string id;
  std::string platform;
  std::optional<std::string> name;  // nullopt: the service's main entity
  std::string config_json = "{}";   // the platform's own keys, an object
  std::map<std::string, std::string> states;       // topic key -> state name
  std::map<std::string, EntityCommand> commands;   // topic key -> invoke
};

// The platforms a description may name (Home Assistant MQTT components).
bool IsEntityPlatform(std::string_view platform);
bool IsEntityId(std::string_view id);     // [a-z0-9_], 1..64
bool IsStateName(std::string_view name);  // [a-z0-9_], 1..32, not "set"

// A description, checked whole: INVALID_ARGUMENT naming the first
// problem ("entities.2.config: 'state_topic' is domiand's to set").
absl::StatusOr<std::vector<Entity>> ParseEntities(std::string_view json);

// Who an entity belongs to, for its topics and its device.
struct EntityOwner {
  std::string cluster;
  std::string node_id;  // the node running the service now
  std::string service;
  std::string plugin;
  std::string plugin_version;
  std::string domian_version;
  std::string discovery_prefix = "homeassistant";
  bool per_node = false;  // a per-node service: its entities are this node's
};

std::string ServiceTopicBase(const EntityOwner& owner);
std::string StateTopic(const EntityOwner& owner, const std::string& entity,
                       const std::string& state);
// `key`: the topic key, ending in "_topic" ("mode_command_topic").
std::string CommandTopic(const EntityOwner& owner, const std::string& entity,
                         const std::string& key);
// Every command topic of the service.
std::string CommandFilter(const EntityOwner& owner);
std::string ServiceAvailabilityTopic(const EntityOwner& owner);
std::string DiscoveryTopic(const EntityOwner& owner, const Entity& entity);
// A singleton's is the same on every node; a per-node service's names its
// node.
std::string UniqueId(const EntityOwner& owner, const std::string& entity);

// The retained discovery config of `entity` run by `owner`: its platform
// keys, its topics, availability (the owner's node and the service on
// it, both needed), the device (the service) and the origin (domian).
std::string DiscoveryConfig(const EntityOwner& owner, const Entity& entity);

// Where a command topic of the service points: the entity and the topic
// key; nullopt for a topic that is not one.
struct CommandTarget {
  std::string entity;
  std::string key;
};
std::optional<CommandTarget> ParseCommandTopic(const EntityOwner& owner, std::string_view topic);

// The arguments (a JSON object) of the invoke a command message becomes;
// INVALID_ARGUMENT for a payload that is not what the command takes.
absl::StatusOr<std::string> CommandArgs(const EntityCommand& command, std::string_view payload);

}  // namespace domian::mqtt
