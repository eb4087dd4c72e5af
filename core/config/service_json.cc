// The hand-written YAML->JSON conversion of a service's settings.
#include "core/config/internal/service_json.h"

#include <cstdio>
#include <regex>

namespace domian::config::internal {
namespace {

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string ScalarJson(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return JsonString(text);  // quoted: a string
  if (text == "~" || text == "null" || text == "Null" || text == "NULL") return "null";
  if (text == "true" || text == "True" || text == "TRUE") return "true";
  if (text == "false" || text == "False" || text == "FALSE") return "false";
  static const std::regex number(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
  if (std::regex_match(text, number)) return text;
  return JsonString(text);
}

std::string ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& entry : node) {
        if (!first) out += ',';
        first = false;
        out += JsonString(entry.first.IsScalar() ? entry.first.Scalar() : "");
        out += ':';
        out += ToJson(entry.second);
      }
      return out + "}";
    }
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (size_t i = 0; i < node.size(); ++i) {
        if (i > 0) out += ',';
        out += ToJson(node[i]);
      }
      return out + "]";
    }
    case YAML::NodeType::Scalar:
      return ScalarJson(node);
    default:
      return "null";
  }
}

}  // namespace

std::string ServiceConfigJson(const YAML::Node& config) { return ToJson(config); }

}  // namespace domian::config::internal
