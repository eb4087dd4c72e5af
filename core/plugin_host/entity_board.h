// EntityBoard: what a plugin host keeps of its plugin's entities
// (domian.entities/1, domian.host.entities/1) for domiand's
// WatchEntities: the latest description and the latest value of each
// state, and which of them the watch has not been sent yet. A value
// replaces the last one of its state, so however fast the plugin
// publishes and however slowly domiand reads, what waits is bounded: at
// most kMaxEntityStates states of at most kMaxEntityBytesKept bytes in
// all, each sent once, at its latest value.
//
// Threads: Publish and Changed come from the plugin's threads (inside its
// calls too), Described from the describer (a thread of the host's own,
// the only one that calls describe), Take from the watch's gRPC thread.
// None waits for another but Take and WaitForDescribe, which wait for
// work, bounded by their timeout or Close.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <domian/plugin.h>

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "domian/v1/plugin_host.pb.h"

namespace domian::plugin_host {

// Distinct (entity, state) pairs kept: sixteen states for each of the most
// entities a description may have.
inline constexpr size_t kMaxEntityStates = size_t{DOMIAN_ENTITIES_MAX} * 16;
// All states' bytes together: a few dozen camera images at the largest
// size a state may have, on a machine with 512 MB.
inline constexpr size_t kMaxEntityBytesKept = size_t{16} << 20;
// States put in one update once it holds this much (so one update stays
// well under gRPC's 4 MiB message limit: at most this, one state of
// DOMIAN_ENTITY_STATE_MAX_BYTES and the description); the rest follow in
// the next.
inline constexpr size_t kMaxEntityUpdateBytes = size_t{1} << 20;

class EntityBoard {
 public:
  // The latest value of a state; false when keeping it would pass a bound
  // (a new state beyond kMaxEntityStates, or kMaxEntityBytesKept).
  bool Publish(const std::string& entity, const std::string& state, const std::string& data)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The plugin's entities changed: describe again.
  void Changed() ABSL_LOCKS_EXCLUDED(mu_);
  // For the describer: waits until a describe is wanted (the first one
  // is, after start), and takes the request; false once closed.
  bool WaitForDescribe() ABSL_LOCKS_EXCLUDED(mu_);
  // A describe's outcome: the description, or nullopt when describe
  // failed (a watch's first update then goes without one).
  void Described(std::optional<std::string> description) ABSL_LOCKS_EXCLUDED(mu_);
  // The instance stops: every watch ends, the describer too.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // A new watch, which ends the last one: everything kept is unsent to it.
  // Its id, for Take.
  uint64_t Watch() ABSL_LOCKS_EXCLUDED(mu_);
  enum class Next { kUpdate, kNothing, kEnded };
  // Waits up to `wait` for what watch `id` has not been sent, and moves
  // it into `update` (kUpdate). A watch's first update waits for the first
  // describe. kNothing: nothing came within `wait`; kEnded: closed, or a
  // newer watch.
  Next Take(uint64_t id, absl::Duration wait, v1::PluginEntityUpdate* update)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Key = std::pair<std::string, std::string>;  // entity, state

  absl::Mutex mu_;
  std::map<Key, std::string> states_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of every value in states_
  std::set<Key> unsent_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> description_ ABSL_GUARDED_BY(mu_);
  bool description_unsent_ ABSL_GUARDED_BY(mu_) = false;
  bool described_ ABSL_GUARDED_BY(mu_) = false;  // the first describe answered
  bool describe_wanted_ ABSL_GUARDED_BY(mu_) = true;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t watch_ ABSL_GUARDED_BY(mu_) = 0;  // the current watch's id
};

}  // namespace domian::plugin_host
