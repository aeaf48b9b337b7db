#include "common/sanitize.h"

#include <algorithm>

namespace mamori {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026

struct Utf8Char {
  char32_t code_point;
  std::size_t length;  // bytes consumed; the maximal invalid subpart when !valid
  bool valid;
};

// Decodes one character at s[i] following the Unicode "maximal subpart"
// practice (also what browsers do): a bad sequence is replaced by one U+FFFD
// per longest prefix that could have started a valid character, so a single
// stray byte never swallows the valid character after it.
Utf8Char DecodeAt(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1, true};
  std::size_t continuation = 0;
  char32_t cp = 0;
  // Narrowed ranges for the second byte rule out overlongs (E0, F0),
  // surrogates (ED) and code points above U+10FFFF (F4).
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    continuation = 1;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    continuation = 2;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    continuation = 3;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {0xFFFD, 1, false};
  }
  std::size_t len = 1;
  for (std::size_t k = 0; k < continuation; ++k) {
    if (i + len >= s.size()) return {0xFFFD, len, false};
    const auto b = static_cast<unsigned char>(s[i + len]);
    if (b < lo || b > hi) return {0xFFFD, len, false};
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3Fu);
    ++len;
  }
  return {cp, len, true};
}

bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

std::string SanitizeDeviceString(std::string_view raw, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(raw.size(), max_bytes) + kEllipsis.size());
  // Output length at the last character boundary that still leaves room for
  // the ellipsis; where we cut back to if the rest does not fit.
  std::size_t cut_at = 0;
  const std::size_t room_with_ellipsis =
      max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  char piece[4];
  for (std::size_t i = 0; i < raw.size();) {
    const Utf8Char c = DecodeAt(raw, i);
    std::string_view emit;
    if (!c.valid) {
      emit = kReplacement;
    } else if (IsControl(c.code_point)) {
      static constexpr char kHex[] = "0123456789abcdef";
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = kHex[(c.code_point >> 4) & 0xF];
      piece[3] = kHex[c.code_point & 0xF];
      emit = std::string_view(piece, 4);
    } else {
      emit = raw.substr(i, c.length);
    }
    if (out.size() + emit.size() > max_bytes) {
      // Stopping here also keeps the cost bounded by max_bytes, not by the
      // size of whatever the device sent.
      // A limit too small for the ellipsis keeps the whole characters that
      // fit, unmarked, rather than exceed the limit.
      if (max_bytes >= kEllipsis.size()) {
        out.resize(cut_at);
        out += kEllipsis;
      }
      return out;
    }
    out += emit;
    if (out.size() <= room_with_ellipsis) cut_at = out.size();
    i += c.length;
  }
  return out;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace mamori
