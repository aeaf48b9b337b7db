#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mamori {

// Text from Windows APIs is UTF-16 (wchar_t); the rest of Mamori is UTF-8.
// These conversions are pure (no WideCharToMultiByte) so their handling of
// hostile input is the same everywhere and unit-tested: an unpaired
// surrogate becomes U+FFFD, invalid UTF-8 becomes U+FFFD per maximal
// subpart (common/base/utf8.h). Neither ever fails.
std::string Utf16ToUtf8(std::wstring_view s);
std::wstring Utf8ToUtf16(std::string_view s);

// The string in a fixed-size buffer up to its first NUL, or the whole
// buffer when a driver left it unterminated.
std::wstring_view UntilNul(const wchar_t* buffer, std::size_t capacity);

// Splits a REG_MULTI_SZ-style list ("a\0b\0\0", as SetupAPI returns hardware
// and compatible ids) into UTF-8 strings. Stops at the first empty string or
// at the end of the buffer, terminated or not; at most `max_items` items.
std::vector<std::string> SplitMultiSz(std::wstring_view buffer, std::size_t max_items = 64);

}  // namespace mamori
