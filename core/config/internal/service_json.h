// A service's settings (services.<name>.config) as the JSON text its
// plugin is created with; internal to core/config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace domian::config::internal {

// `config` (a map) as a JSON object: plain scalars read by the YAML 1.2
// core schema (null, true/false, integers, floats), quoted ones stay
// strings.
std::string ServiceConfigJson(const YAML::Node& config);

}  // namespace domian::config::internal
