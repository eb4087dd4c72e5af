// Tests for ParseDuration and FormatDuration.
#include "core/common/duration.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace domian {
namespace {

// One hundred years, the documented upper bound.
constexpr int64_t kHundredYearsMillis = int64_t{100} * 365 * 24 * 3600 * 1000;

struct ParseCase {
  std::string text;
  int64_t millis;
};

class ParseDurationValidTest : public testing::TestWithParam<ParseCase> {};

TEST_P(ParseDurationValidTest, Parses) {
  const ParseCase& c = GetParam();
  const std::optional<Millis> parsed = ParseDuration(c.text);
  ASSERT_TRUE(parsed.has_value()) << "'" << c.text << "'";
  EXPECT_EQ(parsed->count(), c.millis) << "'" << c.text << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseDurationValidTest,
    testing::Values(ParseCase{"0ms", 0}, ParseCase{"0s", 0}, ParseCase{"0h", 0},
                    ParseCase{"1ms", 1}, ParseCase{"200ms", 200},
                    ParseCase{"1s", 1000}, ParseCase{"1.5s", 1500},
                    ParseCase{"1.2s", 1200}, ParseCase{"0.2s", 200},
                    ParseCase{"1.234s", 1234}, ParseCase{"10m", 600000},
                    ParseCase{"1.5m", 90000}, ParseCase{"1h", 3600000},
                    ParseCase{"1.5h", 5400000}, ParseCase{"0.001h", 3600},
                    ParseCase{"007s", 7000}, ParseCase{"1.0s", 1000},
                    ParseCase{"1.000000000000000000001s", 1000},
                    // Whitespace around the value is allowed.
                    ParseCase{"  200ms", 200}, ParseCase{"200ms  ", 200},
                    ParseCase{"\t1s\n", 1000},
                    // Sub-millisecond fractions round to the nearest
                    // millisecond, halves up.
                    ParseCase{"1.4ms", 1}, ParseCase{"1.5ms", 2},
                    ParseCase{"0.4ms", 0}, ParseCase{"0.0005s", 1},
                    ParseCase{"0.0004s", 0}, ParseCase{"1.9999s", 2000},
                    // The upper bound itself is accepted.
                    ParseCase{"876000h", kHundredYearsMillis},
                    ParseCase{std::to_string(kHundredYearsMillis) + "ms",
                              kHundredYearsMillis}));

class ParseDurationInvalidTest : public testing::TestWithParam<std::string> {};

TEST_P(ParseDurationInvalidTest, Rejects) {
  const std::optional<Millis> parsed = ParseDuration(GetParam());
  EXPECT_FALSE(parsed.has_value())
      << "'" << GetParam() << "' parsed as " << parsed->count() << "ms";
}

INSTANTIATE_TEST_SUITE_P(Table, ParseDurationInvalidTest,
                         testing::Values(
                             // Empty and blank.
                             "", " ", "\t\n",
                             // Missing or unknown unit.
                             "200", "1.5", "0", "5sec", "5S", "5MS", "5H", "5d",
                             "5us", "5ns", "5 s", "5ms ms", "1h30m", "ms", "s",
                             // Signs and malformed numbers.
                             "-1s", "+1s", "-0ms", ".5s", "1.s", "1..5s",
                             "1.2.3s", "1e3ms", "0x10s", "1,5s", "abc", "1s2",
                             // Beyond the hundred-year bound, including values
                             // that would overflow int64 if multiplied naively.
                             "876001h", "876000.001h", "3153600000001ms",
                             "99999999999999999999ms", "9223372036854775807ms",
                             "9223372036854775808h"));

TEST(ParseDurationTest, AcceptsStringViewWithoutTerminator) {
  const std::string text = "15sX";
  EXPECT_EQ(ParseDuration(std::string_view(text).substr(0, 3)),
            std::optional<Millis>(Millis(15000)));
}

struct FormatCase {
  int64_t millis;
  std::string text;
};

class FormatDurationTest : public testing::TestWithParam<FormatCase> {};

TEST_P(FormatDurationTest, Formats) {
  EXPECT_EQ(FormatDuration(Millis(GetParam().millis)), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Table, FormatDurationTest,
    testing::Values(
        FormatCase{0, "0ms"}, FormatCase{1, "1ms"}, FormatCase{200, "200ms"},
        FormatCase{999, "999ms"}, FormatCase{1000, "1s"},
        FormatCase{1200, "1.2s"}, FormatCase{1500, "1.5s"},
        FormatCase{1234, "1.234s"}, FormatCase{1050, "1.05s"},
        FormatCase{1001, "1.001s"}, FormatCase{59999, "59.999s"},
        FormatCase{60000, "1m"}, FormatCase{90000, "1.5m"},
        FormatCase{600000, "10m"},
        // Not a whole thousandth of a minute: seconds say it exactly.
        FormatCase{61000, "61s"}, FormatCase{60001, "60.001s"},
        FormatCase{3600000, "1h"}, FormatCase{5400000, "1.5h"},
        FormatCase{4500000, "1.25h"}, FormatCase{3660000, "61m"},
        FormatCase{86400000, "24h"}, FormatCase{-1500, "-1.5s"},
        FormatCase{-200, "-200ms"}));

TEST(FormatDurationTest, HandlesExtremeValues) {
  EXPECT_EQ(FormatDuration(Millis::max()), "9223372036854775.807s");
  EXPECT_EQ(FormatDuration(Millis::min()), "-9223372036854775.808s");
}

// Every formatted duration parses back to the same value, so log lines can
// be pasted into the configuration.
TEST(DurationRoundTripTest, FormatThenParseIsIdentity) {
  const int64_t samples[] = {0,
                             1,
                             7,
                             999,
                             1000,
                             1001,
                             1200,
                             59999,
                             60000,
                             60060,
                             61000,
                             3599999,
                             3600000,
                             3603600,
                             5400000,
                             86400000,
                             kHundredYearsMillis - 1,
                             kHundredYearsMillis};
  for (int64_t millis : samples) {
    const std::string text = FormatDuration(Millis(millis));
    EXPECT_EQ(ParseDuration(text), std::optional<Millis>(Millis(millis)))
        << text;
  }
  // And densely over the range where units change.
  for (int64_t millis = 0; millis <= 200000; millis += 7) {
    const std::string text = FormatDuration(Millis(millis));
    ASSERT_EQ(ParseDuration(text), std::optional<Millis>(Millis(millis)))
        << text;
  }
}

TEST(DurationRoundTripTest, ParseThenFormatNormalizes) {
  EXPECT_EQ(FormatDuration(*ParseDuration("1200ms")), "1.2s");
  EXPECT_EQ(FormatDuration(*ParseDuration("600s")), "10m");
  EXPECT_EQ(FormatDuration(*ParseDuration("60m")), "1h");
  EXPECT_EQ(FormatDuration(*ParseDuration("0.5s")), "500ms");
}

}  // namespace
}  // namespace domian
