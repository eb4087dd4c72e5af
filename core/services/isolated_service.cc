#include "core/services/isolated_service.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <algorithm>

#include <boost/process.hpp>

#include "core/common/write_debouncer.h"
#include "core/services/host_command.h"
#include "core/services/plugin_host_command.h"
#include "core/services/plugin_status.h"
#include "core/services/saved_state.h"
#include "domian/v1/plugin_host.grpc.pb.h"

namespace bp = boost::process;

namespace domian::services {
namespace {

constexpr char kSocketFile[] = "host.sock";
// A spawned host is asked for a connection in attempts this long, with
// this pause between them: it is local and serves within milliseconds.
constexpr std::chrono::milliseconds kConnectAttempt{50};
constexpr std::chrono::milliseconds kConnectPause{2};
// How often a host told to stop is looked at until it has exited.
constexpr std::chrono::milliseconds kExitPoll{10};
// How often a running host is looked at for its end (waitpid WNOHANG:
// microseconds): a crash is noticed, and its safe state run, within this
// rather than at the next health check.
constexpr std::chrono::milliseconds kExitCheckInterval{50};
// A host whose connection closed during Start has, almost always, just
// died: this long is waited for its end so that the signal can be named
// (the kernel reaps a crashed process in milliseconds); a host still
// running after it is killed.
constexpr std::chrono::milliseconds kDeathReportWait{1000};

std::string ExitDescription(int status) { return DescribeWaitStatus(status); }

// A gRPC call's deadline: gRPC keeps it itself, on the system clock.
std::chrono::system_clock::time_point In(std::chrono::milliseconds delay) {
  return std::chrono::system_clock::now() + delay;
}

// A plugin host's answer: the reply, or the plugin's failure.
absl::StatusOr<std::string> Outcome(const v1::PluginResult& result) {
  if (result.status() == DOMIAN_OK) return result.output();
  return StatusFromPlugin(result.status(), result.output());
}

// Boost.Process 1.74 makes the pipe that reports a failed exec with pipe()
// and marks its write end close-on-exec only afterwards
// (detail/posix/executor.hpp). A fork from another thread in between hands
// that write end to the other child for good, and the launch that made the
// pipe waits for its end forever: a service stuck "starting" (seen when a
// node starts several at once). Launches, and the one-shot plugin hosts
// (plugin_host_command.h), take turns at the fork:
// PluginHostSpawnMutex().

}  // namespace

struct IsolatedService::Process {
  explicit Process(const IsolatedService::Options& options)
      : keeper(options.state_dir, options.service, options.epoch, options.on_state_stored) {}
  // EndEntities joins the reader; this is only a last guard, so that a
  // path that missed it cannot end the daemon (a joinable std::thread).
  ~Process() {
    if (entities_reader.joinable()) {
      entities_context.TryCancel();
      entities_reader.join();
    }
  }
  bp::child child;
  std::unique_ptr<v1::PluginHostProcess::Stub> stub;
  // This host's saves (numbered by it), stored newest first wins; closed
  // when it ends.
  StateKeeper keeper;
  // The watch of its plugin's entities, when it has them: read on
  // entities_reader until the stream ends, cancelled through the context.
  grpc::ClientContext entities_context;
  std::thread entities_reader;
};

const Clock& DefaultServiceClock() {
  static const SteadyClock clock;
  return clock;
}

IsolatedService::IsolatedService(Options options, std::function<void()> on_change,
                                 const Clock& clock)
    : options_(std::move(options)), on_change_(std::move(on_change)), clock_(clock) {}

IsolatedService::~IsolatedService() { Stop(); }

void IsolatedService::Start() {
  supervisor_ = std::thread([this] { Supervise(); });
}

void IsolatedService::SetState(ServiceState state, const std::string& detail) {
  {
    absl::MutexLock lock(&mu_);
    snapshot_.state = state;
    snapshot_.detail = detail;
    if (state != ServiceState::kRunning) {
      snapshot_.endpoints.clear();
      snapshot_.liveness = {};
    }
  }
  if (on_change_) on_change_();
}

bool IsolatedService::SleepUntil(MonoTime until) {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const MonoTime now = clock_.Now();
    if (now >= until) return true;
    cv_.WaitWithTimeout(
        &mu_, absl::FromChrono(std::min<std::chrono::nanoseconds>(until - now, kClockRecheck)));
  }
  return false;
}

