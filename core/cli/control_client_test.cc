#include "core/cli/control_client.h"

#include <gtest/gtest.h>

namespace domian::cli {
namespace {

TEST(JsonText, StaysOneValidDocumentWhenAStringIsNotUtf8) {
  const nlohmann::json document = {{"detail", "ok \xff\xfe end"}, {"escape", "\x1b[2J"}};
  const std::string text = JsonText(document);
  ASSERT_TRUE(nlohmann::json::accept(text)) << text;
  const auto back = nlohmann::json::parse(text);
  EXPECT_EQ(back["detail"], "ok \xef\xbf\xbd\xef\xbf\xbd end");  // U+FFFD twice
  EXPECT_EQ(back["escape"], "\x1b[2J");  // exact: JSON escapes it, the reader gets it back
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace domian::cli
