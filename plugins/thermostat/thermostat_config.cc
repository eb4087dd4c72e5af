#include "plugins/thermostat/thermostat_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

namespace domian::thermostat {
namespace {

using nlohmann::json;
using Millis = std::chrono::milliseconds;

// Limits of what the config may say, in its units.
constexpr double kMinHysteresisC = 0.05;
constexpr double kMaxHysteresisC = 5.0;
constexpr int64_t kMaxMinTimeS = 3600;         // min_on_s, min_off_s
constexpr int64_t kMinMaxOnS = 60;             // max_on_s
constexpr int64_t kMaxMaxOnS = 24 * 3600;
constexpr int64_t kMinSensorAgeS = 5;          // max_sensor_age_s
constexpr int64_t kMaxSensorAgeS = 3600;
constexpr int64_t kMinControlPeriodMs = 100;
constexpr int64_t kMaxControlPeriodMs = 60000;
constexpr int64_t kMaxReadIntervalMs = 600000;
// The plausible band must hold every target a person can set, and lies
// within what a DS18B20 can read.
constexpr double kSensorMinC = -55.0;
constexpr double kSensorMaxC = 125.0;
constexpr double kMinOutlierC = 0.5;  // below the sensors' own tolerance (±0.5 °C)
constexpr double kMaxOutlierC = 50.0;
constexpr double kMinDropCPerMin = 0.1;
constexpr double kMaxDropCPerMin = 60.0;
// Shorter than a few minutes, the stuck-cold alarm would fire while the
// boiler is still warming up.
constexpr int64_t kMinNoRiseAfterS = 300;
constexpr int64_t kMaxNoRiseAfterS = 24 * 3600;
constexpr double kMinMinRiseC = 0.1;
constexpr double kMaxMinRiseC = 10.0;
constexpr size_t kSensorIdLength = 15;  // "28-" and 12 hex digits

constexpr std::array<const char*, 20> kKeys = {
    "sysfs_root",   "sensors",          "combine",           "target_c",
    "hysteresis_c", "min_on_s",         "min_off_s",         "max_on_s",
    "max_sensor_age_s", "mode",         "schedule",          "relay",
    "control_period_ms", "read_interval_ms", "plausible_min_c", "plausible_max_c",
    "outlier_c",    "max_drop_c_per_min", "no_rise_after_s", "min_rise_c"};

bool IsSensorId(const std::string& id) {
  return id.size() == kSensorIdLength && id.rfind(kSensorPrefix, 0) == 0 &&
         std::all_of(id.begin() + 3, id.end(), [](unsigned char c) { return std::isxdigit(c); });
}

// Levenshtein distance, for "did you mean": a mistyped key is the most
// common config mistake, and a silently ignored one the most harmful.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitution = a[i - 1] == b[j - 1] ? size_t{0} : size_t{1};
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string UnknownKeyMessage(const std::string& key) {
  // Two edits cover a swapped pair of letters ("targte_c") or one missed.
  constexpr size_t kMaxSuggestDistance = 2;
  std::string message = "is not a thermostat setting";
  const char* closest = nullptr;
  size_t best = kMaxSuggestDistance + 1;
  for (const char* known : kKeys) {
    const size_t distance = EditDistance(key, known);
    if (distance < best) {
      best = distance;
      closest = known;
    }
  }
  if (closest != nullptr) return message + " (did you mean " + closest + "?)";
  message += " (";
  for (size_t i = 0; i < kKeys.size(); ++i) message += (i == 0 ? "" : ", ") + std::string(kKeys[i]);
  return message + ")";
}

std::vector<std::string> ReadSensors(const json& value, ConfigProblems& problems) {
  std::vector<std::string> ids;
  if (value == "auto") return ids;
  if (!value.is_array() || value.empty()) {
    problems.Add("sensors", "must be auto or a list of sensor ids (28-xxxxxxxxxxxx), not " + value.dump());
    return ids;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string key = "sensors." + std::to_string(i);
    if (!value[i].is_string() || !IsSensorId(value[i].get<std::string>())) {
      problems.Add(key, value[i].dump() + " is not a DS18B20 id (28- and 12 hex digits)");
    } else if (std::find(ids.begin(), ids.end(), value[i].get<std::string>()) != ids.end()) {
      problems.Add(key, value[i].dump() + " is listed twice");
    } else {
      ids.push_back(value[i].get<std::string>());
    }
  }
  return ids;
}

// ParseSchedule's "schedule[2]: days: ..." as key "schedule.2".
void AddScheduleProblem(const std::string& message, ConfigProblems& problems) {
  const size_t close = message.find("]: ");
  if (message.rfind("schedule[", 0) == 0 && close != std::string::npos) {
    problems.Add("schedule." + message.substr(9, close - 9), message.substr(close + 3));
  } else {
    problems.Add("schedule", message);
  }
}

}  // namespace

ThermostatConfig ThermostatConfig::Read(std::string_view text, ConfigProblems& problems) {
  ThermostatConfig parsed;
  const json config = json::parse(text.empty() ? std::string_view("{}") : text, nullptr,
                                  /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    problems.Add("", "must be a mapping of keys");
    return parsed;
  }
  std::string combine = "median";
  auto seconds = [&](const std::string& key, const json& value, int64_t low, int64_t high,
                     Seconds fallback) {
    return Seconds(problems.Integer(key, value, low, high).value_or(fallback.count()));
  };
  for (const auto& [key, value] : config.items()) {
    if (key == "sysfs_root") {
      parsed.sysfs_root = problems.String(key, value).value_or(parsed.sysfs_root);
    } else if (key == "sensors") {
      parsed.sensors = ReadSensors(value, problems);
    } else if (key == "combine") {
      combine = problems.String(key, value).value_or(combine);
    } else if (key == "target_c") {
      parsed.control.target_c =
          problems.Number(key, value, kMinTargetC, kMaxTargetC).value_or(parsed.control.target_c);
    } else if (key == "hysteresis_c") {
      parsed.control.hysteresis_c = problems.Number(key, value, kMinHysteresisC, kMaxHysteresisC)
                                        .value_or(parsed.control.hysteresis_c);
    } else if (key == "min_on_s") {
      parsed.control.min_on = seconds(key, value, 0, kMaxMinTimeS, parsed.control.min_on);
    } else if (key == "min_off_s") {
      parsed.control.min_off = seconds(key, value, 0, kMaxMinTimeS, parsed.control.min_off);
    } else if (key == "max_on_s") {
      parsed.control.max_on = seconds(key, value, kMinMaxOnS, kMaxMaxOnS, parsed.control.max_on);
    } else if (key == "max_sensor_age_s") {
      parsed.combine.max_age =
          seconds(key, value, kMinSensorAgeS, kMaxSensorAgeS, parsed.combine.max_age);
    } else if (key == "mode") {
      const auto mode = value.is_string() ? ParseMode(value.get<std::string>()) : std::nullopt;
      if (mode) {
        parsed.control.mode = *mode;
      } else {
        problems.Add(key, "must be heat or off, not " + value.dump());
      }
    } else if (key == "schedule") {
      try {
        parsed.schedule = ParseSchedule(value);
      } catch (const sdk::Error& e) {
        AddScheduleProblem(e.what(), problems);
      }
    } else if (key == "relay") {
      parsed.relay = ParseRelayConfig(value, problems, UnknownRelayKeys::kRefuse);
    } else if (key == "control_period_ms") {
      parsed.control_period = Millis(problems.Integer(key, value, kMinControlPeriodMs, kMaxControlPeriodMs)
                                         .value_or(parsed.control_period.count()));
    } else if (key == "read_interval_ms") {
      parsed.read_interval = Millis(problems.Integer(key, value, 0, kMaxReadIntervalMs)
                                        .value_or(parsed.read_interval.count()));
    } else if (key == "plausible_min_c") {
      parsed.combine.plausible_min_c = problems.Number(key, value, kSensorMinC, kMinTargetC)
                                           .value_or(parsed.combine.plausible_min_c);
    } else if (key == "plausible_max_c") {
      parsed.combine.plausible_max_c = problems.Number(key, value, kMaxTargetC, kSensorMaxC)
                                           .value_or(parsed.combine.plausible_max_c);
    } else if (key == "outlier_c") {
      parsed.combine.outlier_c = problems.Number(key, value, kMinOutlierC, kMaxOutlierC)
                                     .value_or(parsed.combine.outlier_c);
    } else if (key == "max_drop_c_per_min") {
      parsed.max_drop_c_per_min = problems.Number(key, value, kMinDropCPerMin, kMaxDropCPerMin)
                                      .value_or(parsed.max_drop_c_per_min);
    } else if (key == "no_rise_after_s") {
      if (value.is_number_integer() &&
          (value.get<int64_t>() == 0 ||
           (value.get<int64_t>() >= kMinNoRiseAfterS && value.get<int64_t>() <= kMaxNoRiseAfterS))) {
        parsed.control.no_rise_after = Seconds(value.get<int64_t>());
      } else {
        problems.Add(key, "must be 0 (no stuck-cold alarm) or a whole number from " +
                              std::to_string(kMinNoRiseAfterS) + " to " +
                              std::to_string(kMaxNoRiseAfterS) + ", not " + value.dump());
      }
    } else if (key == "min_rise_c") {
      parsed.control.min_rise_c = problems.Number(key, value, kMinMinRiseC, kMaxMinRiseC)
                                      .value_or(parsed.control.min_rise_c);
    } else {
      problems.Add(key, UnknownKeyMessage(key));
    }
  }
  if (!config.contains("relay")) {
    problems.Add("relay", "is missing: {backend: gpiod, line: NAME} or {backend: file, path: PATH}");
  }
  if (parsed.control.max_on < parsed.control.min_on) {
    problems.Add("max_on_s", "must not be shorter than min_on_s");
  }
  if (combine == "median") {
    parsed.combine.combine = Combine::kMedian;
  } else if (combine == "mean") {
    parsed.combine.combine = Combine::kMean;
  } else if (combine == "min") {
    parsed.combine.combine = Combine::kMin;
  } else if (combine == "max") {
    parsed.combine.combine = Combine::kMax;
  } else if (IsSensorId(combine) &&
             (parsed.sensors.empty() ||
              std::find(parsed.sensors.begin(), parsed.sensors.end(), combine) != parsed.sensors.end())) {
    parsed.combine.combine = Combine::kOne;
    parsed.combine.one = combine;
  } else {
    problems.Add("combine", "must be median, mean, min, max or one of the sensors' ids, not \"" +
                                combine + "\"");
  }
  return parsed;
}

ThermostatConfig ThermostatConfig::Parse(std::string_view text) {
  ConfigProblems problems;
  ThermostatConfig parsed = Read(text, problems);
  problems.ThrowIfAny();
  return parsed;
}

std::vector<std::string> ThermostatConfig::Problems(std::string_view text) {
  ConfigProblems problems;
  (void)Read(text, problems);
  return problems.Lines();
}

RelayConfig ThermostatConfig::SafeStateRelay(std::string_view text) {
  const json config = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ConfigProblems problems;
  RelayConfig relay;
  if (config.is_discarded() || !config.is_object()) {
    problems.Add("", "is not a JSON object, so the relay to switch off is unknown");
  } else if (!config.contains("relay")) {
    problems.Add("relay", "is missing, so there is no relay to switch off");
  } else {
    relay = ParseRelayConfig(config["relay"], problems, UnknownRelayKeys::kIgnore);
  }
  problems.ThrowIfAny();
  return relay;
}

}  // namespace domian::thermostat
