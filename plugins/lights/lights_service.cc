#include "plugins/lights/lights_service.h"

#include <domian/plugin_json.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "plugins/lights/bridge_finder.h"

namespace domian::lights {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kPairingFile[] = "pairing.json";
constexpr size_t kHostNameMax = 256;

std::string HostName() {
  char name[kHostNameMax] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "node";
  return name;
}

bool WaitArg(const json& args) {
  const auto it = args.find("wait");
  if (it == args.end()) return true;
  if (!it->is_boolean()) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "wait must be true or false");
  }
  return it->get<bool>();
}

// A light or group is named by its id ("3", or 3) or by its name.
std::string IdOrName(const json& value, const char* what) {
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  if (value.is_string() && !value.get<std::string>().empty()) return value.get<std::string>();
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                   std::string(what) + " must be an id or a name, not " + value.dump());
}

bool SameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

json ItemsJson(const std::vector<ItemResult>& items) {
  json fields = json::object();
  for (const ItemResult& item : items) {
    const std::string field = item.field.empty() ? "request" : item.field;
    if (item.ok) {
      fields[field] = {{"ok", true}, {"value", item.value}};
    } else {
      fields[field] = {{"ok", false}, {"error", item.error}, {"description", item.description}};
    }
  }
  return fields;
}

std::string Truncated(const std::string& secret) {
  return secret.size() <= 6 ? secret : secret.substr(0, 6) + "...";
}

}  // namespace

LightsConfig LightsConfig::Parse(std::string_view text) { return Read(text, nullptr); }

std::vector<std::string> LightsConfig::Problems(std::string_view text) {
  std::vector<std::string> problems;
  try {
    Read(text, &problems);
  } catch (const sdk::Error& e) {
    // Not a mapping at all: a problem of the whole object (key "").
    const std::string prefix = "lights config: ";
    const std::string message = e.what();
    problems.push_back(": " + (message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message));
  }
  return problems;
}

LightsConfig LightsConfig::Read(std::string_view text, std::vector<std::string>* problems) {
  const sdk::ConfigReader config("lights", text);
  LightsConfig parsed;
  auto millis = [&](const std::string& key, Millis low, Millis high) {
    return Millis(config.Integer(key, low.count(), high.count()));
  };
  // Each key's problem, "key: message", when collecting them all; the
  // reader's own message is "lights config: '<key>' <message>".
  auto check = [&](const std::string& key, const auto& read) {
    try {
      read();
    } catch (const sdk::Error& e) {
      if (problems == nullptr) throw;
      const std::string prefix = "lights config: '" + key + "' ";
      const std::string message = e.what();
      problems->push_back(key + ": " + (message.rfind(prefix, 0) == 0 ? message.substr(prefix.size())
                                                                       : message));
    }
  };
  for (const auto& item : config.json().items()) {
    const std::string key = item.key();
    const json& value = item.value();
    check(key, [&] {
      if (key == "bridge") {
        const std::string bridge = config.String(key);
        if (bridge == "auto") {
          parsed.auto_bridge = true;
        } else if (!(parsed.address = ParseBridgeAddress(bridge))) {
          config.Fail(key, "must be auto or host[:port] (e.g. 192.168.1.20), not \"" + bridge + "\"");
        }
      } else if (key == "username") {
        parsed.username = config.String(key);  // leave it out to pair
      } else if (key == "clientkey") {
        parsed.client_key = config.String(key, /*allow_empty=*/true);
      } else if (key == "bridge_id") {
        const std::string id = config.String(key);
        if (!IsBridgeId(id)) {
          config.Fail(key, "must be the bridge's 16 hex digit id (e.g. 001788FFFE0D0A1E), not \"" +
                               id + "\"");
        }
        parsed.bridge_id = NormalizeBridgeId(id);
      } else if (key == "request_timeout_ms") {
        parsed.request_timeout = millis(key, kMinRequestTimeout, kMaxRequestTimeout);
      } else if (key == "poll_interval_ms") {
        parsed.poll_interval = millis(key, kMinPollInterval, kMaxPollInterval);
      } else if (key == "home_assistant") {
        if (!value.is_boolean()) {
          config.Fail(key, "must be true (offer the lights to Home Assistant) or false (for a home "
                           "that uses Home Assistant's own Hue integration), not " + value.dump());
        }
        parsed.home_assistant = value.get<bool>();
      } else {
        config.Fail(key, "is not a lights setting (known: bridge, username, clientkey, bridge_id, "
                         "request_timeout_ms, poll_interval_ms, home_assistant)");
      }
    });
  }
  if (!config.json().contains("bridge")) {
    check("bridge", [&] {
      config.Fail("bridge", "is missing: the bridge's address (host[:port]) or auto");
    });
  }
  return parsed;
}

std::vector<std::string> LightsService::ValidateConfig(std::string_view config_json) {
  return LightsConfig::Problems(config_json);
}

LightsService::LightsService(sdk::Host host, std::string_view config_json)
    : host_(host),
      config_(LightsConfig::Parse(config_json)),
      client_(config_.request_timeout, kMaxRequestsInFlight),
      device_type_(DeviceType(HostName())),
      pacer_(config_.pacing) {
  client_.SetAddress(config_.address);
}

