// The CSV writer and reader of the events export and the media ledger
// (common/base/csv.h), and the JST time helpers they and the trend use
// (common/base/jst_time.h).

#include "common/base/csv.h"

#include <gtest/gtest.h>

#include "common/base/jst_time.h"

namespace mamori {
namespace {

TEST(CsvTest, StartsWithBomAndEndsRowsWithCrlf) {
  std::string out;
  CsvWriter csv(&out);
  csv.Row({"a", "b"});
  csv.Row({"", "c"});
  EXPECT_EQ(out, std::string(kUtf8Bom) + "\"a\",\"b\"\r\n\"\",\"c\"\r\n");
  EXPECT_EQ(csv.rows(), 2u);
}

TEST(CsvTest, QuotesAreDoubledAndSeparatorsStayInsideTheCell) {
  EXPECT_EQ(CsvCell("say \"hi\", ok"), "\"say \"\"hi\"\", ok\"");
  EXPECT_EQ(CsvCell("日本語のシリアル"), "\"日本語のシリアル\"");
}

TEST(CsvTest, FormulaStartsGetALeadingQuote) {
  EXPECT_EQ(CsvCell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(CsvCell("+1"), "\"'+1\"");
  EXPECT_EQ(CsvCell("-2+3"), "\"'-2+3\"");
  EXPECT_EQ(CsvCell("@SUM(A1)"), "\"'@SUM(A1)\"");
  // Full-width equals sign (U+FF1D), as a Japanese input method types it.
  EXPECT_EQ(CsvCell("\xEF\xBC\x9D"
                    "1+1"),
            "\"'\xEF\xBC\x9D"
            "1+1\"");
  // Leading tab and CR are both flagged and made visible.
  EXPECT_EQ(CsvCell("\t=1"), "\"'\\x09=1\"");
  EXPECT_EQ(CsvCell("\r=1"), "\"'\\x0d=1\"");
  // Not at the start: plain text.
  EXPECT_EQ(CsvCell("a=b"), "\"a=b\"");
  EXPECT_EQ(CsvCell("2026-04-01T09:00:00+09:00"), "\"2026-04-01T09:00:00+09:00\"");
}

TEST(CsvTest, ControlCharactersAndLineBreaksBecomeVisibleEscapes) {
  EXPECT_EQ(CsvCell("line1\r\nline2"), "\"line1\\x0d\\x0aline2\"");
  EXPECT_EQ(CsvCell(std::string("a\0b", 3)), "\"a\\x00b\"");
  EXPECT_EQ(CsvCell("bell\x07"), "\"bell\\x07\"");
  // Right-to-left override would reorder what the auditor reads.
  EXPECT_EQ(CsvCell("abc\xE2\x80\xAEgpj.exe"), "\"abc\\u202egpj.exe\"");
}

TEST(CsvTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(CsvCell("ok\xFF\xFEok"), "\"ok\xEF\xBF\xBD\xEF\xBF\xBDok\"");
  EXPECT_EQ(CsvCell("\xC3"), "\"\xEF\xBF\xBD\"");
}

TEST(CsvTest, HostileMarkupIsPlainText) {
  std::string out;
  CsvWriter csv(&out);
  csv.Row({"<script>alert(1)</script>", "=cmd|' /C calc'!A0"});
  EXPECT_EQ(out,
            std::string(kUtf8Bom) + "\"<script>alert(1)</script>\",\"'=cmd|' /C calc'!A0\"\r\n");
}

TEST(CsvTest, ReadsRfc4180AndCountsLines) {
  std::vector<CsvLineProblem> problems;
  const auto records = ParseCsv(
      "\xEF\xBB\xBF"
      "a,b,c\r\n"
      "\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
      "\n"
      "last,,\n",
      &problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(records[0].line, 1u);
  EXPECT_EQ(records[1].fields, (std::vector<std::string>{"x, y", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(records[1].line, 2u);
  // The quoted line break and the blank line count.
  EXPECT_EQ(records[2].line, 5u);
  EXPECT_EQ(records[2].fields, (std::vector<std::string>{"last", "", ""}));

  problems.clear();
  const auto bad = ParseCsv("a\n\"open\nb\n", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2u);
  problems.clear();
  (void)ParseCsv("a\nx\"y\n\"q\"z\n", &problems);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line, 2u);
  EXPECT_EQ(problems[1].line, 3u);
}

TEST(CsvTest, WhenNeededQuotesOnlyCellsWithSeparatorsAndGuardsTheSame) {
  constexpr CsvQuoting kLedger = CsvQuoting::kWhenNeeded;
  EXPECT_EQ(CsvCell("plain", kLedger), "plain");
  EXPECT_EQ(CsvCell("a,b", kLedger), "\"a,b\"");
  EXPECT_EQ(CsvCell("say \"hi\"", kLedger), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvCell("=HYPERLINK(\"http://x\")", kLedger), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(CsvCell("+1", kLedger), "'+1");
  EXPECT_EQ(CsvCell("-1", kLedger), "'-1");
  EXPECT_EQ(CsvCell("@SUM(A1)", kLedger), "'@SUM(A1)");
  // The full-width forms the events export always caught.
  EXPECT_EQ(CsvCell("\xEF\xBC\xA0"
                    "x",
                    kLedger),
            "'\xEF\xBC\xA0"
            "x");
  // A line break cannot split the row, quoted or not.
  EXPECT_EQ(CsvCell("two\nlines", kLedger), "two\\x0alines");
}

TEST(CsvTest, UnguardGivesBackWhatTheWriterGuarded) {
  for (std::string_view v : {"=1", "+1", "-1", "@SUM(A1)",
                             "\xEF\xBC\x9D"
                             "1",
                             "'", "'=1", "''", "'plain", "plain", "a'b", ""}) {
    std::vector<CsvLineProblem> problems;
    const auto records = ParseCsv(CsvCell(v), &problems);
    ASSERT_TRUE(problems.empty()) << v;
    const std::string back = records.empty() ? "" : CsvUnguard(records[0].fields[0]);
    EXPECT_EQ(back, v);
  }
  // What a person typed without the writer: a lone leading quote stays.
  EXPECT_EQ(CsvUnguard("'plain"), "'plain");
  EXPECT_EQ(CsvUnguard("'=1"), "=1");
}

TEST(CsvTest, HugeCellIsCutBelowTheSpreadsheetLimit) {
  const std::string cell = CsvCell(std::string(100'000, 'x'));
  EXPECT_LE(cell.size(), 32'010u);
  EXPECT_GT(cell.size(), 31'000u);
}

}  // namespace
}  // namespace mamori

namespace mamori {
namespace {

TEST(JstTimeTest, DatesAndTimesAreJapanStandardTime) {
  // 2026-03-31T15:00:00Z is midnight of April 1 in Japan.
  constexpr int64_t kMidnightApril1 = 1'774'969'200'000;
  EXPECT_EQ(JstDate(kMidnightApril1), "2026-04-01");
  EXPECT_EQ(JstDate(kMidnightApril1 - 1), "2026-03-31");
  EXPECT_EQ(JstIso8601(kMidnightApril1), "2026-04-01T00:00:00+09:00");
  EXPECT_EQ(JstIso8601(kMidnightApril1 + 45'296'789), "2026-04-01T12:34:56+09:00");
  EXPECT_EQ(ParseJstDate("2026-04-01"), kMidnightApril1);
  EXPECT_EQ(ParseTimeOrJstDate("2026-04-01"), kMidnightApril1);
  EXPECT_EQ(ParseTimeOrJstDate("2026-03-31T15:00:00Z"), kMidnightApril1);
  EXPECT_EQ(ParseTimeOrJstDate("2026-04-01T00:00:00+09:00"), kMidnightApril1);
  EXPECT_EQ(ParseTimeOrJstDate("2026-04-01T00:00:00.250+09:00"), kMidnightApril1 + 250);
  EXPECT_EQ(ParseTimeOrJstDate("2026-03-31T10:00:00-05:00"), kMidnightApril1);
}

TEST(JstTimeTest, MalformedDatesAreRefused) {
  for (const char* bad : {"", "2026-4-1", "2026-02-30", "2026-13-01", "2026/04/01", "20260401",
                          "2026-04-01T00:00:00", "2026-04-01T25:00:00Z", "2026-04-01T00:00Z",
                          "2026-04-01T00:00:00+9:00", "1969-12-31", "2026-04-01 "}) {
    EXPECT_FALSE(ParseTimeOrJstDate(bad)) << bad;
  }
}

}  // namespace
}  // namespace mamori