IsolatedService::Snapshot IsolatedService::Status() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

// The supervising thread spawns every plugin host and also ends it: the
// host dies with the *thread* that started it (PR_SET_PDEATHSIG follows
// the parent thread), so this thread outlives each of its hosts.
void IsolatedService::Supervise() {
  Run();
  Shutdown();
}

void IsolatedService::Run() {
  RestartBackoff backoff(clock_);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    backoff.Launched();
    absl::Status end = Launch();
    if (end.ok()) {
      if (options_.on_running) options_.on_running();
      Watch();
      absl::MutexLock lock(&mu_);
      if (stopping_) return;  // the owner's stop makes it safe after the shutdown
      end = absl::AbortedError(snapshot_.detail);
    }
    const std::string problem = StatusMessage(end);
    // Nothing runs now: the hardware is made safe before anything else
    // (a pause, a restart, giving up).
    const std::string safety = options_.make_safe ? options_.make_safe(end) : "";
    const std::optional<std::chrono::milliseconds> delay = backoff.Ended();
    if (!delay) {
      const std::string detail = "failed " + std::to_string(backoff.recent_ends()) +
                                 " times in " + std::to_string(kCrashWindow.count()) +
                                 " s, giving up on this node; last: " + problem +
                                 (safety.empty() ? "" : "; " + safety);
      spdlog::error("service {}: {}", options_.service, detail);
      SetState(ServiceState::kFailed, detail);
      return;
    }
    // The pause runs from the end, not from when the end is reported.
    const MonoTime restart_at = clock_.Now() + *delay;
    spdlog::warn("service {}: {}; restarting in {} ms", options_.service, problem,
                 delay->count());
    SetState(ServiceState::kRestarting, safety.empty() ? problem : problem + "; " + safety);
    if (!SleepUntil(restart_at)) return;
  }
}

absl::Status IsolatedService::Launch() {
  const std::filesystem::path socket = options_.state_dir / kSocketFile;
  std::error_code ignored;
  std::filesystem::remove(socket, ignored);
  auto process = std::make_shared<Process>(options_);
  try {
    absl::MutexLock spawning(&PluginHostSpawnMutex());
    process->child = bp::child(options_.host_binary.string(), "--plugin", options_.plugin.string(),
                               "--service", options_.service, "--state-dir",
                               options_.state_dir.string(), "--socket", socket.string(),
                               "--log-level", spdlog::level::to_string_view(spdlog::get_level()).data(),
                               bp::std_in < bp::null, bp::std_out > bp::null);
  } catch (const std::exception& error) {
    return absl::InternalError("cannot start " + options_.host_binary.string() + ": " +
                               error.what());
  }
  {
    absl::MutexLock lock(&mu_);
    process_ = process;
  }
  // Serving once the socket answers; the process may also die first.
  // The host is local and starts in milliseconds: retry the connection
  // quickly instead of gRPC's default 1 s backoff.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  auto channel = grpc::CreateCustomChannel("unix:" + socket.string(),
                                           grpc::InsecureChannelCredentials(), arguments);
  const MonoTime until = clock_.Now() + kSpawnDeadline;
  bool connected = false;
  while (!connected && clock_.Now() < until && process->child.running()) {
    connected = std::filesystem::exists(socket) &&
                channel->WaitForConnected(In(kConnectAttempt));
    if (!connected) std::this_thread::sleep_for(kConnectPause);
  }
  if (!connected) {
    const bool alive = process->child.running();
    Reap(/*kill=*/true);
    if (alive) return absl::DeadlineExceededError("the plugin host did not start serving");
    return absl::AbortedError("the plugin host " +
                              ExitDescription(process->child.native_exit_code()) +
                              " before serving");
  }
  process->stub = v1::PluginHostProcess::NewStub(channel);
  v1::PluginStartRequest request;
  request.set_config_json(options_.config_json);
  request.set_entities_wanted(static_cast<bool>(options_.entities.described) ||
                              static_cast<bool>(options_.entities.state));
  if (const std::optional<std::string> saved = ReadServiceState(options_.state_dir)) {
    request.set_state(*saved);
    request.set_has_state(true);
  }
  grpc::ClientContext context;
  context.set_deadline(In(kCallDeadline));
  v1::PluginResult result;
  const grpc::Status status = process->stub->Start(&context, request, &result);
  if (!status.ok()) {
    // Most often the plugin crashed its host while starting: name how it
    // ended (a signal), not just the closed connection.
    const MonoTime until_dead = clock_.Now() + kDeathReportWait;
    while (process->child.running() && clock_.Now() < until_dead) {
      std::this_thread::sleep_for(kExitPoll);
    }
    const bool alive = process->child.running();
    Reap(/*kill=*/true);
    if (alive) {
      return absl::AbortedError("the plugin host stopped answering while starting (" +
                                status.error_message() + "); killed it");
    }
    return absl::AbortedError("the plugin host " +
                              ExitDescription(process->child.native_exit_code()) +
                              " while starting (" + status.error_message() + ")");
  }
  if (const absl::Status started = Outcome(result).status(); !started.ok()) {
    Reap(/*kill=*/true);
    return StatusFromPlugin(PluginStatusOf(started), "start failed: " + StatusMessage(started));
  }
  spdlog::info("service {} running (plugin host pid {})", options_.service, process->child.id());
  if (result.has_entities()) WatchEntities(*process);
  SetState(ServiceState::kRunning, "");
  return absl::OkStatus();
}