LightsService::~LightsService() { Stop(); }

void LightsService::Start() {
  LoadPairingFile();
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  stopping_ = false;
  cancel_ = false;
  // An exception leaving a thread would end the whole process: log it
  // instead (the service then reports itself through status and health).
  auto guarded = [this](void (LightsService::*body)(), const char* what) {
    return [this, body, what] {
      try {
        (this->*body)();
      } catch (const std::exception& e) {
        host_.LogError(std::string("the ") + what + " thread stopped: " + e.what());
      }
    };
  };
  threads_.emplace_back(guarded(&LightsService::Monitor, "monitor"));
  for (int i = 0; i < config_.pacing.max_in_flight; ++i) {
    threads_.emplace_back(guarded(&LightsService::Send, "sender"));
  }
}

void LightsService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    stopping_ = true;
    cancel_ = true;
  }
  changed_.notify_all();
  probe_now_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  std::lock_guard lock(mu_);
  started_ = false;
}

std::string LightsService::Invoke(std::string_view command, std::string_view args_json) {
  call_deadline_ = Clock::now() + kCallBudget;
  const json args = sdk::ParseArgs(args_json);
  json reply;
  if (command == "status") {
    reply = Status();
  } else if (command == "pair") {
    reply = Pair(args);
  } else if (command == "lights") {
    reply = ListLights();
  } else if (command == "groups") {
    reply = ListGroups();
  } else if (command == "set") {
    reply = SetLight(args);
  } else if (command == "group_set") {
    reply = SetGroup(args);
  } else if (command == "scene") {
    reply = RecallScene(args);
  } else if (command == kHomeAssistantCommand) {
    reply = SetFromHomeAssistant(args);
  } else {
    throw sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND,
                     "unknown command \"" + std::string(command) +
                         "\" (status, pair, lights, groups, set, group_set, scene, ha_set)");
  }
  return reply.dump();
}

// ---------------------------------------------------------------------
// State

std::string LightsService::SaveState() {
  std::lock_guard lock(mu_);
  json lights = json::object();
  for (const auto& [id, light] : lights_) {
    lights[id] = {{"name", light.name},
                  {"type", light.type},
                  {"state", light.state},
                  {"capabilities", light.capabilities}};
  }
  json state = {{"format", kStateFormat},
                {"username", paired_username_},
                {"clientkey", paired_client_key_},
                {"bridge_id", paired_bridge_id_},
                {"address", client_.address() ? client_.address()->ToString() : ""},
                {"lights", lights}};
  return state.dump();
}

void LightsService::LoadState(std::string_view text) {
  const json state = sdk::ParseSavedState(text, kStateFormat, "lights");
  std::lock_guard lock(mu_);
  TakePairingLocked(state);
  if (config_.auto_bridge && !client_.address()) {
    // Where the bridge was last found: tried first, mDNS if it moved.
    client_.SetAddress(ParseBridgeAddress(StringOr(state, "address")));
  }
  if (state.contains("lights") && state["lights"].is_object()) {
    for (const auto& [id, light] : state["lights"].items()) {
      if (!light.is_object()) continue;
      lights_[id] = KnownLight{StringOr(light, "name", id), StringOr(light, "type"),
                               light.contains("state") && light["state"].is_object()
                                   ? light["state"]
                                   : json::object(),
                               light.contains("capabilities") && light["capabilities"].is_object()
                                   ? light["capabilities"]
                                   : json::object()};
    }
  }
}

// The pairing is also written to the service's folder the moment it is
// made: the host saves state only on a clean stop, and pressing the link
// button again after a power cut is exactly what pairing once should spare.
void LightsService::SavePairingFile() {
  std::string text;
  {
    std::lock_guard lock(mu_);
    text = json{{"username", paired_username_},
                {"clientkey", paired_client_key_},
                {"bridge_id", paired_bridge_id_}}
               .dump();
  }
  // Created owner-only (it holds the bridge's secrets), flushed to disk,
  // then renamed over the old one, so a power cut leaves one or the other.
  const std::filesystem::path dir(host_.state_dir());
  const std::filesystem::path temporary = dir / (std::string(kPairingFile) + ".new");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(temporary.c_str(), (dir / kPairingFile).c_str()) == 0;
  if (!ok) {
    host_.Warn("cannot keep the pairing in " + (dir / kPairingFile).string() + ": " +
               std::strerror(errno) + "; it lives in the service's state only");
    ::unlink(temporary.c_str());
    return;
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // the rename itself
    ::close(dir_fd);
  }
}

void LightsService::LoadPairingFile() {
  std::ifstream in(std::filesystem::path(host_.state_dir()) / kPairingFile);
  if (!in) return;
  std::stringstream text;
  text << in.rdbuf();
  const json pairing = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (pairing.is_discarded() || !pairing.is_object()) return;
  std::lock_guard lock(mu_);
  if (!paired_username_.empty()) return;  // the state handed over wins
  TakePairingLocked(pairing);
}

