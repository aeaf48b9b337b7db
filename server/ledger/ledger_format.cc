#include "server/ledger/ledger_format.h"

#include <cstdio>

#include "common/base/hex.h"
#include "common/base/jst_time.h"
#include "common/base/sanitize.h"
#include "common/crypto/identity.h"

namespace mamori {
namespace {

constexpr std::size_t kMaxSerialBytes = 256;
constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxNoteBytes = 1024;

Status CheckText(std::string_view field, std::string_view value, std::size_t max_bytes) {
  if (value.size() > max_bytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + " is " + std::to_string(value.size()) +
                         " bytes; at most " + std::to_string(max_bytes) + " allowed");
  }
  if (NeedsSanitizing(value, max_bytes)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) +
                         " must be valid UTF-8 without control or invisible formatting characters");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateLedgerFields(const LedgerEntry& e) {
  if (e.serial.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "serial is required: a ledger entry registers one medium by its serial");
  }
  if (Status s = CheckText("serial", e.serial, kMaxSerialBytes); !s.ok()) return s;
  if (Status s = CheckText("owner", e.owner, kMaxNameBytes); !s.ok()) return s;
  if (Status s = CheckText("department", e.department, kMaxNameBytes); !s.ok()) return s;
  if (Status s = CheckText("note", e.note, kMaxNoteBytes); !s.ok()) return s;
  if (!e.group.empty() && !IsValidGroup(e.group)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "group '" + SanitizeDeviceString(e.group, 80) +
                         "' is not a group name: use lower-case segments of a-z, 0-9, _ and - "
                         "separated by '/', or leave it empty for the whole deployment");
  }
  return Status::Ok();
}

std::string LedgerToCsv(const std::vector<LedgerEntry>& entries) {
  std::string out;
  CsvWriter csv(&out, CsvQuoting::kWhenNeeded);
  std::vector<CsvLineProblem> none;  // the header is a constant: it parses
  csv.Row(ParseCsv(kLedgerCsvHeader, &none).front().fields);
  char vid[8];
  char pid[8];
  for (const LedgerEntry& e : entries) {
    std::snprintf(vid, sizeof vid, "%04x", e.vendor_id);
    std::snprintf(pid, sizeof pid, "%04x", e.product_id);
    csv.Row({e.serial, vid, pid, e.owner, e.department, e.group,
             e.expires_ms == 0 ? "" : JstDate(e.expires_ms), e.note});
  }
  return out;
}

LedgerCsvImport ParseLedgerCsv(std::string_view text) {
  LedgerCsvImport result;
  std::vector<CsvRecord> records = ParseCsv(text, &result.problems);
  constexpr std::size_t kColumns = 8;
  if (records.empty()) {
    result.problems.insert(result.problems.begin(), {1, "the first line must be the header " +
                                                            std::string(kLedgerCsvHeader)});
    return result;
  }
  std::string header;
  for (std::size_t k = 0; k < records.front().fields.size(); ++k) {
    if (k > 0) header.push_back(',');
    std::string f = records.front().fields[k];
    while (!f.empty() && f.back() == ' ') f.pop_back();
    while (!f.empty() && f.front() == ' ') f.erase(f.begin());
    header.append(f);
  }
  if (header != kLedgerCsvHeader) {
    result.problems.insert(
        result.problems.begin(),
        {records.front().line, "the header must be " + std::string(kLedgerCsvHeader)});
    return result;
  }
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    if (rec.fields.size() != kColumns) {
      result.problems.push_back({rec.line, "expected " + std::to_string(kColumns) +
                                               " fields, found " +
                                               std::to_string(rec.fields.size())});
      continue;
    }
    LedgerEntry e;
    e.serial = CsvUnguard(rec.fields[0]);
    const auto vid = ParseUsbId(rec.fields[1]);
    const auto pid = ParseUsbId(rec.fields[2]);
    if (!vid || !pid) {
      result.problems.push_back(
          {rec.line, "vendor_id and product_id must be 4 hex digits each (e.g. 0781,5581)"});
      continue;
    }
    e.vendor_id = *vid;
    e.product_id = *pid;
    e.owner = CsvUnguard(rec.fields[3]);
    e.department = CsvUnguard(rec.fields[4]);
    e.group = CsvUnguard(rec.fields[5]);
    if (!rec.fields[6].empty()) {
      const auto expires = JstDayEndMs(rec.fields[6]);
      if (!expires) {
        result.problems.push_back({rec.line,
                                   "expires must be a date YYYY-MM-DD (JST) or empty, "
                                   "not '" +
                                       SanitizeDeviceString(rec.fields[6], 40) + "'"});
        continue;
      }
      e.expires_ms = *expires;
    }
    e.note = CsvUnguard(rec.fields[7]);
    if (Status s = ValidateLedgerFields(e); !s.ok()) {
      result.problems.push_back({rec.line, s.error().message});
      continue;
    }
    result.entries.emplace_back(rec.line, std::move(e));
  }
  return result;
}

}  // namespace mamori
