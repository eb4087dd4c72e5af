// Who may make the calls added after the table's first version: each
// new call is an operator's, and a node's certificate does not pass.
#include "core/trust/access.h"

#include <gtest/gtest.h>

namespace domian::trust {
namespace {

Caller Certified(Role role, const std::string& name) {
  return Caller{.kind = Caller::Kind::kCertified, .subject = Subject{"home", role, name}};
}

TEST(PermitTest, ADashboardLinkIsAnOperatorsCall) {
  EXPECT_TRUE(Permit(Caller{.kind = Caller::Kind::kLocal}, Rpc::kCreateDashboardLink).ok());
  EXPECT_TRUE(Permit(Certified(Role::kOperator, "alice"), Rpc::kCreateDashboardLink).ok());
  const absl::Status node = Permit(Certified(Role::kNode, "pi2"), Rpc::kCreateDashboardLink);
  EXPECT_EQ(node.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(node.message(), "node pi2 may not call CreateDashboardLink: it is an operator's call");
  EXPECT_EQ(Permit(Caller{.kind = Caller::Kind::kJoiner}, Rpc::kCreateDashboardLink).code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace domian::trust
