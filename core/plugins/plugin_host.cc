#include "core/plugins/plugin_host.h"

#include "core/plugins/service_state.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>

namespace domian::plugins {
namespace {

// A file copied into a plugin folder arrives in several events (create,
// writes, close); one rescan after they settle is enough.
constexpr std::chrono::milliseconds kSettle{200};

}  // namespace

PluginHost::PluginHost(Options options, std::function<void()> on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)), catalog_(options_.dirs) {
  for (const ServiceConfig& config : options_.services) {
    auto service = std::make_shared<Service>();
    service->config = config;
    service->status.name = config.name;
    service->status.state = "missing";
    service->status.detail = "no plugin " + config.name + ".so in the plugin folders";
    services_[config.name] = service;
  }
}

PluginHost::~PluginHost() { Stop(); }

void PluginHost::Start() {
  Rescan();
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
  watcher_ = std::thread([this] { Watch(); });
}

void PluginHost::Stop() {
  if (watcher_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
    watcher_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
  std::lock_guard lifecycle(lifecycle_mu_);
  std::vector<std::shared_ptr<Service>> services;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [name, service] : services_) services.push_back(service);
  }
  for (const auto& service : services) StopService(*service);
}

void PluginHost::Watch() {
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  char buffer[4096];
  while (true) {
    if (::poll(fds, 2, -1) < 0) continue;
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

void PluginHost::Rescan() {
  const auto changes = catalog_.Scan();
  for (const auto& change : changes) {
    if (change.kind == PluginCatalog::Change::Kind::kRefused) {
      spdlog::warn("plugin refused: {}", change.message);
    } else {
      spdlog::info("{}", change.message);
    }
  }
  // One identity update for both the plugin changes and any start.
  if (StartMissing() || !changes.empty()) Changed();
}

bool PluginHost::StartMissing() {
  std::lock_guard lifecycle(lifecycle_mu_);
  std::vector<std::shared_ptr<Service>> candidates;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return false;
    for (auto& [name, service] : services_) {
      if (service->instance || service->isolated) continue;
      if (service->status.state == "failed") continue;
      candidates.push_back(service);
    }
  }
  bool started = false;
  for (const auto& service : candidates) started |= StartService(*service);
  return started;
}

// Runs without mu_: plugin code (create, start) may call back into the
// host (publishing an endpoint), and an isolated service reports on its
// own thread. lifecycle_mu_ keeps starts and stops apart.
bool PluginHost::StartService(Service& service) {
  const std::string name = service.config.name;
  const auto library = catalog_.Find(name);
  if (!library) return false;
  const std::filesystem::path dir = ServiceDir(name);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  const std::string version = library->description().version;
  auto fail = [&](const std::string& detail) {
    spdlog::error("service {}: {}", name, detail);
    std::lock_guard lock(mu_);
    service.status.state = "failed";
    service.status.detail = detail;
    return true;
  };

  if (service.config.isolation == Isolation::kProcess) {
    auto isolated = std::make_shared<IsolatedService>(
        IsolatedService::Options{.service = name,
                                 .plugin = library->description().path,
                                 .state_dir = dir,
                                 .host_binary = options_.host_binary,
                                 .config_json = service.config.config_json},
        [this] { Changed(); });
    {
      std::lock_guard lock(mu_);
      service.isolated = isolated;
      service.status.plugin_version = version;
    }
    isolated->Start();
    return true;
  }

  HostCallbacks callbacks;
  callbacks.publish_endpoint = [this, name](const std::string& key,
                                            const std::optional<std::string>& endpoint) {
    {
      std::lock_guard lock(mu_);
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
  callbacks.emit_event = [name](const std::string& event, const std::string& json) {
    spdlog::info("[{}] event {}: {}", name, event, json);
  };
  auto created = PluginInstance::Create(library, service.config.config_json, dir, callbacks);
  if (auto* problem = std::get_if<std::string>(&created)) return fail(*problem);
  std::shared_ptr<PluginInstance> instance =
      std::move(std::get<std::unique_ptr<PluginInstance>>(created));
  const std::optional<std::string> saved = ReadServiceState(dir);
  if (instance->has_state() && saved) {
    const CallResult loaded = instance->LoadState(*saved);
    if (!loaded.ok()) {
      spdlog::warn("service {}: saved state not restored: {}", name, loaded.output);
    }
  }
  const CallResult started = instance->Start();
  if (!started.ok()) return fail("start failed: " + started.output);
  {
    std::lock_guard lock(mu_);
    service.instance = instance;
    service.status.state = "running";
    service.status.detail.clear();
    service.status.plugin_version = version;
    ++service.status.epoch;
  }
  spdlog::info("service {} running (plugin {} {}, inline)", name, name, version);
  return true;
}

// Runs without mu_, like StartService.
void PluginHost::StopService(Service& service) {
  std::shared_ptr<PluginInstance> instance;
  std::shared_ptr<IsolatedService> isolated;
  {
    std::lock_guard lock(mu_);
    instance = std::move(service.instance);
    isolated = std::move(service.isolated);
    service.instance.reset();
    service.isolated.reset();
    if (!instance && !isolated) return;
    service.status.state = "stopped";
    service.status.endpoints.clear();
  }
  if (isolated) {
    isolated->Stop();  // saves the state itself
    return;
  }
  instance->Stop();
  if (instance->has_state()) {
    const CallResult saved = instance->SaveState();
    if (!saved.ok() ||
        !WriteServiceState(ServiceDir(service.config.name), saved.output)) {
      spdlog::warn("service {}: state not saved: {}", service.config.name, saved.output);
    }
  }
}

std::filesystem::path PluginHost::ServiceDir(const std::string& name) const {
  return options_.state_dir / "services" / name;
}

void PluginHost::Changed() {
  if (on_change_) on_change_();
}

std::vector<ServiceStatus> PluginHost::Services() const {
  std::lock_guard lock(mu_);
  std::vector<ServiceStatus> out;
  for (const auto& [name, service] : services_) {
    ServiceStatus status = service->status;
    if (service->isolated) {
      const IsolatedService::Snapshot snapshot = service->isolated->Status();
      status.state = snapshot.state;
      status.detail = snapshot.detail;
      status.epoch = snapshot.starts;
      status.endpoints = snapshot.endpoints;
    }
    out.push_back(std::move(status));
  }
  return out;
}

std::vector<std::string> PluginHost::Hostable() const {
  std::vector<std::string> names;
  for (const CatalogEntry& entry : catalog_.Entries()) {
    if (entry.library) names.push_back(entry.library->description().name);
  }
  return names;
}

std::optional<CallResult> PluginHost::Invoke(const std::string& service,
                                             const std::string& command,
                                             const std::string& args_json) {
  std::shared_ptr<PluginInstance> instance;
  std::shared_ptr<IsolatedService> isolated;
  {
    std::lock_guard lock(mu_);
    const auto it = services_.find(service);
    if (it == services_.end()) return std::nullopt;
    instance = it->second->instance;
    isolated = it->second->isolated;
    if (!instance && !isolated) return std::nullopt;
  }
  if (isolated) return isolated->Invoke(command, args_json);
  // The instance serialises its own calls; the host lock is not held
  // while plugin code runs.
  return instance->Invoke(command, args_json);
}

}  // namespace domian::plugins
