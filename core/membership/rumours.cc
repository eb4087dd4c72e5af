#include "core/membership/rumours.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace domian::membership {

int Rumours::TellingsFor(size_t members) {
  const double hops = std::ceil(std::log10(static_cast<double>(members) + 1) - 1e-9);
  return kRetellFactor * std::max(1, static_cast<int>(hops));
}

void Rumours::Add(Rumour rumour) {
  auto it = queued_.find(rumour.about);
  if (it == queued_.end() && queued_.size() >= kMaxRumours) {
    // The most told (the oldest among equals) has had the best chance to
    // spread already.
    auto worst = std::max_element(queued_.begin(), queued_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.second.told, b.second.sequence) <
             std::tie(b.second.told, a.second.sequence);
    });
    queued_.erase(worst);
  }
  std::string about = rumour.about;
  queued_.insert_or_assign(std::move(about), Queued{std::move(rumour), 0, next_sequence_++});
}

void Rumours::Forget(const std::string& about) { queued_.erase(about); }

const Rumour* Rumours::About(const std::string& about) const {
  auto it = queued_.find(about);
  return it == queued_.end() ? nullptr : &it->second.rumour;
}

std::vector<Rumour> Rumours::Take(size_t count, size_t members) {
  std::vector<std::map<std::string, Queued>::iterator> order;
  order.reserve(queued_.size());
  for (auto it = queued_.begin(); it != queued_.end(); ++it) order.push_back(it);
  const size_t taken = std::min(count, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(taken), order.end(),
                    [](const auto& a, const auto& b) {
                      return std::tie(a->second.told, b->second.sequence) <
                             std::tie(b->second.told, a->second.sequence);
                    });
  const int limit = TellingsFor(members);
  std::vector<Rumour> out;
  out.reserve(taken);
  for (size_t i = 0; i < taken; ++i) {
    auto it = order[i];
    out.push_back(it->second.rumour);
    if (++it->second.told >= limit) queued_.erase(it);
  }
  return out;
}

}  // namespace domian::membership