void LightsService::TakePairingLocked(const json& pairing) {
  paired_username_ = StringOr(pairing, "username");
  paired_client_key_ = StringOr(pairing, "clientkey");
  paired_bridge_id_ = NormalizeBridgeId(StringOr(pairing, "bridge_id"));
}

// ---------------------------------------------------------------------
// Health and status

std::optional<std::string> LightsService::CheckHealth() {
  std::lock_guard lock(mu_);
  if (!reachable_ || wrong_bridge_ || !verified_) {
    return bridge_error_.empty() ? "the bridge has not answered yet" : bridge_error_;
  }
  if (UsernameLocked().empty()) return "not paired with the bridge: press its button, run pair";
  if (unauthorized_) return bridge_error_;
  return std::nullopt;
}

std::string LightsService::UsernameLocked() const {
  return config_.username.empty() ? paired_username_ : config_.username;
}

json LightsService::Status() {
  std::lock_guard lock(mu_);
  const auto address = client_.address();
  const BridgeCounters counters = client_.counters();
  json bridge = {{"configured", config_.auto_bridge ? "auto" : config_.address->ToString()},
                 {"address", address ? address->ToString() : ""},
                 {"reachable", reachable_},
                 {"error", bridge_error_}};
  if (bridge_) {
    bridge["id"] = bridge_->bridge_id;
    bridge["name"] = bridge_->name;
    bridge["api_version"] = bridge_->api_version;
    bridge["sw_version"] = bridge_->sw_version;
  }
  const std::string username = UsernameLocked();
  return {{"bridge", bridge},
          {"paired", !username.empty() && !unauthorized_},
          {"pairing", !config_.username.empty()  ? "node.yaml"
                      : !paired_username_.empty() ? "service state"
                                                  : "none"},
          {"username", Truncated(username)},
          {"queued", pacer_.pending()},
          {"in_flight", pacer_.in_flight()},
          {"backoff_ms", pacer_.PausedFor(Clock::now()).count()},
          {"expired", expired_},
          {"lights_known", lights_.size()},
          {"requests", counters.requests},
          {"throttled", counters.throttled},
          {"no_answer", counters.no_answer}};
}

// ---------------------------------------------------------------------
// Pairing

json LightsService::Pair(const json& args) {
  Millis window = kPairWindow;
  if (const auto it = args.find("timeout_s"); it != args.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
        it->get<int64_t>() > kPairWindow.count() / 1000) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                       "timeout_s must be from 1 to " + std::to_string(kPairWindow.count() / 1000));
    }
    window = Millis(it->get<int64_t>() * 1000);
  }
  if (!config_.username.empty()) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                     "the username is set in node.yaml (services.lights.config.username); remove "
                     "it to pair");
  }
  // Which bridge this pairing is for.
  const HttpResult config = client_.Get("/api/config");
  if (!config.answered() || !config.error.empty()) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "cannot pair: " + (config.error.empty()
                                                                    ? std::string("no answer")
                                                                    : config.error));
  }
  BridgeInfo info;
  try {
    info = ReadBridgeInfo(config.body);
  } catch (const std::runtime_error& e) {
    throw sdk::Error(DOMIAN_ERR_FAILED, std::string("cannot pair: ") + e.what());
  }
  if (!config_.bridge_id.empty() && info.bridge_id != config_.bridge_id) {
    throw sdk::Error(DOMIAN_ERR_FAILED, "cannot pair: the bridge at " +
                                            client_.address()->ToString() + " is " +
                                            info.bridge_id + ", not " + config_.bridge_id +
                                            " (bridge_id in node.yaml)");
  }
  const json request = {{"devicetype", device_type_}, {"generateclientkey", true}};
  const auto deadline = Clock::now() + window;
  while (true) {
    const HttpResult reply = client_.Post("/api", request);
    if (reply.answered() && reply.error.empty()) {
      PairingReply pairing;
      try {
        pairing = ReadPairing(reply.body);
      } catch (const std::runtime_error& e) {
        throw sdk::Error(DOMIAN_ERR_FAILED, std::string("cannot pair: ") + e.what());
      }
      if (pairing.pairing) {
        {
          std::lock_guard lock(mu_);
          paired_username_ = pairing.pairing->username;
          paired_client_key_ = pairing.pairing->client_key;
          paired_bridge_id_ = info.bridge_id;
          unauthorized_ = false;
          wrong_bridge_ = false;
          verified_ = true;  // its id was just read and checked
          reachable_ = true;
          bridge_error_.clear();
          bridge_ = info;
          RequestProbeLocked();  // light states, now that it may read them
        }
        SavePairingFile();
        // Answered once the pairing is kept here and copied to a peer
        // (ABI 1.1): a node that takes the lights over after this one
        // dies needs nobody at the bridge's button.
        host_.SaveStateNow();
        host_.Info("paired with bridge " + info.bridge_id + " as " + device_type_);
        return {{"paired", true},
                {"bridge_id", info.bridge_id},
                {"username", pairing.pairing->username},
                {"devicetype", device_type_}};
      }
      if (pairing.error.error != kErrorLinkButton) {
        throw sdk::Error(DOMIAN_ERR_FAILED, "the bridge refused pairing: error " +
                                                std::to_string(pairing.error.error) + ": " +
                                                pairing.error.description);
      }
    }
    // The next ask must fit in the window and leave time to answer.
    if (Clock::now() + kPairPoll >= deadline ||
        Clock::now() + kPairPoll + config_.request_timeout > call_deadline_) {
      break;
    }
    std::unique_lock lock(mu_);
    if (changed_.wait_for(lock, kPairPoll, [this] { return stopping_; })) {
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "the service is stopping");
    }
  }
  throw sdk::Error(DOMIAN_ERR_FAILED,
                   "the link button was not pressed within " +
                       std::to_string(window.count() / 1000) +
                       " s: press the round button on the bridge, then run pair again");
}

