#include "core/rpc/port_probe.h"

#include <grpcpp/grpcpp.h>

#include "core/common/net.h"
#include "core/rpc/channels.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

std::string ProbeAddress(const std::string& listen, uint16_t bound_port) {
  const std::optional<HostPort> split = SplitHostPort(listen);
  const std::string host = split ? split->host : "";
  if (!IsWildcardHost(host)) return JoinHostPort(host, bound_port);
  // A wildcard, 0.0.0.0 or [::], always takes IPv4 (Listener: [::] is
  // dual-stack, with 0.0.0.0 as the fallback), while [::1] may not exist
  // on a host without IPv6.
  return JoinHostPort("127.0.0.1", bound_port);
}

std::optional<std::string> ProbePort(
    const std::string& address, std::chrono::milliseconds deadline,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args = DomainChannelArguments();
  // A subchannel pool of this channel's own: gRPC would otherwise reuse a
  // connection another channel to the same address already has, and the
  // probe would not prove that a new one is accepted.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const auto stub = v1::Domain::NewStub(
      grpc::CreateCustomChannel(address, credentials, args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::GetStatusResponse response;
  const grpc::Status status = stub->GetStatus(&context, v1::GetStatusRequest(), &response);
  if (status.ok()) return std::nullopt;
  return address + " did not answer GetStatus within " + std::to_string(deadline.count()) +
         " ms: " + status.error_message();
}

}  // namespace domian::rpc
