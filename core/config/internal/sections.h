// One parser per top-level section of node.yaml; internal to core/config.
//
// Each reads `section` (a map, already checked by YamlWalk::IsSection)
// into its part of `config`, reporting problems on `walk`; a value with a
// problem leaves the default in place so the other checks still run.
#pragma once

#include "core/config/internal/yaml_walk.h"
#include "core/config/node_config.h"

namespace domian::config::internal {

// node_section.cc
void ParseNodeSection(YamlWalk& walk, const Field& section, NodeConfig& config);
void ParseDiscoverySection(YamlWalk& walk, const Field& section, NodeConfig& config);
void ParsePluginsSection(YamlWalk& walk, const Field& section, NodeConfig& config);
void ParseLogSection(YamlWalk& walk, const Field& section, NodeConfig& config);
void ParseSecuritySection(YamlWalk& walk, const Field& section, NodeConfig& config);

// timings_section.cc. The membership parser also checks how its timings
// relate to each other (and to defaults the file does not override).
void ParseMembershipSection(YamlWalk& walk, const Field& section, NodeConfig& config);
void ParsePlacementSection(YamlWalk& walk, const Field& section, NodeConfig& config);

// mqtt_section.cc. Also checks how its keys relate (a broker is
// required, ca_file needs tls, password_file needs username).
void ParseMqttSection(YamlWalk& walk, const Field& section, NodeConfig& config);

// http_section.cc
void ParseHttpSection(YamlWalk& walk, const Field& section, NodeConfig& config);

// services_section.cc
void ParseServicesSection(YamlWalk& walk, const Field& section, NodeConfig& config);

}  // namespace domian::config::internal
