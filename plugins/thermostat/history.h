// History: the thermostat's recent past, for the dashboard's chart (the
// `history` command): room temperature, target and relay, sampled by the
// control loop. Bounded: one sample per kHistorySpacing at most, none
// older than kHistoryKeep, so it never holds more than kHistoryCapacity
// samples (40 bytes each: about 115 KB) however long the service runs.
// Kept in memory only: a restart or a move to another node starts a new
// history.
//
// Pure: times are passed in (tests move a fake clock on by hours).
// Not thread-safe; the service guards it with its own lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>

namespace domian::thermostat {

// One sample per 30 s at most: a room changes slower than that, and a
// day of samples is then a few thousand points, which a phone draws at once.
inline constexpr std::chrono::seconds kHistorySpacing{30};
inline constexpr std::chrono::hours kHistoryKeep{24};
inline constexpr size_t kHistoryCapacity = kHistoryKeep / kHistorySpacing + 1;
// The hours `history` may be asked for, and what it gives when not asked.
inline constexpr int kHistoryMinHours = 1;
inline constexpr int kHistoryMaxHours = 24;
static_assert(std::chrono::hours(kHistoryMaxHours) <= kHistoryKeep);

struct HistorySample {
  std::chrono::steady_clock::time_point at;
  std::optional<double> celsius;  // the temperature acted on; none: no valid reading
  double target_c = 0;
  bool relay_on = false;
};

class History {
 public:
  // Keeps `sample` if kHistorySpacing has passed since the last one kept
  // (or none is). Within the spacing, a sample with a temperature replaces
  // a last one without: the first reading after a start shows at once
  // instead of half a minute later.
  void Record(const HistorySample& sample);

  // The samples of the last `hours` before `now`, oldest first:
  // [{"t": unix ms, "temperature": °C or null, "target": °C, "relay": bool}].
  // Times are told on the wall clock (`now_unix_ms` is `now` there), so a
  // wall clock set late (a Pi without a battery) moves them all alike.
  nlohmann::json Json(std::chrono::steady_clock::time_point now, int64_t now_unix_ms,
                      std::chrono::hours hours) const;

  size_t size() const { return samples_.size(); }

 private:
  std::deque<HistorySample> samples_;
};

}  // namespace domian::thermostat
