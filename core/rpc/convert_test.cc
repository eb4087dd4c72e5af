// What the RPC layer converts besides protobuf messages: statuses (same
// codes on both sides) and gRPC's peer strings.
#include "core/rpc/convert.h"

#include <gtest/gtest.h>

namespace domian::rpc {
namespace {

TEST(CallerHost, IsThePeerAddressWithoutItsPort) {
  EXPECT_EQ(CallerHost("ipv4:192.168.1.9:51234"), "192.168.1.9");
  EXPECT_EQ(CallerHost("ipv6:[fe80::1]:51234"), "fe80::1");
  EXPECT_EQ(CallerHost("ipv6:[::ffff:127.0.0.1]:80"), "::ffff:127.0.0.1");
  EXPECT_EQ(CallerHost(""), "");
}

TEST(StatusConversion, KeepsCodeAndMessageBothWays) {
  const absl::Status refused = absl::ResourceExhaustedError("8 calls wait in lane x");
  const grpc::Status wire = ToGrpc(refused);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(wire.error_message(), "8 calls wait in lane x");
  EXPECT_EQ(FromGrpc(wire), refused);
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
  // Every code is the same number on both sides.
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "x");
    EXPECT_EQ(static_cast<int>(ToGrpc(status).error_code()), code);
    EXPECT_EQ(FromGrpc(ToGrpc(status)), status);
  }
}

}  // namespace
}  // namespace domian::rpc
