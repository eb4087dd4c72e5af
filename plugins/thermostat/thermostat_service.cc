#include "plugins/thermostat/thermostat_service.h"

#include <domian/plugin_json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace domian::thermostat {
namespace {

using nlohmann::json;
using Millis = std::chrono::milliseconds;

// Limits of what the config may say, in its units.
constexpr double kMinHysteresisC = 0.05;
constexpr double kMaxHysteresisC = 5.0;
constexpr int64_t kMaxMinTimeS = 3600;         // min_on_s, min_off_s
constexpr int64_t kMinMaxOnS = 60;             // max_on_s
constexpr int64_t kMaxMaxOnS = 24 * 3600;
constexpr int64_t kMinSensorAgeS = 5;          // max_sensor_age_s
constexpr int64_t kMaxSensorAgeS = 3600;
constexpr int64_t kMinControlPeriodMs = 100;
constexpr int64_t kMaxControlPeriodMs = 60000;
constexpr int64_t kMaxReadIntervalMs = 600000;
constexpr size_t kSensorIdLength = 15;  // "28-" and 12 hex digits
// A relay that will not switch off at stop is tried this often.
constexpr int kStopOffAttempts = 3;
constexpr auto kStopOffRetry = std::chrono::milliseconds(100);

bool IsSensorId(const std::string& id) {
  return id.size() == kSensorIdLength && id.rfind(kSensorPrefix, 0) == 0 &&
         std::all_of(id.begin() + 3, id.end(), [](unsigned char c) { return std::isxdigit(c); });
}

// Now, as a minute of the week in local time (0 = Monday 00:00).
std::pair<int, int> LocalWeekdayAndMinute() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return {(local.tm_wday + 6) % 7, local.tm_hour * 60 + local.tm_min};
}

double SecondsOf(SteadyClock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

}  // namespace

ThermostatConfig ThermostatConfig::Parse(std::string_view text) {
  const sdk::ConfigReader config("thermostat", text);
  ThermostatConfig parsed;
  std::string combine = "mean";
  bool has_relay = false;
  auto seconds = [&](const std::string& key, int64_t low, int64_t high) {
    return Seconds(config.Integer(key, low, high));
  };
  for (const auto& [key, value] : config.json().items()) {
    if (key == "sysfs_root") {
      parsed.sysfs_root = config.String(key);
    } else if (key == "sensors") {
      if (value == "auto") continue;
      if (!value.is_array() || value.empty()) {
        config.Fail(key, "must be auto or a list of sensor ids (28-xxxxxxxxxxxx)");
      }
      for (const json& id : value) {
        if (!id.is_string() || !IsSensorId(id.get<std::string>())) {
          config.Fail(key, "holds " + id.dump() + ", not a DS18B20 id (28- and 12 hex digits)");
        }
        parsed.sensors.push_back(id.get<std::string>());
      }
    } else if (key == "combine") {
      combine = config.String(key);
    } else if (key == "target_c") {
      parsed.control.target_c = config.Number(key, kMinTargetC, kMaxTargetC);
    } else if (key == "hysteresis_c") {
      parsed.control.hysteresis_c = config.Number(key, kMinHysteresisC, kMaxHysteresisC);
    } else if (key == "min_on_s") {
      parsed.control.min_on = seconds(key, 0, kMaxMinTimeS);
    } else if (key == "min_off_s") {
      parsed.control.min_off = seconds(key, 0, kMaxMinTimeS);
    } else if (key == "max_on_s") {
      parsed.control.max_on = seconds(key, kMinMaxOnS, kMaxMaxOnS);
    } else if (key == "max_sensor_age_s") {
      parsed.max_sensor_age = seconds(key, kMinSensorAgeS, kMaxSensorAgeS);
    } else if (key == "mode") {
      const auto mode = value.is_string() ? ParseMode(value.get<std::string>()) : std::nullopt;
      if (!mode) config.Fail(key, "must be heat or off, not " + value.dump());
      parsed.control.mode = *mode;
    } else if (key == "schedule") {
      try {
        parsed.schedule = ParseSchedule(value);
      } catch (const sdk::Error& e) {
        config.Fail(key, e.what());
      }
    } else if (key == "relay") {
      parsed.relay = ParseRelayConfig(config);
      has_relay = true;
    } else if (key == "control_period_ms") {
      parsed.control_period = Millis(config.Integer(key, kMinControlPeriodMs, kMaxControlPeriodMs));
    } else if (key == "read_interval_ms") {
      parsed.read_interval = Millis(config.Integer(key, 0, kMaxReadIntervalMs));
    } else {
      config.Fail(key, "is not a thermostat setting (sysfs_root, sensors, combine, target_c, "
                       "hysteresis_c, min_on_s, min_off_s, max_on_s, max_sensor_age_s, mode, "
                       "schedule, relay, control_period_ms, read_interval_ms)");
    }
  }
  if (!has_relay) config.Fail("relay", "is missing: {backend: gpiod, line: NAME} or {backend: file, path: PATH}");
  if (parsed.control.max_on < parsed.control.min_on) {
    config.Fail("max_on_s", "must not be shorter than min_on_s");
  }
  if (combine == "mean") {
    parsed.combine = Combine::kMean;
  } else if (combine == "min") {
    parsed.combine = Combine::kMin;
  } else if (combine == "max") {
    parsed.combine = Combine::kMax;
  } else if (IsSensorId(combine) &&
             (parsed.sensors.empty() ||
              std::find(parsed.sensors.begin(), parsed.sensors.end(), combine) != parsed.sensors.end())) {
    parsed.combine = Combine::kOne;
    parsed.combine_sensor = combine;
  } else {
    config.Fail("combine", "must be mean, min, max or one of the sensors' ids, not \"" + combine + "\"");
  }
  return parsed;
}

