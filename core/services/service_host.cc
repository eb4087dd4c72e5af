#include "core/services/service_host.h"

#include "core/services/plugin_host_command.h"
#include "core/services/saved_state.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <absl/strings/str_join.h>

#include <algorithm>
#include <set>
#include <chrono>

namespace domian::services {
namespace {

// A file copied into a plugin folder arrives in several events (create,
// writes, close); one rescan after they settle is enough.
constexpr std::chrono::milliseconds kSettle{200};

// "a; b; c" for a detail.
std::string JoinProblems(const std::vector<std::string>& problems) {
  return absl::StrJoin(problems, "; ");
}

// `text` and, when there is one, "; `more`".
std::string WithSafety(const std::string& text, const std::string& more) {
  return more.empty() ? text : text + "; " + more;
}


// Whether anyone listens for entities at all.
bool Wanted(const EntitySink& sink) { return sink.described || sink.state || sink.gone; }

// The sink as one service's entities reach it: the descriptions of a
// per-node plugin say so (its entities are this node's own).
EntitySink SinkFor(const EntitySink& sink, Placement placement) {
  if (placement != Placement::kPerNode || !sink.described) return sink;
  EntitySink scoped = sink;
  scoped.described = [described = sink.described](const EntityDescription& description) {
    EntityDescription per_node = description;
    per_node.per_node = true;
    described(per_node);
  };
  return scoped;
}

}  // namespace

// An inline instance's entities on their way to the sink. Nothing passes
// after `gone`, so the sink never hears of an instance after its end (a
// hung instance given up on may still publish).
class ServiceHost::InlineEntities {
 public:
  InlineEntities(EntitySink sink, std::string service, std::string plugin,
                 std::string plugin_version, std::function<void()> on_changed)
      : sink_(std::move(sink)),
        on_changed_(std::move(on_changed)),
        service_(std::move(service)),
        plugin_(std::move(plugin)),
        plugin_version_(std::move(plugin_version)) {}

  // On the plugin's threads. The sink does not block (entity_sink.h).
  bool State(const std::string& entity, const std::string& state, const std::string& data) {
    absl::MutexLock lock(&mu_);
    if (!gone_ && sink_.state) sink_.state(service_, entity, state, data);
    return true;
  }
  void Described(std::string json) {
    absl::MutexLock lock(&mu_);
    if (gone_ || !sink_.described) return;
    sink_.described({.service = service_,
                     .plugin = plugin_,
                     .plugin_version = plugin_version_,
                     .json = std::move(json)});
  }
  // The plugin's changed: passed on until the end (it may come from a
  // hung instance given up on, after its host is gone).
  void Changed() {
    absl::MutexLock lock(&mu_);
    if (!gone_) on_changed_();
  }
  void Gone() {
    absl::MutexLock lock(&mu_);
    if (gone_) return;
    gone_ = true;
    if (sink_.gone) sink_.gone(service_);
  }

 private:
  const EntitySink sink_;
  const std::function<void()> on_changed_;
  const std::string service_;
  const std::string plugin_;
  const std::string plugin_version_;
  absl::Mutex mu_;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
};

ServiceHost::ServiceHost(Options options, std::function<void()> on_change, const Clock& clock)
    : options_(std::move(options)),
      on_change_(std::move(on_change)),
      clock_(clock),
      catalog_(options_.dirs),
      last_good_(options_.recovered),
      safe_state_({.host_binary = options_.host_binary}, clock_) {}

ServiceHost::~ServiceHost() { Stop(); }

void ServiceHost::Start() {
  // Before placement reads any of them: a poisoned epoch would be
  // carried into every start and move of the service.
  RecoverServiceEpochs(options_.state_dir / "services");
  Rescan();
  replacer_ = std::thread([this] { Replace(); });
  if (options_.entities.described) describer_ = std::thread([this] { Describe(); });
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inotify_fd_ < 0 || wake_fd_ < 0) {
    spdlog::warn("cannot watch the plugin folders (inotify); new plugins need a restart");
    return;
  }
  for (const std::filesystem::path& dir : options_.dirs) {
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                          IN_ATTRIB;
    if (::inotify_add_watch(inotify_fd_, dir.c_str(), mask) < 0) {
      spdlog::info("plugin folder {} is not there; plugins dropped into it later need a restart",
                   dir.string());
    }
  }
  watcher_ = std::thread(
      [this, first_health = clock_.Now() + kHealthInterval] { Watch(first_health); });
}

