// RemoteNodesClient: routing::RemoteNodes over gRPC. It converts a call to
// the wire and the answer back, nothing more: where a call goes and what
// a failure means are routing's decisions. Forwarded calls complete on the
// EventLoop, so no thread waits for another node's plugin.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <set>
#include <string>

#include "core/routing/remote_nodes.h"
#include "core/rpc/channels.h"
#include "core/rpc/event_loop.h"

namespace domian::rpc {

class RemoteNodesClient final : public routing::RemoteNodes {
 public:
  RemoteNodesClient(EventLoop& loop, Channels& channels) : loop_(loop), channels_(channels) {}

  absl::Status Invoke(const std::string& address, const routing::ServiceCall& call,
                      routing::Deadline deadline, ReplyDone done) override;
  absl::Status HandOver(const std::string& address, const placement::HandOverRequest& request,
                        routing::Deadline deadline) override;
  void CancelCalls() override;

  // A forwarded call in flight (remote_nodes_client.cc).
  class Forward;

 private:
  void Ended(Forward* forward);

  EventLoop& loop_;
  Channels& channels_;
  absl::Mutex mu_;
  std::set<Forward*> forwards_ ABSL_GUARDED_BY(mu_);  // in flight; cancelled by CancelCalls()
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace domian::rpc
