#include "plugins/thermostat/thermostat_service.h"

#include <domian/plugin_json.hpp>
#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <tuple>

#include "plugins/thermostat/entities.h"

namespace domian::thermostat {
namespace {

using nlohmann::json;
using Millis = std::chrono::milliseconds;

// A relay that will not switch off at stop is tried this often.
constexpr int kStopOffAttempts = 3;
constexpr auto kStopOffRetry = std::chrono::milliseconds(100);
// The safe state tries as often, well within DOMIAN_SAFE_STATE_TIMEOUT_MS
// (opening a GPIO line or a file takes microseconds; a retry rides out a
// line still being released by a process that just died).
constexpr int kSafeStateAttempts = 3;
constexpr auto kSafeStateRetry = std::chrono::milliseconds(200);
static_assert((kSafeStateAttempts - 1) * kSafeStateRetry <
                  std::chrono::milliseconds(DOMIAN_SAFE_STATE_TIMEOUT_MS) / 4,
              "the safe state's retries must leave most of its time limit");
// A sensor rejected and counted again in turn is logged this seldom; status
// and the health check always show the current verdict.
constexpr auto kVerdictLogInterval = std::chrono::minutes(10);

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

bool Rejected(Verdict verdict) {
  return verdict == Verdict::kImplausible || verdict == Verdict::kOutlier;
}

}  // namespace

Millis LivenessDeadline(Millis control_period) {
  return std::clamp<Millis>(kLivenessPeriods * control_period + kLivenessSlack,
                            Millis(DOMIAN_LIVENESS_MIN_MS), Millis(DOMIAN_LIVENESS_MAX_MS));
}

std::vector<std::string> ThermostatService::ValidateConfig(std::string_view config_json) {
  return ThermostatConfig::Problems(config_json);
}

void ThermostatService::MakeSafe(sdk::Host host, std::string_view config_json) {
  const RelayConfig config = ThermostatConfig::SafeStateRelay(config_json);
  std::string failure;
  for (int attempt = 0; attempt < kSafeStateAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(kSafeStateRetry);
    try {
      // gpiod: requested as an output that starts OFF, written OFF again,
      // and released when `relay` goes (README.md, "Safe state").
      const std::unique_ptr<Relay> relay = OpenRelay(config);
      relay->Set(false);
      host.Info("safe state: relay OFF (" + relay->Describe() + ")");
      return;
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  throw sdk::Error(DOMIAN_ERR_UNAVAILABLE,
                   "safe state: the relay could not be switched off (" +
                       std::to_string(kSafeStateAttempts) + " attempts): " + failure);
}

ThermostatService::ThermostatService(sdk::Host host, std::string_view config_json)
    : ThermostatService(host, config_json, nullptr) {}

ThermostatService::ThermostatService(sdk::Host host, std::string_view config_json,
                                     std::unique_ptr<Relay> relay, Clock clock)
    : host_(host),
      clock_(std::move(clock)),
      config_(ThermostatConfig::Parse(config_json)),
      relay_(std::move(relay)),
      bus_(config_.sysfs_root, config_.sensors, config_.read_interval, config_.max_drop_c_per_min,
           [host](const std::string& change) { host.Info(change); }, clock_),
      target_c_(config_.control.target_c),
      mode_(config_.control.mode),
      schedule_(config_.schedule),
      described_sensors_(config_.sensors) {}

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
    controller_ = std::make_unique<Controller>(clock_());
    if (saved_alarm_) {
      controller_->RestoreAlarm(*saved_alarm_, clock_());
      alarm_reported_ = true;  // said before the restart; not a new alarm
      host_.Warn("heating alarm still stands (from before the restart): " + *saved_alarm_ +
                 "; heating stays off until `clear_alarm` or a change of mode");
    }
    relay_on_.reset();
    DriveRelayLocked(false);
    stopping_ = false;
    published_.clear();  // a new instance's host has none of them yet
  }
  host_.Info("relay off at start (" + relay_->Describe() + ")");
  bus_.Start();
  try {
    thread_ = std::thread([this] { Control(); });
  } catch (...) {
    bus_.Stop();
    throw;
  }
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  // From here a control loop that stops is found: the host treats a
  // missed deadline as a hang (relay OFF through the safe state).
  const Millis deadline = LivenessDeadline(config_.control_period);
  if (!host_.SetLivenessDeadline(deadline)) {
    host_.Debug("no liveness deadline: the host offers none or refused " +
                std::to_string(deadline.count()) + " ms");
  }
}

void ThermostatService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    stopping_ = true;
  }
  host_.SetLivenessDeadline(Millis(0));  // the loop ends on purpose
  wake_.notify_all();
  thread_.join();
  // The relay first: the bus may be in the middle of a read that takes
  // as long as the kernel says.
  {
    std::lock_guard lock(mu_);
    controller_->ForceOff(clock_(), "stopped");
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
  const auto now = clock_();
  combined_ = CombineReadings(sensors, config_.combine, now);
  const ControlSettings settings = SettingsLocked();
  const bool on = controller_->Step(now, combined_.celsius, combined_.why_none, settings);
  // Written on every change, and again while the last write failed.
  if (relay_on_ != on) DriveRelayLocked(on);
  history_.Record({now, combined_.celsius, settings.target_c, relay_on_.value_or(false)});
  ReportLocked(sensors, now);
  PublishEntitiesLocked(sensors, now);
}

