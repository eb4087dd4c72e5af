// WriteDebouncer on a test's clock: the first change at once, the rest
// coalesced into one write per interval, and the last change never lost.
#include "core/common/write_debouncer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace domian {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class WriteDebouncerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  WriteDebouncer debouncer_{clock_, 1s};
};

TEST_F(WriteDebouncerTest, TheFirstChangeIsWrittenAtOnce) {
  EXPECT_TRUE(debouncer_.Changed("lights"));
  EXPECT_FALSE(debouncer_.pending("lights"));
  EXPECT_EQ(debouncer_.NextDue(), std::nullopt);
  EXPECT_TRUE(debouncer_.Changed("thermostat")) << "each file has its own interval";
}

TEST_F(WriteDebouncerTest, ChangesWithinTheIntervalAreOneWriteWhenItEnds) {
  const MonoTime start = clock_.Now();
  ASSERT_TRUE(debouncer_.Changed("lights"));
  for (int i = 0; i < 50; ++i) {
    clock_.Advance(10ms);
    EXPECT_FALSE(debouncer_.Changed("lights"));
  }
  EXPECT_TRUE(debouncer_.pending("lights"));
  EXPECT_EQ(debouncer_.NextDue(), start + 1s);
  clock_.Advance(499ms);
  EXPECT_THAT(debouncer_.TakeDue(), IsEmpty()) << "1 ms early";
  clock_.Advance(1ms);
  EXPECT_THAT(debouncer_.TakeDue(), ElementsAre("lights"));
  EXPECT_FALSE(debouncer_.pending("lights"));
  EXPECT_THAT(debouncer_.TakeDue(), IsEmpty()) << "written once";
  // That write opened a new interval.
  clock_.Advance(100ms);
  EXPECT_FALSE(debouncer_.Changed("lights"));
  EXPECT_EQ(debouncer_.NextDue(), start + 2s);
}

TEST_F(WriteDebouncerTest, AChangeAfterAQuietIntervalIsWrittenAtOnce) {
  ASSERT_TRUE(debouncer_.Changed("lights"));
  clock_.Advance(1s);
  EXPECT_TRUE(debouncer_.Changed("lights"));
  clock_.Advance(5s);
  EXPECT_THAT(debouncer_.TakeDue(), IsEmpty());
  EXPECT_TRUE(debouncer_.Changed("lights"));
}

TEST_F(WriteDebouncerTest, APendingChangeWhoseIntervalEndedIsWrittenByTheNextChange) {
  ASSERT_TRUE(debouncer_.Changed("lights"));
  clock_.Advance(500ms);
  ASSERT_FALSE(debouncer_.Changed("lights"));
  clock_.Advance(600ms);  // the caller's timer is late
  EXPECT_TRUE(debouncer_.Changed("lights")) << "carries the pending change too";
  EXPECT_THAT(debouncer_.TakeDue(), IsEmpty()) << "not written twice";
}

TEST_F(WriteDebouncerTest, AFailedWriteIsRetriedWhenTheIntervalEnds) {
  ASSERT_TRUE(debouncer_.Changed("lights"));
  // The write failed (a full disk): the caller says so by a change.
  EXPECT_FALSE(debouncer_.Changed("lights"));
  clock_.Advance(1s);
  EXPECT_THAT(debouncer_.TakeDue(), ElementsAre("lights"));
}

TEST_F(WriteDebouncerTest, FilesFallDueEachOnItsOwnInterval) {
  const MonoTime start = clock_.Now();
  ASSERT_TRUE(debouncer_.Changed("b"));
  clock_.Advance(300ms);
  ASSERT_TRUE(debouncer_.Changed("a"));
  EXPECT_FALSE(debouncer_.Changed("a"));
  EXPECT_FALSE(debouncer_.Changed("b"));
  EXPECT_EQ(debouncer_.NextDue(), start + 1s) << "b's interval ends first";
  clock_.Advance(700ms);
  EXPECT_THAT(debouncer_.TakeDue(), ElementsAre("b"));
  EXPECT_EQ(debouncer_.NextDue(), start + 1300ms);
  clock_.Advance(300ms);
  EXPECT_THAT(debouncer_.TakeDue(), ElementsAre("a"));
  EXPECT_EQ(debouncer_.NextDue(), std::nullopt);
}

TEST_F(WriteDebouncerTest, AFlushWritesAPendingChangeAtOnce) {
  EXPECT_FALSE(debouncer_.Flush("lights")) << "nothing to write";
  ASSERT_TRUE(debouncer_.Changed("lights"));
  EXPECT_FALSE(debouncer_.Flush("lights")) << "written already";
  ASSERT_FALSE(debouncer_.Changed("lights"));
  ASSERT_TRUE(debouncer_.Changed("thermostat"));
  ASSERT_FALSE(debouncer_.Changed("thermostat"));
  EXPECT_TRUE(debouncer_.Flush("lights"));
  EXPECT_FALSE(debouncer_.pending("lights"));
  EXPECT_THAT(debouncer_.FlushAll(), ElementsAre("thermostat"));
  clock_.Advance(1s);
  EXPECT_THAT(debouncer_.TakeDue(), IsEmpty());
}

TEST_F(WriteDebouncerTest, AForgottenFileHasNothingPendingAndStartsAfresh) {
  ASSERT_TRUE(debouncer_.Changed("lights"));
  ASSERT_FALSE(debouncer_.Changed("lights"));
  debouncer_.Forget("lights");
  EXPECT_FALSE(debouncer_.pending("lights"));
  clock_.Advance(1s);
  EXPECT_THAT(debouncer_.TakeDue(), IsEmpty());
  EXPECT_TRUE(debouncer_.Changed("lights"));
}

}  // namespace
}  // namespace domian
