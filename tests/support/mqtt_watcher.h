// A test's own MQTT client on a broker: it subscribes to everything under
// a filter (as Home Assistant would) and keeps every message it receives,
// with when it came, so a test can wait for one and measure how long it
// took. libmosquitto's own thread runs it (mosquitto_loop_start).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace domian::testing {

class MqttWatcher {
 public:
  struct Message {
    std::string topic;
    std::string payload;
    bool retained = false;
    std::chrono::steady_clock::time_point at;
  };

  // Connects as `user` to 127.0.0.1:`port` and subscribes to `filter`
  // (QoS 1); throws when it cannot within a generous deadline.
  MqttWatcher(uint16_t port, const std::string& user, const std::string& password,
              const std::string& filter = "#");
  ~MqttWatcher();
  MqttWatcher(const MqttWatcher&) = delete;
  MqttWatcher& operator=(const MqttWatcher&) = delete;

  // Every message so far, in order.
  std::vector<Message> Messages() const;
  // The first message from index `from` on (Messages()'s order) for which
  // `match` holds, waiting up to `wait`.
  std::optional<Message> WaitFor(const std::function<bool(const Message&)>& match,
                                 std::chrono::milliseconds wait, size_t from = 0) const;
  // The first message on `topic` (from index `from`), waiting up to `wait`.
  std::optional<Message> WaitForTopic(const std::string& topic, std::chrono::milliseconds wait,
                                      size_t from = 0) const;
  // The last payload seen on `topic`.
  std::optional<std::string> Last(const std::string& topic) const;
  size_t Count() const;

  // Publishes (QoS 1, not retained) and waits until the broker took it.
  void Publish(const std::string& topic, const std::string& payload, bool retain = false);

 private:
  static void OnConnect(mosquitto*, void* self, int result);
  static void OnMessage(mosquitto*, void* self, const mosquitto_message* message);
  static void OnPublish(mosquitto*, void* self, int mid);

  std::string filter_;
  mosquitto* client_ = nullptr;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool subscribed_ = false;
  std::vector<Message> messages_;
  std::vector<int> acknowledged_;
};

}  // namespace domian::testing
