// SqliteStore: offline unlock codes and terminal certificates (schema
// version 9).

#include <string>

#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

constexpr uint32_t kDefaultLimit = 100;

IssuedUnlockCode ReadCode(sqlite3_stmt* stmt) {
  IssuedUnlockCode c;
  c.id = ColumnInt64(stmt, 0);
  c.code = ColumnText(stmt, 1);
  c.terminal_id = ColumnText(stmt, 2);
  c.vendor_id = static_cast<uint16_t>(ColumnInt64(stmt, 3));
  c.product_id = static_cast<uint16_t>(ColumnInt64(stmt, 4));
  c.serial = ColumnText(stmt, 5);
  c.expiry_ms = ColumnInt64(stmt, 6);
  c.nonce = static_cast<uint32_t>(ColumnInt64(stmt, 7));
  c.issued_by = ColumnText(stmt, 8);
  c.issued_at_ms = ColumnInt64(stmt, 9);
  c.reason = ColumnText(stmt, 10);
  c.used_at_ms = ColumnInt64(stmt, 11);
  c.used_by = ColumnText(stmt, 12);
  return c;
}

}  // namespace

Status SqliteStore::PutTerminalCertificate(std::string_view terminal_id, std::string_view cert_pem,
                                           int64_t seen_ms) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO terminal_certificates (terminal_id, cert_pem, seen_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (terminal_id) DO UPDATE SET cert_pem = excluded.cert_pem, "
        "seen_ms = excluded.seen_ms");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(terminal_id).Text(cert_pem).Int(seen_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal certificate");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a terminal certificate");
    return Status::Ok();
  });
}

Result<std::optional<std::string>> SqliteStore::TerminalCertificate(std::string_view terminal_id) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt =
      Prepare("SELECT cert_pem FROM terminal_certificates WHERE terminal_id = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(terminal_id);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal id");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a terminal certificate");
  return std::optional<std::string>(ColumnText(stmt->get(), 0));
}

Result<int64_t> SqliteStore::AddIssuedUnlockCode(const IssuedUnlockCode& code) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO unlock_codes (code, terminal_id, vendor_id, product_id, serial, expiry_ms, "
        "nonce, issued_by, issued_at_ms, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(code.code)
        .Text(code.terminal_id)
        .Int(code.vendor_id)
        .Int(code.product_id)
        .Text(code.serial)
        .Int(code.expiry_ms)
        .Int(code.nonce)
        .Text(code.issued_by)
        .Int(code.issued_at_ms)
        .Text(code.reason);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an unlock code");
    const int rc = sqlite3_step(stmt->get());
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return MakeError(ErrorCode::kAlreadyExists, "this unlock code was issued before");
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "storing an unlock code");
    id = sqlite3_last_insert_rowid(db_.get());
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return id;
}

Result<std::vector<IssuedUnlockCode>> SqliteStore::ListIssuedUnlockCodes(
    std::string_view terminal_id, uint32_t limit) {
  std::string sql =
      "SELECT id, code, terminal_id, vendor_id, product_id, serial, expiry_ms, nonce, issued_by, "
      "issued_at_ms, reason, used_at_ms, used_by FROM unlock_codes";
  if (!terminal_id.empty()) sql.append(" WHERE terminal_id = ?");
  sql.append(" ORDER BY id DESC LIMIT ?");
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  if (!terminal_id.empty()) bind.Text(terminal_id);
  bind.Int(limit == 0 ? kDefaultLimit : limit);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an unlock code query");
  std::vector<IssuedUnlockCode> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(ReadCode(stmt->get()));
  if (rc != SQLITE_DONE) return SqlError(rc, "listing unlock codes");
  return out;
}

Result<bool> SqliteStore::MarkUnlockCodeUsed(std::string_view terminal_id, std::string_view code,
                                             int64_t used_at_ms, std::string_view used_by) {
  std::lock_guard lock(mu_);
  bool found = false;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    // The first reported use counts; a later report of the same use (a
    // resent batch) changes nothing.
    Result<StmtLease> stmt = Prepare(
        "UPDATE unlock_codes SET used_at_ms = CASE WHEN used_at_ms = 0 THEN ? ELSE used_at_ms END, "
        "used_by = CASE WHEN used_at_ms = 0 THEN ? ELSE used_by END "
        "WHERE terminal_id = ? AND code = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Int(used_at_ms).Text(used_by).Text(terminal_id).Text(code);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an unlock code use");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "recording an unlock code use");
    found = sqlite3_changes(db_.get()) > 0;
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return found;
}

}  // namespace mamori
