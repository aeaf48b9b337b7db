#include "server/enrollment/enroll_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "common/base/hex.h"

namespace mamori {
namespace {

constexpr std::string_view kPrefix = "mt_";
constexpr std::size_t kIdChars = 8;       // 40 bits: names, not secrets
constexpr std::size_t kSecretChars = 52;  // 260 bits carrying 256 random ones
constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";

bool IsBase32(std::string_view s) { return s.find_first_not_of(kBase32) == std::string_view::npos; }

// `chars` base32 characters from fresh random bytes (5 bits each).
Result<std::string> RandomBase32(std::size_t chars) {
  std::string bytes((chars * 5 + 7) / 8, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size())) !=
      1) {
    return MakeError(ErrorCode::kInternal, "the random number generator failed");
  }
  std::string out;
  out.reserve(chars);
  uint32_t buffer = 0;
  int bits = 0;
  std::size_t next = 0;
  while (out.size() < chars) {
    if (bits < 5) {
      buffer = (buffer << 8) | static_cast<unsigned char>(bytes[next++]);
      bits += 8;
    }
    out += kBase32[(buffer >> (bits - 5)) & 31u];
    bits -= 5;
  }
  return out;
}

std::array<unsigned char, 32> Sha256(std::string_view text) {
  std::array<unsigned char, 32> md{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr);
  return md;
}

}  // namespace

Result<NewEnrollToken> MakeEnrollToken() {
  Result<std::string> id = RandomBase32(kIdChars);
  if (!id) return id.error();
  Result<std::string> secret = RandomBase32(kSecretChars);
  if (!secret) return secret.error();
  NewEnrollToken t;
  t.id = *id;
  t.text = std::string(kPrefix) + *id + "_" + *secret;
  t.secret_sha256 = EnrollTokenSha256(t.text);
  return t;
}

std::optional<std::string> EnrollTokenId(std::string_view text) {
  if (text.size() != kPrefix.size() + kIdChars + 1 + kSecretChars) return std::nullopt;
  if (!text.starts_with(kPrefix)) return std::nullopt;
  const std::string_view id = text.substr(kPrefix.size(), kIdChars);
  if (text[kPrefix.size() + kIdChars] != '_') return std::nullopt;
  const std::string_view secret = text.substr(kPrefix.size() + kIdChars + 1);
  if (!IsBase32(id) || !IsBase32(secret)) return std::nullopt;
  return std::string(id);
}

std::string EnrollTokenSha256(std::string_view text) {
  const auto md = Sha256(text);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md.data()), md.size()));
}

bool EnrollTokenMatches(std::string_view text, std::string_view stored_sha256) {
  const std::optional<std::string> stored = HexDecode(stored_sha256);
  if (!stored || stored->size() != 32) return false;
  const auto md = Sha256(text);
  return CRYPTO_memcmp(md.data(), stored->data(), md.size()) == 0;
}

}  // namespace mamori
