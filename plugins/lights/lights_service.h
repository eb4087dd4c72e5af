// LightsService: the `lights` service, Philips Hue lights through a
// bridge's HTTP API v1. A singleton needing no trait (any node on the LAN
// reaches the bridge), so it is the service that migrates most: its state
// (pairing, bridge id, last known light states) travels with it.
//
// Threads: the host calls Invoke/SaveState/... one at a time. The service
// runs a monitor thread (finds the bridge, checks it answers and is the
// right one, refreshes light states) and one sender thread per command
// the Pacer lets be in flight. Every request has a timeout and goes
// through one BridgeClient, which never has more than three out at once.
#pragma once

#include <domian/plugin.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "plugins/lights/bridge_client.h"
#include "plugins/lights/home_assistant.h"
#include "plugins/lights/hue_api.h"
#include "plugins/lights/pacer.h"

namespace domian::lights {

// Requests in flight to the bridge from this service, all kinds together.
inline constexpr int kMaxRequestsInFlight = 3;
inline constexpr Millis kDefaultRequestTimeout{4000};
inline constexpr Millis kMinRequestTimeout{100};
// A bridge on the LAN answers in well under a second; one that takes
// longer than this is as good as down.
inline constexpr Millis kMaxRequestTimeout{10000};
// How often a reachable bridge is checked and light states refreshed.
inline constexpr Millis kDefaultPollInterval{10000};
inline constexpr Millis kMinPollInterval{200};
inline constexpr Millis kMaxPollInterval{600000};
// An unreachable bridge is tried again after this, doubling, with jitter.
inline constexpr Millis kFirstRetry{1000};
inline constexpr Millis kMaxRetry{30000};
// How long one mDNS search for `bridge: auto` may take.
inline constexpr Millis kDiscoveryTimeout{5000};
// Pairing: the bridge's link button opens a 30 s window; pair asks once a
// second within it.
inline constexpr Millis kPairWindow{30000};
inline constexpr Millis kPairPoll{1000};
// How long set / group_set / scene wait for the bridge's answer.
inline constexpr Millis kCommandWait{20000};
// Everything one call does ends within this, well inside the 40 s the
// host allows any plugin call before it takes the plugin as stuck.
inline constexpr Millis kCallBudget{35000};
// The format of SaveState(); LoadState() refuses newer ones.
inline constexpr int kStateFormat = 1;

struct LightsConfig {
  bool auto_bridge = false;             // bridge: auto
  std::optional<BridgeAddress> address;  // bridge: host[:port]
  std::string username;                 // from node.yaml; empty: pair
  std::string client_key;
  std::string bridge_id;                // expected bridge (normalised); empty: any
  Millis request_timeout = kDefaultRequestTimeout;
  Millis poll_interval = kDefaultPollInterval;
  PacerLimits pacing;
  // Whether the lights are offered to Home Assistant as entities: off for
  // a home that also runs Home Assistant's own Hue integration, which
  // would show every bulb twice.
  bool home_assistant = true;

  // Throws domian::sdk::Error(INVALID_ARGUMENT) naming the key.
  static LightsConfig Parse(std::string_view json);
  // Every problem, "key: message"; empty exactly when Parse accepts it.
  static std::vector<std::string> Problems(std::string_view json);

 private:
  // Parse, collecting problems in `problems` (when not null) instead of
  // throwing at the first.
  static LightsConfig Read(std::string_view json, std::vector<std::string>* problems);
};

class LightsService {
 public:
  LightsService(sdk::Host host, std::string_view config_json);
  ~LightsService();  // Stop()
  LightsService(const LightsService&) = delete;
  LightsService& operator=(const LightsService&) = delete;

  void Start();
  void Stop();
  std::string Invoke(std::string_view command, std::string_view args_json);
  std::string SaveState();
  void LoadState(std::string_view state);
  std::optional<std::string> CheckHealth();
  // Home Assistant (home_assistant.h): a light entity per bulb and per
  // group; none when the config's home_assistant is false.
  std::string DescribeEntities();

  // The configuration's problems, "key: message" (no instance).
  static std::vector<std::string> ValidateConfig(std::string_view config_json);

 private:
  // How a submitted command ended, for the caller waiting on it.
  struct CommandResult {
    enum class Kind { kAnswered, kNoAnswer, kUnauthorized, kExpired, kStopped };
    Kind kind = Kind::kAnswered;
    std::vector<ItemResult> items;
    std::string message;
  };
  // A light's last known state, and its name.
  struct KnownLight {
    std::string name;
    std::string type;
    nlohmann::json state;
    nlohmann::json capabilities = nlohmann::json::object();
  };
  // A group as last read (group 0, all lights, is never listed).
  struct KnownGroup {
    std::string name;
    std::vector<std::string> lights;
  };

