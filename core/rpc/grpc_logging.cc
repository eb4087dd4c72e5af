#include "core/rpc/grpc_logging.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <cstring>

namespace domian::rpc {
namespace {

constexpr char kServerNameMismatch[] = "No match found for server name";

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
  if (std::strncmp(args->message, kServerNameMismatch, sizeof kServerNameMismatch - 1) == 0) {
    level = spdlog::level::debug;
  }
  spdlog::log(level, "grpc: {}", args->message);
}

}  // namespace

void RouteGrpcLogs() { gpr_set_log_function(ToSpdlog); }

}  // namespace domian::rpc
