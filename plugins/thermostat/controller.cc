#include "plugins/thermostat/controller.h"

#include <algorithm>
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
  watch_.reset();
}

void Controller::ClearAlarm() {
  alarm_.reset();
  watch_.reset();
}

void Controller::RestoreAlarm(std::string reason, SteadyTime now) {
  alarm_ = Alarm{std::move(reason), now};
  watch_.reset();
}

std::optional<SteadyTime> Controller::Deadline(const ControlSettings& settings) const {
  if (!on_) return std::nullopt;
  SteadyTime deadline = last_switch_ + settings.max_on;
  if (watch_ && settings.no_rise_after.count() > 0) {
    deadline = std::min(deadline, watch_->since + (settings.no_rise_after - watch_->on_before));
  }
  return deadline;
}

void Controller::WatchFromSwitchOn(SteadyTime now, double temperature,
                                   const ControlSettings& settings) {
  const double goal = temperature + settings.min_rise_c;
  if (!watch_) {
    watch_ = RiseWatch{goal, SteadyClock::duration::zero(), now};
  } else {
    // After a cut-off at max_on: the ON time so far still counts; the
    // goal may only come down to what the room cooled to while off.
    watch_->goal_c = std::min(watch_->goal_c, goal);
    watch_->since = now;
  }
}

bool Controller::RiseMissed(SteadyTime now, double temperature, const ControlSettings& settings) {
  if (!watch_ || settings.no_rise_after.count() <= 0) return false;
  if (temperature >= watch_->goal_c) {  // it rose: the next goal from here
    watch_ = RiseWatch{temperature + settings.min_rise_c, SteadyClock::duration::zero(), now};
    return false;
  }
  const auto on_time = watch_->on_before + (now - watch_->since);
  if (on_time < settings.no_rise_after) return false;
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(on_time).count();
  alarm_ = Alarm{"heating for " + std::to_string(minutes) + " min did not raise the temperature by " +
                     Celsius(settings.min_rise_c) + " (" + Celsius(temperature) + ", needed " +
                     Celsius(watch_->goal_c) + ")",
                 now};
  watch_.reset();
  return true;
}

bool Controller::Step(SteadyTime now, std::optional<double> temperature,
                      const std::string& why_none, const ControlSettings& settings) {
  if (alarm_) {
    // Never ON while the alarm stands (it switched OFF when raised).
    if (on_) Switch(false, now, "heating alarm: " + alarm_->reason);
    return on_;
  }
  const auto since = now - last_switch_;
  if (on_) {
    // Safety first: these do not wait for the minimum on time.
    if (settings.mode == Mode::kOff) {
      Switch(false, now, "mode is off");
      watch_.reset();
    } else if (!temperature) {
      Switch(false, now, "no valid reading: " + why_none);
      watch_.reset();
    } else if (RiseMissed(now, *temperature, settings)) {
      Switch(false, now, "heating alarm: " + alarm_->reason);
    } else if (since >= settings.max_on) {
      Switch(false, now,
             "on for the maximum time (" + std::to_string(settings.max_on.count()) + " s)");
      if (watch_) watch_->on_before += now - watch_->since;  // the watch goes on
    } else if (*temperature >= settings.target_c + settings.hysteresis_c &&
               since >= settings.min_on) {
      Switch(false, now,
             Celsius(*temperature) + " reached target " + Celsius(settings.target_c) + " + " +
                 Celsius(settings.hysteresis_c));
      watch_.reset();
    }
  } else if (settings.mode == Mode::kHeat && temperature &&
             *temperature <= settings.target_c - settings.hysteresis_c &&
             since >= settings.min_off) {
    Switch(true, now,
           Celsius(*temperature) + " below target " + Celsius(settings.target_c) + " - " +
               Celsius(settings.hysteresis_c));
    WatchFromSwitchOn(now, *temperature, settings);
  } else if (settings.mode == Mode::kOff) {
    watch_.reset();  // a person switched the heating off: a new start later
  }
  return on_;
}

}  // namespace domian::thermostat
