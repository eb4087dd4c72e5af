// For plugins' unit tests: a host table (domian_host) that keeps every line
// the plugin logs and every entity state it publishes
// (domian.host.entities/1), with no endpoints or events, so a test can run
// a service directly and read what it said. A test host that offers more
// extensions answers its own ids and passes the rest to Extension().
#pragma once

#include <domian/plugin.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace domian::testing {

struct RecordingHost {
  // One publish_state the host accepted.
  struct PublishedState {
    std::string entity;
    std::string state;
    std::string data;
  };

  std::string dir;
  std::mutex mu;
  std::condition_variable published_cv;  // a state was published
  std::vector<std::string> lines;
  std::vector<PublishedState> published;
  int changed_calls = 0;
  domian_host table{};
  domian_host_entities_ext entities{};

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
    table.get_extension = [](const domian_host* host, const char* id) {
      return static_cast<RecordingHost*>(host->host_data)->Extension(id);
    };
    entities.struct_size = sizeof entities;
    // Refuses what domiand refuses (plugin.h): a name that cannot be one,
    // or more than DOMIAN_ENTITY_STATE_MAX_BYTES.
    entities.publish_state = [](const domian_host* host, const char* entity, const char* state,
                                const uint8_t* data, size_t size) {
      auto* self = static_cast<RecordingHost*>(host->host_data);
      if (!IsName(entity, 64) || !IsName(state, 32) || size > DOMIAN_ENTITY_STATE_MAX_BYTES) {
        return DOMIAN_ERR_INVALID_ARGUMENT;
      }
      {
        std::lock_guard lock(self->mu);
        self->published.push_back(
            {entity, state, std::string(reinterpret_cast<const char*>(data), size)});
      }
      self->published_cv.notify_all();
      return DOMIAN_OK;
    };
    entities.changed = [](const domian_host* host) {
      auto* self = static_cast<RecordingHost*>(host->host_data);
      {
        std::lock_guard lock(self->mu);
        ++self->changed_calls;
      }
      self->published_cv.notify_all();
    };
  }
  RecordingHost(const RecordingHost&) = delete;
  RecordingHost& operator=(const RecordingHost&) = delete;

  // The host extensions this host offers: domian.host.entities/1.
  const void* Extension(const char* id) const {
    return std::strcmp(id, DOMIAN_HOST_EXT_ENTITIES) == 0 ? &entities : nullptr;
  }

  // 1 to `max` of [a-z0-9_], as plugin.h allows for entity and state names.
  static bool IsName(const char* name, size_t max) {
    const size_t length = std::strlen(name);
    if (length == 0 || length > max) return false;
    for (size_t i = 0; i < length; ++i) {
      const char c = name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
  }

  // Every line logged so far, one per line.
  std::string Log() {
    std::lock_guard lock(mu);
    std::string all;
    for (const std::string& line : lines) all += line + "\n";
    return all;
  }

  // The latest value published for `entity`'s `state`, if any.
  std::optional<std::string> Latest(const std::string& entity, const std::string& state) {
    std::lock_guard lock(mu);
    return LatestLocked(entity, state);
  }
  // How many times `entity`'s `state` was published.
  int PublishCount(const std::string& entity, const std::string& state) {
    std::lock_guard lock(mu);
    int count = 0;
    for (const PublishedState& p : published) count += p.entity == entity && p.state == state;
    return count;
  }
  int ChangedCalls() {
    std::lock_guard lock(mu);
    return changed_calls;
  }
  // Waits until the latest value of `entity`'s `state` satisfies `accept`;
  // that value, or nullopt after `timeout`.
  std::optional<std::string> WaitForState(const std::string& entity, const std::string& state,
                                          const std::function<bool(const std::string&)>& accept,
                                          std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    std::optional<std::string> found;
    published_cv.wait_for(lock, timeout, [&] {
      found = LatestLocked(entity, state);
      return found && accept(*found);
    });
    if (found && !accept(*found)) return std::nullopt;
    return found;
  }
  // Waits until the service has said its entities changed `count` times.
  bool WaitForChanged(int count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return published_cv.wait_for(lock, timeout, [&] { return changed_calls >= count; });
  }

 private:
  std::optional<std::string> LatestLocked(const std::string& entity, const std::string& state) {
    for (auto it = published.rbegin(); it != published.rend(); ++it) {
      if (it->entity == entity && it->state == state) return it->data;
    }
    return std::nullopt;
  }
};

}  // namespace domian::testing