void IsolatedService::WatchEntities(Process& process) {
  const EntitySink& sink = options_.entities;
  if (!sink.described && !sink.state && !sink.gone) return;
  // The process outlives its reader: EndEntities joins it before the
  // last reference to the process goes.
  process.entities_reader = std::thread([this, &process] { ReadEntities(process); });
}

// Pushed by the host as they happen: the first update has the description
// and every state, later ones what changed.
void IsolatedService::ReadEntities(Process& process) {
  const EntitySink& sink = options_.entities;
  std::unique_ptr<grpc::ClientReader<v1::PluginEntityUpdate>> reader =
      process.stub->WatchEntities(&process.entities_context, v1::PluginEmpty());
  v1::PluginEntityUpdate update;
  while (reader->Read(&update)) {
    if (update.has_description() && sink.described) {
      sink.described({.service = options_.service,
                      .plugin = options_.plugin_name,
                      .plugin_version = options_.plugin_version,
                      .json = update.description()});
    }
    if (sink.state) {
      for (const v1::PluginEntityState& state : update.states()) {
        sink.state(options_.service, state.entity(), state.state(), state.data());
      }
    }
  }
  // Cancelled, or the host ended or stopped: the supervising thread sees
  // to the rest. Anything else means no more states while it runs.
  const grpc::Status status = reader->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
      status.error_code() != grpc::StatusCode::UNAVAILABLE) {
    spdlog::warn("service {}: its entities' states stopped coming ({})", options_.service,
                 status.error_message());
  }
}

void IsolatedService::EndEntities(Process& process) {
  if (!process.entities_reader.joinable()) return;
  process.entities_context.TryCancel();
  process.entities_reader.join();
  if (options_.entities.gone) options_.entities.gone(options_.service);
}

