// SqliteStore: enrollment tokens, enrollments, re-enrollment allowances and
// issued certificates (schema version 11).

#include <algorithm>
#include <string>

#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

constexpr uint32_t kDefaultLimit = 100;
constexpr uint32_t kMaxLimit = 10'000;

constexpr std::string_view kTokenColumns =
    "id, secret_sha256, group_name, uses_total, uses_left, created_ms, expires_ms, created_by, "
    "note, revoked_ms, revoked_by, last_used_ms";

EnrollToken ReadToken(sqlite3_stmt* stmt) {
  EnrollToken t;
  t.id = ColumnText(stmt, 0);
  t.secret_sha256 = ColumnText(stmt, 1);
  t.group = ColumnText(stmt, 2);
  t.uses_total = ColumnInt64(stmt, 3);
  t.uses_left = ColumnInt64(stmt, 4);
  t.created_ms = ColumnInt64(stmt, 5);
  t.expires_ms = ColumnInt64(stmt, 6);
  t.created_by = ColumnText(stmt, 7);
  t.note = ColumnText(stmt, 8);
  t.revoked_ms = ColumnInt64(stmt, 9);
  t.revoked_by = ColumnText(stmt, 10);
  t.last_used_ms = ColumnInt64(stmt, 11);
  return t;
}

uint32_t Limit(uint32_t limit) { return limit == 0 ? kDefaultLimit : std::min(limit, kMaxLimit); }

}  // namespace

Status SqliteStore::AddEnrollToken(const EnrollToken& t) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO enroll_tokens (id, secret_sha256, group_name, uses_total, uses_left, "
        "created_ms, expires_ms, created_by, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(t.id)
        .Text(t.secret_sha256)
        .Text(t.group)
        .Int(t.uses_total)
        .Int(t.uses_left)
        .Int(t.created_ms)
        .Int(t.expires_ms)
        .Text(t.created_by)
        .Text(t.note);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an enrollment token");
    const int rc = sqlite3_step(stmt->get());
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return MakeError(ErrorCode::kAlreadyExists, "enrollment token id '" + t.id + "' is taken");
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "storing an enrollment token");
    return Status::Ok();
  });
}

Result<std::optional<EnrollToken>> SqliteStore::GetEnrollToken(std::string_view id) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt =
      Prepare("SELECT " + std::string(kTokenColumns) + " FROM enroll_tokens WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(id);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an enrollment token id");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<EnrollToken>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading an enrollment token");
  return std::optional<EnrollToken>(ReadToken(stmt->get()));
}

Result<std::vector<EnrollToken>> SqliteStore::ListEnrollTokens() {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare("SELECT " + std::string(kTokenColumns) +
                                   " FROM enroll_tokens ORDER BY created_ms DESC, id");
  if (!stmt.ok()) return stmt.error();
  std::vector<EnrollToken> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(ReadToken(stmt->get()));
  if (rc != SQLITE_DONE) return SqlError(rc, "listing enrollment tokens");
  return out;
}

Result<bool> SqliteStore::RevokeEnrollToken(std::string_view id, std::string_view by,
                                            int64_t at_ms) {
  std::lock_guard lock(mu_);
  bool found = false;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "UPDATE enroll_tokens SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ? ELSE revoked_ms "
        "END, revoked_by = CASE WHEN revoked_ms = 0 THEN ? ELSE revoked_by END WHERE id = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Int(at_ms).Text(by).Text(id);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a token revocation");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "revoking an enrollment token");
    found = sqlite3_changes(db_.get()) > 0;
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return found;
}

Result<TokenRefusal> SqliteStore::TakeEnrollTokenUse(std::string_view id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  TokenRefusal refusal = TokenRefusal::kNone;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "UPDATE enroll_tokens SET uses_left = uses_left - 1, last_used_ms = ? "
        "WHERE id = ? AND uses_left > 0 AND revoked_ms = 0 AND expires_ms > ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Int(now_ms).Text(id).Int(now_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a token use");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "taking a token use");
    if (sqlite3_changes(db_.get()) > 0) return Status::Ok();
    sqlite3_reset(stmt->get());
    Result<std::optional<EnrollToken>> token = GetEnrollToken(id);
    if (!token.ok()) return token.error();
    if (!*token) {
      refusal = TokenRefusal::kUnknown;
    } else if ((*token)->revoked_ms != 0) {
      refusal = TokenRefusal::kRevoked;
    } else if ((*token)->expires_ms <= now_ms) {
      refusal = TokenRefusal::kExpired;
    } else {
      refusal = TokenRefusal::kUsedUp;
    }
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return refusal;
}

