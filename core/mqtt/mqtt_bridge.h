// MqttBridge: this node's connection to an MQTT broker, the one Home
// Assistant uses (libmosquitto's C API, MQTT 3.1.1).
//
// It keeps a retained `online` on this node's availability topic while
// connected, and leaves the broker a retained last will `offline` there,
// published by the broker when the connection dies without a goodbye (a
// crash, a power cut, a cable pulled); a clean Stop() publishes `offline`
// itself. It listens on `<discovery_prefix>/status` and tells its owner
// when Home Assistant announces itself `online` (after a restart HA has
// forgotten every entity until they are published again). A broker that
// is down, restarting or refusing this node is retried with a backoff;
// none of it reaches anything but this object's status.
//
// Threads: the bridge runs one thread of its own, which alone calls
// libmosquitto (every callback, the connection, the backoff) and calls the
// owner's hooks. Publish(), Subscribe(), Unsubscribe() and Status() may be
// called on any thread and never wait for the network: Publish() puts the
// message in a bounded queue and (Un)Subscribe() note the change (under
// queue_mu_, held for a push) and wake the bridge's thread through an
// eventfd; Status() copies a snapshot under status_mu_. Start() and Stop()
// on the owner's thread (the node's Start and Stop).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "core/common/clock.h"
#include "core/common/status.h"
#include "core/mqtt/mqtt_status.h"

struct mosquitto;
struct mosquitto_message;

namespace domian::mqtt {

using Millis = std::chrono::milliseconds;

// Pause before the next attempt after a failed connection, doubled after
// each failure up to the maximum: a broker that restarts is back within a
// second or two; one that is down for long costs two attempts a minute.
inline constexpr Millis kFirstRetry{1000};
inline constexpr Millis kMaxRetry{30000};
// Keep-alive: the broker declares this node gone (and publishes its last
// will) after 1.5 times this without a packet; this node gives up on a
// connection (or a connection attempt) that stays silent this long.
inline constexpr int kKeepAliveSeconds = 15;
// Messages waiting to be sent (the broker down, or slow): beyond either
// bound a message is dropped and counted rather than the caller waiting or
// memory growing. Later work re-publishes every state when the bridge or
// Home Assistant comes back, so a drop while the broker is away costs
// nothing lasting.
inline constexpr size_t kMaxQueuedMessages = 1000;
inline constexpr size_t kMaxQueuedBytes = size_t{4} << 20;
// One outgoing payload: a camera still is the largest thing planned.
inline constexpr size_t kMaxPublishBytes = size_t{1} << 20;
// Messages handed to libmosquitto and not yet sent (QoS 0) or acknowledged
// (QoS 1): libmosquitto's own queue stays this small.
inline constexpr size_t kMaxInFlight = 32;
// One incoming payload: HA's status and, later, entity commands are a few
// hundred bytes. Anything larger is dropped (and counted) before it is
// looked at. libmosquitto has read it whole by then: the broker's
// message_size_limit bounds that.
inline constexpr size_t kMaxIncomingPayloadBytes = size_t{64} << 10;
// Topics this bridge builds or is given are short; MQTT allows 65535.
inline constexpr size_t kMaxTopicBytes = 1024;
// Filters subscribed at once: one per service running here.
inline constexpr size_t kMaxSubscriptions = 256;
// A clean stop waits this long for the broker to acknowledge `offline`.
inline constexpr Millis kGoodbyeBudget{2000};
// Repeated problems (a full queue, oversized messages) are logged at most
// once per this period, with how many there were.
inline constexpr Millis kRepeatLogInterval{10000};

// The payloads of the availability topic, as Home Assistant's
// `payload_available` / `payload_not_available` defaults expect.
inline constexpr char kOnline[] = "online";
inline constexpr char kOffline[] = "offline";

// "domian/<cluster>/node/<node id>/availability". Cluster names and node
// ids are plain topic levels (core/model/values.h).
std::string AvailabilityTopic(const std::string& cluster, const std::string& node_id);

class MqttBridge {
 public:
  struct Options {
    std::string host;
    uint16_t port = 0;
    std::string username;                 // empty: none
    std::filesystem::path password_file;  // empty: none; read by Start()
    bool tls = false;
    std::filesystem::path ca_file;        // empty with tls: the system's CAs
    std::string discovery_prefix = "homeassistant";
    std::string client_id;                // unique per node on the broker
    std::string availability_topic;
    // Home Assistant announced `online` on <discovery_prefix>/status.
    // Called on the bridge's thread: must not block.
    std::function<void()> home_assistant_online;
    // A connection was made (again), and the subscriptions renewed: the
    // broker may have lost what was published before (a restart without
    // persistence), so the owner publishes it again. On the bridge's
    // thread: must not block.
    std::function<void()> connected;
    // A message on a topic matching a Subscribe()d filter (a message may
    // still arrive just after Unsubscribe()); `retained`: the broker kept
    // it from before (a command someone left there, not one sent now). On
    // the bridge's thread: must not block. Payloads over
    // kMaxIncomingPayloadBytes never get here.
    std::function<void(const std::string& topic, const std::string& payload, bool retained)>
        message;
    Millis first_retry = kFirstRetry;
    Millis max_retry = kMaxRetry;
  };

