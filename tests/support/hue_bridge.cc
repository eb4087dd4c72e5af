#include "tests/support/hue_bridge.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace domian::testing {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Rebinding the same port after SetDown(false) can briefly fail while the
// kernel still holds the old socket; a real failure shows within this.
constexpr auto kRebindTimeout = 5s;
constexpr auto kRebindRetry = 50ms;
// The server thread reports it is accepting within this, or never will.
constexpr auto kStartTimeout = 5s;
constexpr auto kStartPoll = 1ms;

constexpr char kUsernameAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-";
constexpr char kHexAlphabet[] = "0123456789ABCDEF";

// API v1 error types (the ones this bridge answers with).
constexpr int kErrorUnauthorized = 1;
constexpr int kErrorInvalidJson = 2;
constexpr int kErrorNotAvailable = 3;
constexpr int kErrorMethodNotAvailable = 4;
constexpr int kErrorMissingParameters = 5;
constexpr int kErrorParameterNotAvailable = 6;
constexpr int kErrorInvalidValue = 7;
constexpr int kErrorLinkButton = 101;
constexpr int kErrorDeviceOff = 201;

json Error(int type, const std::string& address, const std::string& description) {
  return json{{"error", {{"type", type}, {"address", address}, {"description", description}}}};
}

json Success(const std::string& address, const json& value) {
  return json{{"success", {{address, value}}}};
}

json InvalidValue(const std::string& address, const std::string& field, const json& value) {
  return Error(kErrorInvalidValue, address,
               "invalid value, " + value.dump() + ", for parameter, " + field);
}

bool IntegerIn(const json& value, int64_t low, int64_t high) {
  if (!value.is_number_integer()) return false;  // floats, bools and strings are invalid
  const auto number = value.get<int64_t>();
  return number >= low && number <= high;
}

bool KnownField(const std::string& field) {
  static const std::set<std::string> kFields = {"on",  "bri", "hue",    "sat",   "xy",
                                                "ct",  "transitiontime", "alert", "effect"};
  return kFields.count(field) != 0;
}

// Fields a real bridge refuses with 201 while the light is off (and the same
// request does not switch it on).
bool NeedsOn(const std::string& field) {
  return field == "bri" || field == "hue" || field == "sat" || field == "xy" || field == "ct" ||
         field == "effect";
}

// Whether `value` is acceptable for `field` on a bulb with this ct range.
bool Valid(const std::string& field, const json& value, int ct_min, int ct_max) {
  if (field == "on") return value.is_boolean();
  if (field == "bri") return IntegerIn(value, kHueBriMin, kHueBriMax);
  if (field == "hue") return IntegerIn(value, 0, kHueHueMax);
  if (field == "sat") return IntegerIn(value, 0, kHueSatMax);
  if (field == "ct") return IntegerIn(value, ct_min, ct_max);
  if (field == "transitiontime") return IntegerIn(value, 0, kHueTransitionTimeMax);
  if (field == "xy") {
    if (!value.is_array() || value.size() != 2) return false;
    for (const auto& coordinate : value) {
      if (!coordinate.is_number() || coordinate.get<double>() < 0.0 ||
          coordinate.get<double>() > 1.0) {
        return false;
      }
    }
    return true;
  }
  if (field == "alert") {
    return value.is_string() && (value == "none" || value == "select" || value == "lselect");
  }
  if (field == "effect") return value.is_string() && (value == "none" || value == "colorloop");
  return false;
}

// Applies one already validated field; ct is clamped to the bulb's range
// (group commands validate against the widest range only).
void Apply(json& state, const std::string& field, const json& value, int ct_min, int ct_max) {
  if (field == "transitiontime") return;  // how fast, not what
  if (field == "alert") return;           // a blink, not a state
  if (field == "ct") {
    state["ct"] = std::clamp(value.get<int>(), ct_min, ct_max);
    return;
  }
  state[field] = value;
}

