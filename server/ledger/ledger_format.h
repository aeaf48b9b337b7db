#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "server/store/store.h"

namespace mamori {

// Text forms of the media ledger: JST dates, vid:pid, field checks and CSV.
// Pure functions over strings.

// Checks what an admin typed for a new entry: the serial is 1..256 bytes,
// owner and department at most 256 bytes, the note at most 1024, all valid
// UTF-8 without control or invisible formatting characters; the group is ""
// or a valid group name. The message names the field.
Status ValidateLedgerFields(const LedgerEntry& entry);

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

// One cell for a spreadsheet: a value starting with = + - @ (or a tab or
// CR) gets a leading single quote so it is not run as a formula, then the
// value is quoted when it holds a comma, quote or line break.
std::string CsvCell(std::string_view value);
// Undoes the formula guard of CsvCell on import: a leading single quote
// before = + - @ tab or CR is dropped.
std::string CsvUnguard(std::string_view value);

// The header row of ledger CSV files.
inline constexpr std::string_view kLedgerCsvHeader =
    "serial,vendor_id,product_id,owner,department,group,expires,note";

// Active entries as CSV: BOM, header, one row per entry, CRLF line ends.
std::string LedgerToCsv(const std::vector<LedgerEntry>& entries);

// Parses an import. Every bad record is reported with its line; entries
// come back in file order with the fields of the CSV set (and nothing else).
struct LedgerCsvImport {
  std::vector<std::pair<uint32_t, LedgerEntry>> entries;  // line, entry
  std::vector<CsvLineProblem> problems;
};
LedgerCsvImport ParseLedgerCsv(std::string_view text);

}  // namespace mamori
