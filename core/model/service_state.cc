#include "core/model/service_state.h"

#include <array>
#include <utility>

namespace domian {
namespace {

constexpr std::array<std::pair<ServiceState, std::string_view>, 7> kNames{{
    {ServiceState::kStarting, "starting"},
    {ServiceState::kRunning, "running"},
    {ServiceState::kRestarting, "restarting"},
    {ServiceState::kHandingOver, "handing-over"},
    {ServiceState::kFailed, "failed"},
    {ServiceState::kStopped, "stopped"},
    {ServiceState::kUnknown, "unknown"},
}};

}  // namespace

std::string_view ServiceStateName(ServiceState state) {
  for (const auto& [value, name] : kNames) {
    if (value == state) return name;
  }
  return "unknown";
}

ServiceState ParseServiceState(std::string_view name) {
  for (const auto& [value, known] : kNames) {
    if (known == name) return value;
  }
  return ServiceState::kUnknown;
}

}  // namespace domian
