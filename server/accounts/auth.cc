#include "server/accounts/auth.h"

#include "common/base/hex.h"
#include "common/base/logging.h"
#include "server/accounts/password.h"
#include "server/accounts/totp.h"

namespace mamori::web {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("web-auth");
  return log;
}

constexpr std::size_t kTokenBytes = 32;  // 256 bits
constexpr std::size_t kTotpSecretBytes = 20;
constexpr std::size_t kMaxPasswordBytes = 1024;

Error LoginFailed() {
  return MakeError(ErrorCode::kUnauthenticated, "invalid user name, password or code");
}

Error NoSession() { return MakeError(ErrorCode::kUnauthenticated, "not logged in"); }

}  // namespace

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "operator") return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

bool IsValidUserName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

bool CsrfMatches(const SessionInfo& session, std::string_view header_value) {
  return !session.csrf_token.empty() && ConstantTimeEquals(session.csrf_token, header_value);
}

AuthService::AuthService(AccountRepository* store, const Clock* clock, AuthConfig config)
    : store_(store), clock_(clock), config_(config) {}

Result<LoginResult> AuthService::Login(std::string_view name, std::string_view password,
                                       std::string_view totp_code) {
  std::lock_guard lock(login_mu_);
  const int64_t now = clock_->NowMs();
  if (!IsValidUserName(name) || password.size() > kMaxPasswordBytes) {
    Log()->warn("login refused: malformed user name or password");
    return LoginFailed();
  }
  auto found = store_->GetUser(name);
  if (!found.ok()) return found.error();
  if (!found->has_value()) {
    // Same work as for a real account, so timing does not reveal which
    // names exist.
    (void)VerifyPassword(password,
                         "scrypt$15$8$1$00000000000000000000000000000000$" + std::string(64, '0'));
    Log()->warn("login refused for unknown user '{}'", name);
    return LoginFailed();
  }
  UserRecord user = std::move(**found);
  if (user.disabled) {
    Log()->warn("login refused for '{}': account disabled", user.name);
    return LoginFailed();
  }
  if (user.locked_until_ms > now) {
    Log()->warn("login refused for '{}': locked for {} more s", user.name,
                (user.locked_until_ms - now + 999) / 1000);
    return LoginFailed();
  }
  const bool password_ok = VerifyPassword(password, user.password_hash);
  const std::optional<int64_t> step =
      password_ok ? VerifyTotp(user.totp_secret, totp_code, now / 1000, user.last_totp_step)
                  : std::nullopt;
  if (!password_ok || !step) {
    ++user.failed_logins;
    if (user.failed_logins >= config_.max_failures) {
      user.locked_until_ms = now + config_.lockout_ms;
      user.failed_logins = 0;
      Log()->warn("login refused for '{}': {}; account locked for {} s after {} failures",
                  user.name, password_ok ? "wrong or reused TOTP code" : "wrong password",
                  config_.lockout_ms / 1000, config_.max_failures);
    } else {
      Log()->warn("login refused for '{}': {} (failure {} of {})", user.name,
                  password_ok ? "wrong or reused TOTP code" : "wrong password", user.failed_logins,
                  config_.max_failures);
    }
    if (Status s = store_->PutUser(user); !s.ok()) return s.error();
    return LoginFailed();
  }
  user.failed_logins = 0;
  user.locked_until_ms = 0;
  user.last_totp_step = *step;
  if (Status s = store_->PutUser(user); !s.ok()) return s.error();

  LoginResult result;
  result.token = HexEncode(RandomBytes(kTokenBytes));
  SessionRecord session;
  session.token_hash = Sha256Hex(result.token);
  session.user_name = user.name;
  session.csrf_token = HexEncode(RandomBytes(kTokenBytes));
  session.created_at_ms = now;
  session.expires_at_ms = now + config_.session_ttl_ms;
  if (Status s = store_->PutSession(session); !s.ok()) return s.error();
  result.session.user = user.name;
  result.session.role = ParseRole(user.role).value_or(Role::kViewer);
  result.session.csrf_token = session.csrf_token;
  result.session.expires_at_ms = session.expires_at_ms;
  Log()->info("user '{}' ({}) logged in", user.name, user.role);
  return result;
}

