// BridgeClient: HTTP requests to one Hue bridge (cpp-httplib), each with a
// timeout and never more than `max_in_flight` at once from this service,
// whatever thread asks. A bridge that does not answer is an outcome
// (HttpResult::error), never an exception.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace domian::lights {

// API v1 is plain HTTP on port 80 (443 serves it over TLS, and v2).
inline constexpr uint16_t kBridgeHttpPort = 80;
// Largest reply body read from a bridge; a real one's full state is
// well under 1 MiB.
inline constexpr size_t kMaxBridgeReplyBytes = 4 << 20;

// "host", "host:port", "[v6]" or "[v6]:port"; nullopt when malformed.
struct BridgeAddress {
  std::string host;
  uint16_t port = kBridgeHttpPort;
  std::string ToString() const;
  bool operator==(const BridgeAddress&) const = default;
};
std::optional<BridgeAddress> ParseBridgeAddress(const std::string& text);

struct HttpResult {
  int status = 0;           // HTTP status; 0 when there was no answer
  nlohmann::json body;      // parsed JSON (null when not JSON)
  std::string error;        // why there was no usable answer, else empty
  bool answered() const { return status != 0; }
  bool throttled() const { return status == 429 || status == 503; }
};

struct BridgeCounters {
  int64_t requests = 0;
  int64_t no_answer = 0;  // refused, timed out, reset
  int64_t throttled = 0;  // 429 / 503
};

class BridgeClient {
 public:
  BridgeClient(std::chrono::milliseconds timeout, int max_in_flight);

  void SetAddress(std::optional<BridgeAddress> address);
  std::optional<BridgeAddress> address() const;

  // `path` below the bridge root, e.g. "/api/config". Blocks while
  // max_in_flight requests are already out, then up to the timeout.
  HttpResult Get(const std::string& path);
  // `on_start` runs once the request has its slot, as it goes out.
  HttpResult Put(const std::string& path, const nlohmann::json& body,
                 const std::function<void()>& on_start = {});
  HttpResult Post(const std::string& path, const nlohmann::json& body);

  BridgeCounters counters() const;
  int in_flight() const;

 private:
  HttpResult Send(const std::string& method, const std::string& path, const std::string& body,
                  const std::function<void()>& on_start);
  HttpResult Exchange(const BridgeAddress& address, const std::string& method,
                      const std::string& path, const std::string& body) const;

  const std::chrono::milliseconds timeout_;
  const int max_in_flight_;
  mutable std::mutex mu_;
  std::condition_variable slot_free_;
  std::optional<BridgeAddress> address_;
  int in_flight_ = 0;
  BridgeCounters counters_;
};

}  // namespace domian::lights
