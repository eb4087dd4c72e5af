// domian-plugin-host: runs one service's plugin for domiand, in a process
// of its own (isolation: process). It loads and checks the plugin, serves
// PluginHostProcess on a Unix socket, and exits when told to stop, when
// domiand goes away (PR_SET_PDEATHSIG), or when its plugin crashes it.
//
//   domian-plugin-host --plugin FILE --service NAME --state-dir DIR --socket PATH
//
// It also runs what a plugin does with no instance (ABI 1.1 plugin
// extensions), once, so a plugin that crashes or hangs there takes only
// this process down. Both read the configuration, a JSON object of at
// most kMaxConfigBytes, on stdin. domiand (--check-config, and its safe
// state on every path where a service is not in control) depends on these
// command lines and exit codes: keep them stable.
//
//   domian-plugin-host --validate-config --plugin FILE  < config.json
//     The plugin's domian.config/1 validate. Prints each problem on a line
//     of its own to stdout, "<key>: <message>" (key empty for the whole
//     configuration). Exit status:
//       0  valid
//       1  invalid: the problems are on stdout
//       2  another error: bad usage or input, the plugin did not load, it
//          crashed (stderr says which signal, and where), its check failed
//       3  not checked: the plugin offers no configuration check; stdout
//          says so in one line, "not checked by its plugin (ABI 1.0)" or
//          "not checked by its plugin (it offers no configuration check)"
//
//   domian-plugin-host --make-safe --plugin FILE --service NAME --state-dir DIR  < config.json
//     The plugin's domian.safe_state/1 make_safe with the last
//     configuration the service started with; its log goes to stderr.
//     Exit status:
//       0  the hardware is safe
//       1  make_safe failed: its message is the last line on stderr
//       2  another error, as above (the hardware may not be safe)
//       3  the plugin offers no safe state
//     The caller kills it after DOMIAN_SAFE_STATE_TIMEOUT_MS.
#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstring>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/common/logging.h"
#include "core/common/status.h"
#include "core/common/utf8.h"
#include "core/plugin_host/entity_board.h"
#include "core/services/plugin_host_command.h"
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

// Serving (the default mode).
constexpr int kExitUsage = 2;
constexpr int kExitRefused = 3;
// The one-shot modes' exit codes are domian::services::kHostExit*
// (plugin_host_command.h), as written at the top of this file.
using domian::services::kHostExitError;
using domian::services::kHostExitNo;
using domian::services::kHostExitNotOffered;
using domian::services::kHostExitOk;

// The largest configuration read on stdin: the largest domiand holds for
// a service (placement::kMaxHandOverConfigBytes, a configuration that came
// with a hand-over; one written in node.yaml is at most 4 KiB).
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

// How long a watch of the entities waits for news before it looks
// whether domiand cancelled it: a cancel is seen this late at most.
constexpr absl::Duration kWatchRecheck = absl::Milliseconds(200);

// A plugin's events wait here for domiand's next health check (once a
// second). A plugin that emits faster than domiand takes them loses the
// oldest, counted; a payload over what domiand's journal keeps
// (events::kMaxDataBytes) is sent as "{}", so the queue stays under 1 MiB.
constexpr size_t kMaxQueuedEvents = 256;
constexpr int kMaxEventsPerHealth = 64;
constexpr size_t kMaxEventJsonBytes = 4 * 1024;

