// ConfigProblems: every problem with a thermostat configuration, each with
// the path of the value it is about ("hysteresis_c", "sensors.1",
// "relay.backend"). Collecting them all, rather than stopping at the first,
// lets `domiand --check-config` name every mistake in one run, and lets
// create and validate share one parser so that they can never disagree.
#pragma once

#include <domian/plugin_json.hpp>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace domian::thermostat {

class ConfigProblems {
 public:
  void Add(std::string key, std::string message) {
    problems_.emplace_back(std::move(key), std::move(message));
  }
  bool empty() const { return problems_.empty(); }

  // "<key>: <message>" each: what the plugin ABI's validate reports (an
  // empty key is the whole configuration).
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    for (const auto& [key, message] : problems_) lines.push_back(key + ": " + message);
    return lines;
  }
  // One message for create: "thermostat config: '<key>' <message>; ...".
  std::string Joined() const {
    std::string text;
    for (const auto& [key, message] : problems_) {
      text += text.empty() ? "thermostat config: " : "; ";
      text += key.empty() ? message : "'" + key + "' " + message;
    }
    return text;
  }
  void ThrowIfAny() const {
    if (!empty()) throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, Joined());
  }

  // Readers of one value: nullopt (and a problem) when it does not fit.
  std::optional<int64_t> Integer(const std::string& key, const nlohmann::json& value, int64_t low,
                                 int64_t high) {
    if (value.is_number_integer() && value.get<int64_t>() >= low && value.get<int64_t>() <= high) {
      return value.get<int64_t>();
    }
    Add(key, "must be a whole number from " + std::to_string(low) + " to " + std::to_string(high) +
                 ", not " + value.dump());
    return std::nullopt;
  }
  std::optional<double> Number(const std::string& key, const nlohmann::json& value, double low,
                               double high) {
    if (value.is_number() && value.get<double>() >= low && value.get<double>() <= high) {
      return value.get<double>();
    }
    Add(key, "must be a number from " + sdk::ShownNumber(low) + " to " + sdk::ShownNumber(high) +
                 ", not " + value.dump());
    return std::nullopt;
  }
  std::optional<std::string> String(const std::string& key, const nlohmann::json& value) {
    if (value.is_string() && !value.get<std::string>().empty()) return value.get<std::string>();
    Add(key, "must be a non-empty string, not " + value.dump());
    return std::nullopt;
  }
  std::optional<bool> Bool(const std::string& key, const nlohmann::json& value) {
    if (value.is_boolean()) return value.get<bool>();
    Add(key, "must be true or false, not " + value.dump());
    return std::nullopt;
  }

 private:
  std::vector<std::pair<std::string, std::string>> problems_;
};

}  // namespace domian::thermostat
