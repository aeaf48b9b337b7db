#include "common/base/sanitize.h"

#include <algorithm>

#include "common/base/utf8.h"

namespace mamori {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026

bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Characters that change how surrounding text is displayed without being
// seen: bidirectional overrides and isolates (a product name could render
// reversed, "Trojan Source" style), zero-width characters and the BOM.
bool IsInvisibleFormatting(char32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

}  // namespace

std::string SanitizeDeviceString(std::string_view raw, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(raw.size(), max_bytes) + kEllipsis.size());
  // Output length at the last character boundary that still leaves room for
  // the ellipsis; where we cut back to if the rest does not fit.
  std::size_t cut_at = 0;
  const std::size_t room_with_ellipsis =
      max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  char piece[6];
  for (std::size_t i = 0; i < raw.size();) {
    const Utf8Char c = DecodeUtf8At(raw, i);
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
    } else if (IsInvisibleFormatting(c.code_point)) {
      static constexpr char kHex[] = "0123456789abcdef";
      piece[0] = '\\';
      piece[1] = 'u';
      piece[2] = kHex[(c.code_point >> 12) & 0xF];
      piece[3] = kHex[(c.code_point >> 8) & 0xF];
      piece[4] = kHex[(c.code_point >> 4) & 0xF];
      piece[5] = kHex[c.code_point & 0xF];
      emit = std::string_view(piece, 6);
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

bool NeedsSanitizing(std::string_view raw, std::size_t max_bytes) {
  if (raw.size() > max_bytes) return true;
  for (std::size_t i = 0; i < raw.size();) {
    const auto b = static_cast<unsigned char>(raw[i]);
    if (b >= 0x20 && b < 0x7F) {  // printable ASCII, by far the common case
      ++i;
      continue;
    }
    const Utf8Char c = DecodeUtf8At(raw, i);
    if (!c.valid || IsControl(c.code_point) || IsInvisibleFormatting(c.code_point)) return true;
    i += c.length;
  }
  return false;
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
