// A Philips Hue bridge (HTTP API v1) for the tests of the lights plugin,
// serving on 127.0.0.1 with cpp-httplib. Public emulators (diyHue) accept
// any user from localhost and never rate-limit, so they cannot show how a
// client copes with the hard cases; this one behaves like a real bridge,
// failures included (see shared/guides/hardware.md, "lights"):
//
// - API v1 answers HTTP 200 even on failure; the body is an array with one
//   success or error item per field: 1 unauthorized user, 2 invalid JSON,
//   3 resource not available, 4 method not available, 5 missing parameter,
//   6 parameter not available, 7 invalid value, 101 link button not
//   pressed, 201 parameter not modifiable because the device is off.
// - Pairing only within a window after PressLinkButton().
// - Real rate limits on a sliding window per bridge: more light or group
//   commands than allowed get HTTP 429, more requests in flight than allowed
//   get HTTP 503. Stats() counts both so a test can assert a client stayed
//   within the limits.
// - SetDown(true) stops listening (connections are refused) until
//   SetDown(false), on the same port; SetDelay() makes every request slow.
//
// Everything is thread-safe: httplib serves on a thread pool, and tests
// change the bridge while a client talks to it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace domian::testing {

using namespace std::chrono_literals;

// Values a real bridge (BSB002, API 1.56) reports or enforces.
inline constexpr char kHueApiVersion[] = "1.56.0";
inline constexpr char kHueSwVersion[] = "1956044040";
inline constexpr char kHueModelId[] = "BSB002";
// How long pairing stays open after the link button is pressed.
inline constexpr std::chrono::milliseconds kHueLinkButtonWindow = 30s;
// The bridge's limits, per bridge: light commands and group commands
// within one sliding window, and requests in flight at once.
inline constexpr std::chrono::milliseconds kHueRateWindow = 1s;
inline constexpr int kHueLightCommandsPerWindow = 10;
inline constexpr int kHueGroupCommandsPerWindow = 1;
inline constexpr int kHueMaxInFlight = 3;
// Field ranges of API v1 light state.
inline constexpr int kHueBriMin = 1;
inline constexpr int kHueBriMax = 254;
inline constexpr int kHueHueMax = 65535;
inline constexpr int kHueSatMax = 254;
inline constexpr int kHueCtMin = 153;  // mirek; per bulb on real hardware
inline constexpr int kHueCtMax = 500;
inline constexpr int kHueTransitionTimeMax = 65535;  // units of 100 ms
// Lengths of what pairing takes and hands out (as a real bridge does).
inline constexpr size_t kHueDeviceTypeMaxLength = 40;
inline constexpr size_t kHueUsernameLength = 40;
inline constexpr size_t kHueClientKeyLength = 32;

// What the bridge accepted and refused since it started (or ResetStats()).
struct HueBridgeStats {
  int64_t requests = 0;                  // every request that reached the bridge
  int64_t accepted_light_commands = 0;   // PUT lights/<id>/state within the limit
  int64_t accepted_group_commands = 0;   // PUT groups/<id>/action within the limit
  int64_t refused_light_429 = 0;         // light commands over the limit
  int64_t refused_group_429 = 0;         // group commands over the limit
  int64_t refused_503 = 0;               // requests over the in-flight limit
  int max_in_flight = 0;                 // most requests seen in flight at once
                                         // (the refused ones included)
  int64_t refused_429() const { return refused_light_429 + refused_group_429; }
};

class HueBridge {
 public:
  struct Options {
    std::string name = "Hue Bridge (domian test)";
    std::string bridge_id = "001788FFFE0D0A1E";
    std::string sw_version = kHueSwVersion;
    std::chrono::milliseconds link_window = kHueLinkButtonWindow;
    std::chrono::milliseconds rate_window = kHueRateWindow;
    int light_commands_per_window = kHueLightCommandsPerWindow;
    int group_commands_per_window = kHueGroupCommandsPerWindow;
    int max_in_flight = kHueMaxInFlight;
  };

  // A light as AddLight() creates it. Its state starts off, at full
  // brightness, in ct mode, reachable.
  struct LightSpec {
    std::string name;
    std::string type = "Extended color light";
    std::string model_id = "LCT015";
    int ct_min = kHueCtMin;  // mirek range this bulb accepts
    int ct_max = kHueCtMax;
  };