// API v1 picks the colour mode by priority xy > ct > hs when a request
// sets several.
void UpdateColorMode(json& state, const std::set<std::string>& applied) {
  if (applied.count("xy")) {
    state["colormode"] = "xy";
  } else if (applied.count("ct")) {
    state["colormode"] = "ct";
  } else if (applied.count("hue") || applied.count("sat")) {
    state["colormode"] = "hs";
  }
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

json Unauthorized() {
  return json::array({Error(kErrorUnauthorized, "/", "unauthorized user")});
}

json NotAvailable(const std::string& resource) {
  return json::array(
      {Error(kErrorNotAvailable, resource, "resource, " + resource + ", not available")});
}

}  // namespace

HueBridge::HueBridge() : HueBridge(Options{}) {}

HueBridge::HueBridge(Options options)
    : options_(std::move(options)), random_(std::random_device{}()) {
  std::lock_guard lifecycle(lifecycle_mutex_);
  Start();
}

HueBridge::~HueBridge() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (!down_) Stop();
}

std::string HueBridge::address() const { return "127.0.0.1:" + std::to_string(port_); }

void HueBridge::Start() {
  auto server = std::make_unique<httplib::Server>();
  for (const char* method : {"GET", "POST", "PUT", "DELETE"}) {
    const std::string name = method;
    auto handler = [this, name](const httplib::Request& request, httplib::Response& response) {
      Handle(name, request, response);
    };
    const std::string any = R"(/.*)";
    if (name == "GET") server->Get(any, handler);
    if (name == "POST") server->Post(any, handler);
    if (name == "PUT") server->Put(any, handler);
    if (name == "DELETE") server->Delete(any, handler);
  }

  if (port_ == 0) {
    const int port = server->bind_to_any_port("127.0.0.1");
    if (port <= 0) throw std::runtime_error("HueBridge: cannot bind 127.0.0.1");
    port_ = static_cast<uint16_t>(port);
  } else {
    // Back up after SetDown(true): the same port, as a real bridge keeps
    // its address.
    const auto deadline = Clock::now() + kRebindTimeout;
    while (!server->bind_to_port("127.0.0.1", port_)) {
      if (Clock::now() >= deadline) {
        throw std::runtime_error("HueBridge: cannot bind 127.0.0.1:" + std::to_string(port_) +
                                 " again");
      }
      std::this_thread::sleep_for(kRebindRetry);
    }
  }
  // Bound and listening from here on: connections queue until the thread
  // accepts them.
  httplib::Server* raw = server.get();
  server_ = std::move(server);
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // httplib's stop() does nothing before the accept loop runs, so wait for
  // it; otherwise a quick Stop() would leave the thread running forever.
  const auto deadline = Clock::now() + kStartTimeout;
  while (!server_->is_running() && Clock::now() < deadline) {
    std::this_thread::sleep_for(kStartPoll);
  }
}

void HueBridge::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;  // delayed requests finish now instead of holding up the stop
  }
  wake_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();  // the pool is joined too: no handler runs now
  server_.reset();
  std::lock_guard lock(mutex_);
  stopping_ = false;
}

void HueBridge::SetDown(bool down) {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (down == down_) return;
  if (down) {
    Stop();
  } else {
    Start();
  }
  down_ = down;
}

bool HueBridge::Down() const {
  std::lock_guard lifecycle(lifecycle_mutex_);
  return down_;
}

void HueBridge::Handle(const std::string& method, const httplib::Request& request,
                       httplib::Response& response) {
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(mutex_);
    ++stats_.requests;
    ++in_flight_;
    stats_.max_in_flight = std::max(stats_.max_in_flight, in_flight_);
    if (in_flight_ > options_.max_in_flight) {
      --in_flight_;
      ++stats_.refused_503;
      response.status = 503;
      response.set_content("Service Unavailable", "text/plain");
      return;
    }
    delay = delay_;
  }
  // From here on the request counts as in flight until it is answered.
  struct InFlightGuard {
    HueBridge* bridge;
    ~InFlightGuard() {
      std::lock_guard lock(bridge->mutex_);
      --bridge->in_flight_;
    }
  } guard{this};

  if (delay > 0ms) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, delay, [this] { return stopping_; });
  }

  Reply reply;
  {
    std::lock_guard lock(mutex_);
    reply = Route(method, request.path, request.body);
  }
  response.status = reply.status;
  if (reply.status == 200) {
    response.set_content(reply.body.dump(), "application/json");
  } else if (reply.status == 429) {
    response.set_content("Too Many Requests", "text/plain");
  } else {
    response.set_content("Not Found", "text/plain");
  }
}

