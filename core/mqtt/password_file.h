// The MQTT password, read from the file mqtt.password_file names: the
// secret stays out of node.yaml (often world-readable, copied between
// nodes) and out of the command line.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "core/common/status.h"

namespace domian::mqtt {

// A password is a line, not a document; MQTT allows 65535 bytes.
inline constexpr size_t kMaxPasswordFileBytes = 1024;

// The password in `file`: its content without one trailing newline (or
// CRLF). Refused, with a message naming the file and what to do, when it
// is missing, unreadable, not a regular file, larger than
// kMaxPasswordFileBytes, empty, holds more than one line, or is
// readable or writable by others or writable by its group (the package
// runs the daemon as user domian: `chown root:domian FILE; chmod 640
// FILE`). PERMISSION_DENIED when this user may not read it.
absl::StatusOr<std::string> ReadPasswordFile(const std::filesystem::path& file);

}  // namespace domian::mqtt
