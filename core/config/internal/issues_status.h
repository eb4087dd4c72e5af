// How the problems found in node.yaml travel in an absl::Status; internal
// to core/config (ConfigIssues() in node_config.h reads them back).
#pragma once

#include <vector>

#include "core/common/status.h"
#include "core/config/node_config.h"

namespace domian::config::internal {

// A status with `code` whose message is every issue's ToString(), one a
// line, so a caller that only prints or logs it shows everything; the
// issues themselves ride along as a payload for ConfigIssues().
absl::Status IssuesStatus(absl::StatusCode code, const std::vector<ConfigIssue>& issues);

}  // namespace domian::config::internal
