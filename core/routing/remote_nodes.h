// RemoteNodes: how routing reaches another node. Routing decides where a
// call goes; this interface only carries it there and back (gRPC in
// core/rpc, a fake in tests), so nothing here sees protobuf or channels.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/common/status.h"
#include "core/placement/placement.h"

namespace domian::routing {

// A service command as it travels between nodes.
struct ServiceCall {
  std::string service;
  std::string command;
  std::string args_json;
  // Times it was forwarded already: a forwarded call is never forwarded
  // again (two nodes that each think the other runs a service would pass
  // it back and forth).
  uint32_t hops = 0;
};

// Its answer: the plugin's reply, and the node whose plugin gave it.
struct ServiceReply {
  std::string reply_json;
  std::string node;
};

using Deadline = std::chrono::system_clock::time_point;

class RemoteNodes {
 public:
  using ReplyDone = std::function<void(absl::StatusOr<ServiceReply>)>;

  virtual ~RemoteNodes() = default;
  // Runs `call` on the node at `address` without blocking: `done` gets the
  // answer exactly once, from any thread; the status is the remote node's
  // own, or UNAVAILABLE / DEADLINE_EXCEEDED when it could not be reached.
  // A call that cannot even start (this node is stopping) is refused with
  // the returned status instead, and `done` is never called.
  virtual absl::Status Invoke(const std::string& address, const ServiceCall& call,
                              Deadline deadline, ReplyDone done) = 0;
  // Hands a service to the node at `address`; blocks until it answered.
  virtual absl::Status HandOver(const std::string& address,
                                const placement::HandOverRequest& request, Deadline deadline) = 0;
  // Ends every Invoke in flight (their `done` gets CANCELLED) and refuses
  // new ones: the node is stopping.
  virtual void CancelCalls() = 0;
};

}  // namespace domian::routing
