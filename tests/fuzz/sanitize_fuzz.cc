// libFuzzer target: whatever bytes a device reports, the sanitized string is
// valid UTF-8, holds no control character, respects the length bound, and
// NeedsSanitizing agrees with whether sanitizing changed anything.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/sanitize.h"
#include "common/base/utf8.h"

namespace {

bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const mamori::Utf8Char c = mamori::DecodeUtf8At(s, i);
    if (!c.valid) return false;
    i += c.length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the bound, so short bounds get cut at every position.
  const std::size_t max_bytes = 4 + data[0];
  const std::string_view raw(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string clean = mamori::SanitizeDeviceString(raw, max_bytes);
  if (clean.size() > max_bytes) __builtin_trap();
  if (!IsValidUtf8(clean)) __builtin_trap();
  for (unsigned char c : clean) {
    if (c < 0x20 || c == 0x7f) __builtin_trap();
  }
  if (mamori::NeedsSanitizing(raw, max_bytes) != (clean != raw)) __builtin_trap();
  return 0;
}