void ServiceHost::Stop() {
  {
    absl::MutexLock lock(&replace_mu_);
    replacing_stopped_ = true;
  }
  if (replacer_.joinable()) replacer_.join();
  {
    absl::MutexLock lock(&describe_mu_);
    describing_stopped_ = true;
  }
  if (describer_.joinable()) describer_.join();
  if (watcher_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
    watcher_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
  absl::MutexLock lifecycle(&lifecycle_mu_);
  std::vector<std::shared_ptr<Service>> services;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (auto& [name, service] : services_) services.push_back(service);
  }
  for (const auto& service : services) Shutdown(*service);
}

void ServiceHost::Watch(MonoTime first_health) {
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  char buffer[4096];
  MonoTime next_health = first_health;
  while (true) {
    // At most kClockRecheck: a test's clock moves without waking poll.
    const auto wait = std::clamp(
        std::chrono::duration_cast<std::chrono::milliseconds>(next_health - clock_.Now()),
        std::chrono::milliseconds(0), kClockRecheck);
    const int ready = ::poll(fds, 2, static_cast<int>(wait.count()));
    if (clock_.Now() >= next_health) {
      const std::chrono::milliseconds again = CheckInlineHealth();
      next_health = clock_.Now() + again;
    }
    if (ready <= 0) continue;
    if ((fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    // Drain, let the burst settle, drain again, then look.
    while (::read(inotify_fd_, buffer, sizeof buffer) > 0) {
    }
    pollfd wake = {wake_fd_, POLLIN, 0};
    if (::poll(&wake, 1, static_cast<int>(kSettle.count())) > 0) return;
    while (::read(inotify_fd_, buffer, sizeof buffer) > 0) {
    }
    Rescan();
  }
}

std::chrono::milliseconds ServiceHost::CheckInlineHealth() {
  std::chrono::milliseconds again = kHealthInterval;
  std::vector<std::pair<std::shared_ptr<Service>, std::shared_ptr<PluginInstance>>> inline_services;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, service] : services_) {
      if (service->instance) inline_services.emplace_back(service, service->instance);
    }
  }
  bool changed = false;
  for (const auto& [service, instance] : inline_services) {
    const Liveness liveness = instance->LivenessNow();
    if (liveness.missed()) {
      AbandonHung(*service, instance, liveness);
      changed = true;
      continue;
    }
    if (liveness.armed()) again = std::min(again, liveness.left + kLivenessRecheckGrace);
    if (!instance->has_health()) continue;
    // Never waits for a call; "" when healthy.
    const std::string detail = StatusMessage(instance->CheckHealth());
    absl::MutexLock lock(&mu_);
    if (service->instance != instance || service->status.detail == detail) continue;
    if (!detail.empty()) spdlog::info("service {}: {}", service->config.name, detail);
    service->status.detail = detail;
    changed = true;
  }
  if (changed) Changed();
  return std::min(again, SaveMarkedStates(inline_services));
}

