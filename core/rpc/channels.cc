#include "core/rpc/channels.h"

#include "core/membership/wire_limits.h"

namespace domian::rpc {
namespace {

// Not read by gRPC: it only makes channels of different renewals differ.
constexpr char kRenewalArg[] = "domian.renewal";

}  // namespace

grpc::ChannelArguments DomainChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(membership::kTransportMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(membership::kTransportMessageBytes));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMinMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kConnectTimeoutMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kReconnectBackoffMaxMs);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // Bandwidth probing pings suit bulk transfers, not a few hundred bytes
  // five times a second: they only cost CPU here.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return args;
}

std::shared_ptr<v1::Domain::Stub> Channels::Stub(const std::string& address, Purpose purpose) {
  absl::MutexLock lock(&mu_);
  Entry& entry = stubs_[{address, purpose}];
  if (!entry.stub) {
    grpc::ChannelArguments args = DomainChannelArguments();
    // A subchannel pool of its own: gRPC would otherwise share one
    // connection between both channels to the same address.
    if (purpose == Purpose::kServiceCalls) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(kRenewalArg, generation_);
    entry.channel = grpc::CreateCustomChannel(address, credentials_, args);
    entry.stub = v1::Domain::NewStub(entry.channel);
  }
  return entry.stub;
}

bool Channels::NeedsConnection(const std::string& address, Purpose purpose) {
  absl::MutexLock lock(&mu_);
  const auto found = stubs_.find({address, purpose});
  if (found == stubs_.end()) return true;
  const grpc_connectivity_state state = found->second.channel->GetState(false);
  return state != GRPC_CHANNEL_CONNECTING && state != GRPC_CHANNEL_READY;
}

size_t Channels::ConnectionRoom() {
  absl::MutexLock lock(&mu_);
  size_t opening = 0;
  for (const auto& [key, entry] : stubs_) {
    if (entry.channel->GetState(false) == GRPC_CHANNEL_CONNECTING) ++opening;
  }
  return opening >= kMaxConnectionsOpening ? 0 : kMaxConnectionsOpening - opening;
}

void Channels::Forget(const std::string& address) {
  absl::MutexLock lock(&mu_);
  for (const Purpose purpose : {Purpose::kMembership, Purpose::kServiceCalls}) {
    const auto found = stubs_.find({address, purpose});
    if (found == stubs_.end()) continue;
    const grpc_connectivity_state state = found->second.channel->GetState(false);
    if (state == GRPC_CHANNEL_CONNECTING || state == GRPC_CHANNEL_READY) continue;
    stubs_.erase(found);
  }
}

void Channels::Renew(const std::string& address) {
  absl::MutexLock lock(&mu_);
  ++generation_;
  for (const Purpose purpose : {Purpose::kMembership, Purpose::kServiceCalls}) {
    stubs_.erase({address, purpose});
  }
}

void Channels::RenewAll() {
  absl::MutexLock lock(&mu_);
  ++generation_;
  stubs_.clear();
}

}  // namespace domian::rpc
