// domian-plugin-host: runs one service's plugin for domiand, in a process
// of its own (isolation: process). It loads and checks the plugin, serves
// PluginHostProcess on a Unix socket, and exits when told to stop, when
// domiand goes away (PR_SET_PDEATHSIG), or when its plugin crashes it.
//
//   domian-plugin-host --plugin FILE --service NAME --state-dir DIR --socket PATH
#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "core/common/logging.h"
#include "core/common/status.h"
#include "core/common/utf8.h"
#include "core/services/plugin_instance.h"
#include "core/services/plugin_library.h"
#include "core/services/plugin_status.h"
#include "domian/v1/plugin_host.grpc.pb.h"

namespace po = boost::program_options;
namespace v1 = domian::v1;
using domian::services::PluginInstance;
using domian::services::PluginLibrary;
using domian::services::PluginStatusOf;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRefused = 3;

class HostService final : public v1::PluginHostProcess::Service {
 public:
  HostService(std::shared_ptr<const PluginLibrary> library, std::string state_dir)
      : library_(std::move(library)), state_dir_(std::move(state_dir)) {}

  grpc::Status Start(grpc::ServerContext*, const v1::PluginStartRequest* request,
                     v1::PluginResult* response) override {
    absl::MutexLock lock(&mu_);
    if (stopping_) return Fail(response, DOMIAN_ERR_UNAVAILABLE, "stopped");
    if (instance_) return Fail(response, DOMIAN_ERR_INVALID_ARGUMENT, "already started");
    domian::services::HostCallbacks callbacks;
    callbacks.publish_endpoint = [this](const std::string& name,
                                        const std::optional<std::string>& endpoint) {
      absl::MutexLock guard(&endpoints_mu_);
      if (endpoint) {
        endpoints_[name] = *endpoint;
      } else {
        endpoints_.erase(name);
      }
    };
    callbacks.emit_event = [this](const std::string& name, const std::string& json) {
      spdlog::info("[{}] event {}: {}", library_->description().name, name, json);
    };
    auto started = domian::services::StartInstance(
        library_, request->config_json(), state_dir_, std::move(callbacks),
        request->has_state() ? std::optional<std::string>(request->state()) : std::nullopt);
    if (!started.ok()) return Fail(response, started.status());
    instance_ = *std::move(started);
    response->set_status(DOMIAN_OK);
    return grpc::Status::OK;
  }

  grpc::Status Invoke(grpc::ServerContext*, const v1::PluginInvokeRequest* request,
                      v1::PluginResult* response) override {
    const std::shared_ptr<PluginInstance> instance = Instance();
    if (instance == nullptr) return Fail(response, DOMIAN_ERR_UNAVAILABLE, "not started");
    return Answer(response, instance->Invoke(request->command(), request->args_json()));
  }

  grpc::Status SaveState(grpc::ServerContext*, const v1::PluginEmpty*,
                         v1::PluginResult* response) override {
    const std::shared_ptr<PluginInstance> instance = Instance();
    if (instance == nullptr) return Fail(response, DOMIAN_ERR_UNAVAILABLE, "not started");
    return Answer(response, instance->SaveState());
  }

  grpc::Status Health(grpc::ServerContext*, const v1::PluginEmpty*,
                      v1::PluginHealth* response) override {
    const std::shared_ptr<PluginInstance> instance = Instance();
    if (instance == nullptr) {
      response->set_status(DOMIAN_ERR_UNAVAILABLE);
      response->set_detail("not started");
      return grpc::Status::OK;
    }
    // Never waits for a call in progress (IsolatedService ends a stuck one
    // at the call deadline).
    const absl::Status health = instance->CheckHealth();
    // Plugin text: domiand cannot parse a reply whose strings are not
    // UTF-8, and would take the host for unresponsive.
    response->set_status(PluginStatusOf(health));
    response->set_detail(domian::ToValidUtf8(domian::StatusMessage(health)));
    response->set_has_state(instance->has_state());
    absl::MutexLock guard(&endpoints_mu_);
    for (const auto& [name, endpoint] : endpoints_) {
      (*response->mutable_endpoints())[name] = domian::ToValidUtf8(endpoint);
    }
    return grpc::Status::OK;
  }