// The plugins' marked changes (mark_dirty), through state_saves_: the
// first of a quiet service at once, later ones at most once per
// kDefaultMinWriteInterval, the last never lost.
std::chrono::milliseconds ServiceHost::SaveMarkedStates(const Running& running) {
  Running to_save;
  std::chrono::milliseconds again = kHealthInterval;
  {
    absl::MutexLock lock(&mu_);
    std::set<std::string> due;
    for (const auto& [service, instance] : running) {
      if (!instance->has_state()) continue;
      const uint64_t changes = instance->state_changes();
      if (changes == service->seen_state_changes) continue;
      service->seen_state_changes = changes;
      if (state_saves_.Changed(service->config.name)) due.insert(service->config.name);
    }
    for (const std::string& name : state_saves_.TakeDue()) due.insert(name);
    for (const auto& [service, instance] : running) {
      if (due.count(service->config.name) != 0 && service->instance == instance) {
        to_save.emplace_back(service, instance);
      }
    }
    if (const std::optional<MonoTime> next = state_saves_.NextDue()) {
      again = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(*next - clock_.Now()),
                         std::chrono::milliseconds(0), kHealthInterval);
    }
  }
  for (const auto& [service, instance] : to_save) {
    std::shared_ptr<StateKeeper> keeper;
    {
      absl::MutexLock lock(&mu_);
      keeper = service->keeper;
    }
    if (!keeper) continue;
    absl::StatusOr<PluginInstance::Saved> saved = instance->Save();
    const absl::Status kept =
        saved.ok() ? keeper->Store(saved->number, saved->bytes) : saved.status();
    if (!kept.ok()) {
      // Not retried in a loop: the next marked change tries again.
      spdlog::warn("service {}: changed state not saved: {}", service->config.name,
                   StatusMessage(kept));
    }
  }
  return again;
}

// Holds `instance` until the process ends, reachable (no leak report),
// never destroyed: destroying it would stop it, and stopping waits for
// the loop that hung.
static void KeepForever(std::shared_ptr<PluginInstance> instance) {
  static absl::Mutex* const mu = new absl::Mutex;
  static auto* const kept = new std::vector<std::shared_ptr<PluginInstance>>;
  absl::MutexLock lock(mu);
  kept->push_back(std::move(instance));
}

// A thread of this process cannot be killed: the hung instance is given
// up (never stopped, never destroyed: stopping would wait for the hung
// loop), the service is failed, and its safe state runs in a fresh plugin
// host. Its thread may still wake up and drive the hardware again, which
// is why hardware plugins should run isolated (the default).
void ServiceHost::AbandonHung(Service& service, const std::shared_ptr<PluginInstance>& instance,
                              const Liveness& liveness) {
  const std::string& name = service.config.name;
  std::filesystem::path plugin;
  bool offers_safe_state = false;
  {
    absl::MutexLock lock(&mu_);
    if (service.instance != instance) return;  // stopped meanwhile
    KeepForever(instance);
    service.instance.reset();
    plugin = service.plugin;
    offers_safe_state = service.offers_safe_state;
  }
  EndEntities(service);
  const std::string how = "missed its liveness deadline of " +
                          std::to_string(liveness.deadline.count()) + " ms by " +
                          std::to_string(liveness.missed_by.count()) +
                          " ms (hung); inline, its thread cannot be stopped: given up";
  spdlog::error("service {}: {}", name, how);
  const SafeStateOutcome outcome =
      MakeSafe(name, plugin, offers_safe_state, service.config.config_json, "it hung (inline)");
  if (outcome.kind != SafeStateOutcome::Kind::kNotSafe) Unjournal(name);
  absl::MutexLock lock(&mu_);
  service.status.state = ServiceState::kFailed;
  service.status.detail = WithSafety(how, outcome.Summary());
  service.status.endpoints.clear();
}

void ServiceHost::Rescan() {
  const auto changes = catalog_.Scan();
  for (const auto& change : changes) {
    if (change.kind == PluginCatalog::Change::Kind::kRefused) {
      spdlog::warn("plugin refused: {}", change.message);
    } else {
      spdlog::info("{}", change.message);
    }
  }
  if (!changes.empty()) Changed();
}

void ServiceHost::StartService(const std::string& name, const std::string& config_json,
                              uint64_t epoch, const std::optional<std::string>& state) {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  StartLocked(name, config_json, epoch, state);
}