Result<SessionInfo> AuthService::Authenticate(std::string_view token) {
  if (token.size() != kTokenBytes * 2) return NoSession();
  auto session = store_->GetSession(Sha256Hex(token));
  if (!session.ok()) return session.error();
  if (!session->has_value()) return NoSession();
  if ((*session)->expires_at_ms <= clock_->NowMs()) return NoSession();
  auto user = store_->GetUser((*session)->user_name);
  if (!user.ok()) return user.error();
  if (!user->has_value() || (*user)->disabled) return NoSession();
  const std::optional<Role> role = ParseRole((*user)->role);
  if (!role) return NoSession();
  SessionInfo info;
  info.user = (*user)->name;
  info.role = *role;
  info.csrf_token = (*session)->csrf_token;
  info.expires_at_ms = (*session)->expires_at_ms;
  return info;
}

Status AuthService::Logout(std::string_view token) {
  if (token.size() != kTokenBytes * 2) return Status::Ok();
  return store_->DeleteSession(Sha256Hex(token));
}

Result<NewCredentials> AuthService::IssueCredentials(UserRecord user) {
  NewCredentials creds;
  creds.name = user.name;
  creds.role = ParseRole(user.role).value_or(Role::kViewer);
  creds.password = RandomPassword();
  auto hash = HashPassword(creds.password);
  if (!hash.ok()) return hash.error();
  user.password_hash = *hash;
  user.totp_secret = RandomBytes(kTotpSecretBytes);
  user.disabled = false;
  user.failed_logins = 0;
  user.locked_until_ms = 0;
  user.last_totp_step = 0;
  creds.otpauth_uri = OtpauthUri(user.name, user.totp_secret);
  if (Status s = store_->PutUser(user); !s.ok()) return s.error();
  if (Status s = store_->DeleteUserSessions(user.name); !s.ok()) return s.error();
  return creds;
}

Result<NewCredentials> AuthService::AddUser(std::string_view name, Role role) {
  std::lock_guard lock(login_mu_);
  if (!IsValidUserName(name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid user name '" + std::string(name) +
                         "': 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit");
  }
  auto existing = store_->GetUser(name);
  if (!existing.ok()) return existing.error();
  if (existing->has_value()) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "user '" + std::string(name) + "' exists (use 'user reset')");
  }
  UserRecord user;
  user.name = std::string(name);
  user.role = std::string(RoleName(role));
  user.created_at_ms = clock_->NowMs();
  return IssueCredentials(std::move(user));
}

Result<NewCredentials> AuthService::ResetUser(std::string_view name) {
  std::lock_guard lock(login_mu_);
  auto existing = store_->GetUser(name);
  if (!existing.ok()) return existing.error();
  if (!existing->has_value()) {
    return MakeError(ErrorCode::kNotFound, "no user '" + std::string(name) + "'");
  }
  return IssueCredentials(std::move(**existing));
}

Status AuthService::DisableUser(std::string_view name) {
  std::lock_guard lock(login_mu_);
  auto existing = store_->GetUser(name);
  if (!existing.ok()) return existing.error();
  if (!existing->has_value()) {
    return MakeError(ErrorCode::kNotFound, "no user '" + std::string(name) + "'");
  }
  UserRecord user = std::move(**existing);
  user.disabled = true;
  if (Status s = store_->PutUser(user); !s.ok()) return s;
  return store_->DeleteUserSessions(user.name);
}

Result<std::vector<AccountSummary>> AuthService::ListUsers() {
  auto users = store_->ListUsers();
  if (!users.ok()) return users.error();
  const int64_t now = clock_->NowMs();
  std::vector<AccountSummary> out;
  out.reserve(users->size());
  for (const UserRecord& u : *users) {
    AccountSummary a;
    a.name = u.name;
    a.role = ParseRole(u.role).value_or(Role::kViewer);
    a.disabled = u.disabled;
    a.locked_until_ms = u.locked_until_ms > now ? u.locked_until_ms : 0;
    a.created_at_ms = u.created_at_ms;
    out.push_back(std::move(a));
  }
  return out;
}

Status AuthService::SetRole(std::string_view name, Role role) {
  std::lock_guard lock(login_mu_);
  auto existing = store_->GetUser(name);
  if (!existing.ok()) return existing.error();
  if (!existing->has_value()) {
    return MakeError(ErrorCode::kNotFound, "no user '" + std::string(name) + "'");
  }
  UserRecord user = std::move(**existing);
  user.role = std::string(RoleName(role));
  return store_->PutUser(user);
}

}  // namespace mamori::web
