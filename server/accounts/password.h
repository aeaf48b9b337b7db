#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori::web {

// Password hashing with scrypt (OpenSSL EVP_PBE_scrypt). Stored form:
// "scrypt$LOG2N$R$P$SALT_HEX$HASH_HEX", so the cost can be raised later
// without invalidating existing hashes.
struct ScryptParams {
  // N = 2^15, r = 8, p = 1: 32 MiB of memory and roughly 0.1 s per guess on
  // a server core (RFC 7914 / OWASP's interactive-login recommendation).
  // Memory hardness is why scrypt rather than PBKDF2: GPU and ASIC guessing
  // of a stolen database is bounded by memory bandwidth, not just hashing.
  int log2_n = 15;
  int r = 8;
  int p = 1;
};

Result<std::string> HashPassword(std::string_view password, const ScryptParams& params = {});
// Constant-time comparison of the derived key; false for a malformed or
// unreasonably expensive stored hash.
bool VerifyPassword(std::string_view password, std::string_view stored);

// Random bytes from OpenSSL's CSPRNG.
std::string RandomBytes(std::size_t n);
// A random password of `length` characters from an unambiguous alphabet.
std::string RandomPassword(std::size_t length = 20);
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);

}  // namespace mamori::web
