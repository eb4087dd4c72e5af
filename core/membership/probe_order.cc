#include "core/membership/probe_order.h"

#include <algorithm>

namespace domian::membership {

void ProbeOrder::Add(const std::string& id) {
  if (std::find(order_.begin(), order_.end(), id) != order_.end()) return;
  // A random place from next_ to the end (inclusive): still in this lap.
  std::uniform_int_distribution<size_t> place(next_, order_.size());
  order_.insert(order_.begin() + static_cast<std::ptrdiff_t>(place(random_)), id);
}

void ProbeOrder::Remove(const std::string& id) {
  auto it = std::find(order_.begin(), order_.end(), id);
  if (it == order_.end()) return;
  const auto index = static_cast<size_t>(it - order_.begin());
  order_.erase(it);
  if (index < next_) --next_;
}

std::optional<std::string> ProbeOrder::Next(
    const std::function<bool(const std::string& id)>& eligible) {
  // The rest of this lap, then one whole new lap: every member is
  // considered at least once, whatever the new shuffle puts last.
  const size_t budget = (order_.size() - std::min(next_, order_.size())) + order_.size();
  for (size_t considered = 0; considered < budget; ++considered) {
    if (next_ >= order_.size()) Shuffle();
    const std::string& id = order_[next_++];
    if (eligible(id)) return id;
  }
  return std::nullopt;
}

void ProbeOrder::Shuffle() {
  std::shuffle(order_.begin(), order_.end(), random_);
  next_ = 0;
}

}  // namespace domian::membership
