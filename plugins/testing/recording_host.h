// For plugins' unit tests: a host table (domian_host) that keeps every line
// the plugin logs, with no endpoints, events or extensions, so a test can
// run a service directly and read what it said.
#pragma once

#include <domian/plugin.h>

#include <mutex>
#include <string>
#include <vector>

namespace domian::testing {

struct RecordingHost {
  std::string dir;
  std::mutex mu;
  std::vector<std::string> lines;
  domian_host table{};

  // `service`: must outlive the host (a literal).
  RecordingHost(std::string state_dir, const char* service) : dir(std::move(state_dir)) {
    table.struct_size = sizeof(domian_host);
    table.abi = {DOMIAN_PLUGIN_ABI_MAJOR, DOMIAN_PLUGIN_ABI_MINOR};
    table.host_data = this;
    table.service_name = service;
    table.state_dir = dir.c_str();
    table.log = [](const domian_host* host, domian_log_level, const char* message) {
      auto* self = static_cast<RecordingHost*>(host->host_data);
      std::lock_guard lock(self->mu);
      self->lines.emplace_back(message);
    };
    table.publish_endpoint = [](const domian_host*, const char*, const char*) { return DOMIAN_OK; };
    table.emit_event = [](const domian_host*, const char*, const char*) { return DOMIAN_OK; };
    table.get_extension = [](const domian_host*, const char*) -> const void* { return nullptr; };
  }
  RecordingHost(const RecordingHost&) = delete;
  RecordingHost& operator=(const RecordingHost&) = delete;

  // Every line logged so far, one per line.
  std::string Log() {
    std::lock_guard lock(mu);
    std::string all;
    for (const std::string& line : lines) all += line + "\n";
    return all;
  }
};

}  // namespace domian::testing
