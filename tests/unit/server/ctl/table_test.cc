#include "server/ctl/table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "server/ctl/display_text.h"

namespace mamori::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Display column at which `needle` starts in `line`.
int ColumnOf(const std::string& line, std::string_view needle) {
  const auto pos = line.find(needle);
  EXPECT_NE(pos, std::string::npos) << line;
  return DisplayWidth(std::string_view(line).substr(0, pos));
}

TEST(DisplayWidthTest, CountsWideCharactersTwice) {
  EXPECT_EQ(DisplayWidth(""), 0);
  EXPECT_EQ(DisplayWidth("abc"), 3);
  EXPECT_EQ(DisplayWidth("保険課"), 6);
  EXPECT_EQ(DisplayWidth("osaka/吹田"), 10);
  EXPECT_EQ(DisplayWidth("ｶﾀｶﾅ"), 4);      // half-width katakana
  EXPECT_EQ(DisplayWidth("ＡＢ"), 4);      // fullwidth Latin
  EXPECT_EQ(DisplayWidth("カ\u3099"), 2);  // combining voiced sound mark
  EXPECT_EQ(DisplayWidth("é"), 1);
  EXPECT_EQ(DisplayWidth("\xF0\x9F\x98\x80"), 2);  // emoji
  EXPECT_EQ(DisplayWidth("\xFF"), 1);              // stray byte still counts
}

TEST(TruncateTest, CutsOnCharacterBoundaries) {
  EXPECT_EQ(TruncateToWidth("short", 10), "short");
  EXPECT_EQ(TruncateToWidth("abcdefghij", 8), "abcde...");
  EXPECT_EQ(TruncateToWidth("山田太郎山田太郎", 9), "山田太...");
  EXPECT_EQ(DisplayWidth(TruncateToWidth("山田太郎山田太郎", 8)), 7);  // never over
  EXPECT_EQ(TruncateToWidth("abcdef", 3), "abc");
  EXPECT_EQ(TruncateToWidth("abcdef", 0), "");
}

TEST(TerminalSafeTest, EscapesHostileText) {
  EXPECT_EQ(TerminalSafe("plain 日本語"), "plain 日本語");
  EXPECT_EQ(TerminalSafe("\x1b[2J\x1b]0;owned\x07"), "\\x1b[2J\\x1b]0;owned\\x07");
  EXPECT_EQ(TerminalSafe("a\nb\tc\rd"), "a\\x0ab\\x09c\\x0dd");
  EXPECT_EQ(TerminalSafe("bad\xFFutf8"), "bad\xEF\xBF\xBDutf8");
  EXPECT_EQ(TerminalSafe("\xC2\x9B"
                         "31m"),
            "\\x9b31m");  // C1 CSI
  EXPECT_EQ(TerminalSafe("kcolb\u202Eallow"), "kcolb\\u202eallow");
  EXPECT_EQ(TerminalSafe("zero\u200Bwidth\uFEFF"), "zero\\u200bwidth\\ufeff");
  EXPECT_EQ(TerminalSafe(std::string("nul\0byte", 8)), "nul\\x00byte");
}

TEST(TerminalSafeTest, MultilineKeepsNewlines) {
  EXPECT_EQ(TerminalSafeMultiline("a: 1\r\nb: \x1b[31m\n"), "a: 1\nb: \\x1b[31m\n");
}

TEST(TableTest, AlignsByDisplayWidth) {
  Table t({"GROUP", "OWNER", "N"});
  t.SetRightAligned(2);
  t.AddRow({"osaka/吹田/保険課", "山田太郎", "7"});
  t.AddRow({"osaka", "bob", "12"});
  std::ostringstream out;
  t.Render(out);
  const std::vector<std::string> lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(ColumnOf(lines[0], "OWNER"), ColumnOf(lines[1], "山田太郎"));
  EXPECT_EQ(ColumnOf(lines[0], "OWNER"), ColumnOf(lines[2], "bob"));
  // Right-aligned numbers end in the same column.
  EXPECT_EQ(DisplayWidth(lines[1]), DisplayWidth(lines[2]));
  EXPECT_EQ(lines[0].find("GROUP"), 0u);
  for (const std::string& line : lines) EXPECT_NE(line.back(), ' ') << line;
}

TEST(TableTest, SanitizesAndTruncatesCells) {
  Table t({"PRODUCT", "SERIAL"});
  t.SetMaxWidth(0, 12);
  t.AddRow({"\x1b]0;pwned\x07 Evil Drive Deluxe", "S\n1"});
  t.AddRow({"short"});  // missing cells are blank
  std::ostringstream out;
  t.Render(out);
  const std::string text = out.str();
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
  EXPECT_THAT(text, Not(HasSubstr("\x07")));
  EXPECT_THAT(text, HasSubstr("\\x1b]0;pw..."));
  EXPECT_THAT(text, HasSubstr("S\\x0a1"));
  EXPECT_EQ(DisplayWidth(Lines(text)[1].substr(0, Lines(text)[1].find("  "))), 12);
  EXPECT_EQ(Lines(text).size(), 3u);  // the newline in the serial did not split the row
  EXPECT_EQ(t.rows(), 2u);
}

}  // namespace
}  // namespace mamori::ctl
