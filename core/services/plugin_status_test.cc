#include "core/services/plugin_status.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace domian::services {
namespace {

TEST(StatusFromPlugin, GivesEachPluginStatusItsCode) {
  const std::vector<std::pair<domian_status, absl::StatusCode>> expected = {
      {DOMIAN_ERR_INVALID_ARGUMENT, absl::StatusCode::kInvalidArgument},
      {DOMIAN_ERR_UNKNOWN_COMMAND, absl::StatusCode::kUnimplemented},
      {DOMIAN_ERR_NOT_SUPPORTED, absl::StatusCode::kUnimplemented},
      {DOMIAN_ERR_UNAVAILABLE, absl::StatusCode::kFailedPrecondition},
      {DOMIAN_ERR_FAILED, absl::StatusCode::kAborted},
      {DOMIAN_ERR_INTERNAL, absl::StatusCode::kInternal},
  };
  for (const auto& [plugin_status, code] : expected) {
    EXPECT_EQ(StatusFromPlugin(plugin_status, "why").code(), code) << StatusName(plugin_status);
  }
}

TEST(StatusFromPlugin, NeverSaysTheNodeIsUnreachableOrTheServiceIsNotHere) {
  for (domian_status plugin_status = DOMIAN_ERR_INVALID_ARGUMENT; plugin_status <= 64;
       ++plugin_status) {
    const absl::StatusCode code = StatusFromPlugin(plugin_status, "").code();
    EXPECT_NE(code, absl::StatusCode::kUnavailable) << plugin_status;
    EXPECT_NE(code, absl::StatusCode::kDeadlineExceeded) << plugin_status;
    EXPECT_NE(code, absl::StatusCode::kNotFound) << plugin_status;
    EXPECT_NE(code, absl::StatusCode::kOk) << plugin_status;
  }
}

TEST(StatusFromPlugin, KeepsThePluginsMessageByteForByte) {
  const std::string message("failing as asked \xff\x01 \"quoted\"\n", 29);
  const absl::Status status = StatusFromPlugin(DOMIAN_ERR_FAILED, message);
  EXPECT_EQ(status.message(), message);
  EXPECT_EQ(StatusFromPlugin(DOMIAN_ERR_FAILED, "").message(), "");
}

TEST(StatusFromPlugin, OkIsOk) {
  EXPECT_TRUE(StatusFromPlugin(DOMIAN_OK, "ignored").ok());
  EXPECT_EQ(PluginStatusOf(absl::OkStatus()), DOMIAN_OK);
}

TEST(PluginStatusOf, GivesBackThePluginsOwnStatus) {
  for (domian_status plugin_status = DOMIAN_OK; plugin_status <= DOMIAN_ERR_NOT_SUPPORTED;
       ++plugin_status) {
    EXPECT_EQ(PluginStatusOf(StatusFromPlugin(plugin_status, "m")), plugin_status);
  }
  // One this domiand does not know is an internal error here, and still
  // reaches the other end of the plugin host's socket as the plugin said.
  const absl::Status odd = StatusFromPlugin(99, "odd");
  EXPECT_EQ(odd.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(PluginStatusOf(odd), 99);
}

TEST(PluginStatusOf, AFailureFromElsewhereIsInternal) {
  EXPECT_EQ(PluginStatusOf(absl::AbortedError("not from a plugin")), DOMIAN_ERR_INTERNAL);
}

}  // namespace
}  // namespace domian::services
