// domiand --check-config, past the YAML: the files the mqtt: section
// names, and each configured service's
// settings checked by the plugin that will use them (its domian.config/1
// extension, ABI 1.1), in a domian-plugin-host process of its own so that
// a plugin that crashes or hangs on them costs only that process.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config/node_config.h"
#include "core/services/plugin_host_command.h"

namespace domian::daemon {

struct PluginConfigReport {
  // Each problem a plugin found, at its setting in the file
  // ("node.yaml:14:5: services.thermostat.config.hysteresis_c: must be
  // ..."), and each plugin that could not give an answer (it did not
  // load, crashed or hung): the file is not valid.
  std::vector<config::ConfigIssue> problems;
  // What was not checked, and why (a plugin of ABI 1.0, a service whose
  // plugin is not in this node's folders): worth saying, not a failure.
  std::vector<config::ConfigIssue> notes;
};

// The plugin of `service` in `config`'s plugin folders: the first folder
// that has <service>.so, as the daemon picks it; empty when none has.
std::filesystem::path FindPlugin(const config::NodeConfig& config, const std::string& service);

// Runs the check of every service in `config` whose plugin is found, one
// plugin host (`host_binary`) at a time, each killed after `timeout`.
PluginConfigReport CheckServiceConfigs(
    const config::NodeConfig& config, const std::filesystem::path& host_binary,
    std::chrono::milliseconds timeout = services::kConfigCheckTimeout);

// The files the mqtt: section names, as the daemon will read them: the
// password file (its size, its mode) and the CA file. One this user may
// not read is a note (the daemon runs as another user), not a problem.
PluginConfigReport CheckMqttFiles(const config::NodeConfig& config);

// The dashboard's folder (http.static_dir): a missing folder or page is a
// note (the daemon serves the API and /metrics without them).
PluginConfigReport CheckHttpFiles(const config::NodeConfig& config);

// For --check-config, in a line: where the dashboard and /metrics will be
// served, and who can reach them ("off" when http.enabled is false).
std::string DescribeHttp(const config::NodeConfig& config);

}  // namespace domian::daemon