// ---------------------------------------------------------------------
// Reading the bridge

bool LightsService::TimeForARequest() const {
  return Clock::now() + config_.request_timeout <= call_deadline_;
}

void LightsService::RequireUsable() {
  std::lock_guard lock(mu_);
  if (wrong_bridge_) throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, bridge_error_);
  if (UsernameLocked().empty()) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                     "not paired with the bridge: press its link button, then run pair");
  }
  if (unauthorized_) throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, bridge_error_);
}

void LightsService::UnauthorizedLocked(const std::string& where) {
  if (!unauthorized_) {
    host_.Warn("the bridge refused the username (" + where + "): pair again");
  }
  unauthorized_ = true;
  bridge_error_ = std::string("not paired: the bridge does not know the username ") +
                  (config_.username.empty() ? "from pairing" : "in node.yaml") +
                  " (error 1); press its link button and run pair";
}

json LightsService::Read(const std::string& what) {
  RequireUsable();
  std::string username;
  {
    std::lock_guard lock(mu_);
    if (!verified_) {
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                       bridge_error_.empty() ? "the bridge has not been checked yet; try again"
                                             : bridge_error_);
    }
    username = UsernameLocked();
  }
  if (!TimeForARequest()) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, "no time left in this call to ask the bridge");
  }
  const HttpResult reply = client_.Get("/api/" + username + "/" + what);
  if (!reply.answered()) throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, reply.error);
  if (!reply.error.empty()) throw sdk::Error(DOMIAN_ERR_FAILED, reply.error);
  if (const auto error = FirstError(reply.body)) {
    if (error->error == kErrorUnauthorized) {
      std::lock_guard lock(mu_);
      UnauthorizedLocked("reading " + what);
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, bridge_error_);
    }
    throw sdk::Error(DOMIAN_ERR_FAILED, "the bridge refused to list " + what + ": error " +
                                            std::to_string(error->error) + ": " +
                                            error->description);
  }
  return reply.body;
}

template <typename Entry>
std::vector<Entry> LightsService::ReadList(std::vector<Entry> (*reader)(const json&),
                                           const std::string& what) {
  const json body = Read(what);
  try {
    return reader(body);
  } catch (const std::runtime_error& e) {
    throw sdk::Error(DOMIAN_ERR_FAILED, e.what());
  }
}

void LightsService::UpdateLightsLocked(const std::vector<LightInfo>& lights) {
  lights_.clear();
  for (const LightInfo& light : lights) {
    lights_[light.id] = KnownLight{light.name, light.type, light.state, light.capabilities};
  }
}

void LightsService::UpdateGroupsLocked(const std::vector<GroupInfo>& groups) {
  groups_.clear();
  for (const GroupInfo& group : groups) groups_[group.id] = KnownGroup{group.name, group.lights};
}

void LightsService::ApplyItemsLocked(const Target& target, const std::vector<ItemResult>& items) {
  std::vector<KnownLight*> changed;
  if (target.kind == Target::Kind::kLight) {
    if (const auto light = lights_.find(target.id); light != lights_.end()) changed.push_back(&light->second);
  } else if (target.kind == Target::Kind::kGroup) {
    // Group 0 is every light; another group is its lights as last read
    // (the next poll corrects what a group command did otherwise).
    const auto group = groups_.find(target.id);
    for (auto& [id, light] : lights_) {
      if (target.id == "0" || (group != groups_.end() &&
                               std::find(group->second.lights.begin(), group->second.lights.end(),
                                         id) != group->second.lights.end())) {
        changed.push_back(&light);
      }
    }
  }  // a scene: what it set is read at the next poll
  for (KnownLight* light : changed) {
    if (!light->state.is_object()) continue;
    for (const ItemResult& item : items) {
      if (!item.ok || item.field == "transitiontime" || item.field == "scene") continue;
      light->state[item.field] = item.value;
      // The mode the bridge takes for a colour it was given (API v1).
      if (item.field == "xy") light->state["colormode"] = "xy";
      if (item.field == "ct") light->state["colormode"] = "ct";
      if (item.field == "hue" || item.field == "sat") light->state["colormode"] = "hs";
    }
  }
}

