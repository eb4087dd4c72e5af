// Optional helpers for C++ plugins that read their configuration, command
// arguments and saved state with nlohmann-json (header-only, C++20, on top
// of <domian/plugin.hpp>; not part of the ABI). Every helper reports bad
// input as domian::sdk::Error with a message naming what was wrong, so
// users see "lights config: 'bridge' must be ..." rather than a parser's
// exception text.
#ifndef DOMIAN_PLUGIN_JSON_HPP
#define DOMIAN_PLUGIN_JSON_HPP

#include <domian/plugin.hpp>

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace domian::sdk {

// `value` as people write it: 20, 0.5, 1e+06.
inline std::string ShownNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// A command's arguments: a JSON object ({} when empty).
inline nlohmann::json ParseArgs(std::string_view text) {
  if (text.empty()) return nlohmann::json::object();
  nlohmann::json args = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (args.is_discarded() || !args.is_object()) {
    throw Error(DOMIAN_ERR_INVALID_ARGUMENT, "arguments must be a JSON object");
  }
  return args;
}

// Reading `service`'s configuration (node.yaml's services.<name>.config,
// handed over as JSON).
class ConfigReader {
 public:
  // Throws unless `text` is a JSON object ({} when empty).
  ConfigReader(std::string service, std::string_view text) : service_(std::move(service)) {
    config_ = nlohmann::json::parse(text.empty() ? std::string_view("{}") : text, nullptr,
                                    /*allow_exceptions=*/false);
    if (config_.is_discarded() || !config_.is_object()) {
      throw Error(DOMIAN_ERR_INVALID_ARGUMENT, service_ + " config: must be a mapping of keys");
    }
  }

  const nlohmann::json& json() const { return config_; }

  // "<service> config: '<key>' <message>".
  [[noreturn]] void Fail(const std::string& key, const std::string& message) const {
    throw Error(DOMIAN_ERR_INVALID_ARGUMENT, service_ + " config: '" + key + "' " + message);
  }

  // A whole number from `low` to `high`.
  int64_t Integer(const std::string& key, int64_t low, int64_t high) const {
    const nlohmann::json& value = config_.at(key);
    if (!value.is_number_integer() || value.get<int64_t>() < low || value.get<int64_t>() > high) {
      Fail(key, "must be a whole number from " + std::to_string(low) + " to " +
                    std::to_string(high) + ", not " + value.dump());
    }
    return value.get<int64_t>();
  }

  // Any number from `low` to `high`.
  double Number(const std::string& key, double low, double high) const {
    const nlohmann::json& value = config_.at(key);
    if (!value.is_number() || value.get<double>() < low || value.get<double>() > high) {
      Fail(key, "must be a number from " + ShownNumber(low) + " to " + ShownNumber(high) +
                    ", not " + value.dump());
    }
    return value.get<double>();
  }

  // A string (non-empty unless `allow_empty`).
  std::string String(const std::string& key, bool allow_empty = false) const {
    const nlohmann::json& value = config_.at(key);
    if (!value.is_string() || (!allow_empty && value.get<std::string>().empty())) {
      Fail(key, std::string("must be a") + (allow_empty ? "" : " non-empty") + " string, not " +
                    value.dump());
    }
    return value.get<std::string>();
  }

 private:
  std::string service_;
  nlohmann::json config_;
};

// A saved state's JSON object with a "format" number this plugin knows
// (at most `newest`): INVALID_ARGUMENT when it does not parse,
// NOT_SUPPORTED when it comes from a newer plugin.
inline nlohmann::json ParseSavedState(std::string_view text, int newest, const std::string& service) {
  nlohmann::json state = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object() || !state.contains("format") ||
      !state["format"].is_number_integer()) {
    throw Error(DOMIAN_ERR_INVALID_ARGUMENT, "the saved " + service + " state is not valid JSON");
  }
  if (state["format"].get<int>() > newest) {
    throw Error(DOMIAN_ERR_NOT_SUPPORTED, "the saved " + service + " state has format " +
                                               state["format"].dump() + ", newer than this plugin's " +
                                               std::to_string(newest));
  }
  return state;
}

}  // namespace domian::sdk

#endif  // DOMIAN_PLUGIN_JSON_HPP
