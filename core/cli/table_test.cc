#include "core/cli/table.h"

#include <gtest/gtest.h>

namespace domian::cli {
namespace {

TEST(Table, PadsColumnsToTheirWidestCellAndLeavesTheLastUnpadded) {
  Table table({{.header = "ID", .min_width = 4},
               {.header = "N", .align = Table::Align::kRight, .gap = 2},
               {.header = "WHAT"}});
  table.Add({"kitchen", "7", "lamp"});
  table.Add({"ha", "1234", ""});
  EXPECT_EQ(table.Render(),
            "ID         N  WHAT\n"
            "kitchen    7  lamp\n"
            "ha      1234  \n");
}

TEST(Table, ShowsCellsEscapedSoNoneCanFakeARow) {
  Table table({{.header = "ID"}, {.header = "DETAIL"}});
  table.Add({"a\x1b[2J", "ok\nb        fake row"});
  EXPECT_EQ(table.Render(),
            "ID       DETAIL\n"
            "a\\x1b[2J ok\\nb        fake row\n");
}

TEST(Table, CountsWideCharactersAsTwoColumns) {
  Table table({{.header = "ROOM"}, {.header = "X"}});
  table.Add({"客厅", "1"});
  table.Add({"Küche", "2"});
  EXPECT_EQ(table.Render(),
            "ROOM  X\n"
            "客厅  1\n"
            "Küche 2\n");
}

TEST(Table, CutsCellsAtTheColumnsLimit) {
  Table table({{.header = "A", .max_chars = 3}, {.header = "B"}});
  table.Add({"abcdef", "x"});
  table.Add({"ab"});  // a missing cell is empty
  EXPECT_EQ(table.Render(),
            "A      B\n"
            "abc... x\n"
            "ab     \n");
}

}  // namespace
}  // namespace domian::cli