json LightsService::DescriptionLocked() const {
  json entities = json::array();
  if (!config_.home_assistant) return {{"entities", entities}};
  std::map<std::string, LightTraits> traits;
  for (const auto& [id, light] : lights_) {
    traits[id] = TraitsOf(light.type, light.state, light.capabilities);
    entities.push_back(DescribeLight(LightEntityId(id), light.name, traits[id], "light", id));
  }
  auto group_traits = [&](const std::vector<std::string>& members) {
    std::vector<LightTraits> of;
    for (const std::string& id : members) {
      if (const auto it = traits.find(id); it != traits.end()) of.push_back(it->second);
    }
    return TraitsOfGroup(of);
  };
  std::vector<std::string> all;
  for (const auto& [id, light] : lights_) all.push_back(id);
  // Group 0 only once there are lights to switch.
  if (!all.empty()) {
    entities.push_back(DescribeLight(GroupEntityId("0"), "All lights", group_traits(all), "group", "0"));
  }
  for (const auto& [id, group] : groups_) {
    entities.push_back(DescribeLight(GroupEntityId(id), group.name, group_traits(group.lights),
                                     "group", id));
  }
  // The ABI takes so many entities; the rest are left out, and said so.
  if (entities.size() > DOMIAN_ENTITIES_MAX) entities.erase(entities.begin() + DOMIAN_ENTITIES_MAX, entities.end());
  return {{"entities", entities}};
}

void LightsService::PublishEntitiesLocked() {
  if (!config_.home_assistant || !started_) return;
  const json description = DescriptionLocked();
  const std::string text = description.dump();
  if (text != described_) {
    if (!described_.empty() || !description["entities"].empty()) host_.EntitiesChanged();
    described_ = text;
  }
  std::map<std::string, LightTraits> traits;
  std::vector<std::pair<std::string, std::string>> states;  // entity -> bytes
  for (const auto& [id, light] : lights_) {
    traits[id] = TraitsOf(light.type, light.state, light.capabilities);
    states.emplace_back(LightEntityId(id), LightStateJson(light.state, traits[id]));
  }
  // A group shows as on when any of its lights is, with the first lit
  // light's brightness and colour (what the Hue app shows).
  auto group_state = [&](const std::vector<std::string>& members) {
    std::vector<LightTraits> of;
    const KnownLight* shown = nullptr;
    for (const std::string& id : members) {
      const auto light = lights_.find(id);
      if (light == lights_.end()) continue;
      of.push_back(traits[id]);
      const bool on = light->second.state.is_object() && light->second.state.value("on", false);
      if (shown == nullptr || (on && !shown->state.value("on", false))) shown = &light->second;
    }
    return LightStateJson(shown ? shown->state : json::object(), TraitsOfGroup(of));
  };
  std::vector<std::string> all;
  for (const auto& [id, light] : lights_) all.push_back(id);
  if (!all.empty()) states.emplace_back(GroupEntityId("0"), group_state(all));
  for (const auto& [id, group] : groups_) states.emplace_back(GroupEntityId(id), group_state(group.lights));
  for (const auto& [entity, data] : states) {
    std::string& last = published_[entity];
    if (last == data) continue;
    // Refused (a host without entities): tried again at the next change.
    if (host_.PublishEntityState(entity, kLightState, data)) last = data;
  }
}

std::string LightsService::DescribeEntities() {
  std::lock_guard lock(mu_);
  const json description = DescriptionLocked();
  described_ = description.dump();
  if (description["entities"].size() == DOMIAN_ENTITIES_MAX) {
    host_.Warn("only the first " + std::to_string(DOMIAN_ENTITIES_MAX) +
               " lights and groups are offered to Home Assistant (the most the ABI takes)");
  }
  return described_;
}

json LightsService::ListLights() {
  const std::vector<LightInfo> lights = ReadList(&ReadLights, "lights");
  {
    std::lock_guard lock(mu_);
    UpdateLightsLocked(lights);
    PublishEntitiesLocked();
  }
  json list = json::array();
  for (const LightInfo& light : lights) {
    json entry = {{"id", light.id}, {"name", light.name}, {"type", light.type}};
    for (const char* field : {"on", "bri", "hue", "sat", "ct", "xy", "colormode", "reachable"}) {
      if (light.state.contains(field)) entry[field] = light.state[field];
    }
    list.push_back(std::move(entry));
  }
  return {{"lights", list}};
}

json LightsService::ListGroups() {
  const std::vector<GroupInfo> groups = ReadList(&ReadGroups, "groups");
  json list = json::array({{{"id", "0"}, {"name", "all lights"}, {"lights", json::array()}}});
  for (const GroupInfo& group : groups) {
    list.push_back({{"id", group.id}, {"name", group.name}, {"lights", group.lights}});
  }
  return {{"groups", list}};
}

std::string LightsService::ResolveLight(const json& value) {
  const std::string wanted = IdOrName(value, "light");
  auto find = [&]() -> std::optional<std::string> {
    std::lock_guard lock(mu_);
    if (lights_.count(wanted) != 0) return wanted;
    for (const auto& [id, light] : lights_) {
      if (SameName(light.name, wanted)) return id;
    }
    return std::nullopt;
  };
  if (auto id = find()) return *id;
  ListLights();  // a light added since the last refresh
  if (auto id = find()) return *id;
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                   "the bridge has no light \"" + wanted + "\" (see the lights command)");
}

