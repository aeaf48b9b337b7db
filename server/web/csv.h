#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mamori::web {

// RFC 4180 CSV as spreadsheet programs open it: UTF-8 with a byte-order
// mark (Excel otherwise reads Shift_JIS on Japanese Windows), CRLF line
// ends, every cell quoted.
//
// Cells hold attacker-chosen text (device strings, user names), so each is
// made inert before it is written:
// - invalid UTF-8 becomes U+FFFD; control characters (line breaks and tabs
//   included) become "\xNN" and bidirectional or zero-width characters
//   "\uNNNN", so a row is one line and reads as it is stored;
// - a cell starting with = + - @ (or their full-width forms), a tab or a
//   carriage return gets a leading single quote, so a spreadsheet never
//   evaluates it as a formula (CSV injection);
// - a cell is cut at 32,000 bytes (a spreadsheet cell holds 32,767
//   characters).
class CsvWriter {
 public:
  // Starts `out` with the byte-order mark.
  explicit CsvWriter(std::string* out);

  void Row(const std::vector<std::string>& cells);
  std::size_t rows() const { return rows_; }

 private:
  std::string* out_;
  std::size_t rows_ = 0;
};

// One cell as CsvWriter writes it, quotes included.
std::string CsvCell(std::string_view value);

inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace mamori::web