class HostService final : public v1::PluginHostProcess::Service {
 public:
  HostService(std::shared_ptr<const PluginLibrary> library, std::string state_dir)
      : library_(std::move(library)), state_dir_(std::move(state_dir)) {}
  // After Stop, which joins the describer; this is for a Start that
  // never met a Stop.
  ~HostService() override {
    entities_.Close();
    std::thread describer;
    {
      absl::MutexLock lock(&mu_);
      describer = std::move(describer_);
    }
    if (describer.joinable()) describer.join();
  }

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
      absl::MutexLock guard(&events_mu_);
      if (events_.size() >= kMaxQueuedEvents) {
        events_.pop_front();
        ++events_dropped_;
      }
      v1::PluginEvent event;
      event.set_name(domian::ToValidUtf8(name));
      event.set_json(json.size() > kMaxEventJsonBytes ? "{}" : domian::ToValidUtf8(json));
      events_.push_back(std::move(event));
    };
    const bool entities_wanted = request->entities_wanted();
    if (entities_wanted) {
      callbacks.entity_state = [this](const std::string& entity, const std::string& state,
                                      const std::string& data) {
        return entities_.Publish(entity, state, data);
      };
      callbacks.entities_changed = [this] { entities_.Changed(); };
    }
    auto started = domian::services::StartInstance(
        library_, request->config_json(), state_dir_, std::move(callbacks),
        request->has_state() ? std::optional<std::string>(request->state()) : std::nullopt);
    if (!started.ok()) return Fail(response, started.status());
    instance_ = *std::move(started);
    if (instance_->has_entities() && entities_wanted) {
      // Describes now, and again whenever the plugin says its entities
      // changed: on a thread of its own, never inside the plugin's call
      // to changed, and one call at a time like every other
      // (PluginInstance).
      describer_ = std::thread([this, instance = instance_] { Describe(*instance); });
    }
    response->set_status(DOMIAN_OK);
    response->set_has_entities(instance_->has_entities() && entities_wanted);
    return grpc::Status::OK;
  }

  // Holds no instance: Stop ends it (through the board) and frees the
  // instance without waiting for it.
  grpc::Status WatchEntities(grpc::ServerContext* context, const v1::PluginEmpty*,
                             grpc::ServerWriter<v1::PluginEntityUpdate>* writer) override {
    {
      const std::shared_ptr<PluginInstance> instance = Instance();
      if (instance == nullptr || !instance->has_entities()) return grpc::Status::OK;
    }
    const uint64_t watch = entities_.Watch();
    while (!context->IsCancelled()) {
      v1::PluginEntityUpdate update;
      const domian::plugin_host::EntityBoard::Next next =
          entities_.Take(watch, kWatchRecheck, &update);
      if (next == domian::plugin_host::EntityBoard::Next::kEnded) break;
      if (next == domian::plugin_host::EntityBoard::Next::kNothing) continue;
      if (!writer->Write(update)) break;  // domiand went away
    }
    return grpc::Status::OK;
  }

  grpc::Status Invoke(grpc::ServerContext*, const v1::PluginInvokeRequest* request,
                      v1::PluginResult* response) override {
    const std::shared_ptr<PluginInstance> instance = Instance();
    if (instance == nullptr) return Fail(response, DOMIAN_ERR_UNAVAILABLE, "not started");
    std::optional<PluginInstance::Saved> saved;
    const grpc::Status answered =
        Answer(response, instance->Invoke(request->command(), request->args_json(), &saved));
    if (saved) {
      response->set_has_state(true);
      response->set_state(std::move(saved->bytes));
      response->set_state_number(saved->number);
    }
    return answered;
  }

  grpc::Status SaveState(grpc::ServerContext*, const v1::PluginEmpty*,
                         v1::PluginResult* response) override {
    const std::shared_ptr<PluginInstance> instance = Instance();
    if (instance == nullptr) return Fail(response, DOMIAN_ERR_UNAVAILABLE, "not started");
    absl::StatusOr<PluginInstance::Saved> saved = instance->Save();
    if (!saved.ok()) return Answer(response, saved.status());
    response->set_state_number(saved->number);
    return Answer(response, absl::StatusOr<std::string>(std::move(saved->bytes)));
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
    const domian::services::Liveness liveness = instance->LivenessNow();
    response->set_liveness_deadline_ms(static_cast<uint32_t>(liveness.deadline.count()));
    response->set_liveness_missed_ms(static_cast<uint64_t>(liveness.missed_by.count()));
    response->set_liveness_left_ms(static_cast<uint64_t>(liveness.left.count()));
    response->set_state_changes(instance->state_changes());
    {
      absl::MutexLock guard(&events_mu_);
      while (!events_.empty() && response->events_size() < kMaxEventsPerHealth) {
        *response->add_events() = std::move(events_.front());
        events_.pop_front();
      }
      response->set_events_dropped(std::exchange(events_dropped_, 0));
    }
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
    std::thread describer;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      instance = std::move(instance_);
      describer = std::move(describer_);
    }
    entities_.Close();  // the watch ends; the describer too, once its describe returned
    if (instance) instance->Stop();
    if (describer.joinable()) describer.join();
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
  // The describer's loop, until Stop.
  void Describe(PluginInstance& instance) {
    while (entities_.WaitForDescribe()) {
      absl::StatusOr<std::string> description = instance.DescribeEntities();
      if (!description.ok()) {
        spdlog::warn("[{}] entities not described: {}", library_->description().name,
                     domian::StatusMessage(description.status()));
        entities_.Described(std::nullopt);
        continue;
      }
      entities_.Described(*std::move(description));
    }
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
  // The plugin's events, until the next health check takes them to
  // domiand (its event journal).
  absl::Mutex events_mu_;
  std::deque<v1::PluginEvent> events_ ABSL_GUARDED_BY(events_mu_);
  uint64_t events_dropped_ ABSL_GUARDED_BY(events_mu_) = 0;
  // The plugin's entities for WatchEntities, and the thread that asks for
  // their description (started with an instance that has entities,
  // joined at Stop).
  domian::plugin_host::EntityBoard entities_;
  std::thread describer_ ABSL_GUARDED_BY(mu_);
};

