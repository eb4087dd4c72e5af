#include "core/cli/printable.h"

#include <gtest/gtest.h>

namespace domian::cli {
namespace {

TEST(Printable, KeepsPrintableUtf8AsItIs) {
  EXPECT_EQ(Printable("kitchen-1"), "kitchen-1");
  EXPECT_EQ(Printable("Küche: 21,5 °C"), "Küche: 21,5 °C");
  EXPECT_EQ(Printable("客厅 🙂"), "客厅 🙂");
  EXPECT_EQ(Printable("C:\\path"), "C:\\path");  // backslashes are text
  EXPECT_EQ(Printable(""), "");
}

TEST(Printable, EscapesControlCharacters) {
  EXPECT_EQ(Printable("\x1b[2J\x1b[Hfake"), "\\x1b[2J\\x1b[Hfake");
  EXPECT_EQ(Printable("one\ntwo\r\tthree"), "one\\ntwo\\r\\tthree");
  EXPECT_EQ(Printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(Printable("bell\x07 del\x7f"), "bell\\x07 del\\x7f");
}

TEST(Printable, EscapesC1ControlsAndInvisibleFormatCharacters) {
  EXPECT_EQ(Printable("\xc2\x9b" "2J"), "\\u009b2J");           // CSI, one character
  EXPECT_EQ(Printable("abc\xe2\x80\xae" "fed"), "abc\\u202efed");  // right-to-left override
  EXPECT_EQ(Printable("a\xe2\x80\x8b" "b"), "a\\u200bb");          // zero-width space
  EXPECT_EQ(Printable("a\xe2\x80\xa8" "b"), "a\\u2028b");          // line separator
  EXPECT_EQ(Printable("\xef\xbb\xbfx"), "\\ufeffx");               // byte order mark
  EXPECT_EQ(Printable("\xf3\xa0\x80\x81"), "\\U000e0001");         // language tag
}

TEST(Printable, EscapesBytesThatAreNotUtf8OneByOne) {
  EXPECT_EQ(Printable("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(Printable("caf\xe9"), "caf\\xe9");                // Latin-1, not UTF-8
  EXPECT_EQ(Printable("\xc0\xaf"), "\\xc0\\xaf");             // overlong '/'
  EXPECT_EQ(Printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");    // a surrogate
  EXPECT_EQ(Printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  EXPECT_EQ(Printable("\xe2\x82"), "\\xe2\\x82");             // cut short
  EXPECT_EQ(Printable("\xe2\x82" "ok"), "\\xe2\\x82ok");      // and resumes
}

TEST(Printable, CutsAfterMaxCharactersAndMarksIt) {
  EXPECT_EQ(Printable("abcdef", 6), "abcdef");
  EXPECT_EQ(Printable("abcdefg", 6), "abcdef" + std::string(kCutMark));
  EXPECT_EQ(Printable("ääää", 2), "ää" + std::string(kCutMark));  // characters, not bytes
  // An escape is never cut in half.
  EXPECT_EQ(Printable("ab\x1b", 4), "ab" + std::string(kCutMark));
  EXPECT_EQ(Printable(std::string(1 << 20, 'x')).size(), kMaxFieldChars + kCutMark.size());
  EXPECT_EQ(Printable(std::string(1 << 20, '\x1b')).size(),
            kMaxFieldChars / 4 * 4 + kCutMark.size());
}

TEST(Printable, OfItsOwnResultIsThatResult) {
  const std::string hostile = "\x1b]0;title\x07\xc2\x9b\xe2\x80\xae\xff\nok Küche";
  const std::string shown = Printable(hostile);
  EXPECT_EQ(Printable(shown), shown);
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(byte >= 0x20 && byte != 0x7f) << "byte " << int(byte) << " in " << shown;
  }
}

TEST(DisplayWidth, CountsTerminalColumns) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("Küche"), 5u);
  EXPECT_EQ(DisplayWidth("e\xcc\x81"), 1u);  // e + combining acute
  EXPECT_EQ(DisplayWidth("客厅"), 4u);
  EXPECT_EQ(DisplayWidth(Printable("\x1b[2J")), 7u);  // "\x1b[2J" as shown
}

}  // namespace
}  // namespace domian::cli
