// libFuzzer target: ParseUnlockCode refuses any bytes that are not a code
// with a reason and a message, never crashes; what it accepts formats back to
// a code that parses to the same fields, and verifies without crashing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/unlock_code.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const mamori::UnlockParse parsed = mamori::ParseUnlockCode(text);
  if (!parsed.ok()) {
    if (parsed.error.message.empty()) __builtin_trap();  // refusals say why
    return 0;
  }
  const mamori::UnlockParse again =
      mamori::ParseUnlockCode(mamori::FormatUnlockCode(parsed.fields));
  if (!again.ok() || again.fields.mac != parsed.fields.mac ||
      again.fields.expiry_ms != parsed.fields.expiry_ms ||
      again.fields.nonce != parsed.fields.nonce) {
    __builtin_trap();
  }
  const mamori::UnlockScope scope{"deployment", "T-0001", std::string(32, 'k')};
  const std::vector<mamori::UnlockDevice> devices = {{0x0781, 0x5581, std::string(text)},
                                                     {1, 2, ""}};
  const mamori::UnlockVerify v =
      mamori::VerifyUnlockCode(parsed.fields, scope, devices, 1'790'000'000'000LL, 300'000);
  if (!v.ok() && v.error.message.empty()) __builtin_trap();
  return 0;
}