  // Starts serving on 127.0.0.1 on a free port; throws std::runtime_error
  // if it cannot.
  HueBridge();
  explicit HueBridge(Options options);
  ~HueBridge();  // stops serving and waits for the server thread
  HueBridge(const HueBridge&) = delete;
  HueBridge& operator=(const HueBridge&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT", for a client's configuration.
  std::string address() const;

  // --- Set-up (before or while a client talks to the bridge) ---

  // Adds a light and returns its id ("1", "2", ...).
  std::string AddLight(const std::string& name);
  std::string AddLight(const LightSpec& spec);
  // Adds a room with these lights and returns its id ("1", ...). Group 0
  // (all lights) always exists and cannot be added.
  std::string AddGroup(const std::string& name, const std::vector<std::string>& light_ids);
  // A scene for `group`: light id -> state fields (on, bri, xy, ct, ...),
  // applied as-is when PUT groups/<id>/action {"scene": id} recalls it.
  void AddScene(const std::string& id, const std::string& group,
                const std::map<std::string, nlohmann::json>& states);

  // Opens pairing for Options::link_window from now.
  void PressLinkButton();
  // Registers a user as if it had paired; a random name when empty. Returns
  // the username.
  std::string AddUser(const std::string& username = "");
  // The bridge forgets a user (as after a factory reset or removal in the
  // app): it then gets error 1 everywhere.
  void RemoveUser(const std::string& username);
  std::vector<std::string> Users() const;
  // The client key handed out with `username`, empty if none.
  std::string ClientKey(const std::string& username) const;

  // Stops listening (connections are refused) while true; listens again on
  // the same port when set back to false. Requests already in progress
  // finish first.
  void SetDown(bool down);
  bool Down() const;
  // Every request waits this long before it is handled (a slow bridge).
  // It counts as in flight meanwhile.
  void SetDelay(std::chrono::milliseconds delay);
  // Marks a light unreachable (state.reachable false), as a bulb switched
  // off at the wall.
  void SetReachable(const std::string& light_id, bool reachable);

  // --- Observation ---

  // The light's current state object; null for an unknown light.
  nlohmann::json LightState(const std::string& light_id) const;
  // Overwrites fields of a light's state without any check, for set-up.
  void SetLightState(const std::string& light_id, const nlohmann::json& fields);
  HueBridgeStats Stats() const;
  void ResetStats();
  // Requests being handled right now.
  int InFlight() const;

 private:
  struct Light {
    LightSpec spec;
    nlohmann::json state;
  };
  struct Group {
    std::string name;
    std::vector<std::string> lights;
  };
  struct Scene {
    std::string group;
    std::map<std::string, nlohmann::json> states;
  };
  struct User {
    std::string client_key;   // empty unless pairing asked for one
    std::string device_type;  // as given when pairing
  };
  struct Reply {
    int status = 200;
    nlohmann::json body;
  };

  void Start();
  void Stop();
  void Handle(const std::string& method, const httplib::Request& request,
              httplib::Response& response);
  Reply Route(const std::string& method, const std::string& path, const std::string& body);
  Reply Pair(const std::string& body);
  Reply LightCommand(const std::string& light_id, const nlohmann::json& command);
  Reply GroupCommand(const std::string& group_id, const nlohmann::json& command);
  // Counts one command against `window`; false (and nothing counted) when
  // the window is already full. Needs mutex_.
  bool Admit(std::deque<std::chrono::steady_clock::time_point>& window, int limit);
  nlohmann::json LightJson(const std::string& id) const;
  nlohmann::json GroupJson(const std::string& id) const;
  nlohmann::json ConfigJson() const;
  std::vector<std::string> GroupLights(const std::string& group_id) const;
  std::string RandomString(size_t length, const std::string& alphabet);

  const Options options_;
  uint16_t port_ = 0;

  // Serving: replaced by SetDown(false), so guarded by lifecycle_mutex_.
  mutable std::mutex lifecycle_mutex_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  bool down_ = false;

  // Everything the handlers read and change.
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // ends request delays early on stop
  bool stopping_ = false;
  std::chrono::milliseconds delay_{0};
  std::map<std::string, Light> lights_;  // id -> light (ids "1", "2", ...)
  int next_light_ = 1;
  std::map<std::string, Group> groups_;  // without group 0
  int next_group_ = 1;
  std::map<std::string, Scene> scenes_;
  std::map<std::string, User> users_;  // by username
  std::chrono::steady_clock::time_point link_open_until_{};
  std::deque<std::chrono::steady_clock::time_point> light_window_;
  std::deque<std::chrono::steady_clock::time_point> group_window_;
  int in_flight_ = 0;
  HueBridgeStats stats_;
  std::mt19937_64 random_;
};

}  // namespace domian::testing
