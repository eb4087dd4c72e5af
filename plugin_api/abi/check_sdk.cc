// SDK check: <domian/plugin.hpp> built as C++20 with -Wall -Wextra
// -pedantic -Werror and the project's warning set, with a service that uses
// every optional part of the SDK, so every template of the SDK is
// instantiated, not just parsed. It is linked as abi_probe_sdk.so, which
// check-exports and abi_probe_host check like the C probe: a C++ plugin
// must export only domian_plugin_entry too. (PluginInfo names every field:
// GCC's -Wextra warns about a designated initialiser that leaves some out.)
#include <domian/plugin.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

class SdkProbe {
 public:
  SdkProbe(domian::sdk::Host host, std::string_view config_json) : host_(host) {
    if (config_json.empty()) {
      throw domian::sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "abi-probe-sdk: empty configuration");
    }
  }

  // The liveness deadline is armed for as long as the service runs (on a
  // host without the extension both calls do nothing).
  void Start() {
    host_.Debug("abi-probe-sdk: start");
    if (host_.SetLivenessDeadline(std::chrono::seconds(1))) host_.Alive();
  }
  void Stop() {
    host_.SetLivenessDeadline(std::chrono::milliseconds(0));
    host_.Debug("abi-probe-sdk: stop");
  }

  // Plugin extensions (ABI 1.1): only an empty configuration is valid.
  static std::vector<std::string> ValidateConfig(std::string_view config_json) {
    if (config_json.find(':') == std::string_view::npos) return {};
    return {": abi-probe-sdk takes no settings"};
  }
  static void MakeSafe(domian::sdk::Host host, std::string_view config_json) {
    host.Debug("abi-probe-sdk: safe with " + std::string(config_json));
  }

  std::string Invoke(std::string_view command, std::string_view args_json) {
    if (command == "echo") {
      // Every call counts as a change here: marked, and saved before the
      // reply (both nothing on a host without the extension).
      host_.MarkStateDirty();
      host_.SaveStateNow();
      // And the echo is an entity's state (nothing on a host without
      // the extension).
      host_.PublishEntityState("echo", "last", args_json);
      host_.EntitiesChanged();
      return std::string(args_json);
    }
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND,
                             "abi-probe-sdk: unknown command: " + std::string(command));
  }

  std::string SaveState() { return state_; }
  void LoadState(std::string_view state) { state_ = std::string(state); }
  std::optional<std::string> CheckHealth() { return std::nullopt; }
  std::string DescribeEntities() {
    return R"({"entities": [{"id": "echo", "platform": "sensor", "name": null,)"
           R"( "states": {"state_topic": "last"}}]})";
  }

 private:
  domian::sdk::Host host_;
  std::string state_ = "abi-probe-sdk state 1";
};

}  // namespace

DOMIAN_SDK_PLUGIN(SdkProbe, (domian::sdk::PluginInfo{
                                .name = "abi-probe-sdk",
                                .version = "1.0.0",
                                .description = "plugin SDK probe (plugin_api/abi/)",
                                .placement = DOMIAN_PLACEMENT_PER_NODE,
                                .traits = {},
                                .depends = {},
                                .commands = {{"echo", "any JSON document",
                                              "replies with its arguments"}}}))