// ---- one-shot modes ----

// What a crash report says, set before each step; read by the handler.
const char* crash_plugin = "";
const char* volatile crash_step = "starting";

// Writes `text` to stderr from a signal handler (async-signal-safe).
void WriteRaw(const char* text) {
  size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<size_t>(n);
  }
}

const char* SignalName(int number) {
  switch (number) {
    case SIGSEGV: return "SIGSEGV, segmentation fault";
    case SIGBUS: return "SIGBUS, bus error";
    case SIGILL: return "SIGILL, illegal instruction";
    case SIGFPE: return "SIGFPE, arithmetic exception";
    case SIGABRT: return "SIGABRT, aborted";
    default: return "a fatal signal";
  }
}

// A crash in the plugin becomes exit status kHostExitError and a line
// that says so, instead of a death by signal the caller must interpret.
void OnCrash(int number) {
  char digits[16];
  int at = static_cast<int>(sizeof digits) - 1;
  digits[at] = '\0';
  int value = number;
  do {
    digits[--at] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && at > 0);
  WriteRaw("domian-plugin-host: ");
  WriteRaw(crash_plugin);
  WriteRaw(": the plugin crashed (signal ");
  WriteRaw(digits + at);
  WriteRaw(", ");
  WriteRaw(SignalName(number));
  WriteRaw(") while ");
  WriteRaw(crash_step);
  WriteRaw("\n");
  ::_exit(kHostExitError);
}

void CatchCrashes(const std::string& plugin) {
  static std::string name;
  name = plugin;
  crash_plugin = name.c_str();
  // Its own stack, so a stack overflow in the plugin is reported too.
  static char alternate[64 * 1024];
  stack_t stack{};
  stack.ss_sp = alternate;
  stack.ss_size = sizeof alternate;
  ::sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = &OnCrash;
  action.sa_flags = SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (const int fatal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) {
    ::sigaction(fatal, &action, nullptr);
  }
}

int OneShotError(const std::string& message) {
  std::cerr << "domian-plugin-host: " << message << "\n";
  return kHostExitError;
}

// The configuration on stdin, bounded; or why it cannot be taken.
absl::StatusOr<std::string> ReadConfig() {
  std::string config;
  char buffer[8192];
  while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
    config.append(buffer, static_cast<size_t>(std::cin.gcount()));
    if (config.size() > kMaxConfigBytes) {
      return absl::InvalidArgumentError("the configuration on stdin is larger than " +
                                        std::to_string(kMaxConfigBytes) + " bytes");
    }
  }
  // The ABI promises the plugin a UTF-8 JSON object.
  const nlohmann::json parsed = nlohmann::json::parse(config, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object() || !domian::IsValidUtf8(config)) {
    return absl::InvalidArgumentError("the configuration on stdin is not a JSON object");
  }
  return config;
}

// Loads the plugin for a one-shot mode: the library, or the exit status.
absl::StatusOr<std::shared_ptr<const PluginLibrary>> LoadForOneShot(const std::string& plugin) {
  CatchCrashes(plugin);
  crash_step = "loading";
  auto loaded = PluginLibrary::Load(plugin);
  if (!loaded.ok()) return loaded.status();
  return loaded;
}

