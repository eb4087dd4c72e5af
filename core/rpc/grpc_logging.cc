#include "core/rpc/grpc_logging.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <mutex>
#include <optional>

namespace domian::rpc {
namespace {

constexpr char kServerNameMismatch[] = "No match found for server name";
constexpr char kHandshakeFailed[] = "Handshake failed";

template <size_t N>
bool StartsWith(const char* message, const char (&prefix)[N]) {
  return std::strncmp(message, prefix, N - 1) == 0;
}

// Whether this failed handshake's line is shown; how many were not since
// the last one shown, in *unshown.
bool ShowHandshakeFailure(size_t* unshown) {
  static std::mutex mutex;
  static std::optional<std::chrono::steady_clock::time_point> shown_at;
  static size_t held = 0;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex);
  if (shown_at && now - *shown_at < kHandshakeLogInterval) {
    ++held;
    return false;
  }
  *unshown = held;
  held = 0;
  shown_at = now;
  return true;
}

void ToSpdlog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::info;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = spdlog::level::debug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = spdlog::level::info;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = spdlog::level::err;
      break;
  }
  if (StartsWith(args->message, kServerNameMismatch)) level = spdlog::level::debug;
  if (StartsWith(args->message, kHandshakeFailed)) {
    size_t unshown = 0;
    if (!ShowHandshakeFailure(&unshown)) return;
    if (unshown > 0) {
      spdlog::log(level, "grpc: {} ({} more failed handshakes not shown)", args->message, unshown);
      return;
    }
  }
  spdlog::log(level, "grpc: {}", args->message);
}

}  // namespace

void RouteGrpcLogs() { gpr_set_log_function(ToSpdlog); }

}  // namespace domian::rpc
