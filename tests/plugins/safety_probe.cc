// A test plugin with the C++ SDK for ABI 1.1: service "safety-probe". It
// checks its configuration (ValidateConfig), has a safe state (MakeSafe)
// and arms a liveness deadline, and can be told to misbehave in each, so
// the tests see what domiand and domian-plugin-host make of it.
//
// Settings (all optional):
//   level: 0..10          a number to check (mode is then required)
//   mode: text            any text
//   sensors: [{id: text}] each id a non-empty text
//   liveness_ms: N        start arms a liveness deadline of N ms
//   crash_in: validate | make_safe    abort() there
//   hang_in: validate | make_safe     never return from there
//   fail_safe: true       make_safe fails with a message
// Any other key is a problem. MakeSafe writes the configuration it got to
// <state_dir>/safe-marker, so a test sees that it ran and with what.
#include <domian/plugin.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;

json Parse(std::string_view config_json) {
  return json::parse(config_json, nullptr, /*allow_exceptions=*/false);
}

// Misbehaves as asked for `where`.
void Misbehave(const json& config, const char* where) {
  if (!config.is_object()) return;
  if (config.value("crash_in", "") == where) std::abort();
  if (config.value("hang_in", "") == where) {
    while (true) std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

class SafetyProbe {
 public:
  SafetyProbe(domian::sdk::Host host, std::string_view config_json) : host_(host) {
    const json config = Parse(config_json);
    if (config.is_object() && config.contains("liveness_ms")) {
      liveness_ms_ = config["liveness_ms"].get<int64_t>();
    }
  }

  void Start() {
    if (liveness_ms_ > 0 && !host_.SetLivenessDeadline(std::chrono::milliseconds(liveness_ms_))) {
      throw domian::sdk::Error(DOMIAN_ERR_FAILED, "the host refused a liveness deadline of " +
                                                      std::to_string(liveness_ms_) + " ms");
    }
  }
  void Stop() {}

  std::string Invoke(std::string_view command, std::string_view args_json) {
    if (command == "alive") {
      host_.Alive();
      return "{}";
    }
    if (command == "arm") {
      const json args = Parse(args_json);
      const int64_t ms = args.is_object() ? args.value("ms", int64_t{0}) : 0;
      const bool armed = host_.SetLivenessDeadline(std::chrono::milliseconds(ms));
      return json{{"armed", armed}}.dump();
    }
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "no command " + std::string(command));
  }

  static std::vector<std::string> ValidateConfig(std::string_view config_json) {
    const json config = Parse(config_json);
    if (!config.is_object()) return {": must be a mapping of settings"};
    Misbehave(config, "validate");
    static const std::set<std::string> kKnown = {"level",   "mode",     "sensors",  "liveness_ms",
                                                 "crash_in", "hang_in", "fail_safe"};
    std::vector<std::string> problems;
    for (const auto& [key, value] : config.items()) {
      if (!kKnown.contains(key)) problems.push_back(key + ": unknown setting");
    }
    if (config.contains("level")) {
      const json& level = config["level"];
      if (!level.is_number_integer() || level.get<int64_t>() < 0 || level.get<int64_t>() > 10) {
        problems.push_back("level: must be a whole number from 0 to 10, not " + level.dump());
      }
      if (!config.contains("mode")) problems.push_back("mode: required with level");
    }
    if (config.contains("sensors")) {
      const json& sensors = config["sensors"];
      if (!sensors.is_array()) {
        problems.push_back("sensors: must be a list");
      } else {
        for (size_t i = 0; i < sensors.size(); ++i) {
          const json& sensor = sensors[i];
          if (!sensor.is_object() || !sensor.contains("id") || !sensor["id"].is_string() ||
              sensor["id"].get<std::string>().empty()) {
            problems.push_back("sensors." + std::to_string(i) + ".id: must be a non-empty text");
          }
        }
      }
    }
    return problems;
  }

  static void MakeSafe(domian::sdk::Host host, std::string_view config_json) {
    const json config = Parse(config_json);
    Misbehave(config, "make_safe");
    if (config.is_object() && config.value("fail_safe", false)) {
      throw domian::sdk::Error(DOMIAN_ERR_FAILED, "the relay did not answer");
    }
    std::ofstream(std::string(host.state_dir()) + "/safe-marker") << config_json;
    host.Info("safe-probe: safe");
  }

 private:
  domian::sdk::Host host_;
  int64_t liveness_ms_ = 0;
};

}  // namespace

DOMIAN_SDK_PLUGIN(SafetyProbe, (domian::sdk::PluginInfo{
                                   .name = "safety-probe",
                                   .version = "1.1.0",
                                   .description = "test plugin for the ABI 1.1 extensions",
                                   .placement = DOMIAN_PLACEMENT_SINGLETON,
                                   .traits = {},
                                   .depends = {},
                                   .commands = {{"alive", "{}", "the loop made progress"},
                                                {"arm", "{\"ms\": N}",
                                                 "sets the liveness deadline"}}}))
