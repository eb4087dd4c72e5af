// Nearest-rank percentiles for the benchmarks, and how reports print them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace domian::bench {

// The p-th percentile (0 < p <= 100) by nearest rank; 0 for no values.
inline double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

// p50, p99, max and the number of samples, as the results files hold them.
inline nlohmann::json Summary(const std::vector<double>& values) {
  return {{"p50", Percentile(values, 50)},
          {"p99", Percentile(values, 99)},
          {"max", Percentile(values, 100)},
          {"samples", values.size()}};
}

// Milliseconds from `from` to `to`, on any clock.
template <typename Clock, typename Duration>
double MsBetween(std::chrono::time_point<Clock, Duration> from,
                 std::chrono::time_point<Clock, Duration> to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// `value` with `digits` digits after the point.
inline std::string Fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

}  // namespace domian::bench
