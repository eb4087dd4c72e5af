// A test plugin with the C++ SDK for ABI 1.1 entities: service
// "entity-probe". It describes one light, "lamp", and more entities as it
// is told to add them, and publishes states when asked, so the tests see
// what reaches domiand's EntitySink in both isolation modes.
//
// Settings (all optional):
//   describe: fail | huge    describe throws, or writes more than
//                            DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES
//   publish_in_create: true  create publishes a state (the host refuses:
//                            not started); "create_publish" answers how
// Commands (replies are JSON):
//   set {"value": V}         publishes lamp's "state" as V: {"status": S}
//   publish {"entity", "state", "value"} or {..., "bytes": N}: publishes
//                            V, or N bytes of 'x', and answers the
//                            domian_status publish_state returned
//   add {"entity": E}        adds entity E and says the entities changed
//                            (from inside this invoke)
//   describes                {"count": describes so far, "during_invoke":
//                            describes that ran inside an invoke}
//   create_publish           {"status": what publish_state said in create}
//   die                      kills its own process (SIGKILL), as a crash
#include <domian/plugin.hpp>

#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

class EntityProbe {
 public:
  EntityProbe(domian::sdk::Host host, std::string_view config_json) : host_(host) {
    const json config = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
    if (config.is_object()) {
      describe_ = config.value("describe", "");
      if (config.value("publish_in_create", false)) create_publish_ = Publish("lamp", "state", "x");
    }
  }
  void Start() {}
  void Stop() {}

  std::string Invoke(std::string_view command, std::string_view args_json) {
    const json args = json::parse(args_json, nullptr, /*allow_exceptions=*/false);
    in_invoke_ = true;
    struct Leave {
      std::atomic<bool>& flag;
      ~Leave() { flag = false; }
    } leave{in_invoke_};
    if (command == "set") {
      return Status(Publish("lamp", "state", args.value("value", "")));
    }
    if (command == "publish") {
      const std::string value = args.contains("bytes")
                                    ? std::string(args["bytes"].get<size_t>(), 'x')
                                    : args.value("value", "");
      return Status(Publish(args.value("entity", ""), args.value("state", ""), value));
    }
    if (command == "add") {
      entities_.push_back(args.value("entity", ""));
      host_.EntitiesChanged();
      return "{}";
    }
    if (command == "describes") {
      return json{{"count", describes_.load()}, {"during_invoke", describes_in_invoke_.load()}}
          .dump();
    }
    if (command == "create_publish") return Status(create_publish_);
    if (command == "die") ::raise(SIGKILL);
    throw domian::sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "no command " + std::string(command));
  }

  std::string DescribeEntities() {
    ++describes_;
    if (in_invoke_) ++describes_in_invoke_;
    if (describe_ == "fail") throw domian::sdk::Error(DOMIAN_ERR_FAILED, "describe fails as asked");
    if (describe_ == "huge") return std::string(DOMIAN_ENTITIES_MAX_DESCRIPTION_BYTES + 1, ' ');
    json list = json::array();
    list.push_back({{"id", "lamp"},
                    {"platform", "light"},
                    {"name", nullptr},
                    {"config", {{"schema", "json"}}},
                    {"states", {{"state_topic", "state"}}},
                    {"commands", {{"command_topic", {{"command", "set"}, {"arg", "value"}}}}}});
    for (const std::string& id : entities_) {
      list.push_back({{"id", id},
                      {"platform", "sensor"},
                      {"name", id},
                      {"states", {{"state_topic", "value"}}}});
    }
    return json{{"entities", list}}.dump();
  }

 private:
  // publish_state's own answer, which the SDK's bool hides.
  domian_status Publish(const std::string& entity, const std::string& state,
                        const std::string& value) {
    const auto* entities = static_cast<const domian_host_entities_ext*>(
        host_.Extension(DOMIAN_HOST_EXT_ENTITIES));
    if (entities == nullptr) return DOMIAN_ERR_NOT_SUPPORTED;
    return entities->publish_state(host_.raw(), entity.c_str(), state.c_str(),
                                   reinterpret_cast<const uint8_t*>(value.data()), value.size());
  }
  static std::string Status(domian_status status) {
    return "{\"status\":" + std::to_string(status) + "}";
  }

  domian::sdk::Host host_;
  std::string describe_;
  domian_status create_publish_ = -1;
  std::vector<std::string> entities_;
  std::atomic<bool> in_invoke_{false};
  std::atomic<int> describes_{0};
  std::atomic<int> describes_in_invoke_{0};
};

}  // namespace

DOMIAN_SDK_PLUGIN(EntityProbe, (domian::sdk::PluginInfo{
                                   .name = "entity-probe",
                                   .version = "0.3.0",
                                   .description = "test plugin with Home Assistant entities",
                                   .placement = DOMIAN_PLACEMENT_PER_NODE,
                                   .traits = {},
                                   .depends = {},
                                   .commands = {{"set", "{value}", "sets the lamp"},
                                                {"publish", "{entity, state, value|bytes}",
                                                 "publishes a state"},
                                                {"add", "{entity}", "adds an entity"},
                                                {"describes", "{}", "describe's calls"},
                                                {"create_publish", "{}",
                                                 "publish_state's answer in create"},
                                                {"die", "{}", "kills its process"}},
                               }))