  MqttBridge(Options options, const Clock& clock);
  ~MqttBridge();  // Stop()
  MqttBridge(const MqttBridge&) = delete;
  MqttBridge& operator=(const MqttBridge&) = delete;

  // Reads the password file and starts the bridge's thread, which
  // connects. An error (the password file, libmosquitto refusing the
  // settings) is also the status's last_error, state `failed`: the bridge
  // stays off and nothing else is affected.
  absl::Status Start();
  // Sends what is queued if connected (waiting at most kGoodbyeBudget),
  // publishes `offline` (retained) and waits at most kGoodbyeBudget for the
  // broker to take it, disconnects cleanly (the broker then drops the last
  // will) and ends the thread. Messages still queued then are dropped.
  void Stop();

  // Queues a message; false (and counted as dropped) when it cannot be:
  // the bridge is not running (not started, failed or stopped), the queue
  // is full, the payload too large, the topic not a plain topic name, or
  // qos not 0 or 1. Never waits. Messages are sent in order once
  // connected.
  bool Publish(std::string topic, std::string payload, bool retain, int qos);
  // Subscribes (QoS 1) to `filter` now if connected, and on every later
  // connection until Unsubscribe(); false for a filter MQTT refuses or
  // beyond kMaxSubscriptions. Never waits.
  bool Subscribe(const std::string& filter);
  void Unsubscribe(const std::string& filter);
  // Drops the queued messages whose topic `drop` says (not counted as
  // dropped: the owner replaces or withdraws them). Never waits.
  void DropQueued(const std::function<bool(const std::string& topic)>& drop);

  MqttStatus Status() const;

 private:
  struct Message {
    std::string topic;
    std::string payload;
    bool retain = false;
    int qos = 0;
  };
  enum class State { kOff, kConnecting, kConnected, kRetrying, kFailed };

  void Run();
  void Connect();
  void Goodbye();
  void SendQueued();
  void ApplySubscriptions();
  void Wake();
  void WaitForSocket(Millis timeout);
  // After a libmosquitto call that returned `result`: a connection it
  // closed without telling OnDisconnect ends here too.
  void Settle(int result);
  // libmosquitto's callbacks, on the bridge's thread.
  static void OnConnect(mosquitto* client, void* self, int result);
  static void OnDisconnect(mosquitto* client, void* self, int result);
  static void OnPublish(mosquitto* client, void* self, int mid);
  static void OnMessage(mosquitto* client, void* self, const mosquitto_message* message);
  void HandleConnect(int result);
  void HandleDisconnect(int result, int error);
  void HandleMessage(const mosquitto_message& message);
  // The connection is gone, or was never made: tries again after the
  // backoff, saying why.
  void ConnectionFailed(const std::string& why);
  void SetState(State state, const std::string& error = "");
  void CountDropped(uint64_t count, const std::string& why);

  const Options options_;
  const Clock& clock_;
  const std::string status_topic_;  // <discovery_prefix>/status
  int wake_fd_ = -1;
  std::atomic<bool> running_{false};  // Start() succeeded, Stop() not yet called
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // The bridge's thread only (and Start/Stop around it).
  mosquitto* client_ = nullptr;
  std::string password_;
  bool session_open_ = false;  // CONNACK accepted, not yet lost
  bool socket_open_ = false;   // a connection (attempt) is under way
  std::string pending_error_;  // a refusal seen in CONNACK, reported when the socket closes
  MonoTime next_attempt_{};
  Millis retry_delay_;
  std::map<int, int> in_flight_;  // message id -> qos
  int goodbye_mid_ = -1;
  bool goodbye_acknowledged_ = false;
  MonoTime incoming_logged_{};
  uint64_t incoming_unlogged_ = 0;

  mutable absl::Mutex queue_mu_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(queue_mu_);
  // Every filter wanted now, and the changes the bridge's thread has not
  // made yet (true: subscribe), in order.
  std::set<std::string> subscriptions_ ABSL_GUARDED_BY(queue_mu_);
  std::deque<std::pair<bool, std::string>> subscription_changes_ ABSL_GUARDED_BY(queue_mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(queue_mu_) = 0;

  mutable absl::Mutex status_mu_;
  State state_ ABSL_GUARDED_BY(status_mu_) = State::kOff;
  MonoTime state_since_ ABSL_GUARDED_BY(status_mu_){};
  std::string last_error_ ABSL_GUARDED_BY(status_mu_);
  MonoTime last_error_at_ ABSL_GUARDED_BY(status_mu_){};
  uint64_t published_ ABSL_GUARDED_BY(status_mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(status_mu_) = 0;
  uint64_t incoming_dropped_ ABSL_GUARDED_BY(status_mu_) = 0;
  uint64_t attempts_ ABSL_GUARDED_BY(status_mu_) = 0;
  uint64_t connects_ ABSL_GUARDED_BY(status_mu_) = 0;
  MonoTime retry_at_ ABSL_GUARDED_BY(status_mu_){};  // next_attempt_, for the status
  MonoTime dropped_logged_ ABSL_GUARDED_BY(status_mu_){};
  uint64_t dropped_unlogged_ ABSL_GUARDED_BY(status_mu_) = 0;
};

}  // namespace domian::mqtt