void ThermostatService::PublishEntitiesLocked(const std::vector<SensorStatus>& sensors,
                                              SteadyTime now) {
  // With `sensors: auto` the list is what the bus found; once described,
  // a sensor stays (an unplugged one shows unknown, it does not vanish).
  if (config_.sensors.empty()) {
    bool added = false;
    for (const SensorStatus& sensor : sensors) {
      if (std::find(described_sensors_.begin(), described_sensors_.end(), sensor.id) ==
          described_sensors_.end()) {
        described_sensors_.push_back(sensor.id);
        added = true;
      }
    }
    if (added) {
      std::sort(described_sensors_.begin(), described_sensors_.end());
      host_.EntitiesChanged();
    }
  }
  std::vector<std::tuple<std::string, const char*, std::string>> states;
  states.emplace_back(kClimateEntity, kClimateState,
                      ClimateStateJson(mode_, SettingsLocked().target_c, combined_.celsius, relay_on_));
  states.emplace_back(kRelayEntity, kRelayState, RelayStatePayload(relay_on_));
  for (const std::string& id : described_sensors_) {
    // A sensor that is gone, or whose last good reading is older than the
    // controller would count, is unknown: never a stale number.
    const auto status = std::find_if(sensors.begin(), sensors.end(),
                                     [&](const SensorStatus& s) { return s.id == id; });
    std::optional<double> celsius;
    if (status != sensors.end() && status->present && status->celsius && status->valid_at &&
        now - *status->valid_at <= config_.combine.max_age) {
      celsius = status->celsius;
    }
    states.emplace_back(SensorEntityId(id), kSensorState, SensorStatePayload(celsius));
  }
  for (const auto& [entity, state, data] : states) {
    std::string& last = published_[entity + "/" + state];
    if (last == data) continue;
    // Refused (a host without entities): tried again at the next step.
    if (host_.PublishEntityState(entity, state, data)) last = data;
  }
}

std::string ThermostatService::DescribeEntities() {
  std::lock_guard lock(mu_);
  return thermostat::DescribeEntities(described_sensors_).dump();
}