void IsolatedService::Watch() {
  std::shared_ptr<Process> process;
  {
    absl::MutexLock lock(&mu_);
    process = process_;
  }
  int missed = 0;
  // The plugin's marked changes (mark_dirty), by its count in the health
  // answers: the first saved at once, then at most once per
  // kDefaultMinWriteInterval, the last never lost.
  WriteDebouncer dirty_saves(clock_);
  uint64_t seen_changes = 0;
  MonoTime next_health = clock_.Now() + kHealthInterval;
  while (SleepUntil(std::min(next_health, clock_.Now() + kExitCheckInterval))) {
    if (!process->child.running()) {
      process->child.wait();
      const std::string how = "the plugin host " + ExitDescription(process->child.native_exit_code());
      spdlog::error("service {}: {}", options_.service, how);
      process->keeper.Close();
      EndEntities(*process);
      absl::MutexLock lock(&mu_);
      snapshot_.detail = how;
      process_.reset();
      return;
    }
    if (clock_.Now() < next_health) continue;
    next_health = clock_.Now() + kHealthInterval;
    grpc::ClientContext context;
    context.set_deadline(In(kHealthDeadline));
    v1::PluginHealth health;
    const grpc::Status status = process->stub->Health(&context, v1::PluginEmpty(), &health);
    if (!status.ok()) {
      if (++missed < kMaxMissedHealthChecks) continue;
      const std::string how = "the plugin host stopped answering (" + status.error_message() + ")";
      spdlog::error("service {}: {}; killing it", options_.service, how);
      Reap(/*kill=*/true);
      absl::MutexLock lock(&mu_);
      snapshot_.detail = how;
      return;
    }
    missed = 0;
    if (health.events_dropped() > 0 && options_.on_events_dropped) {
      options_.on_events_dropped(health.events_dropped());
    }
    if (options_.on_event) {
      for (const v1::PluginEvent& event : health.events()) options_.on_event(event.name(), event.json());
    }
    if (health.liveness_missed_ms() > 0) {
      // The process answers, but the loop the plugin asked to be watched
      // made no progress: a hang all the same.
      const std::string how = "the plugin missed its liveness deadline of " +
                              std::to_string(health.liveness_deadline_ms()) + " ms by " +
                              std::to_string(health.liveness_missed_ms()) + " ms (hung)";
      spdlog::error("service {}: {}; killing its plugin host", options_.service, how);
      Reap(/*kill=*/true);
      absl::MutexLock lock(&mu_);
      snapshot_.detail = how;
      return;
    }
    bool changed = false;
    {
      absl::MutexLock lock(&mu_);
      std::map<std::string, std::string> endpoints(health.endpoints().begin(),
                                                   health.endpoints().end());
      const std::string detail =
          StatusMessage(StatusFromPlugin(health.status(), health.detail()));
      Liveness liveness;
      liveness.deadline = std::chrono::milliseconds(health.liveness_deadline_ms());
      liveness.missed_by = std::chrono::milliseconds(
          static_cast<std::chrono::milliseconds::rep>(health.liveness_missed_ms()));
      changed = endpoints != snapshot_.endpoints || detail != snapshot_.detail ||
                liveness.missed() != snapshot_.liveness.missed();
      snapshot_.endpoints = std::move(endpoints);
      snapshot_.detail = detail;
      snapshot_.liveness = liveness;
    }
    bool save = false;
    if (health.state_changes() != seen_changes) {
      seen_changes = health.state_changes();
      save = dirty_saves.Changed(options_.service);
    }
    if (!dirty_saves.TakeDue().empty()) save = true;
    if (save) SaveState(*process, "changed state");
    if (const std::optional<MonoTime> due = dirty_saves.NextDue()) {
      next_health = std::min(next_health, *due);
    }
    // Looked at again when the watched loop's deadline would pass, if
    // that is before the next health check: a hang is found at its
    // deadline. (Bounded by the interval, whatever the host says.)
    if (health.liveness_deadline_ms() > 0 &&
        health.liveness_left_ms() < static_cast<uint64_t>(kHealthInterval.count())) {
      const auto left = std::chrono::milliseconds(
          static_cast<std::chrono::milliseconds::rep>(health.liveness_left_ms()));
      next_health = std::min(next_health, clock_.Now() + left + kLivenessRecheckGrace);
    }
    if (changed && on_change_) on_change_();
  }
}