HueBridge::Reply HueBridge::Route(const std::string& method, const std::string& path,
                                  const std::string& body) {
  const auto parts = SplitPath(path);
  if (parts.empty() || parts[0] != "api") return Reply{404, {}};
  if (parts.size() == 1) {
    if (method == "POST") return Pair(body);
    return Reply{200,
                 json::array({Error(kErrorMethodNotAvailable, "/",
                                    "method, " + method + ", not available for resource, /")})};
  }
  if (parts.size() == 2 && parts[1] == "config" && method == "GET") {
    return Reply{200, ConfigJson()};  // the only resource without a user
  }
  if (users_.count(parts[1]) == 0) return Reply{200, Unauthorized()};

  const std::vector<std::string> rest(parts.begin() + 2, parts.end());
  std::string resource;
  for (const auto& part : rest) resource += "/" + part;
  const auto method_not_available = [&] {
    return Reply{200,
                 json::array({Error(kErrorMethodNotAvailable, resource.empty() ? "/" : resource,
                                    "method, " + method + ", not available for resource, " +
                                        (resource.empty() ? "/" : resource))})};
  };

  if (method == "GET") {
    if (rest.empty()) {
      json all{{"lights", json::object()},
               {"groups", json::object()},
               {"scenes", json::object()},
               {"config", ConfigJson()}};
      for (const auto& [id, light] : lights_) all["lights"][id] = LightJson(id);
      for (const auto& [id, group] : groups_) all["groups"][id] = GroupJson(id);
      for (const auto& [id, scene] : scenes_) {
        all["scenes"][id] = {{"group", scene.group}, {"type", "GroupScene"}};
      }
      return Reply{200, all};
    }
    if (rest.size() == 1 && rest[0] == "config") {
      json config = ConfigJson();
      config["whitelist"] = json::object();
      for (const auto& [name, user] : users_)
        config["whitelist"][name] = {{"name", user.device_type}};
      config["linkbutton"] = Clock::now() < link_open_until_;
      return Reply{200, config};
    }
    if (rest[0] == "lights" && rest.size() == 1) {
      json all = json::object();
      for (const auto& [id, light] : lights_) all[id] = LightJson(id);
      return Reply{200, all};
    }
    if (rest[0] == "lights" && rest.size() == 2) {
      if (lights_.count(rest[1]) == 0) return Reply{200, NotAvailable(resource)};
      return Reply{200, LightJson(rest[1])};
    }
    if (rest[0] == "groups" && rest.size() == 1) {
      json all = json::object();  // group 0 is never listed, as on a real bridge
      for (const auto& [id, group] : groups_) all[id] = GroupJson(id);
      return Reply{200, all};
    }
    if (rest[0] == "groups" && rest.size() == 2) {
      if (rest[1] != "0" && groups_.count(rest[1]) == 0) {
        return Reply{200, NotAvailable(resource)};
      }
      return Reply{200, GroupJson(rest[1])};
    }
    if (rest[0] == "scenes" && rest.size() == 1) {
      json all = json::object();
      for (const auto& [id, scene] : scenes_) {
        json lights = json::array();
        for (const auto& [light_id, state] : scene.states) lights.push_back(light_id);
        all[id] = {{"group", scene.group}, {"type", "GroupScene"}, {"lights", lights}};
      }
      return Reply{200, all};
    }
    return method_not_available();
  }

  if (method == "PUT" && rest.size() == 3 &&
      ((rest[0] == "lights" && rest[2] == "state") ||
       (rest[0] == "groups" && rest[2] == "action"))) {
    const bool is_light = rest[0] == "lights";
    // The limit counts commands, whatever they turn out to contain.
    if (is_light ? !Admit(light_window_, options_.light_commands_per_window)
                 : !Admit(group_window_, options_.group_commands_per_window)) {
      ++(is_light ? stats_.refused_light_429 : stats_.refused_group_429);
      return Reply{429, {}};
    }
    ++(is_light ? stats_.accepted_light_commands : stats_.accepted_group_commands);
    const json command = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (command.is_discarded() || !command.is_object()) {
      return Reply{200, json::array({Error(kErrorInvalidJson, "", "body contains invalid json")})};
    }
    return is_light ? LightCommand(rest[1], command) : GroupCommand(rest[1], command);
  }
  return method_not_available();
}

