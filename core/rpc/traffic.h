// Counters of heartbeat traffic, shared by the client and server halves of
// the RPC layer and reported by GetStatus (domianctl status --json).
#pragma once

#include <atomic>
#include <cstdint>

namespace domian::rpc {

struct TrafficCounters {
  std::atomic<uint64_t> lists_sent{0};
  std::atomic<uint64_t> lists_received{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> bytes_received{0};
};

}  // namespace domian::rpc