Combined CombineReadings(const std::vector<SensorStatus>& sensors, Combine combine,
                         const std::string& one, thermostat::Seconds max_age, SteadyTime now) {
  std::vector<double> fresh;
  std::string stale;
  for (const SensorStatus& sensor : sensors) {
    if (combine == Combine::kOne && sensor.id != one) continue;
    if (sensor.valid_at && now - *sensor.valid_at <= max_age) {
      fresh.push_back(*sensor.celsius);
    } else if (stale.empty()) {
      stale = "sensor " + sensor.id + (sensor.problem.empty() ? "" : " (" + sensor.problem + ")");
    }
  }
  if (fresh.empty()) {
    const std::string age = std::to_string(max_age.count());
    if (sensors.empty()) return {std::nullopt, "no sensor found"};
    if (combine == Combine::kOne && stale.empty()) return {std::nullopt, "no sensor " + one};
    return {std::nullopt, "no valid reading younger than " + age + " s (" + stale + ")"};
  }
  double value = 0;
  switch (combine) {
    case Combine::kMin: value = *std::min_element(fresh.begin(), fresh.end()); break;
    case Combine::kMax: value = *std::max_element(fresh.begin(), fresh.end()); break;
    case Combine::kMean:
    case Combine::kOne:
      for (const double v : fresh) value += v;
      value /= static_cast<double>(fresh.size());
      break;
  }
  return {value, ""};
}

ThermostatService::ThermostatService(sdk::Host host, std::string_view config_json)
    : ThermostatService(host, config_json, nullptr) {}

ThermostatService::ThermostatService(sdk::Host host, std::string_view config_json,
                                     std::unique_ptr<Relay> relay)
    : host_(host),
      config_(ThermostatConfig::Parse(config_json)),
      relay_(std::move(relay)),
      bus_(config_.sysfs_root, config_.sensors, config_.read_interval,
           [host](const std::string& change) { host.Info(change); }),
      target_c_(config_.control.target_c),
      mode_(config_.control.mode),
      schedule_(config_.schedule) {}

ThermostatService::~ThermostatService() { Stop(); }

void ThermostatService::Start() {
  if (!relay_) {
    try {
      relay_ = OpenRelay(config_.relay);
    } catch (const std::runtime_error& e) {
      throw sdk::Error(DOMIAN_ERR_UNAVAILABLE, std::string("the relay: ") + e.what());
    }
  }
  {
    std::lock_guard lock(mu_);
    if (started_) return;
    // OFF first, whatever the relay was left at; the minimum off time
    // counts from here, so a restarting plugin cannot cycle the boiler.
    controller_ = std::make_unique<Controller>(SteadyClock::now());
    relay_on_.reset();
    DriveRelayLocked(false);
    stopping_ = false;
  }
  host_.Info("relay off at start (" + relay_->Describe() + ")");
  bus_.Start();
  try {
    thread_ = std::thread([this] { Control(); });
  } catch (...) {
    bus_.Stop();
    throw;
  }
  std::lock_guard lock(mu_);
  started_ = true;
}

