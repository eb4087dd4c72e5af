// Durations as configured by people: "200ms", "1.5s", "10m", "1h".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace domian {

using Millis = std::chrono::milliseconds;

// Parses a non-negative duration with a unit suffix (ms, s, m, h).
// Returns nullopt for anything else (no unit, negative, garbage, overflow).
std::optional<Millis> ParseDuration(std::string_view text);

// "1.2s", "200ms", "10m": the inverse of ParseDuration for log lines.
std::string FormatDuration(Millis d);

}  // namespace domian
