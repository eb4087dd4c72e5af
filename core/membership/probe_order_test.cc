#include "core/membership/probe_order.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace domian::membership {
namespace {

bool Any(const std::string&) { return true; }

TEST(ProbeOrder, EveryMemberIsProbedOncePerLap) {
  ProbeOrder order(7);
  for (const char* id : {"a", "b", "c", "d", "e"}) order.Add(id);
  for (int lap = 0; lap < 20; ++lap) {
    std::multiset<std::string> seen;
    for (int i = 0; i < 5; ++i) seen.insert(*order.Next(Any));
    EXPECT_EQ(seen, (std::multiset<std::string>{"a", "b", "c", "d", "e"})) << lap;
  }
}

TEST(ProbeOrder, LapsAreShuffledSoNoMemberHasAFixedPlace) {
  ProbeOrder order(11);
  for (const char* id : {"a", "b", "c", "d"}) order.Add(id);
  std::map<std::string, std::set<int>> places;
  for (int lap = 0; lap < 40; ++lap) {
    for (int i = 0; i < 4; ++i) places[*order.Next(Any)].insert(i);
  }
  // Over 40 laps each member has been probed in every position of a lap.
  for (const auto& [id, seen] : places) EXPECT_EQ(seen.size(), 4u) << id;
}

TEST(ProbeOrder, AMemberThatJoinsMidLapIsProbedWithinThatLap) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    ProbeOrder order(seed);
    for (const char* id : {"a", "b", "c", "d"}) order.Add(id);
    for (int lap = 0; lap < 3; ++lap) {
      for (int i = 0; i < 4; ++i) order.Next(Any);
    }
    order.Next(Any);  // one into the fourth lap
    order.Add("new");
    std::set<std::string> rest;
    for (int i = 0; i < 4; ++i) rest.insert(*order.Next(Any));
    // The lap's three remaining members and the newcomer, nobody twice.
    EXPECT_EQ(rest.size(), 4u) << seed;
    EXPECT_TRUE(rest.count("new")) << seed;
  }
}

TEST(ProbeOrder, IneligibleMembersAreSkippedAndNoneMeansNobody) {
  // Whatever a new lap's shuffle puts last, the one eligible member is found.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    ProbeOrder order(seed);
    for (const char* id : {"a", "b", "c"}) order.Add(id);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(order.Next([](const std::string& id) { return id == "b"; }), "b") << seed;
    }
  }
  ProbeOrder order(3);
  for (const char* id : {"a", "b", "c"}) order.Add(id);
  EXPECT_EQ(order.Next([](const std::string&) { return false; }), std::nullopt);
  ProbeOrder empty(3);
  EXPECT_EQ(empty.Next(Any), std::nullopt);
}

TEST(ProbeOrder, RemovedMembersAreNotProbedAndAddingTwiceKeepsOne) {
  ProbeOrder order(5);
  for (const char* id : {"a", "b", "c"}) order.Add(id);
  order.Add("b");
  EXPECT_EQ(order.size(), 3u);
  order.Next(Any);
  order.Remove("a");
  order.Remove("zzz");
  EXPECT_EQ(order.size(), 2u);
  for (int i = 0; i < 10; ++i) EXPECT_NE(*order.Next(Any), "a");
}

}  // namespace
}  // namespace domian::membership
