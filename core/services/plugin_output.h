// PluginOutput: the host-owned domian_out a plugin function writes its
// output to (a reply, an error message, saved state, a configuration's
// problems), collected into a string up to a limit, and the limits
// themselves. Shared by PluginLibrary (calls with no instance) and
// PluginInstance.
#pragma once

#include <domian/plugin.h>

#include <algorithm>
#include <cstddef>
#include <string>

namespace domian::services {

// Largest reply, error message or saved state taken from a plugin; more
// is cut off and reported, so a runaway plugin cannot exhaust memory. A
// saved state travels in a HandOver, which carries at most
// placement::kMaxHandOverStateBytes (equal to this).
inline constexpr size_t kMaxReplyBytes = 1 << 20;
inline constexpr size_t kMaxStateBytes = 1 << 20;
inline constexpr size_t kMaxMessageBytes = 4096;
// A configuration check's problems, all lines together: room for a few
// dozen one-line messages (each at most kMaxMessageBytes would be far
// more than a person reads), so a plugin that writes without end is cut
// off here and the list says so.
inline constexpr size_t kMaxProblemsBytes = 16 * kMaxMessageBytes;
// Problems taken from one check; a configuration with more is reported
// with the first ones and a line saying how many were left out.
inline constexpr size_t kMaxProblems = 64;

// A domian_out collecting into `data`, up to `limit` bytes.
struct PluginOutput {
  domian_out out{};
  std::string data;
  size_t limit;
  bool truncated = false;

  explicit PluginOutput(size_t max_bytes) : limit(max_bytes) {
    out.struct_size = sizeof(domian_out);
    out.host_data = this;
    out.write = &PluginOutput::Write;
  }
  PluginOutput(const PluginOutput&) = delete;
  PluginOutput& operator=(const PluginOutput&) = delete;

  static domian_status Write(domian_out* out, const char* bytes, size_t size) {
    auto* self = static_cast<PluginOutput*>(out->host_data);
    if (bytes == nullptr && size > 0) return DOMIAN_ERR_INVALID_ARGUMENT;
    const size_t room = self->limit - self->data.size();
    self->data.append(bytes, std::min(size, room));
    if (size > room) {
      self->truncated = true;
      return DOMIAN_ERR_INVALID_ARGUMENT;
    }
    return DOMIAN_OK;
  }
};

}  // namespace domian::services
