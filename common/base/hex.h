#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mamori {

// 0..15 for a hex digit (either case), -1 otherwise.
int HexDigit(char c);

// A USB vendor or product id written as exactly four hex digits ("0781"),
// the way lsusb and Device Manager show them; anything else is more likely a
// typo than a short form.
std::optional<uint16_t> ParseUsbId(std::string_view s);

// Lower-case hex of arbitrary bytes.
std::string HexEncode(std::string_view bytes);

// The bytes of an even-length hex string (either case); nullopt otherwise.
std::optional<std::string> HexDecode(std::string_view hex);

}  // namespace mamori
