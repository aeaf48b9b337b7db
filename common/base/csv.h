#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mamori {

// CSV files, written as spreadsheet programs open them and read back as
// RFC 4180 says: the events export and the media ledger's export and
// import share this one writer and its formula guard.
//
// Written: UTF-8 with a byte-order mark (Excel otherwise reads Shift_JIS on
// Japanese Windows), CRLF line ends, every cell quoted (or, for files
// people also edit by hand, only cells holding a comma or a quote).
//
// Cells hold attacker-chosen text (device strings, user names), so each is
// made inert before it is written:
// - invalid UTF-8 becomes U+FFFD; control characters (line breaks and tabs
//   included) become "\xNN" and bidirectional or zero-width characters
//   "\uNNNN", so a row is one line and reads as it is stored;
// - a cell starting with = + - @ (or their full-width forms), a tab or a
//   carriage return gets a leading single quote, so a spreadsheet never
//   evaluates it as a formula (CSV injection); so does a cell starting
//   with a single quote, so CsvUnguard gives back exactly what was written;
// - a cell is cut at 32,000 bytes (a spreadsheet cell holds 32,767
//   characters).
enum class CsvQuoting { kAlways, kWhenNeeded };

class CsvWriter {
 public:
  // Starts `out` with the byte-order mark.
  explicit CsvWriter(std::string* out, CsvQuoting quoting = CsvQuoting::kAlways);

  void Row(const std::vector<std::string>& cells);
  std::size_t rows() const { return rows_; }

 private:
  std::string* out_;
  CsvQuoting quoting_;
  std::size_t rows_ = 0;
};

// One cell as CsvWriter writes it, quotes included.
std::string CsvCell(std::string_view value, CsvQuoting quoting = CsvQuoting::kAlways);

inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// True when a spreadsheet could take `value` for a formula (see above).
bool StartsLikeFormula(std::string_view value);

// Undoes the guard of CsvCell on import: one leading single quote before
// what StartsLikeFormula flags, or before another single quote, is dropped.
std::string CsvUnguard(std::string_view value);

// One CSV record and the line of the text where it starts (1-based).
struct CsvRecord {
  uint32_t line = 0;
  std::vector<std::string> fields;
};
struct CsvLineProblem {
  uint32_t line = 0;
  std::string message;
};

// RFC 4180: fields separated by commas, records by CRLF or LF, quoted
// fields may hold commas, quotes ("") and line breaks. A leading UTF-8 BOM
// is skipped. Blank lines are skipped. Malformed quoting is reported for
// the record's line and the record is left out.
std::vector<CsvRecord> ParseCsv(std::string_view text, std::vector<CsvLineProblem>* problems);

}  // namespace mamori
