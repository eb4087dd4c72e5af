// spdlog configuration.
#include "core/common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdlib>
#include <utility>

namespace domian {

std::optional<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels{{
      {"trace", spdlog::level::trace},
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},
      {"critical", spdlog::level::critical},
      {"off", spdlog::level::off},
  }};
  for (const auto& [text, level] : kLevels) {
    if (text == name) return level;
  }
  return std::nullopt;
}

void SetupLogging(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_logger_mt("domian");
  const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;
  logger->set_pattern(journald ? "[%l] %v" : "%Y-%m-%d %H:%M:%S.%e [%l] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);  // a crash must not lose the last lines
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace domian
