#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mamori::web {

// TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1, the variant every
// authenticator app implements.
constexpr int64_t kTotpStepSeconds = 30;

// HOTP value of `counter`, `digits` long (6 or 8).
uint32_t Hotp(std::string_view secret, uint64_t counter, int digits = 6);
// The time step of Unix time `unix_seconds`.
int64_t TotpStep(int64_t unix_seconds);
// Zero-padded TOTP code for `unix_seconds`.
std::string TotpCode(std::string_view secret, int64_t unix_seconds, int digits = 6);
// Checks `code` against the steps now-1, now and now+1 (clock drift of up
// to one step either way) and returns the step that matched. Steps at or
// below `last_used_step` are refused, so a code cannot be replayed.
std::optional<int64_t> VerifyTotp(std::string_view secret, std::string_view code,
                                  int64_t unix_seconds, int64_t last_used_step);

// RFC 4648 base32 without padding, as otpauth URIs carry secrets.
std::string Base32Encode(std::string_view bytes);
std::optional<std::string> Base32Decode(std::string_view text);
// otpauth://totp/Mamori:NAME?secret=...&issuer=Mamori&algorithm=SHA1&digits=6&period=30
std::string OtpauthUri(std::string_view account, std::string_view secret);

}  // namespace mamori::web
