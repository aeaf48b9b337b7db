#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mamori {

// 0..15 for a hex digit (either case), -1 otherwise.
int HexDigit(char c);

// A USB vendor or product id written as exactly four hex digits ("0781"),
// the way lsusb and Device Manager show them; anything else is more likely a
// typo than a short form.
std::optional<uint16_t> ParseUsbId(std::string_view s);

}  // namespace mamori
