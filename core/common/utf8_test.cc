#include "core/common/utf8.h"

#include <gtest/gtest.h>

namespace domian {
namespace {

TEST(Utf8, WellFormedTextIsKeptAsItIs) {
  for (const std::string text : {"", "plain", "Küche 21 °C", "😀 ok", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
    EXPECT_EQ(ToValidUtf8(text), text);
  }
}

TEST(Utf8, EveryBadByteBecomesAReplacementCharacter) {
  const std::string kFffd = "\xEF\xBF\xBD";
  EXPECT_EQ(ToValidUtf8("a\xFF" "b"), "a" + kFffd + "b");
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), kFffd + kFffd) << "overlong '/'";
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), kFffd + kFffd + kFffd) << "a surrogate";
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd) << "past U+10FFFF";
  EXPECT_EQ(ToValidUtf8("cut \xE2\x82"), "cut " + kFffd + kFffd) << "cut mid-character";
  for (const std::string bad : {"a\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xE2\x82"}) {
    EXPECT_FALSE(IsValidUtf8(bad));
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8(bad)));
  }
}

}  // namespace
}  // namespace domian