void ThermostatService::ReportLocked(const std::vector<SensorStatus>& sensors, SteadyTime now) {
  // Configured sensors never found: said once when found so, and shown
  // (status, health) for as long as it lasts.
  std::vector<std::string> phantoms = PhantomSensors(config_.sensors, sensors);
  for (const std::string& id : phantoms) {
    if (std::find(phantoms_.begin(), phantoms_.end(), id) == phantoms_.end()) {
      host_.Warn("sensor " + id + " is configured but was never found in " + config_.sysfs_root +
                 " (a mistyped id, or not wired?); it is left out");
    }
  }
  for (const std::string& id : phantoms_) {
    if (std::find(phantoms.begin(), phantoms.end(), id) == phantoms.end()) {
      host_.Info("sensor " + id + " found");
    }
  }
  phantoms_ = std::move(phantoms);

  // Readings rejected (implausible, outliers) and counted again: a change
  // is logged, at most once per kVerdictLogInterval per sensor.
  for (const SensorVerdict& sensor : combined_.sensors) {
    const Verdict verdict = Rejected(sensor.verdict) ? sensor.verdict : Verdict::kCounted;
    const auto logged = logged_verdicts_.find(sensor.id);
    const Verdict last = logged == logged_verdicts_.end() ? Verdict::kCounted : logged->second.verdict;
    if (verdict == last) continue;
    if (logged != logged_verdicts_.end() && now - logged->second.at < kVerdictLogInterval) continue;
    if (Rejected(verdict)) {
      host_.Warn("sensor " + sensor.id + " not counted (" + VerdictName(verdict) + "): " + sensor.why);
    } else {
      host_.Info("sensor " + sensor.id + " counts again");
    }
    logged_verdicts_[sensor.id] = {verdict, now};
  }

  // The stuck-cold alarm: an event (for notifications) once per alarm.
  const auto& alarm = controller_->alarm();
  if (alarm && !alarm_reported_) {
    host_.LogError("heating alarm: " + alarm->reason +
                   "; heating stays off until `clear_alarm` or a change of mode");
    const json event = {{"reason", alarm->reason},
                        {"temperature_c", combined_.celsius ? json(*combined_.celsius) : json(nullptr)},
                        {"target_c", SettingsLocked().target_c}};
    if (!host_.EmitEvent("heating_alarm", event.dump())) host_.Warn("the heating_alarm event was refused");
  }
  // A standing alarm is part of the state: kept soon, so a restart keeps
  // the heating off until someone clears it.
  if (alarm.has_value() != alarm_reported_) host_.MarkStateDirty();
  alarm_reported_ = alarm.has_value();
}

std::vector<std::string> ThermostatService::WarningsLocked() const {
  std::vector<std::string> warnings;
  for (const std::string& id : phantoms_) {
    warnings.push_back("sensor " + id + " is configured but was never found in " + config_.sysfs_root);
  }
  for (const SensorVerdict& sensor : combined_.sensors) {
    if (Rejected(sensor.verdict)) {
      warnings.push_back("sensor " + sensor.id + " not counted (" + VerdictName(sensor.verdict) +
                         "): " + sensor.why);
    }
  }
  return warnings;
}

void ThermostatService::Control() {
  // Named, so `top -H` and a stack dump show which thread is the control
  // loop (tests freeze this one thread to hang control alone).
  ::pthread_setname_np(::pthread_self(), kControlThreadName);
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
    host_.Alive();
    lock.lock();
    if (!failure.empty()) {
      if (control_error_ != failure) host_.LogError("control step failed: " + failure);
      controller_->ForceOff(clock_(), "control step failed: " + failure);
      DriveRelayLocked(false);
    }
    control_error_ = failure;
    // Waits on the real clock for at most a period, sooner for the
    // controller's deadline (max_on, the stuck-cold alarm).
    auto wait = std::chrono::duration_cast<Millis>(config_.control_period);
    if (const auto deadline = controller_->Deadline(config_.control)) {
      wait = std::clamp(std::chrono::ceil<Millis>(*deadline - clock_()), Millis(0), wait);
    }
    wake_.wait_for(lock, wait, [this] { return stopping_ || poked_; });
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
  } else if (command == "clear_alarm") {
    reply = ClearAlarm();
  } else if (command == "history") {
    return HistoryJson(args).dump();  // changes nothing: no save
  } else {
    throw sdk::Error(DOMIAN_ERR_UNKNOWN_COMMAND,
                     "unknown command \"" + std::string(command) +
                         "\" (status, set_target, set_mode, set_schedule, clear_alarm, history)");
  }
  // Each command but status changed what SaveState keeps: the caller is
  // answered once it is kept, so a crash or a power cut right after
  // cannot bring back the old mode or target (a 1.0 host: saved at stop).
  if (command != "status") host_.SaveStateNow();
  return reply.dump();
}