void ThermostatService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  // The relay first: the bus may be in the middle of a read that takes
  // as long as the kernel says.
  {
    std::lock_guard lock(mu_);
    controller_->ForceOff(SteadyClock::now(), "stopped");
    for (int attempt = 0; attempt < kStopOffAttempts && relay_on_ != false; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(kStopOffRetry);
      DriveRelayLocked(false);
    }
    if (relay_on_ != false) host_.LogError("the relay could not be switched off at stop: " + relay_error_);
    started_ = false;
  }
  host_.Info("relay off at stop");
  bus_.Stop();
}

void ThermostatService::DriveRelayLocked(bool on) {
  try {
    relay_->Set(on);
    if (!relay_error_.empty()) host_.Info("the relay answers again");
    relay_error_.clear();
    if (relay_on_ != on) host_.Info(std::string("relay ") + (on ? "ON" : "OFF") + ": " + controller_->reason());
    relay_on_ = on;
  } catch (const std::exception& e) {
    if (relay_error_ != e.what()) host_.LogError(e.what());
    relay_error_ = e.what();
    relay_on_.reset();  // unknown: written again next step
  }
}

ControlSettings ThermostatService::SettingsLocked() {
  ControlSettings settings = config_.control;
  settings.mode = mode_;
  const auto [weekday, minute] = LocalWeekdayAndMinute();
  settings.target_c = EffectiveTarget(schedule_, target_c_, target_set_during_, weekday, minute);
  return settings;
}

void ThermostatService::ControlStep() {
  const std::vector<SensorStatus> sensors = bus_.Snapshot();
  std::lock_guard lock(mu_);
  // Under the lock: a step from set_mode and one from the control thread
  // must not see time run backwards.
  const auto now = SteadyClock::now();
  combined_ = CombineReadings(sensors, config_.combine, config_.combine_sensor,
                              config_.max_sensor_age, now);
  const bool on = controller_->Step(now, combined_.celsius, combined_.why_none, SettingsLocked());
  // Written on every change, and again while the last write failed.
  if (relay_on_ != on) DriveRelayLocked(on);
}

void ThermostatService::Control() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    poked_ = false;
    lock.unlock();
    // Nothing may end this thread but Stop(): on any failure the relay
    // goes off, the failure is reported, and the next period tries again.
    std::string failure;
    try {
      ControlStep();
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown error";
    }
    lock.lock();
    if (!failure.empty()) {
      if (control_error_ != failure) host_.LogError("control step failed: " + failure);
      controller_->ForceOff(SteadyClock::now(), "control step failed: " + failure);
      DriveRelayLocked(false);
    }
    control_error_ = failure;
    auto until = SteadyClock::now() + config_.control_period;
    if (const auto deadline = controller_->Deadline(config_.control)) until = std::min(until, *deadline);
    wake_.wait_until(lock, until, [this] { return stopping_ || poked_; });
  }
}

std::string ThermostatService::Invoke(std::string_view command, std::string_view args_json) {
  const json args = sdk::ParseArgs(args_json);
  json reply;
  if (command == "status") {
    reply = Status();
  } else if (command == "set_target") {
    reply = SetTarget(args);
  } else if (command == "set_mode") {
    reply = SetMode(args);
  } else if (command == "set_schedule") {
    reply = SetSchedule(args);
  } else {
    throw sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND, "unknown command \"" + std::string(command) +
                                                     "\" (status, set_target, set_mode, set_schedule)");
  }
  return reply.dump();
}

json ThermostatService::Status() {
  const std::vector<SensorStatus> sensors = bus_.Snapshot();
  const auto now = SteadyClock::now();
  std::lock_guard lock(mu_);
  json list = json::array();
  for (const SensorStatus& sensor : sensors) {
    json entry = {{"id", sensor.id},
                  {"present", sensor.present},
                  {"valid", sensor.problem.empty() && sensor.celsius.has_value()},
                  {"problem", sensor.problem},
                  {"reads", sensor.reads},
                  {"bad_reads", sensor.bad_reads}};
    entry["celsius"] = sensor.celsius ? json(*sensor.celsius) : json(nullptr);
    entry["age_s"] = sensor.valid_at ? json(SecondsOf(now - *sensor.valid_at)) : json(nullptr);
    list.push_back(std::move(entry));
  }
  const ControlSettings settings = SettingsLocked();
  json status = {{"sensors", list},
                 {"temperature_c", combined_.celsius ? json(*combined_.celsius) : json(nullptr)},
                 {"temperature_problem", combined_.why_none},
                 {"relay", {{"on", relay_on_.value_or(false)},
                            {"known", relay_on_.has_value()},
                            {"output", relay_ ? relay_->Describe() : ""},
                            {"error", relay_error_}}},
                 {"target_c", settings.target_c},
                 {"mode", ModeName(mode_)},
                 {"schedule", ScheduleJson(schedule_)},
                 {"last_switch", {{"reason", controller_ ? controller_->reason() : ""},
                                  {"ago_s", controller_ ? SecondsOf(now - controller_->last_switch()) : 0.0}}}};
  return status;
}