void ServiceHost::StartLocked(const std::string& name, const std::string& config_json,
                              uint64_t epoch, const std::optional<std::string>& state) {
  std::shared_ptr<Service> service;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    auto& slot = services_[name];
    if (slot && (slot->instance || slot->isolated)) return;
    slot = std::make_shared<Service>();
    slot->config.name = name;
    for (const config::ServiceConfig& configured : options_.services) {
      if (configured.name == name) slot->config = configured;
    }
    slot->config.config_json = config_json;
    slot->status.name = name;
    slot->status.state = ServiceState::kStarting;
    slot->status.epoch = epoch;
    service = slot;
  }
  const std::filesystem::path dir = ServiceDir(name);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (const absl::Status kept = WriteServiceEpoch(dir, epoch); !kept.ok()) {
    spdlog::warn("service {}: cannot keep its epoch: {}", name, StatusMessage(kept));
  }
  if (state) {
    if (const absl::Status written = WriteServiceState(dir, *state); !written.ok()) {
      spdlog::warn("service {}: the state it came with could not be written: {}", name,
                   StatusMessage(written));
    }
  }
  Launch(*service);
  Changed();
}

std::optional<std::string> ServiceHost::StopService(const std::string& name) {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  std::shared_ptr<Service> service;
  {
    absl::MutexLock lock(&mu_);
    const auto it = services_.find(name);
    if (it == services_.end()) return std::nullopt;
    service = it->second;
    services_.erase(it);
  }
  Shutdown(*service);
  Changed();
  return ReadServiceState(ServiceDir(name));
}

void ServiceHost::ReplaceState(const std::string& service, uint64_t epoch, std::string state,
                               ReplaceHooks hooks) {
  absl::MutexLock lock(&replace_mu_);
  replacements_[service] = {epoch, std::move(state), std::move(hooks)};
}

void ServiceHost::Replace() {
  while (true) {
    std::string name;
    Replacement replacement;
    {
      absl::MutexLock lock(&replace_mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(replace_mu_) {
        return replacing_stopped_ || !replacements_.empty();
      };
      replace_mu_.Await(absl::Condition(&ready));
      if (replacing_stopped_) return;
      auto first = replacements_.begin();
      name = first->first;
      replacement = std::move(first->second);
      replacements_.erase(first);
    }
    absl::MutexLock lifecycle(&lifecycle_mu_);
    std::shared_ptr<Service> old;
    std::shared_ptr<Service> fresh;
    // Only a running instance of that run: one given up on (failed) is
    // placement's to move, not this thread's to bring back.
    const auto runs = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      const auto it = services_.find(name);
      if (stopped_ || it == services_.end() || it->second->status.epoch != replacement.epoch) {
        return false;
      }
      const Service& service = *it->second;
      if (service.isolated) return service.isolated->Status().state != ServiceState::kFailed;
      return service.instance != nullptr;
    };
    {
      absl::MutexLock lock(&mu_);
      if (!runs()) continue;
    }
    // Outside mu_: the hook takes its owner's lock.
    if (replacement.hooks.still_wanted && !replacement.hooks.still_wanted()) {
      spdlog::info("service {}: not restarted from the later change after all: it changed its "
                   "state since",
                   name);
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      if (!runs()) continue;  // only lifecycle changes stop it, and we hold lifecycle_mu_
      const auto it = services_.find(name);
      // In its place at once, starting: a hand-over or a call waiting for
      // it sees it come back, not vanish.
      old = it->second;
      fresh = std::make_shared<Service>();
      fresh->config = old->config;
      fresh->status.name = name;
      fresh->status.state = ServiceState::kStarting;
      fresh->status.detail = "restarting from a later change of its state made elsewhere";
      fresh->status.epoch = replacement.epoch;
      it->second = fresh;
    }
    spdlog::info("service {}: restarting from a later change of its state made elsewhere; its "
                 "own state is not saved",
                 name);
    Shutdown(*old, /*save=*/false);
    if (const absl::Status written = WriteServiceState(ServiceDir(name), replacement.state);
        !written.ok()) {
      spdlog::warn("service {}: the later state could not be written: {}", name,
                   StatusMessage(written));
    }
    Launch(*fresh);
    if (replacement.hooks.done) replacement.hooks.done();
    Changed();
  }
}

std::string ServiceHost::SavedState(const std::string& service) const {
  return ReadServiceState(ServiceDir(service)).value_or("");
}

