// domiand: the domian daemon.
//
//   domiand --config FILE        run (default /etc/domian/node.yaml)
//   domiand --check-config FILE  validate FILE, print problems, exit 0/1:
//                                the YAML, then each service's settings
//                                checked by its plugin (ABI 1.1) in a
//                                domian-plugin-host process of its own
#include <absl/synchronization/mutex.h>
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "core/common/logging.h"
#include "core/config/node_config.h"
#include "core/daemon/config_check.h"
#include "core/daemon/daemon.h"
#include "core/node/node.h"
#include "core/rpc/grpc_logging.h"

namespace po = boost::program_options;

namespace {

constexpr char kDefaultConfigFile[] = "/etc/domian/node.yaml";
constexpr int kExitUsage = 2;

int Usage(const po::options_description& options, const std::string& error) {
  std::cerr << "domiand: " << error << "\n\nusage: domiand [--config FILE] [options]\n"
            << options;
  return kExitUsage;
}

// One problem a line, as LoadNodeConfig's status message has them.
void PrintIssues(const absl::Status& status) { std::cerr << status.message() << "\n"; }

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("config", po::value<std::string>()->default_value(kDefaultConfigFile), "node configuration (YAML)")
      ("check-config", po::value<std::string>(), "validate a configuration file and exit")
      ("log-level", po::value<std::string>(), "trace|debug|info|warn|error|critical|off (overrides log.level)")
      ("version", "print the version and exit")
      ("help,h", "print this help and exit");
  po::variables_map args;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), args);
    po::notify(args);
  } catch (const po::error& error) {
    return Usage(options, error.what());
  }
  if (args.count("help") != 0) {
    std::cout << "usage: domiand [--config FILE] [options]\n" << options;
    return 0;
  }
  if (args.count("version") != 0) {
    std::cout << "domiand " << domian::daemon::DaemonVersion() << "\n";
    return 0;
  }

  if (args.count("check-config") != 0) {
    const std::string file = args["check-config"].as<std::string>();
    const absl::StatusOr<domian::config::NodeConfig> config = domian::config::LoadNodeConfig(file);
    if (!config.ok()) {
      PrintIssues(config.status());
      std::cerr << file << ": " << domian::config::ConfigIssues(config.status()).size()
                << " problem(s)\n";
      return 1;
    }
    // The YAML is sound: now the files it names, and each plugin's word
    // on its settings.
    domian::daemon::PluginConfigReport plugins = domian::daemon::CheckMqttFiles(*config);
    const domian::daemon::PluginConfigReport http = domian::daemon::CheckHttpFiles(*config);
    plugins.notes.insert(plugins.notes.end(), http.notes.begin(), http.notes.end());
    domian::daemon::PluginConfigReport services =
        domian::daemon::CheckServiceConfigs(*config, domian::daemon::PluginHostBinary());
    plugins.problems.insert(plugins.problems.end(), services.problems.begin(),
                            services.problems.end());
    plugins.notes.insert(plugins.notes.end(), services.notes.begin(), services.notes.end());
    for (const domian::config::ConfigIssue& note : plugins.notes) {
      std::cout << note.ToString() << "\n";
    }
    if (!plugins.problems.empty()) {
      for (const domian::config::ConfigIssue& problem : plugins.problems) {
        std::cerr << problem.ToString() << "\n";
      }
      std::cerr << file << ": " << plugins.problems.size() << " problem(s)\n";
      return 1;
    }
    std::cout << file << ": configuration is valid\n";
    // The file is valid either way (exit 0); credentials that do not fit
    // it are the daemon's to refuse, and are said here first.
    const absl::StatusOr<std::string> security = domian::node::DescribeSecurity(*config);
    if (!security.ok()) {
      std::cerr << file << ": warning: security: " << security.status().message() << "\n";
    } else {
      std::cout << "security: " << *security << "\n";
    }
    std::cout << "http: " << domian::daemon::DescribeHttp(*config) << "\n";
    return 0;
  }

  const std::string file = args["config"].as<std::string>();
  absl::StatusOr<domian::config::NodeConfig> config = domian::config::LoadNodeConfig(file);
  if (!config.ok()) {
    PrintIssues(config.status());
    std::cerr << "domiand: refusing to start with an invalid configuration\n";
    return 1;
  }
  std::string level_name = config->log_level;
  if (args.count("log-level") != 0) level_name = args["log-level"].as<std::string>();
  const auto level = domian::ParseLogLevel(level_name);
  if (!level) return Usage(options, "unknown log level '" + level_name + "'");

#ifdef NDEBUG
  // Debian builds abseil with its mutex deadlock detector on; gRPC's
  // mutexes then maintain a lock graph on every acquisition (about a
  // twentieth of an idle daemon's CPU). Release builds turn it off; the
  // debug and sanitizer builds the tests run keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  domian::daemon::BlockStopSignals();  // before any thread starts
  domian::SetupLogging(*level);
  domian::rpc::RouteGrpcLogs();
  try {
    domian::daemon::Daemon daemon(std::move(*config));
    return daemon.Run();
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
}
