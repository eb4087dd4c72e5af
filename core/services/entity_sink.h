// EntitySink: where a node's running services' entities go (plugin ABI
// domian.entities/1 and domian.host.entities/1): the Home Assistant
// publisher, when node.yaml has an mqtt: section. ServiceHost reports,
// for services running on this node in either isolation mode, each
// description and each state's latest value, and when a service no longer
// runs here. It knows nothing of MQTT; the sink knows nothing of plugins.
//
// Threads: each function may be called on any thread (a plugin's own
// threads, a plugin host's reader, ServiceHost's), concurrently, and must
// not block (the sink queues).
#pragma once

#include <functional>
#include <string>

namespace domian::services {

struct EntityDescription {
  std::string service;
  std::string plugin;          // the plugin's name and version, for the device
  std::string plugin_version;
  std::string json;            // describe's output, as the plugin wrote it (unchecked)
  // A per-node plugin: one instance on each node that can run it, each
  // its own (its entities are this node's, not the cluster's).
  bool per_node = false;
};

struct EntitySink {
  // The service runs here and has these entities; again whenever they
  // change, and after every restart of its instance.
  std::function<void(const EntityDescription& description)> described;
  // The latest value of one state (publish_state), bytes as the plugin
  // gave them (at most DOMIAN_ENTITY_STATE_MAX_BYTES).
  std::function<void(const std::string& service, const std::string& entity,
                     const std::string& state, const std::string& data)>
      state;
  // The service's instance ended here (stopped, moved away, crashed,
  // failed): its entities are unavailable from this node until it is
  // described again.
  std::function<void(const std::string& service)> gone;
};

}  // namespace domian::services
