#include "plugins/thermostat/controller.h"

#include <cstdio>

namespace domian::thermostat {
namespace {

std::string Celsius(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f °C", value);
  return text;
}

}  // namespace

const char* ModeName(Mode mode) { return mode == Mode::kHeat ? "heat" : "off"; }

std::optional<Mode> ParseMode(const std::string& text) {
  if (text == "heat") return Mode::kHeat;
  if (text == "off") return Mode::kOff;
  return std::nullopt;
}

Controller::Controller(SteadyTime start) : last_switch_(start), reason_("started: relay off") {}

void Controller::Switch(bool on, SteadyTime now, std::string reason) {
  on_ = on;
  last_switch_ = now;
  reason_ = std::move(reason);
}

void Controller::ForceOff(SteadyTime now, const std::string& reason) {
  if (on_) Switch(false, now, reason);
}

std::optional<SteadyTime> Controller::Deadline(const ControlSettings& settings) const {
  if (!on_) return std::nullopt;
  return last_switch_ + settings.max_on;
}

bool Controller::Step(SteadyTime now, std::optional<double> temperature,
                      const std::string& why_none, const ControlSettings& settings) {
  const auto since = now - last_switch_;
  if (on_) {
    // Safety first: these do not wait for the minimum on time.
    if (settings.mode == Mode::kOff) {
      Switch(false, now, "mode is off");
    } else if (!temperature) {
      Switch(false, now, "no valid reading: " + why_none);
    } else if (since >= settings.max_on) {
      Switch(false, now,
             "on for the maximum time (" + std::to_string(settings.max_on.count()) + " s)");
    } else if (*temperature >= settings.target_c + settings.hysteresis_c &&
               since >= settings.min_on) {
      Switch(false, now,
             Celsius(*temperature) + " reached target " + Celsius(settings.target_c) + " + " +
                 Celsius(settings.hysteresis_c));
    }
  } else if (settings.mode == Mode::kHeat && temperature &&
             *temperature <= settings.target_c - settings.hysteresis_c &&
             since >= settings.min_off) {
    Switch(true, now,
           Celsius(*temperature) + " below target " + Celsius(settings.target_c) + " - " +
               Celsius(settings.hysteresis_c));
  }
  return on_;
}

}  // namespace domian::thermostat
