#include "server/accounts/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server/accounts/password.h"

namespace mamori::web {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

uint32_t Hotp(std::string_view secret, uint64_t counter, int digits) {
  unsigned char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), msg, sizeof msg, mac, &mac_len);
  const int offset = mac[mac_len - 1] & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                          static_cast<uint32_t>(mac[offset + 3]);
  uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  return binary % mod;
}

int64_t TotpStep(int64_t unix_seconds) { return unix_seconds / kTotpStepSeconds; }

std::string TotpCode(std::string_view secret, int64_t unix_seconds, int digits) {
  std::string code =
      std::to_string(Hotp(secret, static_cast<uint64_t>(TotpStep(unix_seconds)), digits));
  while (static_cast<int>(code.size()) < digits) code.insert(code.begin(), '0');
  return code;
}

std::optional<int64_t> VerifyTotp(std::string_view secret, std::string_view code,
                                  int64_t unix_seconds, int64_t last_used_step) {
  if (code.size() != 6) return std::nullopt;
  for (char c : code) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const int64_t now = TotpStep(unix_seconds);
  std::optional<int64_t> matched;
  // Every candidate is computed and compared, so timing does not tell which
  // step matched.
  for (int64_t step = now - 1; step <= now + 1; ++step) {
    if (step < 0) continue;
    const std::string expected = TotpCode(secret, step * kTotpStepSeconds);
    if (ConstantTimeEquals(expected, code) && step > last_used_step) matched = step;
  }
  return matched;
}

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const auto pos = kBase32.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(pos);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

std::string OtpauthUri(std::string_view account, std::string_view secret) {
  return "otpauth://totp/Mamori:" + PercentEncode(account) + "?secret=" + Base32Encode(secret) +
         "&issuer=Mamori&algorithm=SHA1&digits=6&period=30";
}

}  // namespace mamori::web