bool ServiceHost::Replicated(const std::string& service) const {
  const auto library = catalog_.Find(service);
  return library && library->description().placement == Placement::kSingleton;
}

uint64_t ServiceHost::LastEpoch(const std::string& service) const {
  return ReadServiceEpoch(ServiceDir(service));
}

// Runs without mu_: plugin code (create, start) may call back into the
// host (publishing an endpoint), and an isolated service reports on its
// own thread. lifecycle_mu_ keeps starts and stops apart.
void ServiceHost::Launch(Service& service) {
  const std::string name = service.config.name;
  const std::string config_json = service.config.config_json;
  auto fail = [&](const std::string& detail) {
    spdlog::error("service {}: {}", name, detail);
    absl::MutexLock lock(&mu_);
    service.status.state = ServiceState::kFailed;
    service.status.detail = detail;
  };
  const auto library = catalog_.Find(name);
  if (!library) return fail("no plugin " + name + ".so in the plugin folders");
  const std::filesystem::path dir = ServiceDir(name);
  const std::string version = library->description().version;
  const std::filesystem::path plugin = library->description().path;
  const bool offers_safe_state = library->has_safe_state();
  // A per-node service's state is its node's own: no peer takes it over.
  const StateStored on_state_stored =
      library->description().placement == Placement::kSingleton ? options_.on_state_stored
                                                                 : nullptr;
  {
    absl::MutexLock lock(&mu_);
    service.plugin = plugin;
    service.offers_safe_state = offers_safe_state;
    service.status.plugin_version = version;
  }

  // An isolated service's plugin checks the configuration in a process
  // of its own before anything of it starts (inline, StartInstance checks
  // it in this one): a refused configuration fails the service at once,
  // without a crash loop's five tries, and the hardware is left as its
  // last good configuration makes it safe.
  if (service.config.isolation == config::Isolation::kProcess && library->has_config_check()) {
    const ConfigCheck check = CheckConfigInPluginHost(options_.host_binary, plugin, config_json);
    if (check.outcome == ConfigCheck::Outcome::kFailed) {
      spdlog::warn("service {}: its configuration could not be checked ({}); the plugin host "
                   "checks it again as it starts",
                   name, check.message);
    } else if (check.outcome == ConfigCheck::Outcome::kInvalid) {
      const SafeStateOutcome outcome = MakeSafe(name, plugin, offers_safe_state, config_json,
                                                "its new configuration is invalid");
      if (outcome.kind != SafeStateOutcome::Kind::kNotSafe) Unjournal(name);
      return fail(WithSafety(name + ": invalid configuration: " + JoinProblems(check.problems),
                             outcome.Summary()));
    }
  }

  // Before anything can touch the hardware: if this daemon dies, the next
  // one makes safe what the journal names.
  {
    RunningEntry entry{.service = name, .plugin = plugin, .config = config_json};
    {
      absl::MutexLock lock(&mu_);
      if (const auto it = last_good_.find(name); it != last_good_.end()) {
        entry.last_good = it->second.last_good;
      }
    }
    if (const absl::Status written = WriteRunningEntry(dir, entry); !written.ok()) {
      spdlog::error("service {}: not in the running journal ({}); if domiand dies while it runs, "
                    "the next start cannot make its hardware safe",
                    name, StatusMessage(written));
    }
  }

  if (service.config.isolation == config::Isolation::kProcess) {
    Service* const raw = &service;  // outlives its IsolatedService (Shutdown stops it first)
    auto isolated = std::make_shared<IsolatedService>(
        IsolatedService::Options{
            .service = name,
            .plugin = plugin,
            .state_dir = dir,
            .host_binary = options_.host_binary,
            .config_json = config_json,
            .epoch = service.status.epoch,
            .on_state_stored = on_state_stored,
            .make_safe =
                [this, raw, name, plugin, offers_safe_state, config_json](const absl::Status& end) {
                  const SafeStateOutcome outcome = MakeSafe(
                      name, plugin, offers_safe_state, config_json,
                      absl::IsInvalidArgument(end) ? "its configuration was refused"
                                                   : "its plugin host ended: " + StatusMessage(end));
                  absl::MutexLock lock(&mu_);
                  raw->left_safe = outcome.kind != SafeStateOutcome::Kind::kNotSafe;
                  return outcome.Summary();
                },
            .on_running =
                [this, raw, name, plugin, config_json] {
                  {
                    absl::MutexLock lock(&mu_);
                    raw->left_safe = false;
                  }
                  NoteGood(name, plugin, config_json);
                },
            .on_event =
                [this, name](const std::string& event, const std::string& json) {
                  if (options_.plugin_event) options_.plugin_event(name, event, json);
                },
            .on_events_dropped =
                [this, name](uint64_t dropped) {
                  spdlog::warn("service {}: its plugin emitted events faster than they were "
                               "taken; {} dropped",
                               name, dropped);
                  if (options_.plugin_events_dropped) {
                    options_.plugin_events_dropped(name, dropped);
                  }
                },
            .entities = SinkFor(options_.entities, library->description().placement),
            .plugin_name = library->description().name,
            .plugin_version = version},
        [this] { Changed(); }, clock_);
    {
      absl::MutexLock lock(&mu_);
      service.isolated = isolated;
    }
    isolated->Start();
    return;
  }

  HostCallbacks callbacks;
  callbacks.publish_endpoint = [this, name](const std::string& key,
                                            const std::optional<std::string>& endpoint) {
    {
      absl::MutexLock lock(&mu_);
      const auto it = services_.find(name);
      if (it == services_.end()) return;
      if (endpoint) {
        it->second->status.endpoints[key] = *endpoint;
      } else {
        it->second->status.endpoints.erase(key);
      }
    }
    Changed();
  };
  callbacks.emit_event = [this, name](const std::string& event, const std::string& json) {
    spdlog::info("[{}] event {}: {}", name, event, json);
    if (options_.plugin_event) options_.plugin_event(name, event, json);
  };
  // Nothing reaches it before the instance started (PluginInstance
  // refuses), so a failed start has nothing to take back.
  std::shared_ptr<InlineEntities> entities;
  if (Wanted(options_.entities)) {
    entities = std::make_shared<InlineEntities>(
        SinkFor(options_.entities, library->description().placement), name,
                                                library->description().name, version,
                                                [this, name] { RequestDescribe(name); });
    callbacks.entity_state = [entities](const std::string& entity, const std::string& state,
                                        const std::string& data) {
      return entities->State(entity, state, data);
    };
    callbacks.entities_changed = [entities] { entities->Changed(); };
  }
  auto started = StartInstance(library, config_json, dir, std::move(callbacks),
                               ReadServiceState(dir), clock_);
  if (!started.ok()) {
    // A create or start that failed may have touched the hardware first.
    const SafeStateOutcome outcome =
        MakeSafe(name, plugin, offers_safe_state, config_json,
                 absl::IsInvalidArgument(started.status()) ? "its configuration was refused"
                                                           : "it failed to start");
    if (outcome.kind != SafeStateOutcome::Kind::kNotSafe) Unjournal(name);
    return fail(WithSafety(StatusMessage(started.status()), outcome.Summary()));
  }
  std::shared_ptr<PluginInstance> instance = *std::move(started);
  {
    absl::MutexLock lock(&mu_);
    service.instance = instance;
    service.keeper =
        std::make_shared<StateKeeper>(dir, name, service.status.epoch, on_state_stored);
    service.seen_state_changes = 0;
    state_saves_.Forget(name);
    service.status.state = ServiceState::kRunning;
    service.status.detail.clear();
    if (instance->has_entities()) service.entities = entities;
  }
  NoteGood(name, plugin, config_json);
  spdlog::info("service {} running (plugin {} {}, inline)", name, name, version);
  if (entities && instance->has_entities()) RequestDescribe(name);
}

