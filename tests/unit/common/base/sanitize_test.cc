#include "common/base/sanitize.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mamori {
namespace {

constexpr std::string_view kFffd = "\xEF\xBF\xBD";
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";

// A strict validator written independently of the code under test.
bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 1;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// No C0, DEL or C1 control character anywhere.
bool HasNoControls(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x20 || b == 0x7F) return false;
    if (b == 0xC2 && i + 1 < s.size()) {
      const auto c = static_cast<unsigned char>(s[i + 1]);
      if (c >= 0x80 && c <= 0x9F) return false;
    }
  }
  return true;
}

// Every backslash in `s` starts a complete "\xNN" escape.
bool EscapesAreComplete(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') continue;
    if (i + 3 >= s.size()) return false;
    if (s[i + 1] != 'x' || !std::isxdigit(static_cast<unsigned char>(s[i + 2])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 3]))) {
      return false;
    }
    i += 3;
  }
  return true;
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(SanitizeTest, PlainTextPassesThrough) {
  EXPECT_EQ(SanitizeDeviceString("SanDisk Ultra"), "SanDisk Ultra");
  EXPECT_EQ(SanitizeDeviceString("バッファロー USBメモリ"), "バッファロー USBメモリ");
  EXPECT_EQ(SanitizeDeviceString("emoji \xF0\x9F\x98\x80 ok"), "emoji \xF0\x9F\x98\x80 ok");
  EXPECT_EQ(SanitizeDeviceString(""), "");
  // The largest code point and the last ones before the surrogates are valid.
  EXPECT_EQ(SanitizeDeviceString("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(SanitizeDeviceString("\xED\x9F\xBF"), "\xED\x9F\xBF");
}

TEST(SanitizeTest, HtmlPayloadIsKeptAsTextButControlsAreEscaped) {
  const std::string payload = "<script>alert(\"x\")</script>\r\n<img src=x onerror='y'>";
  const std::string s = SanitizeDeviceString(payload);
  EXPECT_EQ(s, "<script>alert(\"x\")</script>\\x0d\\x0a<img src=x onerror='y'>");
  // Escaping for HTML is a separate, later step.
  EXPECT_EQ(HtmlEscape(s),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\\x0d\\x0a&lt;img src=x "
            "onerror=&#39;y&#39;&gt;");
}

TEST(SanitizeTest, ControlCharactersBecomeHexEscapes) {
  EXPECT_EQ(SanitizeDeviceString(std::string_view("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(SanitizeDeviceString("\x01\x1f\x7f"), "\\x01\\x1f\\x7f");
  EXPECT_EQ(SanitizeDeviceString("tab\there"), "tab\\x09here");
  // C1 controls arrive as two-byte UTF-8.
  EXPECT_EQ(SanitizeDeviceString("a\xC2\x85z\xC2\x9B"), "a\\x85z\\x9b");
  // U+00A0 is the first character after C1 and is kept.
  EXPECT_EQ(SanitizeDeviceString("\xC2\xA0"), "\xC2\xA0");
}

TEST(SanitizeTest, TerminalEscapeSequencesAreDefused) {
  const std::string s = SanitizeDeviceString("\x1b[2J\x1b]0;owned\x07Kingston");
  EXPECT_EQ(s, "\\x1b[2J\\x1b]0;owned\\x07Kingston");
  EXPECT_TRUE(HasNoControls(s));
}

TEST(SanitizeTest, InvalidUtf8BecomesReplacementPerMaximalSubpart) {
  const std::string r(kFffd);
  EXPECT_EQ(SanitizeDeviceString("\x80"), r);
  EXPECT_EQ(SanitizeDeviceString("a\xFF!"), "a" + r + "!");
  // Overlong encodings of '/' and NUL.
  EXPECT_EQ(SanitizeDeviceString("\xC0\xAF"), r + r);
  EXPECT_EQ(SanitizeDeviceString("\xC1\x80"), r + r);
  EXPECT_EQ(SanitizeDeviceString("\xE0\x80\xAF"), r + r + r);
  EXPECT_EQ(SanitizeDeviceString("\xF0\x80\x80\xAF"), r + r + r + r);
  // UTF-16 surrogates are not characters.
  EXPECT_EQ(SanitizeDeviceString("\xED\xA0\x80"), r + r + r);
  // Beyond U+10FFFF.
  EXPECT_EQ(SanitizeDeviceString("\xF4\x90\x80\x80"), r + r + r + r);
  EXPECT_EQ(SanitizeDeviceString("\xF5\x80\x80\x80"), r + r + r + r);
  // Truncated sequences: one replacement for the whole valid prefix.
  EXPECT_EQ(SanitizeDeviceString("\xE3\x81"), r);
  EXPECT_EQ(SanitizeDeviceString("\xF0\x9F\x98"), r);
  EXPECT_EQ(SanitizeDeviceString("\xE3\x81!"), r + "!");
  // The example from the Unicode standard, chapter 3 (U+FFFD substitution).
  EXPECT_EQ(SanitizeDeviceString("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + r + r + r + "b" + r + "c" + r + r + "d");
}

TEST(SanitizeTest, ShortStringsAreNotCut) {
  const std::string exactly(kMaxDeviceStringBytes, 'x');
  EXPECT_EQ(SanitizeDeviceString(exactly), exactly);
  EXPECT_EQ(SanitizeDeviceString("abc", 3), "abc");
}

TEST(SanitizeTest, LongStringsAreCutWithEllipsis) {
  const std::string s = SanitizeDeviceString(std::string(300, 'x'));
  EXPECT_EQ(s.size(), kMaxDeviceStringBytes);
  EXPECT_EQ(s, std::string(253, 'x') + std::string(kEllipsis));
  EXPECT_EQ(SanitizeDeviceString("abcdef", 5), "ab" + std::string(kEllipsis));
  EXPECT_EQ(SanitizeDeviceString("abcd", 3), kEllipsis);
  // Too small for the ellipsis: whole characters only, never over the limit.
  EXPECT_EQ(SanitizeDeviceString("abc", 2), "ab");
  EXPECT_EQ(SanitizeDeviceString("あ", 2), "");
  EXPECT_EQ(SanitizeDeviceString("abc", 0), "");
}

TEST(SanitizeTest, CutNeverSplitsACharacter) {
  // 100 three-byte characters; 84 of them and the ellipsis fit in 255 bytes.
  const std::string s = SanitizeDeviceString(Repeat("あ", 100));
  EXPECT_EQ(s, Repeat("あ", 84) + std::string(kEllipsis));
  EXPECT_TRUE(IsValidUtf8(s));
  const std::string emoji = SanitizeDeviceString(Repeat("\xF0\x9F\x98\x80", 10), 10);
  EXPECT_EQ(emoji, "\xF0\x9F\x98\x80" + std::string(kEllipsis));
}

TEST(SanitizeTest, CutNeverSplitsAnEscape) {
  const std::string s = SanitizeDeviceString(std::string(250, 'a') + "\x01\x01\x01");
  EXPECT_EQ(s, std::string(250, 'a') + std::string(kEllipsis));
}

TEST(SanitizeTest, EveryLimitGivesBoundedValidOutput) {
  const std::string raw = "Kingston\x1b[0m データ\xC2\x85\xFF\xF0\x9F\x98\x80\xE3\x81<b>\x7f end";
  const std::string full = SanitizeDeviceString(raw, 1000);
  ASSERT_TRUE(IsValidUtf8(full));
  for (std::size_t limit = 0; limit <= full.size() + 4; ++limit) {
    const std::string s = SanitizeDeviceString(raw, limit);
    EXPECT_LE(s.size(), limit) << limit;
    EXPECT_TRUE(IsValidUtf8(s)) << limit;
    EXPECT_TRUE(HasNoControls(s)) << limit;
    if (limit >= full.size()) {
      EXPECT_EQ(s, full) << limit;
      continue;
    }
    if (limit < kEllipsis.size()) continue;
    ASSERT_TRUE(s.ends_with(kEllipsis)) << limit;
    const std::string kept = s.substr(0, s.size() - kEllipsis.size());
    EXPECT_TRUE(full.starts_with(kept)) << limit;
    EXPECT_TRUE(EscapesAreComplete(kept)) << limit << ": " << kept;
    // The cut is as late as possible: the next piece would not have fitted.
    EXPECT_GT(s.size() + 4, limit) << limit;
  }
}

TEST(SanitizeTest, MultiMegabyteInputIsBoundedAndValid) {
  std::mt19937 rng(1234);
  std::string raw(4u << 20, '\0');
  for (char& c : raw) c = static_cast<char>(rng() & 0xFF);
  const std::string s = SanitizeDeviceString(raw);
  EXPECT_LE(s.size(), kMaxDeviceStringBytes);
  EXPECT_GE(s.size(), kMaxDeviceStringBytes - 6);
  EXPECT_TRUE(IsValidUtf8(s));
  EXPECT_TRUE(HasNoControls(s));
  EXPECT_TRUE(s.ends_with(kEllipsis));

  const std::string controls = SanitizeDeviceString(std::string(4u << 20, '\x1b'));
  EXPECT_EQ(controls, Repeat("\\x1b", 63) + std::string(kEllipsis));

  // Nothing to cut: the whole input is scanned once.
  const std::string big(4u << 20, 'z');
  EXPECT_EQ(SanitizeDeviceString(big, big.size()), big);
}

TEST(SanitizeTest, RandomInputsAlwaysGiveValidOutput) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string raw(rng() % 64, '\0');
    for (char& c : raw) c = static_cast<char>(rng() & 0xFF);
    const std::size_t limit = rng() % 80;
    const std::string s = SanitizeDeviceString(raw, limit);
    ASSERT_LE(s.size(), limit);
    ASSERT_TRUE(IsValidUtf8(s));
    ASSERT_TRUE(HasNoControls(s));
  }
}

TEST(HtmlEscapeTest, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(HtmlEscape("&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
  EXPECT_EQ(HtmlEscape("保険課 a&b"), "保険課 a&amp;b");
  EXPECT_EQ(HtmlEscape(""), "");
  // Already-escaped text is escaped again, not trusted.
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");
}

}  // namespace
}  // namespace mamori

namespace mamori {
namespace {

TEST(SanitizeInvisibleFormattingTest, BidiOverridesAndZeroWidthAreMadeVisible) {
  // "USB\u202Egpj.exe" would display as "USBexe.jpg".
  const std::string out = SanitizeDeviceString("USB\xE2\x80\xAEgpj.exe\xE2\x80\x8B\xEF\xBB\xBF");
  EXPECT_EQ(out, "USB\\u202egpj.exe\\u200b\\ufeff");
  // Ordinary Japanese text and other punctuation are untouched.
  EXPECT_EQ(SanitizeDeviceString("保険課 \xE2\x80\x94 USB"), "保険課 \xE2\x80\x94 USB");
}

TEST(SanitizeInvisibleFormattingTest, EscapeIsNeverSplitByTheLengthBound) {
  const std::string out = SanitizeDeviceString("ab\xE2\x80\xAE", 7);
  // 2 + 6 bytes do not fit in 7: the escape is dropped whole, not cut.
  EXPECT_EQ(out.find("\\u20"), std::string::npos) << out;
  EXPECT_LE(out.size(), 7u);
}

}  // namespace
}  // namespace mamori

namespace mamori {
namespace {

TEST(NeedsSanitizingTest, AgreesWithSanitizeDeviceString) {
  const std::vector<std::string> samples = {
      "",
      "SanDisk Ultra",
      "保険課 USB メモリ",
      "<script>alert(1)</script>",
      "tab\there",
      "esc\x1b[31m",
      "del\x7f",
      std::string("nul\0in", 6),
      "\xff\xfe",
      "\xe2\x80\xaeoverride",
      "zero\xe2\x80\x8bwidth",
      "\xc2\x85next-line",  // U+0085, a C1 control
      std::string(256, 'a'),
      std::string(257, 'a'),
      std::string(86, '\xe3') + "",  // truncated sequences
  };
  for (const auto& s : samples) {
    EXPECT_EQ(NeedsSanitizing(s), SanitizeDeviceString(s) != s) << s;
    EXPECT_EQ(NeedsSanitizing(s, 8), SanitizeDeviceString(s, 8) != s) << s;
  }
}

}  // namespace
}  // namespace mamori
