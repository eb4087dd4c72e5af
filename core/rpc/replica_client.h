// ReplicaClient: replica::ReplicaTransport over gRPC (PutState, GetState
// of domian.v1.Domain), asynchronous on the daemon's EventLoop: a copy
// sent to a slow peer holds no thread. It converts and sends, nothing
// more; what an answer means is the Replicator's to decide.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <set>

#include "core/replica/replicator.h"
#include "core/rpc/channels.h"
#include "core/rpc/event_loop.h"
#include "core/rpc/traffic.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

void ToProto(const replica::StateCopy& copy, v1::StateCopy& out);
replica::StateCopy FromProto(const v1::StateCopy& copy);
void ToProto(const replica::StateReport& report, v1::StateReport& out);
// A peer's report, its strings cut to replica::kMaxReportStringBytes.
replica::StateReport FromProto(const v1::StateReport& report);

class ReplicaClient final : public replica::ReplicaTransport {
 public:
  ReplicaClient(EventLoop& loop, Channels& channels, TrafficCounters& traffic)
      : loop_(loop), channels_(channels), traffic_(traffic) {}

  void Put(const replica::Peer& peer, const replica::StateCopy& copy,
           std::chrono::milliseconds deadline, PutDone done) override;
  void Get(const replica::Peer& peer, const std::string& service,
           std::chrono::milliseconds deadline, GetDone done) override;
  // Refuses new calls and cancels those in flight (their answers, failed,
  // come back on the EventLoop before it stops).
  void CancelCalls();

  class Call;  // one call in flight (replica_client.cc)

 private:
  // A call to `peer`, tracked until it ends; nullptr once CancelCalls() ran.
  Call* NewCall(const replica::Peer& peer, std::chrono::milliseconds deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Ended(Call* call) ABSL_LOCKS_EXCLUDED(mu_);

  EventLoop& loop_;
  Channels& channels_;
  TrafficCounters& traffic_;
  absl::Mutex mu_;
  std::set<Call*> calls_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace domian::rpc