int ValidateConfig(const std::string& plugin) {
  const absl::StatusOr<std::string> config = ReadConfig();
  if (!config.ok()) return OneShotError(domian::StatusMessage(config.status()));
  auto library = LoadForOneShot(plugin);
  if (!library.ok()) return OneShotError(domian::StatusMessage(library.status()));
  if (!(*library)->has_config_check()) {
    const domian_abi_version abi = (*library)->description().abi;
    if (abi.minor < 1) {
      std::cout << "not checked by its plugin (ABI " << abi.major << "." << abi.minor << ")\n";
    } else {
      std::cout << "not checked by its plugin (it offers no configuration check)\n";
    }
    return kHostExitNotOffered;
  }
  crash_step = "checking the configuration";
  const absl::StatusOr<std::vector<std::string>> problems = (*library)->Validate(*config);
  crash_step = "ending";
  if (!problems.ok()) return OneShotError(domian::StatusMessage(problems.status()));
  for (const std::string& problem : *problems) std::cout << problem << "\n";
  std::cout.flush();
  return problems->empty() ? kHostExitOk : kHostExitNo;
}

int MakeSafe(const std::string& plugin, const std::string& service,
             const std::string& state_dir) {
  const absl::StatusOr<std::string> config = ReadConfig();
  if (!config.ok()) return OneShotError(domian::StatusMessage(config.status()));
  auto library = LoadForOneShot(plugin);
  if (!library.ok()) return OneShotError(domian::StatusMessage(library.status()));
  if ((*library)->description().name != service) {
    return OneShotError(plugin + " is the plugin of service " + (*library)->description().name +
                        ", not of " + service);
  }
  if (!(*library)->has_safe_state()) {
    std::cerr << "domian-plugin-host: " << service << ": the plugin has no safe state (plugin ABI "
              << (*library)->description().abi.major << "."
              << (*library)->description().abi.minor << ")\n";
    return kHostExitNotOffered;
  }
  crash_step = "making the hardware safe";
  const absl::Status safe = (*library)->MakeSafe(
      *config, state_dir, [&service](domian_log_level level, const std::string& message) {
        const auto spd = level <= DOMIAN_LOG_DEBUG  ? spdlog::level::debug
                         : level == DOMIAN_LOG_INFO ? spdlog::level::info
                         : level == DOMIAN_LOG_WARN ? spdlog::level::warn
                                                    : spdlog::level::err;
        spdlog::log(spd, "[{}] {}", service, message);
      });
  crash_step = "ending";
  if (!safe.ok()) {
    std::cerr << "domian-plugin-host: " << service
              << ": make_safe failed: " << domian::StatusMessage(safe) << "\n";
    return kHostExitNo;
  }
  return kHostExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // domiand gone (even killed): this process goes too; no orphans.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent died before prctl took effect: nobody waits for an answer.
  if (::getppid() == 1) return kHostExitError;
  po::options_description options("domian-plugin-host");
  options.add_options()
      ("plugin", po::value<std::string>()->required(), "the plugin file")
      ("service", po::value<std::string>(), "the service name")
      ("state-dir", po::value<std::string>(), "the service's folder")
      ("socket", po::value<std::string>(), "Unix socket to serve on")
      ("validate-config", "check the configuration on stdin with the plugin, and exit")
      ("make-safe", "make the service's hardware safe with the configuration on stdin, and exit")
      ("log-level", po::value<std::string>()->default_value("info"), "log level");
  po::variables_map args;
  const auto usage = [&options](const std::string& error) {
    std::cerr << "domian-plugin-host: " << error << "\n" << options;
    return kExitUsage;
  };
  try {
    po::store(po::parse_command_line(argc, argv, options), args);
    po::notify(args);
  } catch (const po::error& error) {
    return usage(error.what());
  }
  const auto missing = [&args](std::initializer_list<const char*> names) -> std::string {
    for (const char* name : names) {
      if (args.count(name) == 0) return std::string("the option '--") + name + "' is required";
    }
    return "";
  };
  domian::SetupLogging(
      domian::ParseLogLevel(args["log-level"].as<std::string>()).value_or(spdlog::level::info));
  if (args.count("validate-config") != 0 && args.count("make-safe") != 0) {
    return usage("--validate-config and --make-safe are two runs");
  }
  if (args.count("validate-config") != 0) {
    return ValidateConfig(args["plugin"].as<std::string>());
  }
  if (args.count("make-safe") != 0) {
    if (const std::string error = missing({"service", "state-dir"}); !error.empty()) {
      return usage(error);
    }
    return MakeSafe(args["plugin"].as<std::string>(), args["service"].as<std::string>(),
                    args["state-dir"].as<std::string>());
  }
  if (const std::string error = missing({"service", "state-dir", "socket"}); !error.empty()) {
    return usage(error);
  }
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
