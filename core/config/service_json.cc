// A service's YAML settings as the JSON its plugin receives (nlohmann-json).
#include "core/config/internal/service_json.h"

#include <nlohmann/json.hpp>

#include <regex>
#include <string_view>

#include "core/common/utf8.h"

namespace domian::config::internal {
namespace {

// Keeps the keys in the order the file has them, as plugins and people
// reading a plugin's log expect.
using Json = nlohmann::ordered_json;

// JSON's own number grammar (no leading zeros, no "+", no ".5"): a plain
// scalar that matches is a number, anything else stays text, so "007" or
// "0x10" reach the plugin as written.
const std::regex& JsonNumber() {
  static const std::regex kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
  return kNumber;
}

// Walks one settings tree; reports on `walk` and remembers that it did.
class Converter {
 public:
  explicit Converter(YamlWalk& walk) : walk_(walk) {}

  bool ok() const { return ok_; }

  Json Value(const YAML::Node& node, const std::string& path) {
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        Json object = Json::object();
        for (const auto& entry : node) {
          // A key that is itself a list or a map has no JSON spelling; it
          // becomes the empty key.
          const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
          const std::string key_path = JoinPath(path, key);
          if (!CheckText(key, entry.first.Mark(), key_path)) continue;
          // A repeated key keeps its first place and its last value, as a
          // JSON parser reads an object with a repeated member.
          object[key] = Value(entry.second, key_path);
        }
        return object;
      }
      case YAML::NodeType::Sequence: {
        Json array = Json::array();
        for (size_t i = 0; i < node.size(); ++i) {
          array.push_back(Value(node[i], path + "[" + std::to_string(i) + "]"));
        }
        return array;
      }
      case YAML::NodeType::Scalar:
        return Scalar(node, path);
      default:
        return nullptr;
    }
  }

 private:
  Json Scalar(const YAML::Node& node, const std::string& path) {
    if (node.Tag() == "!") return Text(node, path);  // quoted: text whatever it says
    const std::string& text = node.Scalar();
    if (IsYamlNull(text)) return nullptr;
    if (const std::optional<bool> boolean = ParseYamlBool(text)) return *boolean;
    if (std::regex_match(text, JsonNumber())) {
      // nlohmann reads the number as a plugin reading the same digits
      // would: an integer when it has no fraction or exponent and fits,
      // else a double.
      Json number = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (number.is_discarded()) {
        Report(node.Mark(), path,
               "invalid number " + Quote(text) +
                   ": out of the range a plugin can read (a 64-bit double); quote it to "
                   "pass it as text");
        return nullptr;
      }
      return number;
    }
    return Text(node, path);
  }

  Json Text(const YAML::Node& node, const std::string& path) {
    if (!CheckText(node.Scalar(), node.Mark(), path)) return nullptr;
    return node.Scalar();
  }

  // JSON text is UTF-8; bytes that are not would make the plugin's parser,
  // and every peer the settings are offered to, refuse them.
  bool CheckText(const std::string& text, const YAML::Mark& mark, const std::string& path) {
    if (IsValidUtf8(text)) return true;
    Report(mark, path,
           "invalid UTF-8 in " + Quote(ToValidUtf8(text)) +
               ": plugins receive their settings as UTF-8 JSON; save the file as UTF-8");
    return false;
  }

  void Report(const YAML::Mark& mark, const std::string& path, std::string message) {
    walk_.AddIssue(mark, path, std::move(message));
    ok_ = false;
  }

  YamlWalk& walk_;
  bool ok_ = true;
};

}  // namespace

std::optional<std::string> ServiceConfigJson(YamlWalk& walk, const Field& config) {
  Converter converter(walk);
  const Json json = converter.Value(config.value, config.path);
  if (!converter.ok()) return std::nullopt;
  // Every string was checked above; replacing rather than throwing keeps a
  // case that slipped through from taking the daemon down.
  return json.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

}  // namespace domian::config::internal
