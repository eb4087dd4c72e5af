#include "core/cli/control_client.h"

#include <gtest/gtest.h>

#include <sstream>

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

TEST(ReadArguments, ReturnsADocumentWithinTheLimit) {
  std::istringstream in(R"({"on": true})");
  const auto read = ReadArguments(in);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, R"({"on": true})");
}

TEST(ReadArguments, NamesTheSizeAndTheLimitWhenOver) {
  std::istringstream in(std::string(3 << 20, ' '));
  const auto read = ReadArguments(in);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(),
            "the arguments are 3145728 bytes, over the limit of 1048576 (1 MiB)");
}

TEST(ReadArguments, TakesADocumentOfExactlyTheLimit) {
  std::istringstream in(std::string(1 << 20, ' '));
  const auto read = ReadArguments(in);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), size_t{1} << 20);
}

}  // namespace
}  // namespace domian::cli
