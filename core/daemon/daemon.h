// Daemon: domiand's process around one Node (core/node): the open-file
// limit, readiness and the watchdog for the service manager, and the wait
// for SIGTERM/SIGINT, on which the node says goodbye and stops.
#pragma once

#include <filesystem>
#include <memory>

#include "core/config/node_config.h"

namespace domian::daemon {

class Daemon {
 public:
  explicit Daemon(config::NodeConfig config);
  ~Daemon();

  // Runs until SIGTERM or SIGINT; returns the process exit code. The
  // caller must have blocked those signals in every thread (BlockStopSignals).
  int Run();

 private:
  config::NodeConfig config_;
};

// Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread and every thread
// it starts later, so Run() can wait for them synchronously.
void BlockStopSignals();

// domian-plugin-host: $DOMIAN_PLUGIN_HOST, else beside domiand, else
// where it is installed, else in the build tree (running from a build).
std::filesystem::path PluginHostBinary();

// The version domiand reports in its identity (from CMake's project()).
const char* DaemonVersion();

}  // namespace domian::daemon
