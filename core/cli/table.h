// Tables for domianctl: every cell goes through Printable (it may come from
// another node), and each column is as wide as its widest cell, so neither
// an escape sequence nor a long name can shift or fake a row.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/cli/printable.h"

namespace domian::cli {

class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    size_t min_width = 0;
    Align align = Align::kLeft;
    size_t gap = 1;  // spaces before the next column
    size_t max_chars = kMaxFieldChars;
  };

  explicit Table(std::vector<Column> columns);

  // One row, a cell per column (missing cells are empty, extra ones
  // dropped), shown as Printable(cell, that column's max_chars).
  void Add(const std::vector<std::string>& cells);

  // The header and the rows, one line each. The last column is not padded.
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;  // printable cells, header first
};

}  // namespace domian::cli
