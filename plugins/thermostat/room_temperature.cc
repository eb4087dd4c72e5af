#include "plugins/thermostat/room_temperature.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace domian::thermostat {
namespace {

std::string Celsius(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f °C", value);
  return text;
}

// Why a sensor offers no fresh reading.
std::string NoReadingWhy(const SensorStatus& sensor, Seconds max_age) {
  if (!sensor.problem.empty()) return sensor.problem;
  if (sensor.reads == 0) return "not read yet";
  const std::string stale = "no valid reading younger than " + std::to_string(max_age.count()) + " s";
  // A sensor whose drops never settle: its last counted reading aged out.
  return sensor.held_why.empty() ? stale : stale + "; the last one: " + sensor.held_why;
}

// The median of sorted values.
double Median(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCounted: return "counted";
    case Verdict::kNotChosen: return "not chosen";
    case Verdict::kNoReading: return "no reading";
    case Verdict::kImplausible: return "implausible";
    case Verdict::kOutlier: return "outlier";
  }
  return "?";
}

Combined CombineReadings(const std::vector<SensorStatus>& sensors, const CombineRule& rule,
                         SteadyTime now) {
  Combined out;
  std::vector<size_t> plausible;  // indexes into sensors / out.sensors
  std::string stale;              // the first sensor without a fresh reading
  std::string implausible;        // the first implausible one
  bool chosen_listed = false;
  for (const SensorStatus& sensor : sensors) {
    SensorVerdict verdict{sensor.id, Verdict::kNoReading, ""};
    if (rule.combine == Combine::kOne && sensor.id != rule.one) {
      verdict = {sensor.id, Verdict::kNotChosen, "combine uses sensor " + rule.one + " alone"};
    } else {
      chosen_listed = true;
      const bool fresh = sensor.celsius && sensor.valid_at && now - *sensor.valid_at <= rule.max_age;
      if (!fresh) {
        verdict.why = NoReadingWhy(sensor, rule.max_age);
        if (stale.empty()) {
          stale = "sensor " + sensor.id + (sensor.problem.empty() ? "" : " (" + sensor.problem + ")");
        }
      } else if (*sensor.celsius < rule.plausible_min_c || *sensor.celsius > rule.plausible_max_c) {
        verdict = {sensor.id, Verdict::kImplausible,
                   Celsius(*sensor.celsius) + " is outside the plausible band " +
                       Celsius(rule.plausible_min_c) + " to " + Celsius(rule.plausible_max_c)};
        if (implausible.empty()) implausible = "sensor " + sensor.id + ": " + verdict.why;
      } else {
        verdict.verdict = Verdict::kCounted;
        plausible.push_back(out.sensors.size());
      }
    }
    out.sensors.push_back(std::move(verdict));
  }

  // Outliers: away from the reference, the median (with an even number of
  // readings, the warmer middle one: towards less heat).
  std::vector<double> kept;
  if (plausible.size() >= 2 && rule.combine != Combine::kOne) {
    std::vector<double> values;
    for (const size_t i : plausible) values.push_back(*sensors[i].celsius);
    std::sort(values.begin(), values.end());
    const double reference = values[values.size() / 2];
    for (const size_t i : plausible) {
      const double celsius = *sensors[i].celsius;
      if (std::abs(celsius - reference) > rule.outlier_c) {
        out.sensors[i].verdict = Verdict::kOutlier;
        out.sensors[i].why = Celsius(celsius) + " is " + Celsius(std::abs(celsius - reference)) +
                             " from the sensors' median " + Celsius(reference) +
                             ", more than outlier_c (" + Celsius(rule.outlier_c) + ")";
      } else {
        kept.push_back(celsius);
      }
    }
  } else {
    for (const size_t i : plausible) kept.push_back(*sensors[i].celsius);
  }

  if (kept.empty()) {
    if (sensors.empty()) {
      out.why_none = "no sensor found";
    } else if (rule.combine == Combine::kOne && !chosen_listed) {
      out.why_none = "no sensor " + rule.one;
    } else if (!implausible.empty()) {
      out.why_none = "no plausible reading (" + implausible + ")";
    } else {
      out.why_none = "no valid reading younger than " + std::to_string(rule.max_age.count()) +
                     " s (" + stale + ")";
    }
    return out;
  }
  std::sort(kept.begin(), kept.end());
  switch (rule.combine) {
    case Combine::kMin: out.celsius = kept.front(); break;
    case Combine::kMax: out.celsius = kept.back(); break;
    case Combine::kMean: {
      double sum = 0;
      for (const double value : kept) sum += value;
      out.celsius = sum / static_cast<double>(kept.size());
      break;
    }
    case Combine::kMedian:
    case Combine::kOne: out.celsius = Median(kept); break;
  }
  return out;
}

std::vector<std::string> PhantomSensors(const std::vector<std::string>& configured,
                                        const std::vector<SensorStatus>& sensors) {
  std::vector<std::string> phantoms;
  for (const SensorStatus& sensor : sensors) {
    const bool listed = std::find(configured.begin(), configured.end(), sensor.id) != configured.end();
    if (listed && sensor.reads > 0 && !sensor.ever_present) phantoms.push_back(sensor.id);
  }
  return phantoms;
}

}  // namespace domian::thermostat
