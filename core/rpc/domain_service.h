// The gRPC face of a domain: a thin layer that converts requests to the
// core's types, hands them to Membership, and converts the answer back.
#pragma once

#include <chrono>
#include <string>

#include "core/common/clock.h"
#include "core/membership/membership.h"
#include "core/rpc/traffic.h"
#include "domian/v1/domian.grpc.pb.h"

namespace domian::rpc {

class DomainService final : public v1::Domain::CallbackService {
 public:
  DomainService(Membership& membership, const Clock& clock, TrafficCounters& traffic);

  grpc::ServerUnaryReactor* ShareIdentityList(grpc::CallbackServerContext* context,
                                              const v1::ShareIdentityListRequest* request,
                                              v1::ShareIdentityListResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::GetStatusResponse* response) override;
  grpc::ServerUnaryReactor* ListPeers(grpc::CallbackServerContext* context,
                                      const v1::ListPeersRequest* request,
                                      v1::ListPeersResponse* response) override;

 private:
  Membership& membership_;
  const Clock& clock_;
  TrafficCounters& traffic_;
  MonoTime started_;
};

// The gRPC status a refusal is answered with.
grpc::Status ToStatus(const Refusal& refusal);

}  // namespace domian::rpc