std::string LightsService::ResolveGroup(const json& value) {
  const std::string wanted = IdOrName(value, "group");
  if (wanted == "0") return wanted;  // all lights; never listed by the bridge
  const std::vector<GroupInfo> groups = ReadList(&ReadGroups, "groups");
  for (const GroupInfo& group : groups) {
    if (group.id == wanted) return group.id;
  }
  for (const GroupInfo& group : groups) {
    if (SameName(group.name, wanted)) return group.id;
  }
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                   "the bridge has no group \"" + wanted + "\" (see the groups command; 0 is all "
                   "lights)");
}

std::pair<std::string, std::string> LightsService::ResolveScene(const json& value) {
  const std::string wanted = IdOrName(value, "scene");
  const std::vector<SceneInfo> scenes = ReadList(&ReadScenes, "scenes");
  for (const SceneInfo& scene : scenes) {
    if (scene.id == wanted) return {scene.id, scene.group};
  }
  for (const SceneInfo& scene : scenes) {
    if (SameName(scene.name, wanted)) return {scene.id, scene.group};
  }
  throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "the bridge has no scene \"" + wanted + "\"");
}

// ---------------------------------------------------------------------
// Commands that change lights

json LightsService::SetLight(const json& args) {
  return SetState(args, Target::Kind::kLight, "light", "a light's id or name");
}

json LightsService::SetGroup(const json& args) {
  return SetState(args, Target::Kind::kGroup, "group", "a group's id or name (0 is all lights)");
}

json LightsService::SetState(const json& args, Target::Kind kind, const char* key,
                             const char* what) {
  if (!args.contains(key)) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, std::string(key) + " is missing: " + what);
  }
  const StateChange change = ParseStateChange(args, /*allow_scene=*/false, {key, "wait"});
  if (change.empty()) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                     "nothing to set: give on, bri, hue, sat, ct or xy");
  }
  RequireUsable();
  const std::string id =
      kind == Target::Kind::kLight ? ResolveLight(args[key]) : ResolveGroup(args[key]);
  json reply = Submit(Target{kind, id}, change, WaitArg(args));
  reply[key] = id;
  return reply;
}

json LightsService::SetFromHomeAssistant(const json& args) {
  const bool light = args.contains("light");
  const char* key = light ? "light" : "group";
  if (light == args.contains("group") || !args.contains("ha") || args.size() != 2) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                     "ha_set takes {\"light\" or \"group\": id, \"ha\": Home Assistant's JSON command}");
  }
  json hue = HueArgsFromHomeAssistant(args["ha"]);
  hue[key] = args[key];
  return SetState(hue, light ? Target::Kind::kLight : Target::Kind::kGroup, key,
                  light ? "a light's id" : "a group's id");
}

json LightsService::RecallScene(const json& args) {
  if (!args.contains("scene")) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "scene is missing: a scene's id or name");
  }
  for (const auto& [key, value] : args.items()) {
    if (key != "scene" && key != "group" && key != "wait") {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                       "unknown field \"" + key + "\" (known: scene, group, wait)");
    }
  }
  RequireUsable();
  const auto [scene, scene_group] = ResolveScene(args["scene"]);
  const std::string group = args.contains("group") ? ResolveGroup(args["group"])
                            : scene_group.empty()  ? "0"
                                                   : scene_group;
  StateChange change;
  change.scene = scene;
  json reply = Submit(Target{Target::Kind::kScene, group}, change, WaitArg(args));
  reply["scene"] = scene;
  reply["group"] = group;
  return reply;
}

json LightsService::Submit(const Target& target, const StateChange& change, bool wait) {
  std::unique_lock lock(mu_);
  const Pacer::Submitted submitted = pacer_.Submit(target, change, Clock::now());
  changed_.notify_all();
  if (!wait) {
    return {{"queued", true}, {"merged", submitted.merged}, {"queue", pacer_.pending()}};
  }
  if (!reachable_) {
    // Nobody should wait on a bridge known to be away.
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                     target.Name() + ": " +
                         (bridge_error_.empty() ? "the bridge has not answered yet" : bridge_error_) +
                         "; queued, and sent when the bridge answers (for up to " +
                         std::to_string(config_.pacing.expiry.count() / 1000) + " s)");
  }
  waiting_[submitted.ticket] = std::nullopt;
  const auto waited_from = Clock::now();
  const auto until = std::min(waited_from + kCommandWait, call_deadline_);
  const bool done = changed_.wait_until(lock, until, [&] {
    return waiting_[submitted.ticket].has_value();
  });
  std::optional<CommandResult> result = std::move(waiting_[submitted.ticket]);
  waiting_.erase(submitted.ticket);
  if (!done || !result) {
    throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                     target.Name() + ": still queued after waiting " +
                         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                            Clock::now() - waited_from)
                                            .count()) +
                         " s (" +
                         (bridge_error_.empty() ? "the bridge is slow" : bridge_error_) +
                         "); it is sent when the bridge answers, or dropped after " +
                         std::to_string(config_.pacing.expiry.count() / 1000) + " s");
  }
  switch (result->kind) {
    case CommandResult::Kind::kAnswered: break;
    case CommandResult::Kind::kNoAnswer:
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                       target.Name() + ": " + result->message + "; kept queued for up to " +
                           std::to_string(config_.pacing.expiry.count() / 1000) + " s");
    case CommandResult::Kind::kUnauthorized:
    case CommandResult::Kind::kExpired:
    case CommandResult::Kind::kStopped:
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, target.Name() + ": " + result->message);
  }
  const bool all_ok = std::all_of(result->items.begin(), result->items.end(),
                                  [](const ItemResult& item) { return item.ok; });
  if (!all_ok || result->items.empty()) {
    throw sdk::Error(DOMIAN_ERR_FAILED, target.Name() + ": " + Describe(result->items));
  }
  return {{"applied", true}, {"fields", ItemsJson(result->items)}};
}

