#include "plugins/thermostat/history.h"

namespace domian::thermostat {

void History::Record(const HistorySample& sample) {
  while (!samples_.empty() && sample.at - samples_.front().at > kHistoryKeep) samples_.pop_front();
  if (!samples_.empty() && sample.at - samples_.back().at < kHistorySpacing) {
    if (!samples_.back().celsius && sample.celsius) samples_.back() = sample;
    return;
  }
  if (samples_.size() >= kHistoryCapacity) samples_.pop_front();
  samples_.push_back(sample);
}

nlohmann::json History::Json(std::chrono::steady_clock::time_point now, int64_t now_unix_ms,
                             std::chrono::hours hours) const {
  nlohmann::json list = nlohmann::json::array();
  for (const HistorySample& sample : samples_) {
    if (now - sample.at > hours) continue;
    const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(now - sample.at).count();
    list.push_back({{"t", now_unix_ms - ago},
                    {"temperature", sample.celsius ? nlohmann::json(*sample.celsius) : nlohmann::json(nullptr)},
                    {"target", sample.target_c},
                    {"relay", sample.relay_on}});
  }
  return list;
}

}  // namespace domian::thermostat
