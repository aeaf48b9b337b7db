// SqliteStore: dashboard accounts and sessions.

#include <utility>

#include "common/base/hex.h"
#include "server/store/sqlite/sqlite_rows.h"
#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

Status SqliteStore::PutUser(const UserRecord& user) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT OR REPLACE INTO users (name, role, password_hash, totp_secret_hex, disabled, "
        "failed_logins, locked_until_ms, last_totp_step, created_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(user.name)
        .Text(user.role)
        .Text(user.password_hash)
        .Text(HexEncode(user.totp_secret))
        .Int(user.disabled ? 1 : 0)
        .Int(user.failed_logins)
        .Int(user.locked_until_ms)
        .Int(user.last_totp_step)
        .Int(user.created_at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a user");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a user");
    return Status::Ok();
  });
}

namespace {

#define MAMORI_USER_COLUMNS                                                                \
  "name, role, password_hash, totp_secret_hex, disabled, failed_logins, locked_until_ms, " \
  "last_totp_step, created_at_ms"

UserRecord ReadUser(sqlite3_stmt* stmt) {
  UserRecord u;
  u.name = ColumnText(stmt, 0);
  u.role = ColumnText(stmt, 1);
  u.password_hash = ColumnText(stmt, 2);
  u.totp_secret = HexDecode(ColumnText(stmt, 3)).value_or("");
  u.disabled = ColumnInt64(stmt, 4) != 0;
  u.failed_logins = ColumnInt64(stmt, 5);
  u.locked_until_ms = ColumnInt64(stmt, 6);
  u.last_totp_step = ColumnInt64(stmt, 7);
  u.created_at_ms = ColumnInt64(stmt, 8);
  return u;
}

}  // namespace

Result<std::optional<UserRecord>> SqliteStore::GetUser(std::string_view name) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare("SELECT " MAMORI_USER_COLUMNS " FROM users WHERE name = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(name);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a user name");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<UserRecord>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a user");
  return std::optional<UserRecord>(ReadUser(stmt->get()));
}

Result<std::vector<UserRecord>> SqliteStore::ListUsers() {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare("SELECT " MAMORI_USER_COLUMNS " FROM users ORDER BY name");
  if (!stmt.ok()) return stmt.error();
  std::vector<UserRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(ReadUser(stmt->get()));
  if (rc != SQLITE_DONE) return SqlError(rc, "listing users");
  return out;
}

#undef MAMORI_USER_COLUMNS

Status SqliteStore::PutSession(const SessionRecord& session) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT OR REPLACE INTO sessions (token_hash, user_name, csrf_token, created_at_ms, "
        "expires_at_ms) VALUES (?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(session.token_hash)
        .Text(session.user_name)
        .Text(session.csrf_token)
        .Int(session.created_at_ms)
        .Int(session.expires_at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a session");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a session");
    // Expired sessions are useless; dropping them here keeps the table small
    // without a timer.
    Result<StmtLease> purge = Prepare("DELETE FROM sessions WHERE expires_at_ms < ?");
    if (!purge.ok()) return purge.error();
    Binder purge_bind(purge->get());
    purge_bind.Int(session.created_at_ms);
    if (purge_bind.rc() != SQLITE_OK) return SqlError(purge_bind.rc(), "binding a purge");
    const int purge_rc = sqlite3_step(purge->get());
    if (purge_rc != SQLITE_DONE) return SqlError(purge_rc, "purging expired sessions");
    return Status::Ok();
  });
}

Result<std::optional<SessionRecord>> SqliteStore::GetSession(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(
      "SELECT token_hash, user_name, csrf_token, created_at_ms, expires_at_ms FROM sessions "
      "WHERE token_hash = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(token_hash);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a session key");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<SessionRecord>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a session");
  SessionRecord s;
  s.token_hash = ColumnText(stmt->get(), 0);
  s.user_name = ColumnText(stmt->get(), 1);
  s.csrf_token = ColumnText(stmt->get(), 2);
  s.created_at_ms = ColumnInt64(stmt->get(), 3);
  s.expires_at_ms = ColumnInt64(stmt->get(), 4);
  return std::optional<SessionRecord>(std::move(s));
}

Status SqliteStore::DeleteSession(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare("DELETE FROM sessions WHERE token_hash = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(token_hash);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a session key");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "deleting a session");
    return Status::Ok();
  });
}

Status SqliteStore::DeleteUserSessions(std::string_view user_name) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare("DELETE FROM sessions WHERE user_name = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(user_name);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a user name");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "deleting sessions");
    return Status::Ok();
  });
}

}  // namespace mamori
