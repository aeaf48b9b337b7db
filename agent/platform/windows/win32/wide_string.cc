#include "agent/platform/windows/win32/wide_string.h"

#include <algorithm>

#include "common/base/utf8.h"

namespace mamori {
namespace {

static_assert(sizeof(wchar_t) == 2, "the Windows build uses 16-bit wchar_t");

constexpr char32_t kReplacement = 0xFFFD;

void AppendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool IsHighSurrogate(char32_t c) { return c >= 0xD800 && c <= 0xDBFF; }
bool IsLowSurrogate(char32_t c) { return c >= 0xDC00 && c <= 0xDFFF; }

}  // namespace

std::string Utf16ToUtf8(std::wstring_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t c = static_cast<char16_t>(s[i]);
    if (IsHighSurrogate(c) && i + 1 < s.size() && IsLowSurrogate(static_cast<char16_t>(s[i + 1]))) {
      const char32_t low = static_cast<char16_t>(s[i + 1]);
      AppendUtf8(out, 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00));
      ++i;
    } else if (IsHighSurrogate(c) || IsLowSurrogate(c)) {
      AppendUtf8(out, kReplacement);
    } else {
      AppendUtf8(out, c);
    }
  }
  return out;
}

std::wstring Utf8ToUtf16(std::string_view s) {
  std::wstring out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const Utf8Char c = DecodeUtf8At(s, i);
    i += c.length;
    const char32_t cp = c.valid ? c.code_point : kReplacement;
    if (cp >= 0x10000) {
      out.push_back(static_cast<wchar_t>(0xD800 + ((cp - 0x10000) >> 10)));
      out.push_back(static_cast<wchar_t>(0xDC00 + ((cp - 0x10000) & 0x3FF)));
    } else {
      out.push_back(static_cast<wchar_t>(cp));
    }
  }
  return out;
}

std::wstring_view UntilNul(const wchar_t* buffer, std::size_t capacity) {
  std::wstring_view all(buffer, capacity);
  const std::size_t nul = all.find(L'\0');
  return nul == std::wstring_view::npos ? all : all.substr(0, nul);
}

std::vector<std::string> SplitMultiSz(std::wstring_view buffer, std::size_t max_items) {
  std::vector<std::string> items;
  while (!buffer.empty() && items.size() < max_items) {
    const std::wstring_view item = UntilNul(buffer.data(), buffer.size());
    if (item.empty()) break;
    items.push_back(Utf16ToUtf8(item));
    buffer.remove_prefix(std::min(buffer.size(), item.size() + 1));
  }
  return items;
}

}  // namespace mamori
