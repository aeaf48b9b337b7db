#include "agent/platform/windows/win32/wide_string.h"

#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <vector>

namespace mamori {
namespace {

TEST(WideStringTest, RoundTrip) {
  const std::string text = "SanDisk \xE5\xAE\x88\xE3\x82\x8A \xF0\x9F\x94\x92";  // 守り 🔒
  const std::wstring wide = Utf8ToUtf16(text);
  EXPECT_EQ(wide.size(), 13u);  // "SanDisk " 8, 守り 2, " " 1, 🔒 a surrogate pair
  EXPECT_EQ(Utf16ToUtf8(wide), text);
}

TEST(WideStringTest, SurrogatePair) {
  const std::wstring w = {static_cast<wchar_t>(0xD83D), static_cast<wchar_t>(0xDD12)};
  EXPECT_EQ(Utf16ToUtf8(w), "\xF0\x9F\x94\x92");
}

TEST(WideStringTest, LoneSurrogatesBecomeReplacement) {
  const std::wstring w = {L'a', static_cast<wchar_t>(0xD800), L'b', static_cast<wchar_t>(0xDC00),
                          static_cast<wchar_t>(0xDBFF)};
  EXPECT_EQ(Utf16ToUtf8(w),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(WideStringTest, InvalidUtf8BecomesReplacement) {
  EXPECT_EQ(Utf8ToUtf16("a\xFF"
                        "b"),
            (std::wstring{L'a', static_cast<wchar_t>(0xFFFD), L'b'}));
  EXPECT_EQ(Utf8ToUtf16("\xED\xA0\x80"),  // an encoded surrogate
            std::wstring(3, static_cast<wchar_t>(0xFFFD)));
}

TEST(WideStringTest, HugeHostileInput) {
  std::wstring w(1 << 20, static_cast<wchar_t>(0xD800));
  const std::string u = Utf16ToUtf8(w);
  EXPECT_EQ(u.size(), 3u << 20);
  std::string bytes(1 << 20, '\x80');
  EXPECT_EQ(Utf8ToUtf16(bytes).size(), 1u << 20);
}

TEST(WideStringTest, UntilNul) {
  const wchar_t buf[4] = {L'a', L'b', L'\0', L'c'};
  EXPECT_EQ(UntilNul(buf, 4), L"ab");
  const wchar_t unterminated[3] = {L'x', L'y', L'z'};
  EXPECT_EQ(UntilNul(unterminated, 3), L"xyz");
}

TEST(WideStringTest, SplitMultiSz) {
  const wchar_t ids[] = L"USB\\VID_0781&PID_5581&REV_0100\0USB\\VID_0781&PID_5581\0";
  const auto items = SplitMultiSz(std::wstring_view(ids, std::size(ids)));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], "USB\\VID_0781&PID_5581&REV_0100");
  EXPECT_EQ(items[1], "USB\\VID_0781&PID_5581");
}

TEST(WideStringTest, SplitMultiSzUnterminatedAndBounded) {
  EXPECT_EQ(SplitMultiSz(std::wstring(L"abc")), std::vector<std::string>{"abc"});
  EXPECT_TRUE(SplitMultiSz(std::wstring()).empty());
  std::wstring many;
  for (int i = 0; i < 1000; ++i) many += std::wstring(L"x") + L'\0';
  EXPECT_EQ(SplitMultiSz(many, 64).size(), 64u);
}

}  // namespace
}  // namespace mamori