SafeStateOutcome ServiceHost::MakeSafe(const std::string& name, const std::filesystem::path& plugin,
                                       bool offers_safe_state, const std::string& config_json,
                                       const std::string& why) {
  if (!offers_safe_state) {
    spdlog::debug("{}: its plugin has no safe state; nothing to do ({})", name, why);
    return {SafeStateOutcome::Kind::kNoSafeState, "the plugin has no safe state"};
  }
  std::string config = config_json;
  {
    absl::MutexLock lock(&mu_);
    const auto it = last_good_.find(name);
    if (it != last_good_.end() && it->second.last_good) config = *it->second.last_good;
  }
  return safe_state_.Run({.service = name,
                          .plugin = plugin,
                          .config_json = config,
                          .state_dir = ServiceDir(name),
                          .why = why});
}

void ServiceHost::NoteGood(const std::string& name, const std::filesystem::path& plugin,
                           const std::string& config_json) {
  std::optional<std::string> before;
  {
    absl::MutexLock lock(&mu_);
    RunningEntry& good = last_good_[name];
    before = good.last_good;
    good = {.service = name, .plugin = plugin, .config = config_json, .last_good = config_json};
  }
  // The journal was written with the last good one beside this one: now
  // this one is the last good (a restart after a crash changes nothing).
  if (before == config_json) return;
  const absl::Status written = WriteRunningEntry(
      ServiceDir(name), {.service = name, .plugin = plugin, .config = config_json});
  if (!written.ok()) spdlog::warn("service {}: {}", name, StatusMessage(written));
}

