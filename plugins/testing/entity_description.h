// For plugins' unit tests: reading a description written by a service's
// DescribeEntities (plugin ABI domian.entities/1).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace domian::testing {

// The entity `id` of `description`, or null when it has none.
inline const nlohmann::json* EntityIn(const nlohmann::json& description, const std::string& id) {
  for (const nlohmann::json& entity : description["entities"]) {
    if (entity["id"] == id) return &entity;
  }
  return nullptr;
}

}  // namespace domian::testing
