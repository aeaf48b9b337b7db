#pragma once

#include <cstddef>
#include <string_view>

namespace mamori {

struct Utf8Char {
  char32_t code_point;  // U+FFFD when !valid
  std::size_t length;   // bytes consumed; the maximal invalid subpart when !valid
  bool valid;
};

// Decodes one character at s[i] (i < s.size()) following the Unicode
// "maximal subpart" practice (also what browsers do): a bad sequence is
// replaced by one U+FFFD per longest prefix that could have started a valid
// character, so a single stray byte never swallows the valid character after
// it. Overlongs, surrogates and code points above U+10FFFF are invalid.
Utf8Char DecodeUtf8At(std::string_view s, std::size_t i);

}  // namespace mamori
