#include "core/membership/rumours.h"

#include <gtest/gtest.h>

namespace domian::membership {
namespace {

Rumour About(const std::string& id, Rumour::Kind kind = Rumour::Kind::kAlive,
             uint64_t incarnation = 1) {
  Rumour rumour;
  rumour.about = id;
  rumour.kind = kind;
  rumour.incarnation = incarnation;
  return rumour;
}

std::vector<std::string> Abouts(const std::vector<Rumour>& rumours) {
  std::vector<std::string> ids;
  for (const Rumour& rumour : rumours) ids.push_back(rumour.about);
  return ids;
}

TEST(Rumours, TellingsGrowWithTheNumberOfGossipHops) {
  EXPECT_EQ(Rumours::TellingsFor(1), 3);
  EXPECT_EQ(Rumours::TellingsFor(5), 3);
  EXPECT_EQ(Rumours::TellingsFor(9), 3);
  EXPECT_EQ(Rumours::TellingsFor(10), 6);  // log10(11) > 1
  EXPECT_EQ(Rumours::TellingsFor(99), 6);
  EXPECT_EQ(Rumours::TellingsFor(100), 9);
  EXPECT_EQ(Rumours::TellingsFor(200), 9);
  EXPECT_EQ(Rumours::TellingsFor(1000), 12);
}

TEST(Rumours, EachRumourIsToldAsOftenAsTheClusterNeedsThenDropped) {
  Rumours rumours;
  rumours.Add(About("x"));
  for (int i = 0; i < Rumours::TellingsFor(5); ++i) {
    EXPECT_EQ(Abouts(rumours.Take(8, 5)), std::vector<std::string>{"x"}) << i;
  }
  EXPECT_TRUE(rumours.empty());
  EXPECT_TRUE(rumours.Take(8, 5).empty());
}

TEST(Rumours, TheLeastToldGoFirstAndTheNewestAmongEquals) {
  Rumours rumours;
  rumours.Add(About("old"));
  rumours.Take(1, 5);  // "old" told once
  rumours.Add(About("a"));
  rumours.Add(About("b"));
  // a and b untold; b is newer.
  EXPECT_EQ(Abouts(rumours.Take(1, 5)), std::vector<std::string>{"b"});
  EXPECT_EQ(Abouts(rumours.Take(1, 5)), std::vector<std::string>{"a"});
  // Now all three were told once: newest first (b was added after a).
  EXPECT_EQ(Abouts(rumours.Take(3, 5)), (std::vector<std::string>{"b", "a", "old"}));
}

TEST(Rumours, ANewerRumourAboutTheSameMemberReplacesTheOldAndIsToldAfresh) {
  Rumours rumours;
  rumours.Add(About("x", Rumour::Kind::kSuspect, 4));
  rumours.Take(1, 5);
  rumours.Take(1, 5);
  rumours.Add(About("x", Rumour::Kind::kAlive, 5));  // the refutation
  EXPECT_EQ(rumours.size(), 1u);
  for (int i = 0; i < Rumours::TellingsFor(5); ++i) {
    const std::vector<Rumour> told = rumours.Take(8, 5);
    ASSERT_EQ(told.size(), 1u) << i;
    EXPECT_EQ(told[0].kind, Rumour::Kind::kAlive);
    EXPECT_EQ(told[0].incarnation, 5u);
  }
  EXPECT_TRUE(rumours.empty());
}

TEST(Rumours, TakeNeverGivesMoreThanAsked) {
  Rumours rumours;
  for (int i = 0; i < 20; ++i) rumours.Add(About("m" + std::to_string(i)));
  EXPECT_EQ(rumours.Take(6, 20).size(), 6u);
  EXPECT_EQ(rumours.Take(0, 20).size(), 0u);
  EXPECT_EQ(rumours.size(), 20u);
}

TEST(Rumours, WhatIsQueuedAboutAMemberCanBeReadWithoutTellingIt) {
  Rumours rumours;
  EXPECT_EQ(rumours.About("x"), nullptr);
  rumours.Add(About("x", Rumour::Kind::kSuspect, 4));
  for (int i = 0; i < 2 * Rumours::TellingsFor(5); ++i) {
    ASSERT_NE(rumours.About("x"), nullptr);
    EXPECT_EQ(rumours.About("x")->kind, Rumour::Kind::kSuspect);
  }
  EXPECT_EQ(rumours.size(), 1u);
}

TEST(Rumours, AForgottenMemberIsNoLongerTalkedAbout) {
  Rumours rumours;
  rumours.Add(About("x"));
  rumours.Add(About("y"));
  rumours.Forget("x");
  EXPECT_EQ(Abouts(rumours.Take(8, 5)), std::vector<std::string>{"y"});
}

TEST(Rumours, AFullQueueMakesRoomByDroppingTheMostTold) {
  Rumours rumours;
  for (size_t i = 0; i < Rumours::kMaxRumours; ++i) rumours.Add(About("m" + std::to_string(i)));
  // Tell the newest 10 once each: they are the most told now.
  const std::vector<Rumour> told = rumours.Take(10, 1000);
  ASSERT_EQ(told.size(), 10u);
  rumours.Add(About("newcomer"));
  EXPECT_EQ(rumours.size(), Rumours::kMaxRumours);
  // The oldest of the told ones made room; the newcomer comes out first.
  std::vector<Rumour> all = rumours.Take(Rumours::kMaxRumours, 1000);
  EXPECT_EQ(all.front().about, "newcomer");
  size_t told_left = 0;
  for (const Rumour& rumour : all) {
    for (const Rumour& once : told) told_left += rumour.about == once.about;
  }
  EXPECT_EQ(told_left, 9u);
  for (const Rumour& rumour : all) EXPECT_NE(rumour.about, told.back().about);
}

}  // namespace
}  // namespace domian::membership
