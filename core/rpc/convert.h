// Conversion between the wire (protobuf) and the core's own types. The RPC
// layer is the only place that sees both.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "core/common/status.h"
#include "core/membership/peer_table.h"
#include "core/model/identity.h"
#include "domian/v1/domian.pb.h"

namespace domian::rpc {

v1::Identity ToProto(const Identity& identity);
v1::IdentityEntry ToProto(const IdentityEntry& entry);
v1::PeerState ToProto(PeerState state);
v1::PeerInfo ToProto(const membership::PeerView& peer);
void ToProto(const IdentityListMessage& message, v1::ShareIdentityListRequest& out);
void ToProto(const IdentityListMessage& message, v1::ShareIdentityListResponse& out);

Identity FromProto(const v1::Identity& identity);
IdentityEntry FromProto(const v1::IdentityEntry& entry);
std::optional<PeerState> FromProto(v1::PeerState state);  // nullopt: unknown value
IdentityListMessage FromProto(const v1::ShareIdentityListRequest& request);
IdentityListMessage FromProto(const v1::ShareIdentityListResponse& response);

// A status between the core and gRPC: the codes are the same numbers.
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

// The caller host from gRPC's peer string ("ipv4:192.168.1.9:51234",
// "ipv6:[fe80::1]:51234"): the address without its port.
std::string CallerHost(const std::string& peer);

}  // namespace domian::rpc
