#include "tests/support/mqtt_watcher.h"

#include <mosquitto.h>

#include <algorithm>
#include <stdexcept>

namespace domian::testing {
namespace {
// A loaded 2-core machine under ASan connects within a few seconds.
constexpr std::chrono::seconds kConnectDeadline{20};
}  // namespace

MqttWatcher::MqttWatcher(uint16_t port, const std::string& user, const std::string& password,
                         const std::string& filter)
    : filter_(filter) {
  mosquitto_lib_init();
  client_ = mosquitto_new(nullptr, true, this);
  if (client_ == nullptr) throw std::runtime_error("mosquitto_new failed");
  mosquitto_username_pw_set(client_, user.c_str(), password.c_str());
  mosquitto_connect_callback_set(client_, &MqttWatcher::OnConnect);
  mosquitto_message_callback_set(client_, &MqttWatcher::OnMessage);
  mosquitto_publish_callback_set(client_, &MqttWatcher::OnPublish);
  if (mosquitto_connect(client_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
      mosquitto_loop_start(client_) != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(client_);
    throw std::runtime_error("the watcher cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, kConnectDeadline, [this] { return subscribed_; })) {
    lock.unlock();
    mosquitto_disconnect(client_);
    mosquitto_loop_stop(client_, true);
    mosquitto_destroy(client_);
    throw std::runtime_error("the watcher was not subscribed in time");
  }
}

MqttWatcher::~MqttWatcher() {
  mosquitto_disconnect(client_);
  mosquitto_loop_stop(client_, true);
  mosquitto_destroy(client_);
}

void MqttWatcher::OnConnect(mosquitto* client, void* self, int result) {
  auto* watcher = static_cast<MqttWatcher*>(self);
  if (result != 0) return;
  mosquitto_subscribe(client, nullptr, watcher->filter_.c_str(), 1);
  // Messages are only kept from the subscription on; the SUBACK is not
  // awaited (a retained message may arrive first, and is kept).
  std::lock_guard lock(watcher->mu_);
  watcher->subscribed_ = true;
  watcher->cv_.notify_all();
}

void MqttWatcher::OnMessage(mosquitto*, void* self, const mosquitto_message* message) {
  auto* watcher = static_cast<MqttWatcher*>(self);
  Message kept{.topic = message->topic,
               .payload = std::string(static_cast<const char*>(message->payload),
                                      static_cast<size_t>(std::max(message->payloadlen, 0))),
               .retained = message->retain,
               .at = std::chrono::steady_clock::now()};
  std::lock_guard lock(watcher->mu_);
  watcher->messages_.push_back(std::move(kept));
  watcher->cv_.notify_all();
}

void MqttWatcher::OnPublish(mosquitto*, void* self, int mid) {
  auto* watcher = static_cast<MqttWatcher*>(self);
  std::lock_guard lock(watcher->mu_);
  watcher->acknowledged_.push_back(mid);
  watcher->cv_.notify_all();
}

std::vector<MqttWatcher::Message> MqttWatcher::Messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

size_t MqttWatcher::Count() const {
  std::lock_guard lock(mu_);
  return messages_.size();
}

std::optional<MqttWatcher::Message> MqttWatcher::WaitFor(
    const std::function<bool(const Message&)>& match, std::chrono::milliseconds wait,
    size_t from) const {
  std::unique_lock lock(mu_);
  std::optional<Message> found;
  cv_.wait_for(lock, wait, [&] {
    for (size_t i = from; i < messages_.size(); ++i) {
      if (match(messages_[i])) {
        found = messages_[i];
        return true;
      }
    }
    return false;
  });
  return found;
}

std::optional<MqttWatcher::Message> MqttWatcher::WaitForTopic(const std::string& topic,
                                                              std::chrono::milliseconds wait,
                                                              size_t from) const {
  return WaitFor([&](const Message& message) { return message.topic == topic; }, wait, from);
}

std::optional<std::string> MqttWatcher::Last(const std::string& topic) const {
  std::lock_guard lock(mu_);
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    if (it->topic == topic) return it->payload;
  }
  return std::nullopt;
}

void MqttWatcher::Publish(const std::string& topic, const std::string& payload, bool retain) {
  int mid = 0;
  if (mosquitto_publish(client_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                        payload.data(), 1, retain) != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("the watcher cannot publish on " + topic);
  }
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, kConnectDeadline, [&] {
        return std::find(acknowledged_.begin(), acknowledged_.end(), mid) != acknowledged_.end();
      })) {
    throw std::runtime_error("the broker did not take the watcher's message on " + topic);
  }
}

}  // namespace domian::testing
