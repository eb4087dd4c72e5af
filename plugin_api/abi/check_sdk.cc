// SDK check: <domian/plugin.hpp> built as C++20 with -Wall -Wextra
// -pedantic -Werror and the project's warning set, with a service that uses
// every optional part of the SDK, so every template of the SDK is
// instantiated, not just parsed. It is linked as abi_probe_sdk.so, which
// check-exports and abi_probe_host check like the C probe: a C++ plugin
// must export only domian_plugin_entry too. (PluginInfo names every field:
// GCC's -Wextra warns about a designated initialiser that leaves some out.)
#include <domian/plugin.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace {

class SdkProbe {
 public:
  SdkProbe(domian::sdk::Host host, std::string_view config_json) : host_(host) {
    if (config_json.empty()) {
      throw domian::sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "abi-probe-sdk: empty configuration");
    }
  }

  void Start() { host_.Debug("abi-probe-sdk: start"); }
  void Stop() { host_.Debug("abi-probe-sdk: stop"); }

  std::string Invoke(std::string_view command, std::string_view args_json) {
    if (command == "echo") return std::string(args_json);
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND,
                             "abi-probe-sdk: unknown command: " + std::string(command));
  }

  std::string SaveState() { return state_; }
  void LoadState(std::string_view state) { state_ = std::string(state); }
  std::optional<std::string> CheckHealth() { return std::nullopt; }

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
