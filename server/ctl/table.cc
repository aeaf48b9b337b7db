#include "server/ctl/table.h"

#include <algorithm>

#include "server/ctl/display_text.h"

namespace mamori::ctl {

Table::Table(std::vector<std::string> headers) {
  for (std::string& h : headers) columns_.push_back(Column{std::move(h), 0, false});
}

Table& Table::SetMaxWidth(std::size_t column, int width) {
  if (column < columns_.size()) columns_[column].max_width = width;
  return *this;
}

Table& Table::SetRightAligned(std::size_t column) {
  if (column < columns_.size()) columns_[column].right = true;
  return *this;
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    cells[i] = TerminalSafe(cells[i]);
    if (columns_[i].max_width > 0) cells[i] = TruncateToWidth(cells[i], columns_[i].max_width);
  }
  rows_.push_back(std::move(cells));
}

void Table::Render(std::ostream& out) const {
  std::vector<int> widths;
  for (const Column& c : columns_) widths.push_back(DisplayWidth(c.header));
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const int pad = widths[i] - DisplayWidth(cells[i]);
      const bool last = i + 1 == cells.size();
      if (i > 0) line += "  ";
      if (columns_[i].right) {
        line.append(static_cast<std::size_t>(pad), ' ');
        line += cells[i];
      } else {
        line += cells[i];
        // No trailing blanks: they confuse diff and copy-paste.
        if (!last) line.append(static_cast<std::size_t>(pad), ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  std::vector<std::string> header;
  for (const Column& c : columns_) header.push_back(c.header);
  print_row(header);
  for (const auto& row : rows_) print_row(row);
}

}  // namespace mamori::ctl
