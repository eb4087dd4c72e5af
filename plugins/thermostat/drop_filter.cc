#include "plugins/thermostat/drop_filter.h"

#include <cmath>
#include <cstdio>

namespace domian::thermostat {
namespace {

double Minutes(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double, std::ratio<60>>(duration).count();
}

// `value` with `decimals` decimals.
std::string Shown(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace

bool DropFilter::MayFollow(const Sample& from, const Sample& to) const {
  const double allowed = kDropAllowanceC + max_drop_c_per_min_ * std::abs(Minutes(to.at - from.at));
  return from.celsius - to.celsius <= allowed;
}

bool DropFilter::Agree(const Sample& a, const Sample& b) const {
  return MayFollow(a, b) && MayFollow(b, a);
}

void DropFilter::Hold(const Sample& reading, std::string why) {
  held_ = reading;
  why_held_ = std::move(why);
}

void DropFilter::Add(const Sample& reading) {
  const bool confirms_held = held_ && Agree(*held_, reading);
  if (!counted_ || MayFollow(*counted_, reading) || confirms_held) {
    counted_ = reading;
    held_.reset();
    why_held_.clear();
  } else {
    const double seconds =
        std::chrono::duration<double>(reading.at - counted_->at).count();
    Hold(reading, "a drop of " + Shown(counted_->celsius - reading.celsius, 2) + " °C in " +
                      Shown(seconds, 1) +
                      " s, faster than a room cools: counts once the next reading agrees with it");
  }
}

}  // namespace domian::thermostat