void ServiceHost::Unjournal(const std::string& name) {
  if (const absl::Status removed = RemoveRunningEntry(ServiceDir(name)); !removed.ok()) {
    spdlog::warn("service {}: {}", name, StatusMessage(removed));
  }
}

// Runs without mu_, like Launch. The safe state runs after the instance
// stopped: never beside it.
void ServiceHost::Shutdown(Service& service, bool save) {
  std::shared_ptr<PluginInstance> instance;
  std::shared_ptr<IsolatedService> isolated;
  {
    absl::MutexLock lock(&mu_);
    instance = std::move(service.instance);
    isolated = std::move(service.isolated);
    service.instance.reset();
    service.isolated.reset();
    if (!instance && !isolated) return;
    service.status.state = ServiceState::kStopped;
    service.status.endpoints.clear();
  }
  const std::string& name = service.config.name;
  if (isolated) {
    isolated->Stop(save);  // saves the state itself
  } else {
    // Saved while it still runs, then stopped: the same order as in a
    // plugin host process (plugin.h, domian.state/1 save).
    std::shared_ptr<StateKeeper> keeper;
    {
      absl::MutexLock lock(&mu_);
      keeper = std::move(service.keeper);
    }
    if (save && instance->has_state()) {
      absl::StatusOr<PluginInstance::Saved> saved = instance->Save();
      const absl::Status kept = !saved.ok() ? saved.status()
                                : keeper    ? keeper->Store(saved->number, saved->bytes)
                                            : WriteServiceState(ServiceDir(name), saved->bytes);
      if (!kept.ok()) {
        spdlog::warn("service {}: state not saved: {}", name, StatusMessage(kept));
      }
    }
    instance->Stop();
    if (keeper) keeper->Close();
    EndEntities(service);
  }
  std::filesystem::path plugin;
  bool offers_safe_state = false;
  bool left_safe = false;
  {
    absl::MutexLock lock(&mu_);
    plugin = service.plugin;
    offers_safe_state = service.offers_safe_state;
    left_safe = service.left_safe;
  }
  if (!left_safe) {
    const SafeStateOutcome outcome =
        MakeSafe(name, plugin, offers_safe_state, service.config.config_json, "it stopped here");
    if (outcome.kind == SafeStateOutcome::Kind::kNotSafe) return;  // the journal keeps it
  }
  Unjournal(name);
}

std::filesystem::path ServiceHost::ServiceDir(const std::string& name) const {
  return options_.state_dir / "services" / name;
}

void ServiceHost::Changed() {
  if (on_change_) on_change_();
}

void ServiceHost::RequestDescribe(const std::string& name) {
  absl::MutexLock lock(&describe_mu_);
  to_describe_.insert(name);
}

