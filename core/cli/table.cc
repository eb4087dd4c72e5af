#include "core/cli/table.h"

#include <algorithm>

namespace domian::cli {

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {
  std::vector<std::string> header;
  for (const Column& column : columns_) header.push_back(column.header);
  Add(header);
}

void Table::Add(const std::vector<std::string>& cells) {
  std::vector<std::string> row;
  row.reserve(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    row.push_back(i < cells.size() ? Printable(cells[i], columns_[i].max_chars) : std::string());
  }
  rows_.push_back(std::move(row));
}

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (size_t i = 0; i < columns_.size(); ++i) {
    size_t width = columns_[i].min_width;
    for (const auto& row : rows_) width = std::max(width, DisplayWidth(row[i]));
    widths.push_back(width);
  }
  std::string out;
  for (const auto& row : rows_) {
    for (size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = row[i];
      if (i + 1 == columns_.size()) {
        out += cell;
        break;
      }
      const std::string padding(widths[i] - DisplayWidth(cell), ' ');
      if (columns_[i].align == Align::kRight) {
        out += padding + cell;
      } else {
        out += cell + padding;
      }
      out.append(columns_[i].gap, ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace domian::cli