// ---------------------------------------------------------------------
// Threads

void LightsService::Deliver(const std::vector<uint64_t>& tickets, const CommandResult& result) {
  for (const uint64_t ticket : tickets) {
    const auto it = waiting_.find(ticket);
    if (it != waiting_.end()) it->second = result;
  }
}

void LightsService::Send() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = Clock::now();
    const std::vector<uint64_t> expired = pacer_.Expire(now);
    if (!expired.empty()) {
      expired_ += static_cast<int64_t>(expired.size());
      host_.Warn(std::to_string(expired.size()) + " light command(s) dropped: not sent within " +
                 std::to_string(config_.pacing.expiry.count() / 1000) + " s (" + bridge_error_ +
                 ")");
      Deliver(expired, {CommandResult::Kind::kExpired, {}, "not sent within " +
                        std::to_string(config_.pacing.expiry.count() / 1000) + " s"});
      changed_.notify_all();
    }
    // Only to a bridge that answered with the right id, with a username it
    // knows; meanwhile commands wait (and expire).
    const bool usable = verified_ && !wrong_bridge_ && !unauthorized_ && !UsernameLocked().empty();
    auto next = usable ? pacer_.Next(now) : std::variant<Pacer::Job, Pacer::Wait>(Pacer::Wait{});
    if (auto* wait = std::get_if<Pacer::Wait>(&next)) {
      // At most a second: expiry is checked here too.
      const auto until = std::min(wait->until.value_or(now + Millis(1000)), now + Millis(1000));
      changed_.wait_until(lock, until);
      continue;
    }
    const Pacer::Job job = std::get<Pacer::Job>(std::move(next));
    const std::string path = "/api/" + UsernameLocked() + "/" + job.target.Path();
    lock.unlock();
    const HttpResult reply = client_.Put(path, ToBody(job.change), [&] {
      std::lock_guard started(mu_);
      pacer_.Started(job, Clock::now());
    });
    lock.lock();
    CommandResult result;
    Pacer::Outcome outcome = Pacer::Outcome::kAnswered;
    if (!reply.answered()) {
      outcome = Pacer::Outcome::kUnreachable;
      result = {CommandResult::Kind::kNoAnswer, {}, reply.error};
      if (reachable_) host_.Warn("bridge unreachable: " + reply.error);
      reachable_ = false;
      verified_ = false;  // checked again before anything else is sent
      bridge_error_ = reply.error;
      RequestProbeLocked();
    } else if (reply.throttled()) {
      outcome = Pacer::Outcome::kThrottled;
      host_.Debug(job.target.Name() + ": the bridge answered HTTP " +
                  std::to_string(reply.status) + "; backing off");
    } else {
      try {
        result.items = ReadItems(reply.body);
      } catch (const std::runtime_error& e) {
        result.items = {ItemResult{"request", false, -1,
                                   reply.error.empty() ? e.what() : reply.error, nullptr}};
      }
      const bool refused_user = std::any_of(result.items.begin(), result.items.end(),
                                            [](const ItemResult& item) {
                                              return !item.ok && item.error == kErrorUnauthorized;
                                            });
      if (refused_user) {
        UnauthorizedLocked("sending to " + job.target.Name());
        result = {CommandResult::Kind::kUnauthorized, {}, bridge_error_};
      } else {
        // What the bridge says it set is now the lights' known state.
        ApplyItemsLocked(job.target, result.items);
        PublishEntitiesLocked();
      }
    }
    pacer_.Finish(job, outcome, Clock::now());
    if (outcome != Pacer::Outcome::kThrottled) Deliver(job.tickets, result);
    changed_.notify_all();
  }
  // Whoever still waits learns that nothing more is sent.
  for (auto& [ticket, result] : waiting_) {
    if (!result) result = CommandResult{CommandResult::Kind::kStopped, {}, "the service stopped"};
  }
  changed_.notify_all();
}

void LightsService::RequestProbeLocked() {
  probe_requested_ = true;
  probe_now_.notify_all();
}

bool LightsService::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

void LightsService::Monitor() {
  std::mt19937_64 random(std::random_device{}());
  Millis retry = kFirstRetry;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    probe_requested_ = false;
    lock.unlock();
    const bool answered = Probe();
    lock.lock();
    Millis pause = config_.poll_interval;
    if (answered) {
      retry = kFirstRetry;
    } else {
      std::uniform_int_distribution<int64_t> half(0, retry.count() / 2);
      pause = std::min(pause, Millis(retry.count() - retry.count() / 2 + half(random)));
      retry = std::min(kMaxRetry, retry * 2);
    }
    // A stop or a request that came while probing is not missed.
    probe_now_.wait_for(lock, pause, [this] { return stopping_ || probe_requested_; });
  }
}

