#include "plugins/lights/bridge_client.h"

#include <httplib.h>

#include <charconv>

namespace domian::lights {

std::string BridgeAddress::ToString() const {
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == kBridgeHttpPort ? shown : shown + ":" + std::to_string(port);
}

std::optional<BridgeAddress> ParseBridgeAddress(const std::string& text) {
  BridgeAddress address;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close == 1) return std::nullopt;
    address.host = text.substr(1, close - 1);
    const std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string::npos && text.find(':', colon + 1) != std::string::npos) {
      return std::nullopt;  // a bare IPv6 address needs brackets
    }
    address.host = text.substr(0, colon);
    if (colon != std::string::npos) port = text.substr(colon + 1);
    if (address.host.find_first_of(" /?#@") != std::string::npos) return std::nullopt;
  }
  if (address.host.empty()) return std::nullopt;
  if (!port.empty() || text.back() == ':') {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    address.port = static_cast<uint16_t>(value);
  }
  return address;
}

BridgeClient::BridgeClient(std::chrono::milliseconds timeout, int max_in_flight)
    : timeout_(timeout), max_in_flight_(max_in_flight) {}

void BridgeClient::SetAddress(std::optional<BridgeAddress> address) {
  std::lock_guard lock(mu_);
  address_ = std::move(address);
}

std::optional<BridgeAddress> BridgeClient::address() const {
  std::lock_guard lock(mu_);
  return address_;
}

HttpResult BridgeClient::Get(const std::string& path) { return Send("GET", path, "", {}); }

HttpResult BridgeClient::Put(const std::string& path, const nlohmann::json& body,
                             const std::function<void()>& on_start) {
  return Send("PUT", path, body.dump(), on_start);
}

HttpResult BridgeClient::Post(const std::string& path, const nlohmann::json& body) {
  return Send("POST", path, body.dump(), {});
}

BridgeCounters BridgeClient::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

int BridgeClient::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

HttpResult BridgeClient::Send(const std::string& method, const std::string& path,
                              const std::string& body, const std::function<void()>& on_start) {
  std::optional<BridgeAddress> address;
  {
    std::unique_lock lock(mu_);
    slot_free_.wait(lock, [this] { return in_flight_ < max_in_flight_; });
    ++in_flight_;
    ++counters_.requests;
    address = address_;
  }
  if (on_start) on_start();
  HttpResult result = address ? Exchange(*address, method, path, body)
                              : HttpResult{0, nullptr, "the bridge's address is not known yet"};
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    if (!result.answered()) ++counters_.no_answer;
    if (result.throttled()) ++counters_.throttled;
  }
  slot_free_.notify_one();
  return result;
}

HttpResult BridgeClient::Exchange(const BridgeAddress& address, const std::string& method,
                                  const std::string& path, const std::string& body) const {
  httplib::Client client(address.host, address.port);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout_);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout_ - seconds);
  client.set_connection_timeout(seconds.count(), micros.count());
  client.set_read_timeout(seconds.count(), micros.count());
  client.set_write_timeout(seconds.count(), micros.count());
  client.set_keep_alive(false);

  // The read timeout applies to each read; a bridge that trickles its
  // answer is cut off at the timeout overall, and at the size limit.
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::string received;
  bool too_large = false;
  bool too_slow = false;
  httplib::Request request;
  request.method = method;
  request.path = path;
  request.body = body;
  if (!body.empty()) request.set_header("Content-Type", "application/json");
  request.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    too_large = received.size() + length > kMaxBridgeReplyBytes;
    too_slow = std::chrono::steady_clock::now() > deadline;
    if (too_large || too_slow) return false;  // ends the request
    received.append(data, length);
    return true;
  };
  const httplib::Result reply = client.send(request);

  HttpResult result;
  if (too_large || too_slow) {
    result.error = "the bridge at " + address.ToString() +
                   (too_large ? " sent more than " + std::to_string(kMaxBridgeReplyBytes) + " bytes"
                              : " did not finish its answer within " +
                                    std::to_string(timeout_.count()) + " ms");
    return result;  // no usable answer
  }
  if (!reply) {
    result.error = "no answer from the bridge at " + address.ToString() + " (" +
                   httplib::to_string(reply.error()) + ")";
    return result;
  }
  result.status = reply->status;
  result.body = nlohmann::json::parse(received, nullptr, /*allow_exceptions=*/false);
  if (result.body.is_discarded()) {
    result.body = nullptr;
    if (reply->status == 200) result.error = "the bridge's reply is not JSON";
  }
  if (reply->status != 200 && result.error.empty()) {
    result.error = "the bridge answered HTTP " + std::to_string(reply->status);
  }
  return result;
}

}  // namespace domian::lights
