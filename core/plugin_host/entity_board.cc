#include "core/plugin_host/entity_board.h"

namespace domian::plugin_host {

bool EntityBoard::Publish(const std::string& entity, const std::string& state,
                          const std::string& data) {
  absl::MutexLock lock(&mu_);
  Key key(entity, state);
  const auto it = states_.find(key);
  const size_t replaced = it == states_.end() ? 0 : it->second.size();
  if (it == states_.end() && states_.size() >= kMaxEntityStates) return false;
  if (bytes_ - replaced + data.size() > kMaxEntityBytesKept) return false;
  bytes_ = bytes_ - replaced + data.size();
  if (it == states_.end()) {
    states_.emplace(key, data);
  } else {
    it->second = data;
  }
  unsent_.insert(std::move(key));
  return true;
}

void EntityBoard::Changed() {
  absl::MutexLock lock(&mu_);
  describe_wanted_ = true;
}

bool EntityBoard::WaitForDescribe() {
  absl::MutexLock lock(&mu_);
  const auto wanted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || describe_wanted_;
  };
  mu_.Await(absl::Condition(&wanted));
  if (closed_) return false;
  describe_wanted_ = false;
  return true;
}

void EntityBoard::Described(std::optional<std::string> description) {
  absl::MutexLock lock(&mu_);
  described_ = true;
  if (!description) return;  // the last one, if any, stands
  description_ = std::move(description);
  description_unsent_ = true;
}

void EntityBoard::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

uint64_t EntityBoard::Watch() {
  absl::MutexLock lock(&mu_);
  unsent_.clear();
  for (const auto& [key, data] : states_) unsent_.insert(key);
  description_unsent_ = description_.has_value();
  return ++watch_;
}

EntityBoard::Next EntityBoard::Take(uint64_t id, absl::Duration wait,
                                    v1::PluginEntityUpdate* update) {
  absl::MutexLock lock(&mu_);
  const auto ready = [this, id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || watch_ != id || (described_ && (description_unsent_ || !unsent_.empty()));
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
  if (closed_ || watch_ != id) return Next::kEnded;
  if (!ready()) return Next::kNothing;
  size_t bytes = 0;
  if (description_unsent_) {
    update->set_has_description(true);
    update->set_description(*description_);
    bytes += description_->size();
    description_unsent_ = false;
  }
  while (!unsent_.empty() && bytes < kMaxEntityUpdateBytes) {
    const auto first = unsent_.begin();
    const std::string& data = states_.at(*first);
    v1::PluginEntityState* state = update->add_states();
    state->set_entity(first->first);
    state->set_state(first->second);
    state->set_data(data);
    bytes += first->first.size() + first->second.size() + data.size();
    unsent_.erase(first);
  }
  return Next::kUpdate;
}

}  // namespace domian::plugin_host