json ThermostatService::SetTarget(const json& args) {
  const auto it = args.find("target_c");
  if (it == args.end() || !it->is_number() || it->get<double>() < kMinTargetC ||
      it->get<double>() > kMaxTargetC || args.size() != 1) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                     "set_target takes {\"target_c\": N} with N from " +
                         sdk::ShownNumber(kMinTargetC) + " to " + sdk::ShownNumber(kMaxTargetC));
  }
  {
    std::lock_guard lock(mu_);
    target_c_ = it->get<double>();
    target_set_during_.reset();
    const auto [weekday, minute] = LocalWeekdayAndMinute();
    if (const auto in_force = ScheduledTarget(schedule_, weekday, minute)) {
      target_set_during_ = in_force->since;  // until the schedule's next entry
    }
    poked_ = true;
  }
  wake_.notify_all();
  return Status();
}

json ThermostatService::SetMode(const json& args) {
  const auto it = args.find("mode");
  const auto mode = it != args.end() && it->is_string() && args.size() == 1
                        ? ParseMode(it->get<std::string>())
                        : std::nullopt;
  if (!mode) throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "set_mode takes {\"mode\": \"heat\" or \"off\"}");
  {
    std::lock_guard lock(mu_);
    mode_ = *mode;
    poked_ = true;
  }
  wake_.notify_all();
  if (*mode == Mode::kOff) ControlStep();  // off now, not at the next period
  return Status();
}

json ThermostatService::SetSchedule(const json& args) {
  const auto it = args.find("schedule");
  if (it == args.end() || args.size() != 1) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "set_schedule takes {\"schedule\": [...]} ([] clears it)");
  }
  std::vector<ScheduleEntry> schedule = ParseSchedule(*it);
  {
    std::lock_guard lock(mu_);
    schedule_ = std::move(schedule);
    target_set_during_.reset();
    poked_ = true;
  }
  wake_.notify_all();
  return Status();
}

std::string ThermostatService::SaveState() {
  std::lock_guard lock(mu_);
  json state = {{"format", kStateFormat},
                {"target_c", target_c_},
                {"mode", ModeName(mode_)},
                {"schedule", ScheduleJson(schedule_)}};
  if (target_set_during_) state["target_set_during"] = *target_set_during_;
  return state.dump();
}

void ThermostatService::LoadState(std::string_view text) {
  const json state = sdk::ParseSavedState(text, kStateFormat, "thermostat");
  // Each part is taken only when valid; the configuration's stands otherwise.
  std::lock_guard lock(mu_);
  if (state.contains("target_c") && state["target_c"].is_number() &&
      state["target_c"].get<double>() >= kMinTargetC && state["target_c"].get<double>() <= kMaxTargetC) {
    target_c_ = state["target_c"].get<double>();
  }
  if (state.contains("mode") && state["mode"].is_string()) {
    if (const auto mode = ParseMode(state["mode"].get<std::string>())) mode_ = *mode;
  }
  if (state.contains("schedule")) {
    try {
      schedule_ = ParseSchedule(state["schedule"]);
    } catch (const sdk::Error& e) {
      host_.Warn(std::string("saved schedule not restored: ") + e.what());
    }
  }
  if (state.contains("target_set_during") && state["target_set_during"].is_number_integer()) {
    target_set_during_ = state["target_set_during"].get<int>();
  }
}

std::optional<std::string> ThermostatService::CheckHealth() {
  std::lock_guard lock(mu_);
  if (!relay_error_.empty()) return "relay: " + relay_error_;
  if (!control_error_.empty()) return "control step failed: " + control_error_;
  if (!combined_.celsius && mode_ == Mode::kHeat) return "heating held off: " + combined_.why_none;
  return std::nullopt;
}

}  // namespace domian::thermostat
