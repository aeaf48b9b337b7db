// libFuzzer target: a media ledger CSV an administrator uploads (made by
// hand or by a spreadsheet, possibly by someone else). Whatever the text,
// every record is either imported as an entry that passes the ledger's
// field checks or refused with a problem naming its line; and what was
// imported exports to a CSV that imports back to the same entries, with
// no cell a spreadsheet would run as a formula.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/csv.h"
#include "server/ledger/ledger_format.h"

namespace {

bool SameFields(const mamori::LedgerEntry& a, const mamori::LedgerEntry& b) {
  return a.serial == b.serial && a.vendor_id == b.vendor_id && a.product_id == b.product_id &&
         a.owner == b.owner && a.department == b.department && a.group == b.group &&
         a.expires_ms == b.expires_ms && a.note == b.note;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const mamori::LedgerCsvImport in = mamori::ParseLedgerCsv(text);
  for (const mamori::CsvLineProblem& p : in.problems) {
    if (p.line == 0 || p.message.empty()) __builtin_trap();
  }
  std::vector<mamori::LedgerEntry> entries;
  uint32_t last_line = 1;  // the header
  for (const auto& [line, entry] : in.entries) {
    if (line <= last_line) __builtin_trap();
    last_line = line;
    if (!mamori::ValidateLedgerFields(entry).ok()) __builtin_trap();
    entries.push_back(entry);
  }

  const std::string csv = mamori::LedgerToCsv(entries);
  std::vector<mamori::CsvLineProblem> problems;
  for (const mamori::CsvRecord& rec : mamori::ParseCsv(csv, &problems)) {
    for (const std::string& cell : rec.fields) {
      if (mamori::StartsLikeFormula(cell)) __builtin_trap();
    }
  }
  if (!problems.empty()) __builtin_trap();
  const mamori::LedgerCsvImport back = mamori::ParseLedgerCsv(csv);
  if (!back.problems.empty() || back.entries.size() != entries.size()) __builtin_trap();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!SameFields(back.entries[i].second, entries[i])) __builtin_trap();
  }
  return 0;
}
