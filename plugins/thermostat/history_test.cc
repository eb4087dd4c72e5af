// History on times the test makes up: the spacing, the first reading
// replacing a placeholder, the 24 h bound, and what `hours` selects.
#include "plugins/thermostat/history.h"

#include <gtest/gtest.h>

namespace domian::thermostat {
namespace {

using namespace std::chrono_literals;
using Time = std::chrono::steady_clock::time_point;

const Time kStart = Time{} + 1000h;
constexpr int64_t kWallMs = 1'800'000'000'000;  // "now" on the wall clock

HistorySample At(std::chrono::seconds offset, std::optional<double> celsius = 20.0, bool relay = false) {
  return {kStart + offset, celsius, 21.0, relay};
}

TEST(History, KeepsOneSamplePerSpacing) {
  History history;
  history.Record(At(0s, 19.0));
  history.Record(At(1s, 19.5));   // within the spacing: dropped
  history.Record(At(29s, 19.6));  // still within
  history.Record(At(30s, 20.0, true));
  ASSERT_EQ(history.size(), 2U);
  const auto json = history.Json(kStart + 30s, kWallMs, 24h);
  ASSERT_EQ(json.size(), 2U);
  EXPECT_EQ(json[0]["t"], kWallMs - 30000);
  EXPECT_EQ(json[0]["temperature"], 19.0);
  EXPECT_EQ(json[0]["target"], 21.0);
  EXPECT_EQ(json[0]["relay"], false);
  EXPECT_EQ(json[1]["t"], kWallMs);
  EXPECT_EQ(json[1]["temperature"], 20.0);
  EXPECT_EQ(json[1]["relay"], true);
}

TEST(History, TheFirstReadingReplacesASampleWithoutOne) {
  History history;
  history.Record(At(0s, std::nullopt));  // started, nothing read yet
  history.Record(At(2s, 18.5));
  history.Record(At(3s, std::nullopt));  // a reading lost: the kept one stays
  ASSERT_EQ(history.size(), 1U);
  const auto json = history.Json(kStart + 3s, kWallMs, 1h);
  EXPECT_EQ(json[0]["temperature"], 18.5);
  EXPECT_EQ(json[0]["t"], kWallMs - 1000);

  history.Record(At(40s, std::nullopt));  // no reading at the next: null, not bridged
  EXPECT_TRUE(history.Json(kStart + 40s, kWallMs, 1h)[1]["temperature"].is_null());
}

TEST(History, HoldsADayAtMost) {
  History history;
  // Two days at one sample per 10 s: a third of them kept while recorded,
  // then only the last 24 h.
  for (int s = 0; s <= 48 * 3600; s += 10) history.Record(At(std::chrono::seconds(s)));
  EXPECT_LE(history.size(), kHistoryCapacity);
  const Time now = kStart + 48h;
  const auto day = history.Json(now, kWallMs, 24h);
  EXPECT_EQ(day.size(), kHistoryCapacity);
  EXPECT_EQ(day.front()["t"], kWallMs - 24 * 3600 * 1000);
  const auto hour = history.Json(now, kWallMs, 1h);
  EXPECT_EQ(hour.size(), 121U);  // both ends included
  EXPECT_EQ(hour.front()["t"], kWallMs - 3600 * 1000);
  EXPECT_EQ(hour.back()["t"], kWallMs);
}

TEST(History, AGapLongerThanADayLeavesOnlyTheNewSample) {
  History history;
  history.Record(At(0s));
  history.Record(At(30s));
  history.Record(At(std::chrono::hours(25) + 60s));
  EXPECT_EQ(history.size(), 1U);
}

}  // namespace
}  // namespace domian::thermostat
