// DropFilter: a sudden drop counts only once the next reading agrees with
// it; everything else counts at once. Time is passed in.
#include "plugins/thermostat/drop_filter.h"

#include <gtest/gtest.h>

namespace domian::thermostat {
namespace {

using namespace std::chrono_literals;
using Sample = DropFilter::Sample;

const auto kT0 = std::chrono::steady_clock::time_point() + 1000h;
constexpr double kMaxDrop = kDefaultMaxDropCPerMin;

// A filter whose readings (21 °C) count.
DropFilter Settled() {
  DropFilter filter(kMaxDrop);
  filter.Add({21.0, kT0});
  filter.Add({21.0, kT0 + 3s});
  return filter;
}

TEST(DropFilter, AFirstReadingCountsAtOnceAndTheNextRiseReplacesIt) {
  // Nothing to compare a first reading with; a glitch then is covered by
  // the minimum off time from the start, and the next reading replaces it.
  DropFilter filter(kMaxDrop);
  filter.Add({-10.0, kT0});
  ASSERT_TRUE(filter.counted());
  EXPECT_EQ(filter.counted()->celsius, -10.0);
  filter.Add({21.0, kT0 + 3s});
  EXPECT_EQ(filter.counted()->celsius, 21.0);
  EXPECT_FALSE(filter.held());
}

TEST(DropFilter, OrdinaryReadingsCountAtOnce) {
  DropFilter filter = Settled();
  // Noise of a sensor step either way, and a steady cooling just within
  // the limit (0.5 + 2 °C/min × 0.5 min).
  filter.Add({20.94, kT0 + 6s});
  EXPECT_EQ(filter.counted()->celsius, 20.94);
  filter.Add({19.5, kT0 + 36s});
  EXPECT_EQ(filter.counted()->celsius, 19.5);
  EXPECT_FALSE(filter.held());
}

TEST(DropFilter, AOneReadingGlitchToMinusTenNeverCounts) {
  DropFilter filter = Settled();
  filter.Add({-10.0, kT0 + 4500ms});  // 1.5 s after the last one
  ASSERT_TRUE(filter.counted());
  EXPECT_EQ(filter.counted()->celsius, 21.0) << "the glitch counted";
  EXPECT_EQ(filter.counted()->at, kT0 + 3s) << "the counted reading ages as usual";
  ASSERT_TRUE(filter.held());
  EXPECT_EQ(filter.held()->celsius, -10.0);
  EXPECT_NE(filter.why_held().find("a drop of 31.00 °C in 1.5 s"), std::string::npos)
      << filter.why_held();
  filter.Add({21.0, kT0 + 7s});  // the next one is normal again
  EXPECT_EQ(filter.counted()->celsius, 21.0);
  EXPECT_EQ(filter.counted()->at, kT0 + 7s);
  EXPECT_FALSE(filter.held());
}

TEST(DropFilter, ADropThatPersistsCountsAtTheSecondReading) {
  DropFilter filter = Settled();
  filter.Add({14.0, kT0 + 6s});
  EXPECT_EQ(filter.counted()->celsius, 21.0);
  filter.Add({14.06, kT0 + 9s});
  EXPECT_EQ(filter.counted()->celsius, 14.06);
  EXPECT_FALSE(filter.held());
}

TEST(DropFilter, TwoDifferentGlitchesInARowDoNotConfirmEachOther) {
  DropFilter filter = Settled();
  filter.Add({-10.0, kT0 + 6s});
  filter.Add({5.0, kT0 + 9s});
  EXPECT_EQ(filter.counted()->celsius, 21.0);
  ASSERT_TRUE(filter.held());
  EXPECT_EQ(filter.held()->celsius, 5.0);
}

TEST(DropFilter, ARiseCountsAtOnceHoweverFast) {
  // Only heat is held back: a rise can only switch the relay OFF.
  DropFilter filter = Settled();
  filter.Add({40.0, kT0 + 4s});
  EXPECT_EQ(filter.counted()->celsius, 40.0);
  EXPECT_FALSE(filter.held());
}

TEST(DropFilter, AfterALongSilenceALowerReadingWithinTheRateCounts) {
  DropFilter filter = Settled();
  // Ten minutes without a valid reading: the room may have cooled 20 °C
  // at the limit, so 15 °C is plausible.
  filter.Add({15.0, kT0 + 3s + 10min});
  EXPECT_EQ(filter.counted()->celsius, 15.0);
}

}  // namespace
}  // namespace domian::thermostat
