#include "core/rpc/server_limits.h"

#include <grpcpp/resource_quota.h>

#include "core/membership/wire_limits.h"
#include "core/rpc/channels.h"

namespace domian::rpc {
namespace {

template <typename Duration>
int Millis(Duration duration) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

}  // namespace

void ApplyServerLimits(grpc::ServerBuilder& builder) {
  // One quota for the life of the process: the server keeps a reference,
  // and a daemon builds one server.
  static grpc::ResourceQuota* const quota = [] {
    auto* made = new grpc::ResourceQuota("domiand server");
    made->Resize(kServerMemoryQuotaBytes);
    made->SetMaxThreads(kServerMaxThreads);
    return made;
  }();
  builder.SetResourceQuota(*quota);
  builder.SetMaxReceiveMessageSize(static_cast<int>(membership::kTransportMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(membership::kTransportMessageBytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(kMaxConnectionIdle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(kMaxConnectionAge));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             Millis(kMaxConnectionAgeGrace));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(kKeepaliveTime));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(kKeepaliveTimeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  // A connection that has not begun HTTP/2 within this is closed.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kServerHandshakeTimeoutMs);
}

}  // namespace domian::rpc
