#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "server/store/account_repository.h"

namespace mamori::web {

enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };
std::optional<Role> ParseRole(std::string_view name);
std::string_view RoleName(Role role);

struct AuthConfig {
  int64_t session_ttl_ms = 8LL * 3600 * 1000;  // one working day
  int max_failures = 5;                        // consecutive failures before a lockout
  int64_t lockout_ms = 15LL * 60 * 1000;
};

// A valid session as the API sees it; role and user come from the users
// table on every request, so a disabled or demoted user loses access at once.
struct SessionInfo {
  std::string user;
  Role role = Role::kViewer;
  std::string csrf_token;
  int64_t expires_at_ms = 0;
};

struct LoginResult {
  std::string token;  // the cookie value; only its hash is stored
  SessionInfo session;
};

// What an administrator hands to a new user (once; never stored in clear).
struct NewCredentials {
  std::string name;
  Role role = Role::kViewer;
  std::string password;
  std::string otpauth_uri;
};

// A dashboard account as the user list shows it: no password hash, no
// TOTP secret.
struct AccountSummary {
  std::string name;
  Role role = Role::kViewer;
  bool disabled = false;
  int64_t locked_until_ms = 0;  // 0 unless a lockout is still running
  int64_t created_at_ms = 0;
};

// Accounts, logins and sessions of the dashboard. Thread-safe.
class AuthService {
 public:
  AuthService(AccountRepository* store, const Clock* clock, AuthConfig config);

  // Password and TOTP code. Every failure reads the same to the caller
  // (kUnauthenticated, "invalid user name, password or code") so the answer
  // does not tell which part was wrong or whether the account exists; the
  // log says why. `max_failures` failures in a row lock the account for
  // `lockout_ms`.
  Result<LoginResult> Login(std::string_view name, std::string_view password,
                            std::string_view totp_code);
  // The session of a cookie token: kUnauthenticated when unknown, expired,
  // or its user is disabled or gone.
  Result<SessionInfo> Authenticate(std::string_view token);
  Status Logout(std::string_view token);
  int64_t session_ttl_ms() const { return config_.session_ttl_ms; }

  // User management (mamorictl user ...; admin certificate required).
  Result<NewCredentials> AddUser(std::string_view name, Role role);
  // New password and TOTP secret, unlocked and enabled; ends the user's sessions.
  Result<NewCredentials> ResetUser(std::string_view name);
  // Refuses further logins and ends the user's sessions.
  Status DisableUser(std::string_view name);
  // Every account, by name.
  Result<std::vector<AccountSummary>> ListUsers();
  // Takes effect on the user's next request: sessions read the role from
  // the account every time.
  Status SetRole(std::string_view name, Role role);

 private:
  Result<NewCredentials> IssueCredentials(UserRecord user);

  AccountRepository* store_;
  const Clock* clock_;
  AuthConfig config_;
  // Serialises logins so that concurrent guesses cannot race past the
  // failure counter; it also caps the CPU an attacker can burn on scrypt.
  // Account changes take it too: a login writes the whole user row back,
  // which must not undo a disable or reset made meanwhile.
  std::mutex login_mu_;
};

// Compares the X-CSRF-Token header with the session's token in constant time.
bool CsrfMatches(const SessionInfo& session, std::string_view header_value);
// 1 to 64 of [a-z0-9._-], starting with a letter or digit.
bool IsValidUserName(std::string_view name);

}  // namespace mamori::web
