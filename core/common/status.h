// One way to fail across the core: absl::Status and absl::StatusOr<T>
// (Abseil, which gRPC links already). Their codes are gRPC's, number for
// number, so the RPC layer hands a status to the wire without re-typing
// it, and a plugin's error is mapped to a code once, where the core meets
// the plugin ABI (core/services).
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <string>

namespace domian {

// The message alone, for log lines and replies that add their own
// context ("cannot start lights: <message>"); "" for OK.
inline std::string StatusMessage(const absl::Status& status) {
  return std::string(status.message());
}

}  // namespace domian
