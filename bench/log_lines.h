// Reading times out of domiand's logs, for the benchmarks: a daemon logs
// when it decided something (a peer is dead, a service starts), which is
// closer to the truth than polling it from outside.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace domian::bench {

using WallClock = std::chrono::system_clock;

// "2026-11-25 15:01:28.657 [info] ..." -> time point (local time, as spdlog writes).
inline std::optional<WallClock::time_point> LineTime(const std::string& line) {
  if (line.size() < 23) return std::nullopt;
  std::tm tm{};
  std::istringstream in(line.substr(0, 19));
  in >> std::get_time(&tm, "%Y-%m-%d %H:%M:%S");
  if (in.fail()) return std::nullopt;
  tm.tm_isdst = -1;
  const std::time_t seconds = std::mktime(&tm);
  const int millis = std::atoi(line.substr(20, 3).c_str());
  return WallClock::from_time_t(seconds) + std::chrono::milliseconds(millis);
}

struct LogLine {
  WallClock::time_point at;
  std::string text;
};

// The first log line at or after `since` containing every needle.
inline std::optional<LogLine> FirstLine(const std::string& log, WallClock::time_point since,
                                        const std::vector<std::string>& needles) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    const bool match = std::all_of(needles.begin(), needles.end(), [&](const std::string& n) {
      return line.find(n) != std::string::npos;
    });
    if (!match) continue;
    const auto at = LineTime(line);
    // Log lines have millisecond resolution: allow the same millisecond.
    if (at && *at + std::chrono::milliseconds(1) >= since) return LogLine{*at, line};
  }
  return std::nullopt;
}

// The n-th (1-based) log line containing `needle`, if there are that many.
inline std::optional<LogLine> NthLine(const std::string& log, const std::string& needle, size_t n) {
  std::istringstream lines(log);
  std::string line;
  size_t seen = 0;
  while (std::getline(lines, line)) {
    if (line.find(needle) == std::string::npos || ++seen < n) continue;
    const auto at = LineTime(line);
    if (!at) return std::nullopt;
    return LogLine{*at, line};
  }
  return std::nullopt;
}

inline size_t CountLines(const std::string& log, const std::string& needle) {
  size_t count = 0;
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace domian::bench