  // Commands.
  nlohmann::json Status();
  nlohmann::json Pair(const nlohmann::json& args);
  nlohmann::json ListLights();
  nlohmann::json ListGroups();
  nlohmann::json SetLight(const nlohmann::json& args);
  nlohmann::json SetGroup(const nlohmann::json& args);
  // set and group_set: `key` ("light" or "group") names the target.
  nlohmann::json SetState(const nlohmann::json& args, Target::Kind kind, const char* key,
                          const char* what);
  // ha_set: {"light" or "group": id, "ha": Home Assistant's command JSON}.
  nlohmann::json SetFromHomeAssistant(const nlohmann::json& args);
  nlohmann::json RecallScene(const nlohmann::json& args);
  nlohmann::json Submit(const Target& target, const StateChange& change, bool wait);

  // A call's own requests must also leave time to answer: false when less
  // than one request timeout is left of the call's budget.
  bool TimeForARequest() const;
  // Name or id -> id; refreshes the bridge's list once if not found.
  std::string ResolveLight(const nlohmann::json& value);
  std::string ResolveGroup(const nlohmann::json& value);
  // The scene's id and its group.
  std::pair<std::string, std::string> ResolveScene(const nlohmann::json& value);

  // GET /api/<user>/<what> with the checks every read needs; throws
  // sdk::Error (UNAVAILABLE when unreachable or not paired).
  nlohmann::json Read(const std::string& what);
  // Read(what) parsed by `reader`; a reply that does not parse is
  // sdk::Error(FAILED).
  template <typename Entry>
  std::vector<Entry> ReadList(std::vector<Entry> (*reader)(const nlohmann::json&),
                              const std::string& what);
  // Throws sdk::Error(UNAVAILABLE) when commands cannot be sent now.
  void RequireUsable();
  // The username in use; empty when not paired. Needs mu_.
  std::string UsernameLocked() const;
  // The bridge rejected the username (error 1). Needs mu_.
  void UnauthorizedLocked(const std::string& where);
  void UpdateLightsLocked(const std::vector<LightInfo>& lights);  // requires mu_
  void UpdateGroupsLocked(const std::vector<GroupInfo>& groups);  // requires mu_
  // What the bridge said it set (a reply's success items) is the known
  // state of `target`'s lights now; requires mu_.
  void ApplyItemsLocked(const Target& target, const std::vector<ItemResult>& items);
  // The description as it would be now; requires mu_.
  nlohmann::json DescriptionLocked() const;
  // Publishes each light's and group's state that differs from what was
  // last published, and says the entities changed when the description
  // did (a new bulb, a renamed group); requires mu_, so publishes from
  // the poll and from command replies go out in order.
  void PublishEntitiesLocked();
  // The username, client key and bridge id of a saved pairing; requires mu_.
  void TakePairingLocked(const nlohmann::json& pairing);

  // Threads.
  void RequestProbeLocked();  // requires mu_
  bool Stopping();
  void Monitor();
  bool Probe();  // one check of the bridge; true when it answered
  void Send();
  void Deliver(const std::vector<uint64_t>& tickets, const CommandResult& result);
  void SavePairingFile();
  void LoadPairingFile();

  sdk::Host host_;
  const LightsConfig config_;
  BridgeClient client_;
  const std::string device_type_;

  mutable std::mutex mu_;
  std::condition_variable changed_;    // results, pacer, stop
  std::condition_variable probe_now_;  // wakes the monitor
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};    // ends an mDNS search early on Stop
  bool started_ = false;
  bool probe_requested_ = false;     // wake the monitor now
  // When the call in progress must be answered by (calls are serial).
  std::chrono::steady_clock::time_point call_deadline_{};
  std::vector<std::thread> threads_;
  Pacer pacer_;
  std::map<uint64_t, std::optional<CommandResult>> waiting_;  // ticket -> result
  int64_t expired_ = 0;
  // The bridge, as last seen.
  bool reachable_ = false;
  std::string bridge_error_;   // why it is unreachable or unusable
  std::optional<BridgeInfo> bridge_;
  bool wrong_bridge_ = false;
  // The bridge at the address answered with the expected id since it was
  // last unreachable or moved: only then is anything sent or read.
  bool verified_ = false;
  // Pairing from `pair` or restored state (the config's username wins).
  std::string paired_username_;
  std::string paired_client_key_;
  std::string paired_bridge_id_;  // the bridge the pairing is for
  bool unauthorized_ = false;     // the bridge refused the username in use
  std::map<std::string, KnownLight> lights_;  // by id
  std::map<std::string, KnownGroup> groups_;  // by id; read only for Home Assistant
  // Home Assistant: the description last given, and each entity's state
  // as last published, so only changes go out.
  std::string described_;
  std::map<std::string, std::string> published_;
};

}  // namespace domian::lights
