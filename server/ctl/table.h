#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace mamori::ctl {

// A plain-text table in the style of `kubectl get`: an upper-case header
// row, columns separated by two spaces, widths measured in terminal columns
// (Japanese group names and owners take two columns per character).
//
// Every cell goes through TerminalSafe, so callers may pass device strings
// as they came off the wire.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // Caps a column's width; longer cells are cut with "...". 0 = no cap.
  Table& SetMaxWidth(std::size_t column, int width);
  // Numbers read better right-aligned.
  Table& SetRightAligned(std::size_t column);

  // Missing cells are blank, extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }

  void Render(std::ostream& out) const;

 private:
  struct Column {
    std::string header;
    int max_width = 0;
    bool right = false;
  };
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;  // safe and truncated
};

}  // namespace mamori::ctl
