#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/csv.h"
#include "common/base/result.h"
#include "server/store/store.h"

namespace mamori {

// Text forms of the media ledger: field checks and its CSV files. Pure
// functions over strings.

// Checks what an admin typed for a new entry: the serial is 1..256 bytes,
// owner and department at most 256 bytes, the note at most 1024, all valid
// UTF-8 without control or invisible formatting characters; the group is ""
// or a valid group name. The message names the field.
Status ValidateLedgerFields(const LedgerEntry& entry);

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
