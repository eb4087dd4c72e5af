#include "core/services/plugin_status.h"

#include <charconv>
#include <string>

namespace domian::services {
namespace {

// The payload that keeps the plugin's own status, in decimal.
constexpr char kPluginStatusPayload[] = "domian/plugin_status";

absl::StatusCode CodeOf(domian_status status) {
  switch (status) {
    case DOMIAN_OK: return absl::StatusCode::kOk;
    case DOMIAN_ERR_INVALID_ARGUMENT: return absl::StatusCode::kInvalidArgument;
    case DOMIAN_ERR_UNKNOWN_COMMAND:
    case DOMIAN_ERR_NOT_SUPPORTED: return absl::StatusCode::kUnimplemented;
    case DOMIAN_ERR_UNAVAILABLE: return absl::StatusCode::kFailedPrecondition;
    case DOMIAN_ERR_FAILED: return absl::StatusCode::kAborted;
    default: return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status StatusFromPlugin(domian_status status, std::string_view message) {
  const absl::StatusCode code = CodeOf(status);
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  absl::Status result(code, absl::string_view(message.data(), message.size()));
  result.SetPayload(kPluginStatusPayload, absl::Cord(std::to_string(status)));
  return result;
}

domian_status PluginStatusOf(const absl::Status& status) {
  if (status.ok()) return DOMIAN_OK;
  const auto payload = status.GetPayload(kPluginStatusPayload);
  if (!payload) return DOMIAN_ERR_INTERNAL;
  const std::string text(*payload);
  domian_status plugin_status = DOMIAN_ERR_INTERNAL;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), plugin_status);
  if (error != std::errc() || end != text.data() + text.size()) return DOMIAN_ERR_INTERNAL;
  return plugin_status;
}

std::string_view StatusName(domian_status status) {
  switch (status) {
    case DOMIAN_OK: return "ok";
    case DOMIAN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case DOMIAN_ERR_UNKNOWN_COMMAND: return "unknown command";
    case DOMIAN_ERR_UNAVAILABLE: return "unavailable";
    case DOMIAN_ERR_FAILED: return "failed";
    case DOMIAN_ERR_INTERNAL: return "internal error";
    case DOMIAN_ERR_NOT_SUPPORTED: return "not supported";
    default: return "unknown error";
  }
}

}  // namespace domian::services
