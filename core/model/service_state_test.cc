#include "core/model/service_state.h"

#include <gtest/gtest.h>

namespace domian {
namespace {

TEST(ServiceStateTest, NamesAreTheWireStrings) {
  for (ServiceState state :
       {ServiceState::kStarting, ServiceState::kRunning, ServiceState::kRestarting,
        ServiceState::kHandingOver, ServiceState::kFailed, ServiceState::kStopped}) {
    EXPECT_EQ(ParseServiceState(ServiceStateName(state)), state) << ServiceStateName(state);
  }
  EXPECT_EQ(ServiceStateName(ServiceState::kHandingOver), "handing-over");
  EXPECT_EQ(ServiceStateName(ServiceState::kRunning), "running");
}

TEST(ServiceStateTest, AnythingElseIsUnknownAndClaimsNothing) {
  for (std::string_view name : {"", "Running", "running ", "placed", "unknown", "\xff"}) {
    EXPECT_EQ(ParseServiceState(name), ServiceState::kUnknown) << name;
  }
  EXPECT_FALSE(IsClaim(ServiceState::kUnknown));
  EXPECT_FALSE(IsClaim(ServiceState::kFailed));
  EXPECT_FALSE(IsClaim(ServiceState::kStopped));
  EXPECT_TRUE(IsClaim(ServiceState::kHandingOver));
  EXPECT_TRUE(IsClaim(ServiceState::kRestarting));
}

}  // namespace
}  // namespace domian
