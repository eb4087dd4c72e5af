// Logging setup shared by domiand and its tools: spdlog to stderr, which
// journald keeps when run by systemd.
#pragma once

#include <optional>
#include <string_view>

#include <spdlog/common.h>

namespace domian {

// Parses trace|debug|info|warn|error|critical|off.
std::optional<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

// Installs the stderr logger. Under systemd (JOURNAL_STREAM set) the
// timestamp is left to journald.
void SetupLogging(spdlog::level::level_enum level);

}  // namespace domian
