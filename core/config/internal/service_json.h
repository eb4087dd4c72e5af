// A service's settings (services.<name>.config) as the JSON text its
// plugin is created with; internal to core/config.
#pragma once

#include <optional>
#include <string>

#include "core/config/internal/yaml_walk.h"

namespace domian::config::internal {

// `config` (a field whose value is a map) as a JSON object, keys in the
// file's order: plain scalars read by the YAML 1.2 core schema (null,
// true/false, integers, floats), quoted ones stay strings. Nullopt after
// reporting a value JSON cannot carry (text that is not UTF-8, a number
// beyond a double's range).
std::optional<std::string> ServiceConfigJson(YamlWalk& walk, const Field& config);

}  // namespace domian::config::internal
