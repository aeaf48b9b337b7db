#pragma once

// Offline unlock codes: what an administrator reads out over the phone so
// that a terminal which cannot reach the collector may use one device until
// an expiry. The security model (docs/security-model.md, "Offline unlock
// codes") explains the choices; in short:
//
//   XXXXXX-XXXXXX-XXXXXX   18 Crockford base32 symbols (90 bits), 20 chars
//
//   symbols 0..15 carry 80 bits, most significant first:
//     version   2 bits   1 for this format (0 is never valid)
//     expiry   24 bits   minutes since 2026-01-01T00:00Z (until 2057)
//     nonce     8 bits   chosen by the collector; single use with the rest
//     scope     5 bits   2 bits naming the deployment, 3 the terminal: public
//                        hints that only choose the message of a refusal
//     mac      41 bits   HMAC-SHA256(K_T, header | vid | pid | serial)
//   symbols 16..17        a Reed-Solomon check over GF(32): any one changed
//                         character is found and named by its position, any
//                         two are detected
//
// K_T is the terminal's unlock key (common/crypto/unlock_key.h); neither it
// nor the device identity is in the code: the MAC binds them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

inline constexpr int kUnlockCodeVersion = 1;
inline constexpr size_t kUnlockCodeSymbols = 18;
// The longest validity an issuer may give a code and an agent accepts.
inline constexpr int64_t kUnlockMaxValidityMs = 24LL * 3600 * 1000;
// 2026-01-01T00:00:00Z: minute 0 of the expiry field.
inline constexpr int64_t kUnlockEpochMs = 1767225600000LL;
inline constexpr int kUnlockMacBits = 41;
inline constexpr uint32_t kUnlockMaxNonce = 255;

// The device a code is for: what the user reads out from the agent's
// notice of a blocked device.
struct UnlockDevice {
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  std::string serial;
};

// What both the collector and the terminal know of the code's scope.
struct UnlockScope {
  std::string deployment_id;  // see DeploymentIdFromCa
  std::string terminal_id;
  std::string key;  // K_T, 32 bytes
};

// The fields of a code whose format and check symbols are sound.
struct UnlockFields {
  int version = 0;
  int64_t expiry_ms = 0;  // whole minutes
  uint32_t nonce = 0;
  uint32_t scope_tag = 0;  // 5 bits
  uint64_t mac = 0;        // kUnlockMacBits bits
};

// Why a code was refused; the message says it in words.
enum class UnlockRefusal {
  kNone,
  kWrongLength,
  kBadCharacter,
  kTypo,
  kUnsupportedVersion,
  kOtherDeployment,
  kOtherTerminal,
  kOtherDevice,  // the MAC matches no device offered (or the code is forged)
  kExpired,
  kTooLong,  // expiry further than 24 h (plus skew) ahead of the terminal's clock
  kReused,
  kLockedOut,
  kUnavailable,  // the terminal has no unlock key configured
};

// "other_device", "typo", ...: a stable word for events and tests.
std::string_view UnlockRefusalName(UnlockRefusal refusal);

struct UnlockError {
  UnlockRefusal refusal = UnlockRefusal::kNone;
  std::string message;
};

// The code for `device`, expiring at `expiry_ms` (rounded down to the
// minute), with `nonce` (0..255). Refuses an expiry before the epoch or past
// the field's range.
Result<std::string> IssueUnlockCode(const UnlockScope& scope, const UnlockDevice& device,
                                    int64_t expiry_ms, uint32_t nonce);

// Parses a typed code: case-insensitive, '-' and spaces ignored, O read as
// 0 and I/L as 1 (Crockford). Checks length, characters and check symbols
// only. Never throws; bounded work for any input.
struct UnlockParse {
  bool ok() const { return error.refusal == UnlockRefusal::kNone; }
  UnlockFields fields;
  UnlockError error;
};
UnlockParse ParseUnlockCode(std::string_view text);

// The canonical form "XXXXXX-XXXXXX-XXXXXX" of parsed fields.
std::string FormatUnlockCode(const UnlockFields& fields);

// The 5-bit scope hint of a deployment and terminal.
uint32_t UnlockScopeTag(std::string_view deployment_id, std::string_view terminal_id);

// The truncated MAC of `fields` (mac ignored) for `device` under `key`.
uint64_t UnlockMac(std::string_view key, const UnlockFields& fields, const UnlockDevice& device);

// Checks parsed fields against this terminal's scope and the devices that
// may be meant, at `now_ms`: scope hints, then the MAC against each
// candidate, then expiry. Returns the index of the device the code is for.
// Reuse and guessing limits are the caller's (they need state).
struct UnlockVerify {
  bool ok() const { return error.refusal == UnlockRefusal::kNone; }
  size_t device_index = 0;
  UnlockError error;
};
UnlockVerify VerifyUnlockCode(const UnlockFields& fields, const UnlockScope& scope,
                              const std::vector<UnlockDevice>& candidates, int64_t now_ms,
                              int64_t max_skew_ms);

// The detail of an unlock_code_accepted event. The collector reads the code
// back from it to reconcile the use with the code it issued; `device` and
// `requester` are free text.
std::string FormatUnlockAcceptedDetail(std::string_view code, std::string_view device,
                                       std::string_view until, std::string_view requester);
struct UnlockUseReport {
  std::string code;  // canonical form
  std::string requester;
};
// Nullopt when `detail` does not start like FormatUnlockAcceptedDetail or
// names no well-formed code (the detail comes from a terminal: untrusted).
std::optional<UnlockUseReport> ParseUnlockAcceptedDetail(std::string_view detail);

}  // namespace mamori