bool LightsService::Probe() {
  std::string expected_id;
  bool was_usable = false;
  {
    std::lock_guard lock(mu_);
    // A pairing is for one bridge; a username from node.yaml is checked
    // only against bridge_id from node.yaml.
    expected_id = !config_.bridge_id.empty() ? config_.bridge_id
                  : config_.username.empty() ? paired_bridge_id_
                                             : "";
    was_usable = reachable_ && verified_ && !wrong_bridge_;
  }
  auto unreachable = [&](const std::string& why) {
    std::lock_guard lock(mu_);
    if (reachable_ || bridge_error_ != why) host_.Warn("bridge unreachable: " + why);
    reachable_ = false;
    verified_ = false;
    bridge_error_ = why;
    return false;
  };
  auto matches = [&](const HttpResult& reply) {
    if (!reply.answered() || !reply.error.empty()) return false;
    try {
      return expected_id.empty() || ReadBridgeInfo(reply.body).bridge_id == expected_id;
    } catch (const std::runtime_error&) {
      return false;
    }
  };

  std::optional<HttpResult> remembered;
  if (config_.auto_bridge && (!client_.address() || !was_usable)) {
    // Where it was last seen is tried first; then mDNS, in case it moved
    // (or another bridge took that address).
    if (client_.address()) remembered = client_.Get("/api/config");
    if (!remembered || !matches(*remembered)) {
      remembered.reset();
      if (Stopping()) return true;
      const auto found = FindBridge(kDiscoveryTimeout, expected_id, &cancel_);
      if (const auto* why = std::get_if<std::string>(&found)) return unreachable(*why);
      const FoundBridge& bridge = std::get<FoundBridge>(found);
      host_.Info("found bridge " + bridge.bridge_id + " at " + bridge.address.ToString() +
                 " over mDNS");
      std::lock_guard lock(mu_);
      verified_ = false;
      client_.SetAddress(bridge.address);
    }
  }
  if (Stopping()) return true;

  const HttpResult config = remembered ? *remembered : client_.Get("/api/config");
  if (!config.answered()) return unreachable(config.error);
  if (config.throttled()) return true;  // busy, not gone: as it was
  BridgeInfo info;
  try {
    if (!config.error.empty()) throw std::runtime_error(config.error);
    info = ReadBridgeInfo(config.body);
  } catch (const std::runtime_error& e) {
    return unreachable(client_.address()->ToString() + " is not a Hue bridge: " + e.what());
  }

  std::string username;
  {
    std::lock_guard lock(mu_);
    reachable_ = true;
    bridge_ = info;
    wrong_bridge_ = !expected_id.empty() && info.bridge_id != expected_id;
    if (wrong_bridge_) {
      verified_ = false;
      const std::string why =
          "the bridge at " + client_.address()->ToString() + " is " + info.bridge_id + ", not " +
          expected_id +
          (config_.bridge_id.empty()
               ? " (the bridge this service paired with): run pair to use this one"
               : " (bridge_id in node.yaml)");
      if (why != bridge_error_) host_.Warn(why);  // once, not every poll
      bridge_error_ = why;
      return !config_.auto_bridge;  // auto: look for the right one again soon
    }
    if (!verified_) {
      host_.Info("bridge " + info.bridge_id + " at " + client_.address()->ToString() +
                 " answers (API " + info.api_version + ")");
      verified_ = true;
      pacer_.Resume();  // queued commands go now, not after the backoff
      changed_.notify_all();
    }
    if (!unauthorized_) bridge_error_.clear();
    username = UsernameLocked();
  }
  if (username.empty() || Stopping()) return true;

  const HttpResult lights = client_.Get("/api/" + username + "/lights");
  if (!lights.answered()) return unreachable(lights.error);
  // Groups only for Home Assistant, which offers each as an entity.
  std::optional<HttpResult> groups;
  if (config_.home_assistant && !Stopping()) groups = client_.Get("/api/" + username + "/groups");
  std::lock_guard lock(mu_);
  if (const auto error = FirstError(lights.body)) {
    if (error->error == kErrorUnauthorized) UnauthorizedLocked("reading lights");
    return true;
  }
  try {
    UpdateLightsLocked(ReadLights(lights.body));
    if (groups && groups->answered() && groups->error.empty() && !FirstError(groups->body)) {
      try {
        UpdateGroupsLocked(ReadGroups(groups->body));
      } catch (const std::runtime_error& e) {
        host_.Warn(std::string("cannot read the bridge's groups: ") + e.what());
      }
    }
    PublishEntitiesLocked();
    if (unauthorized_) host_.Info("the bridge accepts the username again");
    unauthorized_ = false;
    bridge_error_.clear();
  } catch (const std::exception& e) {
    host_.Warn(std::string("cannot read the bridge's lights: ") + e.what());
  }
  return true;
}

}  // namespace domian::lights
