// The schema walk's helpers: positions, quoting, suggestions for typos.
#include "core/config/internal/yaml_walk.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <system_error>

#include "core/config/internal/issues_status.h"

namespace domian::config::internal {
namespace {

// Unknown keys within this many edits of a known one are probably typos.
constexpr size_t kMaxSuggestionDistance = 2;

// Values quoted back in messages are cut here so that a pasted blob does
// not drown the message.
constexpr size_t kMaxQuotedLength = 60;

// Optimal string alignment distance: Levenshtein plus transposition of
// neighbours, the most common typing slip ("cluser" vs "clsuter").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string UnknownKeyMessage(std::string_view key,
                              std::span<const std::string_view> known) {
  std::string message = "unknown key " + Quote(key);
  std::string_view best;
  size_t best_distance = kMaxSuggestionDistance + 1;
  for (std::string_view candidate : known) {
    const size_t distance = EditDistance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (!best.empty()) {
    message += " (did you mean " + Quote(best) + "?)";
  } else {
    message += " (expected one of";
    for (size_t i = 0; i < known.size(); ++i) {
      message += i == 0 ? " " : ", ";
      message += known[i];
    }
    message += ')';
  }
  return message;
}

}  // namespace

std::string Quote(std::string_view value) {
  std::string out = "'";
  const bool cut = value.size() > kMaxQuotedLength;
  for (char c : value.substr(0, kMaxQuotedLength)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (cut) out += "...";
  out += "'";
  return out;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return "an empty value";
    case YAML::NodeType::Scalar:
      return "the value " + Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
  }
  return "an unknown kind of value";
}

std::string JoinPath(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::optional<bool> ParseYamlBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

bool IsYamlNull(std::string_view text) {
  return text == "~" || text == "null" || text == "Null" || text == "NULL";
}

std::optional<int64_t> ParseWholeNumber(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

void YamlWalk::AddIssue(const YAML::Mark& mark, std::string key, std::string message) {
  ConfigIssue issue;
  issue.file = file_;
  // yaml-cpp counts from 0 and uses -1 for "no position".
  issue.line = mark.line >= 0 ? mark.line + 1 : 0;
  issue.column = mark.line >= 0 && mark.column >= 0 ? mark.column + 1 : 0;
  issue.key = std::move(key);
  issue.message = std::move(message);
  issues_.push_back(std::move(issue));
}

void YamlWalk::AddIssue(const Field& field, std::string message) {
  AddIssue(field.mark, field.path, std::move(message));
}

std::vector<Field> YamlWalk::Fields(const YAML::Node& map, std::string_view path,
                                    std::span<const std::string_view> known) {
  std::vector<Field> fields;
  std::map<std::string, int, std::less<>> first_line;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      AddIssue(key.IsNull() ? map.Mark() : key.Mark(), std::string(path),
               "expected a key name, found " + Describe(key));
      continue;
    }
    Field field{key.Scalar(), JoinPath(path, key.Scalar()), key.Mark(), entry.second};
    const auto [seen, inserted] = first_line.emplace(field.name, field.mark.line + 1);
    if (!inserted) {
      AddIssue(field, "duplicate key " + Quote(field.name) + " (first set on line " +
                          std::to_string(seen->second) + ")");
      continue;
    }
    if (std::find(known.begin(), known.end(), field.name) == known.end()) {
      AddIssue(field, UnknownKeyMessage(field.name, known));
      continue;
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

bool YamlWalk::IsSection(const Field& field) {
  if (field.value.IsMap()) return true;
  if (!field.value.IsNull()) {
    AddIssue(field, "expected a map of settings, found " + Describe(field.value));
  }
  return false;
}

std::optional<std::string> YamlWalk::Scalar(const Field& field, std::string_view expected) {
  if (field.value.IsScalar()) return field.value.Scalar();
  AddIssue(field, "expected " + std::string(expected) + ", found " + Describe(field.value));
  return std::nullopt;
}

std::vector<std::pair<std::string, Field>> YamlWalk::Items(const Field& field,
                                                           std::string_view one,
                                                           std::string_view many) {
  std::vector<std::pair<std::string, Field>> items;
  if (field.value.IsNull()) return items;
  if (!field.value.IsSequence()) {
    AddIssue(field, "expected a list of " + std::string(many) + ", found " +
                        Describe(field.value));
    return items;
  }
  size_t index = 0;
  for (const YAML::Node& element : field.value) {
    // An empty item's mark points at whatever follows it, so the list's
    // own key is the better place to send the reader.
    Field item{field.name, field.path + "[" + std::to_string(index++) + "]",
               element.IsNull() ? field.mark : element.Mark(), element};
    auto text = Scalar(item, one);
    if (text) items.emplace_back(std::move(*text), std::move(item));
  }
  return items;
}

absl::Status YamlWalk::Finish() && {
  if (issues_.empty()) return absl::OkStatus();
  std::stable_sort(issues_.begin(), issues_.end(),
                   [](const ConfigIssue& a, const ConfigIssue& b) {
                     return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                   });
  return IssuesStatus(absl::StatusCode::kInvalidArgument, issues_);
}

}  // namespace domian::config::internal
