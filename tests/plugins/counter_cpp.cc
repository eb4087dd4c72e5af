// A test plugin with the C++ SDK: service "counter-cpp". Exceptions of
// every kind must come out as error codes, never cross the ABI. Its
// "sleep" command stands in for a slow device (or a person to wait for).
#include <domian/plugin.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

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
  std::string Invoke(std::string_view command, std::string_view args_json) {
    if (command == "inc") {
      // Kept before the reply (ABI 1.1 domian.host.state/1).
      host_.SaveStateNow();
      return "{\"value\":" + std::to_string(++value_) + "}";
    }
    if (command == "save_elsewhere") {
      // save_now from a thread that is not running this invoke: refused.
      bool taken = true;
      std::thread other([&] { taken = host_.SaveStateNow(); });
      other.join();
      return std::string("{\"taken\":") + (taken ? "true" : "false") + "}";
    }
    if (command == "mark") {
      // Changed, and only marked so: saved soon, not before the reply.
      host_.MarkStateDirty();
      return "{\"value\":" + std::to_string(++value_) + "}";
    }
    if (command == "get") return "{\"value\":" + std::to_string(value_) + "}";
    if (command == "boom") throw std::logic_error("boom as asked");
    if (command == "weird") throw 42;
    if (command == "sleep") {
      std::this_thread::sleep_for(std::chrono::milliseconds(SleepMillis(args_json)));
      return "{\"value\":" + std::to_string(value_) + "}";
    }
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "no command " + std::string(command));
  }
  std::string SaveState() { return std::to_string(value_); }
  void LoadState(std::string_view state) { value_ = std::stol(std::string(state)); }
  std::optional<std::string> CheckHealth() {
    if (value_ < 0) return "negative";
    return std::nullopt;
  }

 private:
  // {"ms": N}, at most a minute.
  static long SleepMillis(std::string_view args_json) {
    constexpr long kMaxSleepMillis = 60000;
    long ms = 0;
    const size_t key = args_json.find("\"ms\"");
    const size_t colon = key == std::string_view::npos ? key : args_json.find(':', key);
    if (colon != std::string_view::npos) {
      const size_t digits = args_json.find_first_not_of(' ', colon + 1);
      if (digits != std::string_view::npos) {
        std::from_chars(args_json.data() + digits, args_json.data() + args_json.size(), ms);
      }
    }
    return std::clamp(ms, 0L, kMaxSleepMillis);
  }

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
                                            {"mark", "{}", "adds one, saved soon"},
                                            {"save_elsewhere", "{}",
                                             "asks save_now from another thread"},
                                            {"get", "{}", "the value"},
                                            {"boom", "{}", "throws"},
                                            {"sleep", "{\"ms\": N}",
                                             "answers after N ms (at most 60000)"}},
                           }))
