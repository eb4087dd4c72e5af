// "hello": the smallest useful plugin, with the C++ SDK from domian-dev.
#include <domian/plugin.hpp>

#include <string>

namespace {

class Hello {
 public:
  Hello(domian::sdk::Host host, std::string_view /*config_json*/) : host_(host) {}
  void Start() { host_.Info("hello started"); }
  void Stop() {}
  std::string Invoke(std::string_view command, std::string_view /*args_json*/) {
    if (command == "greet") return "{\"greeting\":\"hello from an out-of-tree plugin\"}";
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "no command " + std::string(command));
  }
  std::string SaveState() { return ""; }
  void LoadState(std::string_view /*state*/) {}
  std::optional<std::string> CheckHealth() { return std::nullopt; }

 private:
  domian::sdk::Host host_;
};

}  // namespace

DOMIAN_SDK_PLUGIN(Hello, (domian::sdk::PluginInfo{
                             .name = "hello",
                             .version = "1.0.0",
                             .description = "built outside domian's tree against domian-dev",
                             .placement = DOMIAN_PLACEMENT_SINGLETON,
                             .traits = {},
                             .depends = {},
                             .commands = {{"greet", "{}", "says hello"}},
                         }))
