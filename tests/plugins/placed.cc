// Test plugins for placement, one build per service (PLACED_KIND):
//  1 tally    singleton with state (a counter that must travel when it moves)
//  2 sensor   singleton that needs the trait "w1-test"
//  3 chain-a  singleton that depends on chain-b
//  4 chain-b  singleton that depends on chain-c
//  5 chain-c  singleton
// Each one crashes in start when the environment variable
// DOMIAN_TEST_CRASH_START names it, so a test can make one node a bad host
// (the plugin host process inherits domiand's environment).
#include <domian/plugin.hpp>

#include <csignal>
#include <cstdlib>
#include <string>

namespace {

#if PLACED_KIND == 1
constexpr char kName[] = "tally";
#define PLACED_TRAITS {}
#define PLACED_DEPENDS {}
#elif PLACED_KIND == 2
constexpr char kName[] = "sensor";
#define PLACED_TRAITS {"w1-test"}
#define PLACED_DEPENDS {}
#elif PLACED_KIND == 3
constexpr char kName[] = "chain-a";
#define PLACED_TRAITS {}
#define PLACED_DEPENDS {"chain-b"}
#elif PLACED_KIND == 4
constexpr char kName[] = "chain-b";
#define PLACED_TRAITS {}
#define PLACED_DEPENDS {"chain-c"}
#else
constexpr char kName[] = "chain-c";
#define PLACED_TRAITS {}
#define PLACED_DEPENDS {}
#endif

class Placed {
 public:
  Placed(domian::sdk::Host host, std::string_view /*config_json*/) : host_(host) {}
  void Start() {
    const char* crash = std::getenv("DOMIAN_TEST_CRASH_START");
    if (crash != nullptr && std::string(crash) == kName) std::raise(SIGSEGV);
    host_.Info(std::string(kName) + " started with value " + std::to_string(value_));
  }
  void Stop() {}
  std::string Invoke(std::string_view command, std::string_view /*args_json*/) {
    if (command == "inc") {
      // Acknowledged only once kept (ABI 1.1 domian.host.state/1).
      host_.SaveStateNow();
      return "{\"value\":" + std::to_string(++value_) + "}";
    }
    if (command == "get") return "{\"value\":" + std::to_string(value_) + "}";
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "no command " + std::string(command));
  }
  std::string SaveState() { return std::to_string(value_); }
  void LoadState(std::string_view state) { value_ = std::stol(std::string(state)); }
  std::optional<std::string> CheckHealth() { return std::nullopt; }

 private:
  domian::sdk::Host host_;
  long value_ = 0;
};

}  // namespace

DOMIAN_SDK_PLUGIN(Placed, (domian::sdk::PluginInfo{
                              .name = kName,
                              .version = "1.0.0",
                              .description = "test plugin for placement",
                              .placement = DOMIAN_PLACEMENT_SINGLETON,
                              .traits = PLACED_TRAITS,
                              .depends = PLACED_DEPENDS,
                              .commands = {{"inc", "{}", "adds one"}, {"get", "{}", "the value"}},
                          }))
