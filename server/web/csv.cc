#include "server/web/csv.h"

#include <array>

#include "common/base/sanitize.h"

namespace mamori::web {
namespace {

constexpr std::size_t kMaxCellBytes = 32'000;

// What spreadsheet programs take as the start of a formula. The full-width
// forms are included because Japanese input methods produce them and some
// spreadsheet versions convert them on import.
bool StartsLikeFormula(std::string_view raw) {
  if (raw.empty()) return false;
  switch (raw.front()) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
      return true;
    default:
      break;
  }
  // U+FF1D ＝, U+FF0B ＋, U+FF0D －, U+FF20 ＠ (EF BC 9D / 8B / 8D, EF BC A0).
  static constexpr std::array<std::string_view, 4> kFullWidth = {"\xEF\xBC\x9D", "\xEF\xBC\x8B",
                                                                 "\xEF\xBC\x8D", "\xEF\xBC\xA0"};
  for (std::string_view f : kFullWidth) {
    if (raw.starts_with(f)) return true;
  }
  return false;
}

}  // namespace

std::string CsvCell(std::string_view value) {
  // The check looks at the raw value: a leading tab or CR is escaped below
  // but still marks text someone meant a spreadsheet to trip over.
  const bool formula = StartsLikeFormula(value);
  const std::string clean = NeedsSanitizing(value, kMaxCellBytes)
                                ? SanitizeDeviceString(value, kMaxCellBytes)
                                : std::string(value);
  std::string out;
  out.reserve(clean.size() + 4);
  out.push_back('"');
  if (formula) out.push_back('\'');
  for (char c : clean) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

CsvWriter::CsvWriter(std::string* out) : out_(out) { out_->append(kUtf8Bom); }

void CsvWriter::Row(const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out_->push_back(',');
    out_->append(CsvCell(cells[i]));
  }
  out_->append("\r\n");
  ++rows_;
}

}  // namespace mamori::web
