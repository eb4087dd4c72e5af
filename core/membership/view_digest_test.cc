#include "core/membership/view_digest.h"

#include <gtest/gtest.h>

namespace domian::membership {
namespace {

std::vector<DigestEntry> View() {
  return {{"kitchen", 3, 7, false}, {"attic", 1, 2, false}, {"cellar", 9, 1, true}};
}

TEST(ViewDigest, TheSameViewInAnyOrderHasTheSameDigest) {
  std::vector<DigestEntry> reordered = View();
  std::swap(reordered[0], reordered[2]);
  EXPECT_EQ(ViewDigest(View()), ViewDigest(reordered));
}

TEST(ViewDigest, EveryFieldOfEveryEntryChangesIt) {
  const uint64_t base = ViewDigest(View());
  for (size_t i = 0; i < 3; ++i) {
    auto changed = View();
    changed[i].incarnation += 1;
    EXPECT_NE(ViewDigest(changed), base) << "incarnation " << i;
    changed = View();
    changed[i].revision += 1;
    EXPECT_NE(ViewDigest(changed), base) << "revision " << i;
    changed = View();
    changed[i].dead = !changed[i].dead;
    EXPECT_NE(ViewDigest(changed), base) << "dead " << i;
    changed = View();
    changed.erase(changed.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_NE(ViewDigest(changed), base) << "missing " << i;
  }
}

TEST(ViewDigest, IdsAreDelimitedSoTheyCannotRunTogether) {
  // "ab" + "c" must not hash like "a" + "bc".
  EXPECT_NE(ViewDigest({{"ab", 1, 1, false}, {"c", 1, 1, false}}),
            ViewDigest({{"a", 1, 1, false}, {"bc", 1, 1, false}}));
}

TEST(ViewDigest, IsFnv1aOverTheDocumentedBytes) {
  // The empty view is FNV-1a's offset basis; one entry, computed by hand
  // from the layout in view_digest.h, so another implementation can check
  // itself against these numbers.
  EXPECT_EQ(ViewDigest({}), 14695981039346656037ULL);
  uint64_t hash = 14695981039346656037ULL;
  auto mix = [&](uint8_t byte) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  };
  for (char c : std::string("a")) mix(static_cast<uint8_t>(c));
  mix(0);
  const uint8_t incarnation[8] = {2, 0, 0, 0, 0, 0, 0, 0};
  const uint8_t revision[8] = {0, 1, 0, 0, 0, 0, 0, 0};  // 256
  for (uint8_t byte : incarnation) mix(byte);
  for (uint8_t byte : revision) mix(byte);
  mix(1);
  EXPECT_EQ(ViewDigest({{"a", 2, 256, true}}), hash);
  // The three-member view above, as computed by a short Python script
  // from the same description.
  EXPECT_EQ(ViewDigest(View()), 3579200145774788683ULL);
}

}  // namespace
}  // namespace domian::membership
