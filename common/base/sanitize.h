#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mamori {

// Longest device string the collector stores, in bytes.
inline constexpr std::size_t kMaxDeviceStringBytes = 256;

// Makes an attacker-controlled device string safe to store and print:
// invalid UTF-8 becomes U+FFFD, C0/C1 control characters and DEL become
// "\xNN", bidirectional overrides/isolates, zero-width characters and the
// BOM become "\uNNNN" (they reorder or hide text where shown), and the
// result is cut at a character boundary to `max_bytes` (with a trailing "…"
// when cut). The output is valid UTF-8 and contains no
// control characters. It still needs HTML/JSON escaping where shown.
std::string SanitizeDeviceString(std::string_view raw,
                                 std::size_t max_bytes = kMaxDeviceStringBytes);

// True when SanitizeDeviceString(raw, max_bytes) would change `raw`. Lets a
// caller skip the copy for the common, already clean string.
bool NeedsSanitizing(std::string_view raw, std::size_t max_bytes = kMaxDeviceStringBytes);

// Escapes &, <, >, " and ' for HTML text and attributes.
std::string HtmlEscape(std::string_view s);

}  // namespace mamori