bool HueBridge::Admit(std::deque<Clock::time_point>& window, int limit) {
  const auto now = Clock::now();
  while (!window.empty() && now - window.front() >= options_.rate_window) window.pop_front();
  if (static_cast<int>(window.size()) >= limit) return false;
  window.push_back(now);
  return true;
}

HueBridge::Reply HueBridge::Pair(const std::string& body) {
  const json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) {
    return Reply{200, json::array({Error(kErrorInvalidJson, "", "body contains invalid json")})};
  }
  if (!request.contains("devicetype") || !request["devicetype"].is_string()) {
    return Reply{200, json::array({Error(kErrorMissingParameters, "",
                                         "invalid/missing parameters in body")})};
  }
  const std::string device_type = request["devicetype"].get<std::string>();
  if (device_type.empty() || device_type.size() > kHueDeviceTypeMaxLength) {
    return Reply{200,
                 json::array({InvalidValue("/devicetype", "devicetype", request["devicetype"])})};
  }
  if (Clock::now() >= link_open_until_) {
    return Reply{200, json::array({Error(kErrorLinkButton, "", "link button not pressed")})};
  }
  User user{.client_key = "", .device_type = device_type};
  json success{{"username", RandomString(kHueUsernameLength, kUsernameAlphabet)}};
  if (request.value("generateclientkey", false) == true) {
    user.client_key = RandomString(kHueClientKeyLength, kHexAlphabet);
    success["clientkey"] = user.client_key;
  }
  users_[success["username"].get<std::string>()] = user;
  return Reply{200, json::array({json{{"success", success}}})};
}

HueBridge::Reply HueBridge::LightCommand(const std::string& light_id, const json& command) {
  const auto found = lights_.find(light_id);
  if (found == lights_.end()) return Reply{200, NotAvailable("/lights/" + light_id)};
  Light& light = found->second;
  // Whether the light is (or, by this same request, will be) on decides
  // 201 for every colour field, whatever order the fields come in.
  const bool switching_on = command.contains("on") && command["on"] == true;
  const bool on_before = light.state.value("on", false);
  json items = json::array();
  std::set<std::string> applied;
  for (const auto& [field, value] : command.items()) {
    const std::string address = "/lights/" + light_id + "/state/" + field;
    if (!KnownField(field)) {
      items.push_back(Error(kErrorParameterNotAvailable, address,
                            "parameter, " + field + ", not available"));
    } else if (!Valid(field, value, light.spec.ct_min, light.spec.ct_max)) {
      items.push_back(InvalidValue(address, field, value));
    } else if (NeedsOn(field) && !on_before && !switching_on) {
      items.push_back(Error(kErrorDeviceOff, address,
                            "parameter, " + field + ", is not modifiable. Device is set to off."));
    } else {
      Apply(light.state, field, value, light.spec.ct_min, light.spec.ct_max);
      applied.insert(field);
      items.push_back(Success(address, value));
    }
  }
  UpdateColorMode(light.state, applied);
  return Reply{200, items};
}