Status SqliteStore::AddIssuedCertificate(const IssuedCertificateRecord& r) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO issued_certificates (serial_hex, sha256_fingerprint, role, subject_id, "
        "group_name, not_before_ms, not_after_ms, reason, token_id, source_address, issued_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(r.serial_hex)
        .Text(r.sha256_fingerprint)
        .Text(r.role)
        .Text(r.subject_id)
        .Text(r.group)
        .Int(r.not_before_ms)
        .Int(r.not_after_ms)
        .Text(r.reason)
        .Text(r.token_id)
        .Text(r.source_address)
        .Int(r.issued_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an issued certificate");
    const int rc = sqlite3_step(stmt->get());
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "a certificate with serial " + r.serial_hex + " was issued before");
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "storing an issued certificate");
    return Status::Ok();
  });
}

Result<int64_t> SqliteStore::LatestCertificateExpiry(std::string_view role,
                                                     std::string_view subject_id) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(
      "SELECT COALESCE(MAX(not_after_ms), 0) FROM issued_certificates WHERE role = ? AND "
      "subject_id = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(role).Text(subject_id);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a certificate query");
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return SqlError(rc, "reading issued certificates");
  return ColumnInt64(stmt->get(), 0);
}

Result<std::vector<IssuedCertificateRecord>> SqliteStore::ListIssuedCertificates(
    std::string_view subject_id, uint32_t limit) {
  std::string sql =
      "SELECT serial_hex, sha256_fingerprint, role, subject_id, group_name, not_before_ms, "
      "not_after_ms, reason, token_id, source_address, issued_ms FROM issued_certificates";
  if (!subject_id.empty()) sql.append(" WHERE subject_id = ?");
  sql.append(" ORDER BY issued_ms DESC, rowid DESC LIMIT ?");
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  if (!subject_id.empty()) bind.Text(subject_id);
  bind.Int(Limit(limit));
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a certificate query");
  std::vector<IssuedCertificateRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = stmt->get();
    IssuedCertificateRecord r;
    r.serial_hex = ColumnText(s, 0);
    r.sha256_fingerprint = ColumnText(s, 1);
    r.role = ColumnText(s, 2);
    r.subject_id = ColumnText(s, 3);
    r.group = ColumnText(s, 4);
    r.not_before_ms = ColumnInt64(s, 5);
    r.not_after_ms = ColumnInt64(s, 6);
    r.reason = ColumnText(s, 7);
    r.token_id = ColumnText(s, 8);
    r.source_address = ColumnText(s, 9);
    r.issued_ms = ColumnInt64(s, 10);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "listing issued certificates");
  return out;
}

Result<int64_t> SqliteStore::AddEnrollment(const EnrollmentRecord& r) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO enrollments (terminal_id, group_name, token_id, source_address, serial_hex, "
        "hostname, agent_version, os, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(r.terminal_id)
        .Text(r.group)
        .Text(r.token_id)
        .Text(r.source_address)
        .Text(r.serial_hex)
        .Text(r.hostname)
        .Text(r.agent_version)
        .Text(r.os)
        .Int(r.at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an enrollment");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing an enrollment");
    id = sqlite3_last_insert_rowid(db_.get());
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return id;
}

Result<std::vector<EnrollmentRecord>> SqliteStore::ListEnrollments(uint32_t limit) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(
      "SELECT id, terminal_id, group_name, token_id, source_address, serial_hex, hostname, "
      "agent_version, os, at_ms FROM enrollments ORDER BY id DESC LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Int(Limit(limit));
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an enrollment query");
  std::vector<EnrollmentRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = stmt->get();
    EnrollmentRecord r;
    r.id = ColumnInt64(s, 0);
    r.terminal_id = ColumnText(s, 1);
    r.group = ColumnText(s, 2);
    r.token_id = ColumnText(s, 3);
    r.source_address = ColumnText(s, 4);
    r.serial_hex = ColumnText(s, 5);
    r.hostname = ColumnText(s, 6);
    r.agent_version = ColumnText(s, 7);
    r.os = ColumnText(s, 8);
    r.at_ms = ColumnInt64(s, 9);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "listing enrollments");
  return out;
}

Status SqliteStore::AllowReenrollment(std::string_view terminal_id, std::string_view by,
                                      int64_t until_ms) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO reenroll_allowances (terminal_id, allowed_by, until_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (terminal_id) DO UPDATE SET allowed_by = excluded.allowed_by, "
        "until_ms = excluded.until_ms");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(terminal_id).Text(by).Int(until_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a re-enrollment allowance");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a re-enrollment allowance");
    return Status::Ok();
  });
}

Result<bool> SqliteStore::TakeReenrollment(std::string_view terminal_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  bool taken = false;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt =
        Prepare("DELETE FROM reenroll_allowances WHERE terminal_id = ? AND until_ms > ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(terminal_id).Int(now_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a re-enrollment allowance");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "taking a re-enrollment allowance");
    taken = sqlite3_changes(db_.get()) > 0;
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return taken;
}

}  // namespace mamori
