// Counters of heartbeat and state copy traffic, shared by the client and server halves of
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
  // Copies of services' states sent to peers (ReplicaClient::Put).
  std::atomic<uint64_t> state_copies_sent{0};
  std::atomic<uint64_t> state_copy_bytes_sent{0};
};

}  // namespace domian::rpc
