// What the tests of core/config share: parsing text as "node.yaml" and
// the issues as a person would see them.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config/node_config.h"

namespace domian::config::test_util {

inline constexpr char kFile[] = "node.yaml";

using LoadResult = absl::StatusOr<NodeConfig>;

inline LoadResult Parse(const std::string& yaml) { return ParseNodeConfig(yaml, kFile); }

// The issues as a person would see them.
inline std::vector<std::string> Issues(const std::string& yaml) {
  std::vector<std::string> out;
  for (const ConfigIssue& issue : ConfigIssues(Parse(yaml).status())) {
    out.push_back(issue.ToString());
  }
  return out;
}

// Parses a file expected to be valid and returns its config.
inline NodeConfig ParseValid(const std::string& yaml) {
  LoadResult result = Parse(yaml);
  for (const ConfigIssue& issue : ConfigIssues(result.status())) {
    ADD_FAILURE() << "unexpected issue: " << issue.ToString();
  }
  if (!result.ok()) {
    ADD_FAILURE() << "no config";
    return NodeConfig{};
  }
  return *result;
}

}  // namespace domian::config::test_util
