// A test plugin with the C++ SDK: service "counter-cpp". Exceptions of
// every kind must come out as error codes, never cross the ABI.
#include <domian/plugin.hpp>

#include <atomic>
#include <stdexcept>
#include <string>

namespace {

class Counter {
 public:
  Counter(domian::sdk::Host host, std::string_view config_json) : host_(host) {
    if (config_json.find("\"throw\"") != std::string_view::npos) {
      throw std::runtime_error("config asked to throw");
    }
  }
  void Start() { host_.Info("counter started"); }
  void Stop() {}
  std::string Invoke(std::string_view command, std::string_view /*args_json*/) {
    if (command == "inc") return "{\"value\":" + std::to_string(++value_) + "}";
    if (command == "get") return "{\"value\":" + std::to_string(value_) + "}";
    if (command == "boom") throw std::logic_error("boom as asked");
    if (command == "weird") throw 42;
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "no command " + std::string(command));
  }
  std::string SaveState() { return std::to_string(value_); }
  void LoadState(std::string_view state) { value_ = std::stol(std::string(state)); }
  std::optional<std::string> CheckHealth() {
    if (value_ < 0) return "negative";
    return std::nullopt;
  }

 private:
  domian::sdk::Host host_;
  long value_ = 0;
};

}  // namespace

DOMIAN_SDK_PLUGIN(Counter, (domian::sdk::PluginInfo{
                               .name = "counter-cpp",
                               .version = "2.1.0",
                               .description = "test plugin with the C++ SDK",
                               .placement = DOMIAN_PLACEMENT_SINGLETON,
                               .traits = {},
                               .depends = {"echo-c"},
                               .commands = {{"inc", "{}", "adds one"},
                                            {"get", "{}", "the value"},
                                            {"boom", "{}", "throws"}},
                           }))