HueBridge::Reply HueBridge::GroupCommand(const std::string& group_id, const json& command) {
  if (group_id != "0" && groups_.count(group_id) == 0) {
    return Reply{200, NotAvailable("/groups/" + group_id)};
  }
  const auto members = GroupLights(group_id);
  const bool switching_on = command.contains("on") && command["on"] == true;
  bool any_on = false;
  for (const auto& id : members) any_on = any_on || lights_.at(id).state.value("on", false);

  json items = json::array();
  std::map<std::string, std::set<std::string>> applied;  // light id -> fields
  for (const auto& [field, value] : command.items()) {
    const std::string address = "/groups/" + group_id + "/action/" + field;
    if (field == "scene") {
      const auto scene = value.is_string() ? scenes_.find(value.get<std::string>()) : scenes_.end();
      if (scene == scenes_.end()) {
        items.push_back(InvalidValue(address, field, value));
        continue;
      }
      for (const auto& [light_id, state] : scene->second.states) {
        const auto light = lights_.find(light_id);
        if (light == lights_.end() || !state.is_object()) continue;  // deleted since
        for (const auto& [scene_field, scene_value] : state.items()) {
          if (!KnownField(scene_field) || !Valid(scene_field, scene_value, kHueCtMin, kHueCtMax)) {
            continue;
          }
          Apply(light->second.state, scene_field, scene_value, light->second.spec.ct_min,
                light->second.spec.ct_max);
          applied[light_id].insert(scene_field);
        }
      }
      items.push_back(Success(address, value));
    } else if (!KnownField(field)) {
      items.push_back(Error(kErrorParameterNotAvailable, address,
                            "parameter, " + field + ", not available"));
    } else if (!Valid(field, value, kHueCtMin, kHueCtMax)) {
      items.push_back(InvalidValue(address, field, value));
    } else if (NeedsOn(field) && !any_on && !switching_on) {
      items.push_back(Error(kErrorDeviceOff, address,
                            "parameter, " + field + ", is not modifiable. Device is set to off."));
    } else {
      for (const auto& id : members) {
        Light& light = lights_.at(id);
        // Lights that stay off ignore colour changes, as on a real bridge.
        if (NeedsOn(field) && !switching_on && !light.state.value("on", false)) continue;
        Apply(light.state, field, value, light.spec.ct_min, light.spec.ct_max);
        applied[id].insert(field);
      }
      items.push_back(Success(address, value));
    }
  }
  for (const auto& [id, fields] : applied) UpdateColorMode(lights_.at(id).state, fields);
  return Reply{200, items};
}

std::vector<std::string> HueBridge::GroupLights(const std::string& group_id) const {
  if (group_id == "0") {
    std::vector<std::string> all;
    for (const auto& [id, light] : lights_) all.push_back(id);
    return all;
  }
  std::vector<std::string> members;
  for (const auto& id : groups_.at(group_id).lights) {
    if (lights_.count(id)) members.push_back(id);
  }
  return members;
}

json HueBridge::LightJson(const std::string& id) const {
  const Light& light = lights_.at(id);
  char unique_id[sizeof "00:17:88:01:00:00:00:00-0b"];
  const unsigned number = static_cast<unsigned>(std::stoul(id));
  std::snprintf(unique_id, sizeof unique_id, "00:17:88:01:00:00:%02x:%02x-0b",
                (number >> 8) & 0xffu, number & 0xffu);
  return json{{"state", light.state},
              {"type", light.spec.type},
              {"name", light.spec.name},
              {"modelid", light.spec.model_id},
              {"manufacturername", "Signify Netherlands B.V."},
              {"uniqueid", unique_id},
              {"swversion", "1.88.1"},
              {"capabilities",
               {{"control", {{"ct", {{"min", light.spec.ct_min}, {"max", light.spec.ct_max}}}}}}}};
}

json HueBridge::GroupJson(const std::string& id) const {
  const auto members = GroupLights(id);
  bool all_on = !members.empty();
  bool any_on = false;
  for (const auto& light_id : members) {
    const bool on = lights_.at(light_id).state.value("on", false);
    all_on = all_on && on;
    any_on = any_on || on;
  }
  // A group's "action" shows the last command's state; the first light's
  // state is what apps read it as.
  json action = members.empty() ? json{{"on", false}} : lights_.at(members.front()).state;
  action.erase("reachable");
  action.erase("mode");
  json lights = json::array();
  for (const auto& light_id : members) lights.push_back(light_id);
  return json{{"name", id == "0" ? std::string("Group 0") : groups_.at(id).name},
              {"lights", lights},
              {"type", id == "0" ? "LightGroup" : "Room"},
              {"state", {{"all_on", all_on}, {"any_on", any_on}}},
              {"action", action}};
}

