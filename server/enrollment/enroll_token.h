#pragma once

// Enrollment token text: "mt_<id>_<secret>", where <id> (8 base32
// characters) names the token in lists and logs and <secret> carries 256
// random bits. The collector keeps only the SHA-256 of the whole text.

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// Longer input is refused before anything else looks at it.
inline constexpr std::size_t kMaxEnrollTokenBytes = 128;

struct NewEnrollToken {
  std::string id;
  std::string text;           // printed once, never stored
  std::string secret_sha256;  // what the store keeps
};

Result<NewEnrollToken> MakeEnrollToken();

// The id part of a well-formed token; nullopt for anything else.
std::optional<std::string> EnrollTokenId(std::string_view text);

// Lower-case hex SHA-256 of the token text.
std::string EnrollTokenSha256(std::string_view text);

// Whether the token text hashes to `stored_sha256`, compared in constant
// time so the comparison leaks nothing about how much of a guess was right.
bool EnrollTokenMatches(std::string_view text, std::string_view stored_sha256);

}  // namespace mamori
