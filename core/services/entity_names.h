// The names an entity state travels under (plugin ABI domian.entities/1
// and domian.host.entities/1): an entity's id and a state's name, as the
// plugin's description and publish_state give them. They become parts of
// MQTT topics and unique ids, so only a small alphabet is taken.
#pragma once

#include <cstddef>
#include <string_view>

namespace domian::services {

inline constexpr size_t kMaxEntityIdBytes = 64;
inline constexpr size_t kMaxEntityStateNameBytes = 32;
// Not a state's name: the command topic of an entity ends in it.
inline constexpr std::string_view kReservedEntityStateName = "set";

// 1-`max` of [a-z0-9_].
inline bool IsEntityWord(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

inline bool IsValidEntityId(std::string_view id) { return IsEntityWord(id, kMaxEntityIdBytes); }

inline bool IsValidEntityStateName(std::string_view state) {
  return IsEntityWord(state, kMaxEntityStateNameBytes) && state != kReservedEntityStateName;
}

}  // namespace domian::services
