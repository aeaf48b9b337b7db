#include "server/ctl/display_text.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "common/base/sanitize.h"

namespace mamori::ctl {
namespace {

// Large enough never to cut: the table does the cutting, by columns.
constexpr std::size_t kNoLimit = std::size_t{1} << 30;
constexpr std::string_view kCutMark = "...";

struct Range {
  char32_t first;
  char32_t last;
};

// East Asian Width W and F (Unicode 15), coalesced.
constexpr std::array kWide = std::to_array<Range>({
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x3247},   {0x3250, 0x4DBF},   {0x4E00, 0xA4CF},   {0xA960, 0xA97F},
    {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},
    {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4}, {0x17000, 0x18CFF},
    {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
    {0x1F191, 0x1F19A}, {0x1F200, 0x1F202}, {0x1F210, 0x1F23B}, {0x1F240, 0x1F248},
    {0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F320}, {0x1F32D, 0x1F335},
    {0x1F337, 0x1F37C}, {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3},
    {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440},
    {0x1F442, 0x1F4FC}, {0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567},
    {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F},
    {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7},
    {0x1F6DC, 0x1F6DF}, {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB},
    {0x1F7F0, 0x1F7F0}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF},
    {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
});

// Zero-width: combining marks (including the Japanese voiced sound marks
// U+3099/U+309A), variation selectors, and format characters.
constexpr std::array kZeroWidth = std::to_array<Range>({
    {0x0300, 0x036F}, {0x0483, 0x0489},   {0x0591, 0x05BD},   {0x05BF, 0x05BF},   {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7},   {0x0610, 0x061A},   {0x061C, 0x061C},   {0x064B, 0x065F},
    {0x0670, 0x0670}, {0x06D6, 0x06DC},   {0x06DF, 0x06E4},   {0x06E7, 0x06E8},   {0x06EA, 0x06ED},
    {0x0E31, 0x0E31}, {0x0E34, 0x0E3A},   {0x0E47, 0x0E4E},   {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF},
    {0x200B, 0x200F}, {0x2028, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},   {0x20D0, 0x20FF},
    {0x302A, 0x302D}, {0x3099, 0x309A},   {0xFE00, 0xFE0F},   {0xFE20, 0xFE2F},   {0xFEFF, 0xFEFF},
    {0xFFF9, 0xFFFB}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xE0100, 0xE01EF},
});

// Invisible characters that change how surrounding text reads.
constexpr std::array kEscaped = std::to_array<Range>({
    {0x061C, 0x061C},
    {0x200B, 0x200F},
    {0x2028, 0x202E},
    {0x2060, 0x2069},
    {0xFEFF, 0xFEFF},
    {0xFFF9, 0xFFFB},
});

template <std::size_t N>
bool InRanges(const std::array<Range, N>& ranges, char32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const Range& r) { return c < r.first; });
  return it != ranges.begin() && cp <= std::prev(it)->last;
}

struct Decoded {
  char32_t cp;
  std::size_t len;
};

// Lenient decoder for text that is valid UTF-8 by construction; a stray
// byte counts as one character so widths stay sane on any input.
Decoded DecodeAt(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 1;
  char32_t cp = b0;
  if (b0 >= 0xF0) {
    len = 4;
    cp = b0 & 0x07u;
  } else if (b0 >= 0xE0) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xC0) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else {
    return {b0, 1};
  }
  if (i + len > s.size()) return {0xFFFD, 1};
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0u) != 0x80u) return {0xFFFD, 1};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return {cp, len};
}

int CharWidth(char32_t cp) {
  if (cp < 0x300) return 1;  // fast path: ASCII and Latin-1 (controls are escaped before)
  if (InRanges(kZeroWidth, cp)) return 0;
  if (InRanges(kWide, cp)) return 2;
  return 1;
}

std::string EscapeFormatCharacters(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const Decoded d = DecodeAt(s, i);
    if (d.cp >= 0x600 && InRanges(kEscaped, d.cp)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(d.cp >> shift) & 0xF];
    } else {
      out.append(s.substr(i, d.len));
    }
    i += d.len;
  }
  return out;
}

}  // namespace

std::string TerminalSafe(std::string_view text) {
  return EscapeFormatCharacters(SanitizeDeviceString(text, kNoLimit));
}

std::string TerminalSafeMultiline(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (true) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);  // CRLF files print as LF
    out += TerminalSafe(line);
    if (nl == std::string_view::npos) break;
    out += '\n';
    text.remove_prefix(nl + 1);
  }
  return out;
}

int DisplayWidth(std::string_view text) {
  int width = 0;
  for (std::size_t i = 0; i < text.size();) {
    const Decoded d = DecodeAt(text, i);
    width += CharWidth(d.cp);
    i += d.len;
  }
  return width;
}

std::string TruncateToWidth(std::string_view text, int width) {
  if (width <= 0) return {};
  if (DisplayWidth(text) <= width) return std::string(text);
  const int mark = static_cast<int>(kCutMark.size());
  const int budget = width > mark ? width - mark : width;
  std::string out;
  int used = 0;
  for (std::size_t i = 0; i < text.size();) {
    const Decoded d = DecodeAt(text, i);
    const int w = CharWidth(d.cp);
    if (used + w > budget) break;
    out.append(text.substr(i, d.len));
    used += w;
    i += d.len;
  }
  if (width > mark) out += kCutMark;
  return out;
}

}  // namespace mamori::ctl
