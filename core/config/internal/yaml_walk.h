// Walking a node.yaml tree against a schema, recording every deviation as
// a ConfigIssue at the key it concerns; internal to core/config.
//
// A walk never stops at the first problem: each helper reports what it
// found instead of what it expected and hands back only what can be used,
// so the section parsers read as a list of checks and one run of
// --check-config shows every problem in the file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/status.h"
#include "core/config/node_config.h"

namespace domian::config::internal {

// A key of a mapping and its value, with where it was written.
struct Field {
  std::string name;  // the key as written, e.g. "dead_after"
  std::string path;  // dotted, e.g. "membership.dead_after"
  YAML::Mark mark;   // of the key: the value's mark is unreliable for
                     // empty values, and the key is what people look for
  YAML::Node value;
};

// The value between quotes, cut and with control characters escaped so a
// message always stays on one line.
std::string Quote(std::string_view value);

// "a list", "an empty value"...: what was found where something else was
// expected.
std::string Describe(const YAML::Node& node);

// "membership" + "dead_after" -> "membership.dead_after"
std::string JoinPath(std::string_view path, std::string_view key);

// The YAML 1.2 core schema's booleans and null. "yes" and "on" are YAML
// 1.1 booleans and stay text rather than being guessed at.
std::optional<bool> ParseYamlBool(std::string_view text);
bool IsYamlNull(std::string_view text);

// `text` as a whole number from `min` to `max`: decimal digits with an
// optional '-', nothing else ("+1", " 1" and "1.0" are refused).
std::optional<int64_t> ParseWholeNumber(std::string_view text, int64_t min, int64_t max);

// The names of a schema table's entries (each with a `name`), in its
// order, for YamlWalk::Fields: the table stays the one list of the keys.
template <typename Entry, size_t N>
constexpr std::array<std::string_view, N> KeyNames(const std::array<Entry, N>& entries) {
  std::array<std::string_view, N> names{};
  for (size_t i = 0; i < N; ++i) names[i] = entries[i].name;
  return names;
}

class YamlWalk {
 public:
  explicit YamlWalk(std::string file) : file_(std::move(file)) {}

  void AddIssue(const YAML::Mark& mark, std::string key, std::string message);
  void AddIssue(const Field& field, std::string message);

  // The known entries of `map`, after reporting keys that are not
  // strings, repeated or unknown (with a suggestion for a likely typo).
  // Repeats are skipped: which one would win is exactly the kind of guess
  // the person should not have to make. `known` is in documentation order,
  // which also breaks ties between suggestions.
  std::vector<Field> Fields(const YAML::Node& map, std::string_view path,
                            std::span<const std::string_view> known);

  // True when `field` holds a mapping to walk; an empty section is the
  // same as an absent one.
  bool IsSection(const Field& field);

  // The text of a scalar, or nullopt after reporting what is there
  // instead. `expected` completes "expected ...".
  std::optional<std::string> Scalar(const Field& field, std::string_view expected);

  // The items of a list of scalars, each with its own position and path
  // ("node.traits[1]"); an empty value is an empty list. `one` and `many`
  // name the items in messages.
  std::vector<std::pair<std::string, Field>> Items(const Field& field, std::string_view one,
                                                   std::string_view many);

  // OK when nothing was reported, else every issue in file order
  // (IssuesStatus).
  absl::Status Finish() &&;

 private:
  std::string file_;
  std::vector<ConfigIssue> issues_;
};

}  // namespace domian::config::internal
