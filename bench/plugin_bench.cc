// Plugin benchmark.
//
//   inline-load: a fresh copy of a plugin .so (so dlopen really maps it)
//                loaded, checked, created and started in this process.
//   spawn:       a domian-plugin-host process started for a service until
//                the service runs in it (isolation: process).
//   call:        `Invoke` of a plugin command through a real domiand:
//                answered by the node that runs it (local) and through
//                another node that forwards it (routed), over loopback,
//                with the same client domianctl uses. --plaintext: the
//                daemons without TLS, to set beside the mutual TLS figure.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <iostream>

#include "core/cli/control_client.h"
#include "core/services/isolated_service.h"
#include "core/services/plugin_instance.h"
#include "core/services/plugin_library.h"
#include "bench/command_line.h"
#include "bench/percentile.h"
#include "tests/support/cluster.h"

namespace po = boost::program_options;
using namespace domian::testing;
using Micros = std::chrono::duration<double, std::micro>;

namespace {

using domian::bench::Percentile;

nlohmann::json Summary(const std::vector<double>& values) {
  return {{"p50", Percentile(values, 50)}, {"p99", Percentile(values, 99)}};
}

nlohmann::json InlineLoad(const std::filesystem::path& plugin, int trials) {
  TempDir dir("domian-plugin-bench");
  std::vector<double> load_us, start_us;
  for (int i = 0; i < trials; ++i) {
    // A folder per copy: the file keeps the service's name.
    const auto folder = dir.path() / std::to_string(i);
    std::filesystem::create_directory(folder);
    std::filesystem::permissions(folder, std::filesystem::perms(0755));
    const auto copy = folder / plugin.filename();
    std::filesystem::copy_file(plugin, copy);
    std::filesystem::permissions(copy, std::filesystem::perms(0644));
    const auto began = std::chrono::steady_clock::now();
    auto loaded = domian::services::PluginLibrary::Load(copy);
    const auto loaded_at = std::chrono::steady_clock::now();
    if (!loaded.ok()) throw std::runtime_error(loaded.status().ToString());
    auto created = domian::services::PluginInstance::Create(*loaded, "{}", folder, {});
    if (!created.ok()) throw std::runtime_error(created.status().ToString());
    auto& instance = *created;
    if (!instance->Start().ok()) throw std::runtime_error("start failed");
    const auto started_at = std::chrono::steady_clock::now();
    load_us.push_back(Micros(loaded_at - began).count());
    start_us.push_back(Micros(started_at - began).count());
  }
  return {{"scenario", "inline-load"},
          {"plugin", plugin.filename().string()},
          {"trials", trials},
          {"load_us", Summary(load_us)},
          {"load_create_start_us", Summary(start_us)}};
}

nlohmann::json Spawn(const std::filesystem::path& plugin, int trials) {
  TempDir dir("domian-plugin-bench");
  std::vector<double> ready_ms;
  for (int i = 0; i < trials; ++i) {
    const auto folder = dir.path() / std::to_string(i);
    std::filesystem::create_directory(folder);
    std::mutex mu;
    std::condition_variable cv;
    bool running = false;
    domian::services::IsolatedService* service_ptr = nullptr;
    domian::services::IsolatedService service(
        {.service = plugin.stem().string(),
         .plugin = plugin,
         .state_dir = folder,
         .host_binary = DOMIAN_PLUGIN_HOST_BUILT},
        [&] {
          std::lock_guard lock(mu);
          if (service_ptr != nullptr && service_ptr->Status().state == domian::ServiceState::kRunning) running = true;
          cv.notify_all();
        });
    {
      std::lock_guard lock(mu);
      service_ptr = &service;
    }
    const auto began = std::chrono::steady_clock::now();
    service.Start();
    {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, 10s, [&] { return running; })) throw std::runtime_error("no start");
    }
    ready_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count());
    service.Stop();
  }
  return {{"scenario", "spawn"}, {"trials", trials}, {"ready_ms", Summary(ready_ms)}};
}