json ThermostatService::Status() {
  const std::vector<SensorStatus> sensors = bus_.Snapshot();
  const auto now = clock_();
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
    // Whether the last control step counted its reading, and why not.
    const auto verdict = std::find_if(combined_.sensors.begin(), combined_.sensors.end(),
                                      [&](const SensorVerdict& v) { return v.id == sensor.id; });
    entry["counted"] = verdict != combined_.sensors.end() && verdict->verdict == Verdict::kCounted;
    entry["not_counted"] = verdict == combined_.sensors.end() ? "not judged yet" : verdict->why;
    entry["held_c"] = sensor.held_celsius ? json(*sensor.held_celsius) : json(nullptr);
    entry["held_why"] = sensor.held_why;
    entry["phantom"] = std::find(phantoms_.begin(), phantoms_.end(), sensor.id) != phantoms_.end();
    list.push_back(std::move(entry));
  }
  const ControlSettings settings = SettingsLocked();
  json alarm = nullptr;
  if (controller_ && controller_->alarm()) {
    alarm = {{"reason", controller_->alarm()->reason},
             {"since_s", SecondsOf(now - controller_->alarm()->since)},
             {"clear", "call thermostat clear_alarm, or change the mode"}};
  }
  json status = {{"sensors", list},
                 {"temperature_c", combined_.celsius ? json(*combined_.celsius) : json(nullptr)},
                 {"temperature_problem", combined_.why_none},
                 {"warnings", WarningsLocked()},
                 {"alarm", alarm},
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

json ThermostatService::HistoryJson(const json& args) {
  int hours = kHistoryMaxHours;
  const auto it = args.find("hours");
  if (it != args.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < kHistoryMinHours ||
        it->get<int64_t>() > kHistoryMaxHours) {
      throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT,
                       "history takes {\"hours\": N} with N a whole number from " +
                           std::to_string(kHistoryMinHours) + " to " + std::to_string(kHistoryMaxHours) +
                           " (all " + std::to_string(kHistoryMaxHours) + " when left out)");
    }
    hours = static_cast<int>(it->get<int64_t>());
  }
  if (args.size() > (it == args.end() ? 0U : 1U)) {
    throw sdk::Error(DOMIAN_ERR_INVALID_ARGUMENT, "history takes only {\"hours\": N}");
  }
  const int64_t now_unix_ms = std::chrono::duration_cast<Millis>(
                                  std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard lock(mu_);
  return {{"samples", history_.Json(clock_(), now_unix_ms, std::chrono::hours(hours))}};
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
    // A person changing the mode has looked at the heating: that clears
    // the stuck-cold alarm (setting the mode it already has does not).
    if (*mode != mode_ && controller_ && controller_->alarm()) {
      host_.Info("heating alarm cleared by set_mode " + std::string(ModeName(*mode)));
      controller_->ClearAlarm();
    }
    mode_ = *mode;
    poked_ = true;
  }
  wake_.notify_all();
  if (*mode == Mode::kOff) ControlStep();  // off now, not at the next period
  return Status();
}

json ThermostatService::ClearAlarm() {
  {
    std::lock_guard lock(mu_);
    if (controller_ && controller_->alarm()) {
      host_.Info("heating alarm cleared: " + controller_->alarm()->reason);
      controller_->ClearAlarm();
    }
    poked_ = true;
  }
  wake_.notify_all();
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
  // Only while it stands; an older plugin ignores the key.
  if (controller_ && controller_->alarm()) state["alarm"] = controller_->alarm()->reason;
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
  if (state.contains("alarm") && state["alarm"].is_string()) {
    saved_alarm_ = state["alarm"].get<std::string>();
  }
}

std::optional<std::string> ThermostatService::CheckHealth() {
  std::lock_guard lock(mu_);
  if (!relay_error_.empty()) return "relay: " + relay_error_;
  if (!control_error_.empty()) return "control step failed: " + control_error_;
  if (controller_ && controller_->alarm()) {
    return "heating alarm: " + controller_->alarm()->reason + " (call thermostat clear_alarm)";
  }
  if (!combined_.celsius && mode_ == Mode::kHeat) return "heating held off: " + combined_.why_none;
  const std::vector<std::string> warnings = WarningsLocked();
  if (warnings.empty()) return std::nullopt;
  std::string detail;
  for (const std::string& warning : warnings) detail += (detail.empty() ? "" : "; ") + warning;
  return detail;
}

}  // namespace domian::thermostat
