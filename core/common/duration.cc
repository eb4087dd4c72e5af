// Parsing and formatting of human-written durations ("200ms", "1.5s").
//
// Arithmetic is done on integers rather than doubles so that "1.2s" is
// exactly 1200 ms and FormatDuration output always parses back to the
// same value.
#include "core/common/duration.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace domian {
namespace {

// About 100 years. Nothing in the daemon needs more, and the bound keeps
// every intermediate product far away from int64 overflow.
constexpr int64_t kMaxMillis = int64_t{100} * 365 * 24 * 3600 * 1000;

// Fraction digits beyond this are ignored: a 1e-9 of the largest unit
// (an hour) is 3.6 microseconds, far below the millisecond we round to.
constexpr size_t kMaxFractionDigits = 9;

constexpr int64_t kMillisPerSecond = 1000;
constexpr int64_t kMillisPerMinute = 60 * kMillisPerSecond;
constexpr int64_t kMillisPerHour = 60 * kMillisPerMinute;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Milliseconds in one `unit`, or 0 when the unit is not one we accept.
// Units are case-sensitive: "M" could be read as months, "MS" as mega-s.
int64_t UnitMillis(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return kMillisPerSecond;
  if (unit == "m") return kMillisPerMinute;
  if (unit == "h") return kMillisPerHour;
  return 0;
}

// Appends `value` / `unit` with up to three decimals. Only called when
// `value` is a multiple of a thousandth of `unit`, so nothing is lost.
void AppendInUnit(uint64_t value, uint64_t unit, std::string_view suffix,
                  std::string& out) {
  // Dividing by unit / 1000 (units here are whole seconds) instead of
  // multiplying value by 1000 cannot overflow.
  const uint64_t thousandths = value / (unit / 1000);
  out += std::to_string(thousandths / 1000);
  uint64_t fraction = thousandths % 1000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 3 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += '.';
    out += digits;
  }
  out += suffix;
}

}  // namespace

std::optional<Millis> ParseDuration(std::string_view text) {
  text = Trim(text);

  // Integer part: at least one digit. Bounding it while accumulating keeps
  // the multiplication below from overflowing.
  size_t pos = 0;
  int64_t whole = 0;
  while (pos < text.size() && IsDigit(text[pos])) {
    whole = whole * 10 + (text[pos] - '0');
    if (whole > kMaxMillis) return std::nullopt;
    ++pos;
  }
  if (pos == 0) return std::nullopt;  // empty, sign, or leading '.'

  // Optional fraction: a '.' must be followed by at least one digit.
  int64_t fraction = 0;
  int64_t fraction_scale = 1;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t first_fraction_digit = pos;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (pos - first_fraction_digit < kMaxFractionDigits) {
        fraction = fraction * 10 + (text[pos] - '0');
        fraction_scale *= 10;
      }
      ++pos;
    }
    if (pos == first_fraction_digit) return std::nullopt;
  }

  const int64_t unit = UnitMillis(text.substr(pos));
  if (unit == 0) return std::nullopt;
  if (whole > kMaxMillis / unit) return std::nullopt;

  // Round the fractional part half up to whole milliseconds. fraction is
  // below 1e9 and unit at most 3.6e6, so the product fits in int64.
  const int64_t fraction_millis =
      (fraction * unit + fraction_scale / 2) / fraction_scale;
  const int64_t total = whole * unit + fraction_millis;
  if (total > kMaxMillis) return std::nullopt;
  return Millis(total);
}

std::string FormatDuration(Millis d) {
  std::string out;
  const int64_t count = d.count();
  if (count < 0) out += '-';
  // Magnitude as unsigned so that the most negative value does not
  // overflow when negated.
  const uint64_t value = count < 0 ? uint64_t{0} - static_cast<uint64_t>(count)
                                   : static_cast<uint64_t>(count);

  // The largest unit that the value reaches and that expresses it exactly
  // with at most three decimals ("1.5h", "10m", "1.2s"); below a second,
  // milliseconds read better than "0.2s".
  const uint64_t hour = static_cast<uint64_t>(kMillisPerHour);
  const uint64_t minute = static_cast<uint64_t>(kMillisPerMinute);
  const uint64_t second = static_cast<uint64_t>(kMillisPerSecond);
  if (value >= hour && value % (hour / 1000) == 0) {
    AppendInUnit(value, hour, "h", out);
  } else if (value >= minute && value % (minute / 1000) == 0) {
    AppendInUnit(value, minute, "m", out);
  } else if (value >= second) {
    AppendInUnit(value, second, "s", out);
  } else {
    out += std::to_string(value);
    out += "ms";
  }
  return out;
}

}  // namespace domian