nlohmann::json Calls(const std::filesystem::path& plugin_dir, int calls) {
  TempDir dir("domian-plugin-bench");
  const std::string yaml = "plugins:\n  dirs: [" + plugin_dir.string() +
                           "]\nservices:\n  echo-c: {isolation: inline}\n";
  Daemon a(dir.path(),
           {.id = "runs-it", .log_level = "warn", .extra_yaml = yaml, .traits = {"test"}});
  a.Start();
  Daemon b(dir.path(), {.id = "forwards", .seeds = {a.address()}, .log_level = "warn"});
  b.Start();
  if (!AllSeeEachOtherAlive({&a, &b}, 30s)) throw std::runtime_error("no cluster");
  auto owned_local = domian::testing::ControlClientFor(a.address());
  auto owned_routed = domian::testing::ControlClientFor(b.address());
  domian::cli::ControlClient& local = *owned_local;
  domian::cli::ControlClient& routed = *owned_routed;
  // b must have learned that a runs echo-c.
  if (!Eventually([&] { return routed.Call("echo-c", "echo", "{}").ok(); },
                  30s)) {
    throw std::runtime_error("echo-c not reachable through the other node");
  }
  auto measure = [&](domian::cli::ControlClient& client) {
    std::vector<double> us;
    for (int i = 0; i < calls; ++i) {
      const auto began = std::chrono::steady_clock::now();
      const auto reply = client.Call("echo-c", "echo", R"({"n":1})");
      us.push_back(Micros(std::chrono::steady_clock::now() - began).count());
      if (!reply.ok()) throw std::runtime_error("call failed");
    }
    return us;
  };
  measure(local);  // warm both connections
  const auto local_us = measure(local);
  const auto routed_us = measure(routed);
  return {{"scenario", "call"},
          {"calls", calls},
          {"local_us", Summary(local_us)},
          {"routed_us", Summary(routed_us)}};
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // plugins log every start
  po::options_description options("plugin_bench");
  options.add_options()
      ("scenario", po::value<std::string>()->required(), "inline-load | spawn | call")
      ("plugin", po::value<std::string>()->default_value(std::string(DOMIAN_TEST_PLUGIN_DIR) + "/echo-c.so"),
       "inline-load: the plugin file")
      ("trials", po::value<int>()->default_value(200), "inline-load: copies loaded")
      ("calls", po::value<int>()->default_value(2000), "call: calls per kind")
      ("plaintext", po::bool_switch(), "call: the daemons without TLS (security.plaintext)")
      ("help,h", "this help");
  po::variables_map args;
  if (const auto stop = domian::bench::ParseCommandLine(argc, argv, options, args)) return *stop;
  try {
    const std::string scenario = args["scenario"].as<std::string>();
    const bool plaintext = args["plaintext"].as<bool>();
    // inline-load and spawn start no daemon: nothing of theirs goes over
    // the network, so a plaintext figure of them would compare nothing.
    if (plaintext && scenario != "call") {
      std::cerr << "--plaintext is for the call scenario: " << scenario << " starts no daemon\n";
      return 2;
    }
    // Before the first Daemon is made: each takes the transport in force.
    UsePlaintextDaemons(plaintext);
    nlohmann::json result;
    if (scenario == "inline-load") {
      result = InlineLoad(args["plugin"].as<std::string>(), args["trials"].as<int>());
    } else if (scenario == "spawn") {
      result = Spawn(args["plugin"].as<std::string>(), args["trials"].as<int>());
    } else if (scenario == "call") {
      result = Calls(DOMIAN_TEST_PLUGIN_DIR, args["calls"].as<int>());
      result["transport"] = DaemonTransport();
    } else {
      std::cerr << "unknown scenario " << scenario << "\n";
      return 2;
    }
    std::cout << result.dump() << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "plugin_bench: " << error.what() << "\n";
    return 1;
  }
}
