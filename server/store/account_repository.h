#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace mamori {

// A dashboard account (server/web). The password hash and TOTP secret are
// opaque here; server/accounts/password.h and totp.h define them.
struct UserRecord {
  std::string name;
  std::string role;  // "viewer", "operator" or "admin"
  std::string password_hash;
  std::string totp_secret;  // raw bytes
  bool disabled = false;
  int64_t failed_logins = 0;    // consecutive failures since the last success
  int64_t locked_until_ms = 0;  // 0 = not locked
  int64_t last_totp_step = 0;   // highest TOTP step accepted (replay guard)
  int64_t created_at_ms = 0;
};

// A dashboard login session. Only a hash of the cookie token is stored, so
// a copy of the database does not yield usable sessions.
struct SessionRecord {
  std::string token_hash;  // SHA-256 of the cookie token, lower-case hex
  std::string user_name;
  std::string csrf_token;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// Dashboard accounts and their login sessions.
class AccountRepository {
 public:
  virtual ~AccountRepository() = default;

  // Dashboard accounts. PutUser inserts or replaces by name.
  virtual Status PutUser(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> GetUser(std::string_view name) = 0;
  // Every account, by name (the dashboard's user list).
  virtual Result<std::vector<UserRecord>> ListUsers() = 0;
  virtual Status PutSession(const SessionRecord& session) = 0;
  virtual Result<std::optional<SessionRecord>> GetSession(std::string_view token_hash) = 0;
  virtual Status DeleteSession(std::string_view token_hash) = 0;
  // Ends every session of the user (password reset, disable).
  virtual Status DeleteUserSessions(std::string_view user_name) = 0;
};

}  // namespace mamori
