#include "common/base/utf8.h"

namespace mamori {

Utf8Char DecodeUtf8At(std::string_view s, std::size_t i) {
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

}  // namespace mamori
