#include "server/accounts/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/base/hex.h"

namespace mamori::web {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kKeyBytes = 32;
// Refuse stored parameters beyond this (a tampered row must not make a
// login attempt allocate gigabytes).
constexpr int kMaxLog2N = 20;
constexpr uint64_t kMaxMem = 1ULL << 30;

bool Derive(std::string_view password, std::string_view salt, int log2_n, int r, int p,
            unsigned char* out) {
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                        uint64_t{1} << log2_n, static_cast<uint64_t>(r), static_cast<uint64_t>(p),
                        kMaxMem, out, kKeyBytes) == 1;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto pos = s.find(sep);
    parts.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return parts;
}

bool ParseSmallInt(std::string_view s, int lo, int hi, int* out) {
  if (s.empty() || s.size() > 4) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // No randomness means no safe tokens or salts at all.
    std::abort();
  }
  return out;
}

std::string RandomPassword(std::size_t length) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
  std::string out;
  while (out.size() < length) {
    for (unsigned char b : RandomBytes(length)) {
      // Rejection sampling keeps the choice uniform.
      if (b >= 256 - 256 % kAlphabet.size()) continue;
      if (out.size() < length) out.push_back(kAlphabet[b % kAlphabet.size()]);
    }
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Result<std::string> HashPassword(std::string_view password, const ScryptParams& params) {
  const std::string salt = RandomBytes(kSaltBytes);
  unsigned char key[kKeyBytes];
  if (!Derive(password, salt, params.log2_n, params.r, params.p, key)) {
    return MakeError(ErrorCode::kInternal, "scrypt failed");
  }
  return "scrypt$" + std::to_string(params.log2_n) + "$" + std::to_string(params.r) + "$" +
         std::to_string(params.p) + "$" + HexEncode(salt) + "$" +
         HexEncode(std::string_view(reinterpret_cast<const char*>(key), sizeof key));
}

bool VerifyPassword(std::string_view password, std::string_view stored) {
  const auto parts = Split(stored, '$');
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  int log2_n = 0, r = 0, p = 0;
  if (!ParseSmallInt(parts[1], 1, kMaxLog2N, &log2_n) || !ParseSmallInt(parts[2], 1, 32, &r) ||
      !ParseSmallInt(parts[3], 1, 16, &p)) {
    return false;
  }
  const auto salt = HexDecode(parts[4]);
  const auto expected = HexDecode(parts[5]);
  if (!salt || !expected || expected->size() != kKeyBytes) return false;
  unsigned char key[kKeyBytes];
  if (!Derive(password, *salt, log2_n, r, p, key)) return false;
  return ConstantTimeEquals(std::string_view(reinterpret_cast<const char*>(key), sizeof key),
                            *expected);
}

}  // namespace mamori::web