void IsolatedService::SaveState(Process& process, const char* what) {
  grpc::ClientContext context;
  context.set_deadline(In(kStopDeadline));
  v1::PluginResult saved;
  const grpc::Status status = process.stub->SaveState(&context, v1::PluginEmpty(), &saved);
  if (!status.ok()) {
    spdlog::warn("service {}: {} not saved: the plugin host did not answer ({})",
                 options_.service, what, status.error_message());
  } else if (const absl::StatusOr<std::string> state = Outcome(saved); state.ok()) {
    if (const absl::Status written = process.keeper.Store(saved.state_number(), *state);
        !written.ok()) {
      spdlog::warn("service {}: {} not saved: {}", options_.service, what,
                   StatusMessage(written));
    }
  } else if (PluginStatusOf(state.status()) != DOMIAN_ERR_NOT_SUPPORTED) {
    spdlog::warn("service {}: {} not saved: {}", options_.service, what,
                 StatusMessage(state.status()));
  }
}

void IsolatedService::Reap(bool kill) {
  std::shared_ptr<Process> process;
  {
    absl::MutexLock lock(&mu_);
    process = std::move(process_);
  }
  if (!process) return;
  if (kill && process->child.running()) ::kill(process->child.id(), SIGKILL);
  std::error_code ignored;
  process->child.wait(ignored);
  process->keeper.Close();
  EndEntities(*process);
}

void IsolatedService::Stop(bool save) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    save_on_stop_ = save;
  }
  cv_.SignalAll();
  if (supervisor_.joinable()) supervisor_.join();
  SetState(ServiceState::kStopped, "");
}

// On the supervising thread: saves the state, asks the host to stop, and
// kills it if it does not exit in time.
void IsolatedService::Shutdown() {
  std::shared_ptr<Process> process;
  bool save = true;
  {
    absl::MutexLock lock(&mu_);
    process = process_;
    save = save_on_stop_;
  }
  if (process && process->stub && process->child.running()) {
    if (save) SaveState(*process, "state");
    grpc::ClientContext stop_context;
    stop_context.set_deadline(In(kStopDeadline));
    v1::PluginEmpty none;
    process->stub->Stop(&stop_context, v1::PluginEmpty(), &none);
    const MonoTime until = clock_.Now() + kStopDeadline;
    while (process->child.running() && clock_.Now() < until) {
      std::this_thread::sleep_for(kExitPoll);
    }
  }
  Reap(/*kill=*/true);
}

absl::StatusOr<std::string> IsolatedService::Invoke(const std::string& command,
                                                    const std::string& args_json) {
  std::shared_ptr<Process> process;
  {
    absl::MutexLock lock(&mu_);
    process = process_;
    if (!process || !process->stub || snapshot_.state != ServiceState::kRunning) {
      return StatusFromPlugin(DOMIAN_ERR_UNAVAILABLE,
                              "the service is " + std::string(ServiceStateName(snapshot_.state)) +
                                  " on this node" +
                                  (snapshot_.detail.empty() ? "" : ": " + snapshot_.detail));
    }
  }
  grpc::ClientContext context;
  context.set_deadline(In(kCallDeadline));
  v1::PluginInvokeRequest request;
  request.set_command(command);
  request.set_args_json(args_json);
  v1::PluginResult result;
  const grpc::Status status = process->stub->Invoke(&context, request, &result);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // The plugin is called one call at a time, so one that never returns
    // blocks every later call: replace the process (Watch() restarts it).
    spdlog::error("service {}: '{}' ran past the {} s call deadline; killing the plugin host",
                  options_.service, command, kCallDeadline.count());
    if (process->child.running()) ::kill(process->child.id(), SIGKILL);
  }
  if (!status.ok()) {
    return StatusFromPlugin(DOMIAN_ERR_UNAVAILABLE, "the plugin host did not answer (" +
                                                        status.error_message() +
                                                        "); it is restarted");
  }
  if (result.has_state()) {
    // The plugin asked that this call's change be kept before it is told.
    if (const absl::Status kept =
            process->keeper.Store(result.state_number(), result.state(), /*wait=*/true);
        !kept.ok()) {
      return StatusFromPlugin(DOMIAN_ERR_UNAVAILABLE, "'" + command +
                                                          "' changed the state, but it could "
                                                          "not be stored: " +
                                                          StatusMessage(kept));
    }
  }
  return Outcome(result);
}

}  // namespace domian::services
