// libmosquitto glue. libmosquitto is driven by hand on the bridge's own
// thread (mosquitto_loop_read/write/misc on its socket, polled together
// with an eventfd), not by its own thread: the bridge then owns the timing
// of reconnections (the backoff, on the injected clock), a Publish() wakes
// it without a libmosquitto call on the caller's thread, and Stop() can
// say goodbye and end at a known point. Connections are made with
// mosquitto_connect_async: a broker that does not answer costs the
// keep-alive time on this thread, never a blocking connect().
#include "core/mqtt/mqtt_bridge.h"

#include <mosquitto.h>
#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "core/common/net.h"
#include "core/common/utf8.h"
#include "core/mqtt/password_file.h"

namespace domian::mqtt {
namespace {

// How long the bridge's thread sleeps at most: libmosquitto's keep-alive
// (pings, and giving up on a silent broker) is checked this often.
constexpr Millis kPollTick{1000};
// While saying goodbye, the socket is looked at this often.
constexpr Millis kGoodbyeTick{50};
// Availability and HA's status: QoS 1, so a broker that restarts between
// a publish and its delivery still gets it.
constexpr int kAvailabilityQos = 1;

std::once_flag library_initialised;

std::string JoinedBroker(const MqttBridge::Options& options) {
  return JoinHostPort(options.host, options.port);
}

double Seconds(MonoTime::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

bool IsPlainTopic(const std::string& topic) {
  return !topic.empty() && topic.size() <= kMaxTopicBytes && IsValidUtf8(topic) &&
         topic.find_first_of(std::string("+#\0", 3)) == std::string::npos;
}

// A refusal in CONNACK (MQTT 3.1.1, section 3.2.2.3), in words.
std::string RefusalWords(int result, const MqttBridge::Options& options) {
  switch (result) {
    case 1:
      return "refused by the broker: it does not accept MQTT 3.1.1";
    case 2:
      return "refused by the broker: it does not accept the client id '" + options.client_id +
             "'";
    case 3:
      return "refused by the broker: it says it is unavailable";
    case 4:
    case 5:
      return options.username.empty()
                 ? "not authorised: the broker wants a username and password "
                   "(mqtt.username, mqtt.password_file)"
                 : "not authorised: wrong username or password (mqtt.username, "
                   "mqtt.password_file)";
    default:
      return "refused by the broker (CONNACK code " + std::to_string(result) + ")";
  }
}

// Why a connection (or an attempt) ended, in words. `error`: errno as the
// failure left it.
std::string FailureWords(int result, int error, bool was_connected,
                         const MqttBridge::Options& options) {
  const std::string broker = JoinedBroker(options);
  switch (result) {
    case MOSQ_ERR_ERRNO:
      switch (error) {
        case ECONNREFUSED:
          return "connection refused: no broker listening at " + broker;
        case ECONNRESET:
        case EPIPE:
          return was_connected ? "connection lost: the broker closed it"
                               : "connection closed by " + broker +
                                     " before MQTT began (with TLS on the broker, set mqtt.tls)";
        case ETIMEDOUT:
          return "timed out connecting to " + broker;
        case 0:
          return "connection to " + broker + " failed";
        default:
          return "cannot connect to " + broker + ": " + std::strerror(error);
      }
    case MOSQ_ERR_EAI:
      return "cannot resolve the broker's host '" + options.host + "': " + ::gai_strerror(error);
    case MOSQ_ERR_KEEPALIVE:
      return was_connected ? "the broker stopped answering (nothing for " +
                                 std::to_string(kKeepAliveSeconds) + " s)"
                           : "no answer from " + broker + " within " +
                                 std::to_string(kKeepAliveSeconds) + " s";
    case MOSQ_ERR_CONN_LOST:
      return was_connected ? "connection lost: the broker closed it"
                           : "connection closed by " + broker + " before MQTT began";
    case MOSQ_ERR_TLS:
    case MOSQ_ERR_TLS_HANDSHAKE:
      return "TLS failed with " + broker +
             ": its certificate is not of the CA trusted (mqtt.ca_file, else the system's) or "
             "not for host '" + options.host + "', or it does not speak TLS on this port";
    case MOSQ_ERR_PROTOCOL:
    case MOSQ_ERR_MALFORMED_PACKET:
      return "protocol error: " + broker +
             " does not answer as an MQTT broker (with TLS on the broker, set mqtt.tls)";
    default:
      return std::string("connection failed: ") + mosquitto_strerror(result);
  }
}

}  // namespace

std::string AvailabilityTopic(const std::string& cluster, const std::string& node_id) {
  return "domian/" + cluster + "/node/" + node_id + "/availability";
}

MqttBridge::MqttBridge(Options options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      status_topic_(options_.discovery_prefix + "/status"),
      retry_delay_(options_.first_retry) {
  absl::MutexLock lock(&status_mu_);
  state_since_ = clock_.Now();
}

MqttBridge::~MqttBridge() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::Status MqttBridge::Start() {
  auto fail = [this](std::string why) {
    spdlog::error("MQTT bridge off: {}", why);
    SetState(State::kFailed, why);
    return absl::FailedPreconditionError(why);
  };
  if (!options_.password_file.empty()) {
    absl::StatusOr<std::string> password = ReadPasswordFile(options_.password_file);
    if (!password.ok()) {
      return fail("mqtt.password_file: " + std::string(StatusMessage(password.status())));
    }
    password_ = *std::move(password);
  }
  std::call_once(library_initialised, [] { mosquitto_lib_init(); });
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return fail(std::string("cannot create an eventfd: ") + std::strerror(errno));
  // A clean session: nothing is asked of the broker to keep while this
  // node is away; what matters is re-published on every connection.
  client_ = mosquitto_new(options_.client_id.c_str(), true, this);
  if (client_ == nullptr) return fail("cannot create an MQTT client (out of memory?)");
  mosquitto_int_option(client_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  // A state right after a command is a small write after a small write:
  // with Nagle's algorithm it waits for the broker's delayed ACK (40 ms).
  mosquitto_int_option(client_, MOSQ_OPT_TCP_NODELAY, 1);
  if (!options_.username.empty()) {
    const int set = mosquitto_username_pw_set(client_, options_.username.c_str(),
                                              password_.empty() ? nullptr : password_.c_str());
    if (set != MOSQ_ERR_SUCCESS) {
      return fail(std::string("mqtt.username: ") + mosquitto_strerror(set));
    }
  }
  const int will = mosquitto_will_set(client_, options_.availability_topic.c_str(),
                                      static_cast<int>(std::strlen(kOffline)), kOffline,
                                      kAvailabilityQos, true);
  if (will != MOSQ_ERR_SUCCESS) {
    return fail("cannot set the last will on " + options_.availability_topic + ": " +
                mosquitto_strerror(will));
  }
  if (options_.tls) {
    const int tls = options_.ca_file.empty()
                        ? mosquitto_int_option(client_, MOSQ_OPT_TLS_USE_OS_CERTS, 1)
                        : mosquitto_tls_set(client_, options_.ca_file.c_str(), nullptr, nullptr,
                                            nullptr, nullptr);
    if (tls != MOSQ_ERR_SUCCESS) {
      return fail(options_.ca_file.empty()
                      ? std::string("cannot use the system's CA store: ") + mosquitto_strerror(tls)
                      : "mqtt.ca_file " + options_.ca_file.string() + ": " +
                            mosquitto_strerror(tls) + " (is it a readable PEM file?)");
    }
  }
  mosquitto_connect_callback_set(client_, &MqttBridge::OnConnect);
  mosquitto_disconnect_callback_set(client_, &MqttBridge::OnDisconnect);
  mosquitto_publish_callback_set(client_, &MqttBridge::OnPublish);
  mosquitto_message_callback_set(client_, &MqttBridge::OnMessage);
  next_attempt_ = clock_.Now();
  SetState(State::kConnecting);
  spdlog::info("MQTT bridge: connecting to {} as '{}'{}", JoinedBroker(options_),
               options_.client_id, options_.tls ? " over TLS" : "");
  running_ = true;
  thread_ = std::thread(&MqttBridge::Run, this);
  return absl::OkStatus();
}

void MqttBridge::Stop() {
  if (!thread_.joinable()) return;
  running_ = false;
  stopping_ = true;
  Wake();
  thread_.join();
  mosquitto_destroy(client_);
  client_ = nullptr;
  uint64_t left = 0;
  {
    absl::MutexLock lock(&queue_mu_);
    left = queue_.size();
    queue_.clear();
    queued_bytes_ = 0;
  }
  if (left > 0) CountDropped(left, "the bridge stopped");
  SetState(State::kOff);
}

bool MqttBridge::Publish(std::string topic, std::string payload, bool retain, int qos) {
  if (!running_) {
    // Nothing would ever send it: no queue fills up behind a bridge that
    // is off.
    CountDropped(1, "the bridge is not running (see its state)");
    return false;
  }
  if (!IsPlainTopic(topic)) {
    CountDropped(1, "not a plain topic name: '" + BoundedText(topic, 80) + "'");
    return false;
  }
  if (qos != 0 && qos != 1) {
    CountDropped(1, "QoS " + std::to_string(qos) + " (0 or 1 only) on " + topic);
    return false;
  }
  if (payload.size() > kMaxPublishBytes) {
    CountDropped(1, std::to_string(payload.size()) + " bytes on " + topic + ", more than " +
                        std::to_string(kMaxPublishBytes));
    return false;
  }
  bool queued = false;
  {
    absl::MutexLock lock(&queue_mu_);
    const size_t bytes = topic.size() + payload.size();
    if (queue_.size() < kMaxQueuedMessages && queued_bytes_ + bytes <= kMaxQueuedBytes) {
      queued_bytes_ += bytes;
      queue_.push_back({std::move(topic), std::move(payload), retain, qos});
      queued = true;
    }
  }
  if (!queued) {
    CountDropped(1, "the outgoing queue is full (the broker is away or slow)");
    return false;
  }
  Wake();
  return true;
}

bool MqttBridge::Subscribe(const std::string& filter) {
  if (filter.empty() || filter.size() > kMaxTopicBytes || !IsValidUtf8(filter) ||
      mosquitto_sub_topic_check(filter.c_str()) != MOSQ_ERR_SUCCESS) {
    spdlog::warn("MQTT bridge: not a topic filter: '{}'", BoundedText(filter, 80));
    return false;
  }
  {
    absl::MutexLock lock(&queue_mu_);
    if (subscriptions_.contains(filter)) return true;
    if (subscriptions_.size() >= kMaxSubscriptions) {
      spdlog::warn("MQTT bridge: not subscribing to '{}': {} subscriptions already", filter,
                   kMaxSubscriptions);
      return false;
    }
    subscriptions_.insert(filter);
    subscription_changes_.emplace_back(true, filter);
  }
  Wake();
  return true;
}

void MqttBridge::DropQueued(const std::function<bool(const std::string& topic)>& drop) {
  absl::MutexLock lock(&queue_mu_);
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (drop(it->topic)) {
      queued_bytes_ -= it->topic.size() + it->payload.size();
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

void MqttBridge::Unsubscribe(const std::string& filter) {
  {
    absl::MutexLock lock(&queue_mu_);
    if (subscriptions_.erase(filter) == 0) return;
    subscription_changes_.emplace_back(false, filter);
  }
  Wake();
}

MqttStatus MqttBridge::Status() const {
  MqttStatus status;
  status.configured = true;
  status.broker = JoinedBroker(options_);
  status.tls = options_.tls;
  status.availability_topic = options_.availability_topic;
  {
    absl::MutexLock lock(&queue_mu_);
    status.queued = queue_.size();
  }
  const MonoTime now = clock_.Now();
  absl::MutexLock lock(&status_mu_);
  switch (state_) {
    case State::kOff: status.state = "off"; break;
    case State::kConnecting: status.state = "connecting"; break;
    case State::kConnected: status.state = "connected"; break;
    case State::kRetrying: status.state = "retrying"; break;
    case State::kFailed: status.state = "failed"; break;
  }
  status.connected = state_ == State::kConnected;
  status.state_seconds = Seconds(now - state_since_);
  status.last_error = last_error_;
  if (!last_error_.empty()) status.last_error_seconds = Seconds(now - last_error_at_);
  status.published = published_;
  status.dropped = dropped_;
  status.incoming_dropped = incoming_dropped_;
  status.attempts = attempts_;
  status.connects = connects_;
  if (state_ == State::kRetrying) status.retry_in_seconds = Seconds(retry_at_ - now);
  return status;
}

// --- the bridge's thread ---

void MqttBridge::Run() {
  while (!stopping_) {
    if (!socket_open_ && clock_.Now() >= next_attempt_) Connect();
    ApplySubscriptions();
    SendQueued();
    Millis wait = kPollTick;
    if (!socket_open_) {
      wait = std::clamp(std::chrono::duration_cast<Millis>(next_attempt_ - clock_.Now()),
                        Millis(0), kPollTick);
    }
    WaitForSocket(wait);
  }
  Goodbye();
}

void MqttBridge::Connect() {
  pending_error_.clear();
  {
    absl::MutexLock lock(&status_mu_);
    ++attempts_;
  }
  SetState(State::kConnecting);
  errno = 0;
  const int result = mosquitto_connect_async(client_, options_.host.c_str(), options_.port,
                                             kKeepAliveSeconds);
  const int error = errno;
  if (result == MOSQ_ERR_SUCCESS) {
    socket_open_ = true;
    return;
  }
  ConnectionFailed(FailureWords(result, error, false, options_));
}

void MqttBridge::WaitForSocket(Millis timeout) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
  nfds_t count = 1;
  const int socket = socket_open_ ? mosquitto_socket(client_) : -1;
  if (socket >= 0) {
    fds[1] = {socket, static_cast<short>(POLLIN | (mosquitto_want_write(client_) ? POLLOUT : 0)),
              0};
    count = 2;
  }
  const int ready = ::poll(fds, count, static_cast<int>(timeout.count()));
  if (ready < 0) return;  // EINTR: the loop comes back
  if ((fds[0].revents & POLLIN) != 0) {
    uint64_t wakes = 0;
    [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &wakes, sizeof wakes);
  }
  if (socket < 0) return;
  // Each call below may end the connection, running OnDisconnect.
  if ((fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
    Settle(mosquitto_loop_read(client_, 1));
  }
  if (socket_open_ && (fds[1].revents & POLLOUT) != 0) Settle(mosquitto_loop_write(client_, 1));
  if (socket_open_) Settle(mosquitto_loop_misc(client_));
}

void MqttBridge::Settle(int result) {
  const int error = errno;
  // A failed TLS handshake closes the socket without OnDisconnect
  // (libmosquitto 2.0's net__socket_connect_tls): the connection is over
  // all the same.
  if (socket_open_ && mosquitto_socket(client_) < 0) HandleDisconnect(result, error);
}

void MqttBridge::SendQueued() {
  while (session_open_ && in_flight_.size() < kMaxInFlight) {
    Message message;
    {
      absl::MutexLock lock(&queue_mu_);
      if (queue_.empty()) return;
      message = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= message.topic.size() + message.payload.size();
    }
    int mid = 0;
    const int result = mosquitto_publish(client_, &mid, message.topic.c_str(),
                                         static_cast<int>(message.payload.size()),
                                         message.payload.data(), message.qos, message.retain);
    if (result != MOSQ_ERR_SUCCESS) {
      CountDropped(1, "libmosquitto refused a message on " + message.topic + ": " +
                          mosquitto_strerror(result));
      continue;
    }
    in_flight_[mid] = message.qos;
  }
}

void MqttBridge::ApplySubscriptions() {
  if (!session_open_) return;
  std::deque<std::pair<bool, std::string>> changes;
  {
    absl::MutexLock lock(&queue_mu_);
    changes.swap(subscription_changes_);
  }
  for (const auto& [subscribe, filter] : changes) {
    const int result = subscribe
                           ? mosquitto_subscribe(client_, nullptr, filter.c_str(), kAvailabilityQos)
                           : mosquitto_unsubscribe(client_, nullptr, filter.c_str());
    // Only a connection lost meanwhile fails here; the next connection
    // subscribes to everything wanted then.
    if (result != MOSQ_ERR_SUCCESS) {
      spdlog::debug("MQTT bridge: {} '{}': {}", subscribe ? "subscribe" : "unsubscribe", filter,
                    mosquitto_strerror(result));
    }
  }
}

void MqttBridge::Goodbye() {
  const bool was_connected = session_open_;
  // What the owner published last (its services going offline) leaves
  // before the goodbye, within the same budget.
  const MonoTime flush_deadline = clock_.Now() + kGoodbyeBudget;
  while (session_open_ && clock_.Now() < flush_deadline) {
    ApplySubscriptions();
    SendQueued();
    bool queued = false;
    {
      absl::MutexLock lock(&queue_mu_);
      queued = !queue_.empty();
    }
    if (!queued && in_flight_.empty()) break;
    WaitForSocket(kGoodbyeTick);
  }
  if (session_open_) {
    int mid = 0;
    if (mosquitto_publish(client_, &mid, options_.availability_topic.c_str(),
                          static_cast<int>(std::strlen(kOffline)), kOffline, kAvailabilityQos,
                          true) == MOSQ_ERR_SUCCESS) {
      goodbye_mid_ = mid;
      const MonoTime deadline = clock_.Now() + kGoodbyeBudget;
      while (session_open_ && !goodbye_acknowledged_ && clock_.Now() < deadline) {
        WaitForSocket(kGoodbyeTick);
      }
    }
    if (!goodbye_acknowledged_) {
      spdlog::warn("MQTT bridge: the broker did not take 'offline' in time; its last will "
                   "says it once the connection is gone");
    }
  }
  if (socket_open_) {
    // A clean DISCONNECT: the broker drops the last will (`offline` was
    // published above). Written before the socket closes.
    mosquitto_disconnect(client_);
    const MonoTime deadline = clock_.Now() + kGoodbyeBudget;
    while (socket_open_ && mosquitto_want_write(client_) && clock_.Now() < deadline) {
      WaitForSocket(kGoodbyeTick);
    }
  }
  if (was_connected) spdlog::info("MQTT bridge: disconnected from {}", JoinedBroker(options_));
}

void MqttBridge::Wake() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  // Cannot fail short of overflowing the counter; a pending wake-up does
  // the same job.
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

void MqttBridge::OnConnect(mosquitto* /*client*/, void* self, int result) {
  static_cast<MqttBridge*>(self)->HandleConnect(result);
}

void MqttBridge::OnDisconnect(mosquitto* /*client*/, void* self, int result) {
  const int error = errno;  // before anything else can change it
  static_cast<MqttBridge*>(self)->HandleDisconnect(result, error);
}

void MqttBridge::OnPublish(mosquitto* /*client*/, void* self, int mid) {
  auto* bridge = static_cast<MqttBridge*>(self);
  bridge->in_flight_.erase(mid);
  if (mid == bridge->goodbye_mid_) bridge->goodbye_acknowledged_ = true;
  absl::MutexLock lock(&bridge->status_mu_);
  ++bridge->published_;
}

void MqttBridge::OnMessage(mosquitto* /*client*/, void* self, const mosquitto_message* message) {
  if (message != nullptr) static_cast<MqttBridge*>(self)->HandleMessage(*message);
}

void MqttBridge::HandleConnect(int result) {
  if (result != 0) {
    // libmosquitto closes the connection next (HandleDisconnect).
    pending_error_ = RefusalWords(result, options_);
    return;
  }
  session_open_ = true;
  retry_delay_ = options_.first_retry;
  {
    absl::MutexLock lock(&status_mu_);
    ++connects_;
  }
  SetState(State::kConnected);
  spdlog::info("MQTT bridge: connected to {}; {} is online", JoinedBroker(options_),
               options_.availability_topic);
  mosquitto_publish(client_, nullptr, options_.availability_topic.c_str(),
                    static_cast<int>(std::strlen(kOnline)), kOnline, kAvailabilityQos, true);
  mosquitto_subscribe(client_, nullptr, status_topic_.c_str(), kAvailabilityQos);
  // A clean session starts with no subscriptions: every filter wanted now
  // is subscribed again, and the changes noted before are part of that.
  std::vector<std::string> filters;
  {
    absl::MutexLock lock(&queue_mu_);
    subscription_changes_.clear();
    filters.assign(subscriptions_.begin(), subscriptions_.end());
  }
  for (const std::string& filter : filters) {
    mosquitto_subscribe(client_, nullptr, filter.c_str(), kAvailabilityQos);
  }
  if (options_.connected) options_.connected();
}

void MqttBridge::HandleDisconnect(int result, int error) {
  const bool was_connected = session_open_;
  socket_open_ = false;
  session_open_ = false;
  // QoS 0 messages not yet written are gone with the connection; QoS 1
  // ones stay with libmosquitto, which sends them again on reconnection.
  uint64_t lost = 0;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second == 0) {
      it = in_flight_.erase(it);
      ++lost;
    } else {
      ++it;
    }
  }
  if (lost > 0) CountDropped(lost, "the connection ended before they were sent");
  if (stopping_) return;
  ConnectionFailed(!pending_error_.empty() ? pending_error_
                                           : FailureWords(result, error, was_connected, options_));
}

void MqttBridge::ConnectionFailed(const std::string& why) {
  const Millis delay = retry_delay_;
  next_attempt_ = clock_.Now() + delay;
  retry_delay_ = std::min(retry_delay_ * 2, options_.max_retry);
  std::string previous;
  {
    absl::MutexLock lock(&status_mu_);
    previous = last_error_;
    retry_at_ = next_attempt_;
  }
  // Each new problem is a warning; the same one again, at most every
  // max_retry, only for debugging.
  if (why != previous) {
    spdlog::warn("MQTT bridge: {}; trying again in {} ms (then backing off to {} s)", why,
                 delay.count(), options_.max_retry.count() / 1000);
  } else {
    spdlog::debug("MQTT bridge: {}; trying again in {} ms", why, delay.count());
  }
  SetState(State::kRetrying, why);
}

void MqttBridge::HandleMessage(const mosquitto_message& message) {
  const std::string topic = message.topic != nullptr ? message.topic : "";
  const size_t size = message.payloadlen > 0 ? static_cast<size_t>(message.payloadlen) : 0;
  if (size > kMaxIncomingPayloadBytes) {
    {
      absl::MutexLock lock(&status_mu_);
      ++incoming_dropped_;
    }
    ++incoming_unlogged_;
    const MonoTime now = clock_.Now();
    if (incoming_logged_ == MonoTime{} || now - incoming_logged_ >= kRepeatLogInterval) {
      spdlog::warn("MQTT bridge: dropped {} incoming message(s), the last of {} bytes on '{}': "
                   "more than {} bytes",
                   incoming_unlogged_, size, BoundedText(topic, 200), kMaxIncomingPayloadBytes);
      incoming_logged_ = now;
      incoming_unlogged_ = 0;
    }
    return;
  }
  const std::string payload(static_cast<const char*>(message.payload), size);
  if (topic != status_topic_) {
    if (options_.message) options_.message(topic, payload, message.retain);
    return;
  }
  if (payload == kOnline) {
    spdlog::info("MQTT bridge: Home Assistant announced itself online ({})", status_topic_);
    if (options_.home_assistant_online) options_.home_assistant_online();
  } else if (payload == kOffline) {
    spdlog::info("MQTT bridge: Home Assistant went offline ({})", status_topic_);
  }
}

void MqttBridge::SetState(State state, const std::string& error) {
  const MonoTime now = clock_.Now();
  absl::MutexLock lock(&status_mu_);
  if (state != state_) {
    state_ = state;
    state_since_ = now;
  }
  if (!error.empty()) {
    last_error_ = error;
    last_error_at_ = now;
  }
}

void MqttBridge::CountDropped(uint64_t count, const std::string& why) {
  const MonoTime now = clock_.Now();
  absl::MutexLock lock(&status_mu_);
  dropped_ += count;
  dropped_unlogged_ += count;
  if (dropped_logged_ == MonoTime{} || now - dropped_logged_ >= kRepeatLogInterval) {
    spdlog::warn("MQTT bridge: dropped {} outgoing message(s) ({} in all), the last because: {}",
                 dropped_unlogged_, dropped_, why);
    dropped_logged_ = now;
    dropped_unlogged_ = 0;
  }
}

}  // namespace domian::mqtt
