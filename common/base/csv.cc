#include "common/base/csv.h"

#include <array>

#include "common/base/sanitize.h"

namespace mamori {
namespace {

constexpr std::size_t kMaxCellBytes = 32'000;

}  // namespace

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

std::string CsvCell(std::string_view value, CsvQuoting quoting) {
  // The check looks at the raw value: a leading tab or CR is escaped below
  // but still marks text someone meant a spreadsheet to trip over.
  const bool guard = StartsLikeFormula(value) || value.starts_with('\'');
  std::string clean = NeedsSanitizing(value, kMaxCellBytes)
                          ? SanitizeDeviceString(value, kMaxCellBytes)
                          : std::string(value);
  if (guard) clean.insert(clean.begin(), '\'');
  if (quoting == CsvQuoting::kWhenNeeded && clean.find_first_of(",\"") == std::string::npos) {
    return clean;
  }
  std::string out;
  out.reserve(clean.size() + 4);
  out.push_back('"');
  for (char c : clean) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

CsvWriter::CsvWriter(std::string* out, CsvQuoting quoting) : out_(out), quoting_(quoting) {
  out_->append(kUtf8Bom);
}

void CsvWriter::Row(const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out_->push_back(',');
    out_->append(CsvCell(cells[i], quoting_));
  }
  out_->append("\r\n");
  ++rows_;
}

std::string CsvUnguard(std::string_view value) {
  if (value.size() >= 2 && value[0] == '\'' &&
      (value[1] == '\'' || StartsLikeFormula(value.substr(1)))) {
    value.remove_prefix(1);
  }
  return std::string(value);
}

std::vector<CsvRecord> ParseCsv(std::string_view text, std::vector<CsvLineProblem>* problems) {
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  std::vector<CsvRecord> out;
  std::size_t i = 0;
  uint32_t line = 1;
  while (i < text.size()) {
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool bad = false;
    bool end_of_record = false;
    bool any_content = false;
    while (!end_of_record) {
      if (i < text.size() && text[i] == '"') {
        any_content = true;
        ++i;
        bool closed = false;
        while (i < text.size()) {
          const char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field.push_back('"');
              ++i;
            } else {
              closed = true;
              break;
            }
          } else {
            if (c == '\n') ++line;
            field.push_back(c);
          }
        }
        if (!closed) {
          bad = true;
          problems->push_back({rec.line, "a quoted field is not closed"});
          i = text.size();
          end_of_record = true;
          break;
        }
        // After the closing quote only a separator may follow.
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          bad = true;
          problems->push_back({rec.line,
                               "text after a closing quote (write \"\" for a quote "
                               "inside a quoted field)"});
          while (i < text.size() && text[i] != '\n') ++i;
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            if (!bad) {
              problems->push_back(
                  {rec.line, "a quote inside an unquoted field (quote the whole field)"});
            }
            bad = true;
          }
          field.push_back(text[i++]);
          any_content = true;
        }
      }
      rec.fields.push_back(std::move(field));
      field.clear();
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        any_content = true;
        ++i;
      } else {
        if (text[i] == '\r') ++i;
        if (i < text.size() && text[i] == '\n') ++i;
        ++line;
        end_of_record = true;
      }
    }
    if (bad) continue;
    if (!any_content && rec.fields.size() == 1 && rec.fields[0].empty()) continue;  // blank line
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace mamori