// Describes outside every lock of the host, one service at a time: a
// describe waits for a call of its instance in progress (PluginInstance),
// and the plugin may say its entities changed from inside any call.
void ServiceHost::Describe() {
  while (true) {
    std::set<std::string> names;
    {
      absl::MutexLock lock(&describe_mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(describe_mu_) {
        return describing_stopped_ || !to_describe_.empty();
      };
      describe_mu_.Await(absl::Condition(&ready));
      if (describing_stopped_) return;
      names.swap(to_describe_);
    }
    for (const std::string& name : names) {
      std::shared_ptr<PluginInstance> instance;
      std::shared_ptr<InlineEntities> entities;
      {
        absl::MutexLock lock(&mu_);
        const auto it = services_.find(name);
        if (it == services_.end()) continue;
        instance = it->second->instance;
        entities = it->second->entities;
      }
      if (!instance || !entities) continue;  // ended meanwhile, or isolated
      absl::StatusOr<std::string> description = instance->DescribeEntities();
      if (!description.ok()) {
        // A stop in between is no news; anything else is the plugin's.
        if (PluginStatusOf(description.status()) != DOMIAN_ERR_UNAVAILABLE) {
          spdlog::warn("service {}: entities not described: {}", name,
                       StatusMessage(description.status()));
        }
        continue;
      }
      // Dropped when the instance ended since (InlineEntities).
      entities->Described(*std::move(description));
    }
  }
}

void ServiceHost::EndEntities(Service& service) {
  std::shared_ptr<InlineEntities> entities;
  {
    absl::MutexLock lock(&mu_);
    entities = std::move(service.entities);
  }
  if (entities) entities->Gone();
}

std::vector<ServiceStatus> ServiceHost::Services() const {
  absl::MutexLock lock(&mu_);
  std::vector<ServiceStatus> out;
  for (const auto& [name, service] : services_) {
    ServiceStatus status = service->status;
    if (service->isolated) {
      const IsolatedService::Snapshot snapshot = service->isolated->Status();
      status.state = snapshot.state;
      status.detail = snapshot.detail;
      status.endpoints = snapshot.endpoints;
      status.liveness = snapshot.liveness;
    } else if (service->instance) {
      status.liveness = service->instance->LivenessNow();
    }
    out.push_back(std::move(status));
  }
  return out;
}

std::vector<std::string> ServiceHost::Hostable() const {
  std::vector<std::string> names;
  for (const CatalogEntry& entry : catalog_.Entries()) {
    if (entry.library) names.push_back(entry.library->description().name);
  }
  return names;
}

absl::StatusOr<std::string> ServiceHost::Invoke(const std::string& service,
                                                const std::string& command,
                                                const std::string& args_json) {
  std::shared_ptr<PluginInstance> instance;
  std::shared_ptr<StateKeeper> keeper;
  std::shared_ptr<IsolatedService> isolated;
  {
    absl::MutexLock lock(&mu_);
    const auto it = services_.find(service);
    if (it != services_.end()) {
      instance = it->second->instance;
      keeper = it->second->keeper;
      isolated = it->second->isolated;
    }
  }
  if (!instance && !isolated) {
    return absl::NotFoundError("service " + service + " does not run on this node");
  }
  if (isolated) return isolated->Invoke(command, args_json);
  // The instance serialises its own calls; the host lock is not held
  // while plugin code runs.
  std::optional<PluginInstance::Saved> to_store;
  absl::StatusOr<std::string> reply = instance->Invoke(command, args_json, &to_store);
  if (!to_store) return reply;
  // The plugin asked that this call's change be kept before it is told.
  const absl::Status kept = keeper ? keeper->Store(to_store->number, to_store->bytes, /*wait=*/true)
                                   : absl::FailedPreconditionError("the service stopped");
  if (!kept.ok()) {
    return StatusFromPlugin(DOMIAN_ERR_UNAVAILABLE, "'" + command +
                                                        "' changed the state, but it could not "
                                                        "be stored: " +
                                                        StatusMessage(kept));
  }
  return reply;
}

}  // namespace domian::services
