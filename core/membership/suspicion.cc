#include "core/membership/suspicion.h"

#include <algorithm>
#include <cmath>

namespace domian::membership {

Millis SuspicionMin(Millis base, size_t members) {
  const double scale = std::max(1.0, std::log10(static_cast<double>(std::max<size_t>(members, 1))));
  // Rounded up to the millisecond; the epsilon keeps log10(1000) * 500
  // from becoming 1501 through the last bit of a double.
  return Millis(
      static_cast<Millis::rep>(std::ceil(static_cast<double>(base.count()) * scale - 1e-6)));
}

Suspicion::Suspicion(MonoTime since, Millis min, const std::string& suspector)
    : since_(since), min_(min), max_(min * kMaxTimeoutFactor), suspectors_{suspector} {}

bool Suspicion::Confirm(const std::string& suspector) {
  if (suspectors_.size() > kConfirmationsForMin) return false;
  return suspectors_.insert(suspector).second;
}

MonoTime Suspicion::Deadline() const {
  // timeout = max - (max - min) * log(C + 1) / log(K + 1): each new
  // confirmation takes a smaller bite, and K of them reach min.
  const double fraction = std::log(static_cast<double>(confirmations()) + 1) /
                          std::log(static_cast<double>(kConfirmationsForMin) + 1);
  const auto span = static_cast<double>((max_ - min_).count());
  const Millis timeout =
      std::max(min_, max_ - Millis(static_cast<Millis::rep>(std::floor(span * fraction))));
  return since_ + timeout;
}

void LocalHealth::Add(int delta) { score_ = std::clamp(score_ + delta, 0, kMaxScore); }

}  // namespace domian::membership