json HueBridge::ConfigJson() const {
  // The MAC is the bridge id without its FFFE middle, as on real bridges.
  std::string mac = "00:17:88:00:00:00";
  if (options_.bridge_id.size() == 16) {
    const std::string hex = options_.bridge_id.substr(0, 6) + options_.bridge_id.substr(10, 6);
    mac.clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
      if (!mac.empty()) mac += ':';
      for (const char c : hex.substr(i, 2)) {
        mac += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
  }
  return json{{"name", options_.name},
              {"datastoreversion", "131"},
              {"swversion", options_.sw_version},
              {"apiversion", kHueApiVersion},
              {"mac", mac},
              {"bridgeid", options_.bridge_id},
              {"factorynew", false},
              {"replacesbridgeid", nullptr},
              {"modelid", kHueModelId},
              {"starterkitid", ""}};
}

std::string HueBridge::RandomString(size_t length, const std::string& alphabet) {
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string result;
  for (size_t i = 0; i < length; ++i) result += alphabet[pick(random_)];
  return result;
}

std::string HueBridge::AddLight(const std::string& name) {
  return AddLight(LightSpec{.name = name});
}

std::string HueBridge::AddLight(const LightSpec& spec) {
  std::lock_guard lock(mutex_);
  const std::string id = std::to_string(next_light_++);
  lights_[id] = Light{.spec = spec,
                      .state = {{"on", false},
                                {"bri", kHueBriMax},
                                {"hue", 8417},
                                {"sat", 140},
                                {"effect", "none"},
                                {"xy", {0.4573, 0.41}},
                                {"ct", std::clamp(366, spec.ct_min, spec.ct_max)},
                                {"alert", "none"},
                                {"colormode", "ct"},
                                {"mode", "homeautomation"},
                                {"reachable", true}}};
  return id;
}

std::string HueBridge::AddGroup(const std::string& name,
                                const std::vector<std::string>& light_ids) {
  std::lock_guard lock(mutex_);
  const std::string id = std::to_string(next_group_++);
  groups_[id] = Group{.name = name, .lights = light_ids};
  return id;
}

void HueBridge::AddScene(const std::string& id, const std::string& group,
                         const std::map<std::string, json>& states) {
  std::lock_guard lock(mutex_);
  scenes_[id] = Scene{.group = group, .states = states};
}

void HueBridge::PressLinkButton() {
  std::lock_guard lock(mutex_);
  link_open_until_ = Clock::now() + options_.link_window;
}

std::string HueBridge::AddUser(const std::string& username) {
  std::lock_guard lock(mutex_);
  const std::string name =
      username.empty() ? RandomString(kHueUsernameLength, kUsernameAlphabet) : username;
  users_[name] = User{.client_key = RandomString(kHueClientKeyLength, kHexAlphabet),
                      .device_type = "test#added"};
  return name;
}

void HueBridge::RemoveUser(const std::string& username) {
  std::lock_guard lock(mutex_);
  users_.erase(username);
}

std::vector<std::string> HueBridge::Users() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, user] : users_) names.push_back(name);
  return names;
}

std::string HueBridge::ClientKey(const std::string& username) const {
  std::lock_guard lock(mutex_);
  const auto found = users_.find(username);
  return found == users_.end() ? std::string() : found->second.client_key;
}

void HueBridge::SetDelay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  delay_ = delay;
}

void HueBridge::SetReachable(const std::string& light_id, bool reachable) {
  std::lock_guard lock(mutex_);
  const auto found = lights_.find(light_id);
  if (found != lights_.end()) found->second.state["reachable"] = reachable;
}

json HueBridge::LightState(const std::string& light_id) const {
  std::lock_guard lock(mutex_);
  const auto found = lights_.find(light_id);
  return found == lights_.end() ? json() : found->second.state;
}

void HueBridge::SetLightState(const std::string& light_id, const json& fields) {
  std::lock_guard lock(mutex_);
  const auto found = lights_.find(light_id);
  if (found == lights_.end() || !fields.is_object()) return;
  for (const auto& [field, value] : fields.items()) found->second.state[field] = value;
}

HueBridgeStats HueBridge::Stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void HueBridge::ResetStats() {
  std::lock_guard lock(mutex_);
  stats_ = HueBridgeStats{};
  stats_.max_in_flight = in_flight_;
}

int HueBridge::InFlight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

}  // namespace domian::testing
