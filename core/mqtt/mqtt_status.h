// What `domianctl status` shows of the MQTT bridge, kept apart from the
// bridge itself so that the RPC layer reads it without libmosquitto.
#pragma once

#include <cstdint>
#include <string>

namespace domian::mqtt {

struct MqttStatus {
  bool configured = false;  // node.yaml has an mqtt: section
  // off (not configured, or stopped) | connecting | connected |
  // retrying (the last attempt failed; the next one is scheduled) |
  // failed (cannot start at all, e.g. an unreadable password_file; the
  // daemon must be restarted once fixed)
  std::string state = "off";
  bool connected = false;
  std::string broker;              // host:port as configured
  bool tls = false;
  std::string availability_topic;  // this node's retained online/offline
  // Why the bridge is not connected, in words ("not authorised: wrong
  // username or password", "connection refused: ..."); kept after a
  // reconnect as the last problem seen, empty when there was none.
  std::string last_error;
  double state_seconds = 0;     // how long the state has held
  double last_error_seconds = 0;  // how long ago last_error happened (0: none)
  uint64_t published = 0;       // messages the broker took (QoS 1) or that were sent (QoS 0)
  uint64_t dropped = 0;         // messages given to Publish() that never left: queue full, too big, lost
  uint64_t queued = 0;          // waiting to be sent now
  uint64_t incoming_dropped = 0;  // messages from the broker refused for their size
  uint64_t attempts = 0;        // connection attempts since start
  uint64_t connects = 0;        // successful connections since start
  double retry_in_seconds = 0;  // retrying: when the next attempt is due
  // Home Assistant: what this node publishes, and the commands it took.
  uint64_t services = 0;          // services running here with entities described
  uint64_t entities = 0;          // their entities
  uint64_t commands = 0;          // command messages queued for a service
  uint64_t commands_failed = 0;   // refused (a bad payload) or failed in the service
  uint64_t commands_dropped = 0;  // for no command, or too many waiting
};

}  // namespace domian::mqtt