  // Calls that took the instance before keep it alive until they return:
  // Stop waits for the one in progress, later ones are refused
  // (PluginInstance), and the last holder destroys it.
  grpc::Status Stop(grpc::ServerContext*, const v1::PluginEmpty*, v1::PluginEmpty*) override {
    std::shared_ptr<PluginInstance> instance;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      instance = std::move(instance_);
    }
    if (instance) instance->Stop();
    instance.reset();
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
    }
    stopped_cv_.SignalAll();
    return grpc::Status::OK;
  }

  void WaitStopped() {
    absl::MutexLock lock(&mu_);
    while (!stopped_) stopped_cv_.Wait(&mu_);
  }

 private:
  std::shared_ptr<PluginInstance> Instance() {
    absl::MutexLock lock(&mu_);
    return instance_;
  }
  // The plugin's answer travels as the plugin gave it (a domian_status and
  // its message); domiand maps it to a code on its side.
  static grpc::Status Fail(v1::PluginResult* response, domian_status status,
                           const std::string& message) {
    response->set_status(status);
    response->set_output(message);
    return grpc::Status::OK;
  }
  static grpc::Status Fail(v1::PluginResult* response, const absl::Status& status) {
    return Fail(response, PluginStatusOf(status), domian::StatusMessage(status));
  }
  static grpc::Status Answer(v1::PluginResult* response,
                             const absl::StatusOr<std::string>& result) {
    if (!result.ok()) return Fail(response, result.status());
    response->set_status(DOMIAN_OK);
    response->set_output(*result);
    return grpc::Status::OK;
  }

  std::shared_ptr<const PluginLibrary> library_;
  std::string state_dir_;
  absl::Mutex mu_;
  absl::CondVar stopped_cv_;
  // Shared with the calls in flight, so Stop never frees it under one.
  std::shared_ptr<PluginInstance> instance_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Stop came: no Start any more
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;   // the plugin is stopped: the process may end
  absl::Mutex endpoints_mu_;
  std::map<std::string, std::string> endpoints_ ABSL_GUARDED_BY(endpoints_mu_);
};

}  // namespace

int main(int argc, char** argv) {
  // domiand gone (even killed): this process goes too; no orphans.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return 1;  // the parent died before prctl took effect
  po::options_description options("domian-plugin-host");
  options.add_options()
      ("plugin", po::value<std::string>()->required(), "the plugin file")
      ("service", po::value<std::string>()->required(), "the service name")
      ("state-dir", po::value<std::string>()->required(), "the service's folder")
      ("socket", po::value<std::string>()->required(), "Unix socket to serve on")
      ("log-level", po::value<std::string>()->default_value("info"), "log level");
  po::variables_map args;
  try {
    po::store(po::parse_command_line(argc, argv, options), args);
    po::notify(args);
  } catch (const po::error& error) {
    std::cerr << "domian-plugin-host: " << error.what() << "\n" << options;
    return kExitUsage;
  }
  domian::SetupLogging(
      domian::ParseLogLevel(args["log-level"].as<std::string>()).value_or(spdlog::level::info));
  auto loaded = PluginLibrary::Load(args["plugin"].as<std::string>());
  if (!loaded.ok()) {
    spdlog::error("plugin refused: {}", domian::StatusMessage(loaded.status()));
    return kExitRefused;
  }
  HostService service(*std::move(loaded), args["state-dir"].as<std::string>());
  const std::string socket = args["socket"].as<std::string>();
  ::unlink(socket.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    spdlog::error("cannot serve on unix:{}", socket);
    return 1;
  }
  service.WaitStopped();
  // The Stop call was the last one that matters: cancel anything left.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  ::unlink(socket.c_str());
  return 0;
}
