// SqliteStore: revocations and retired terminals (schema version 11).

#include <string>

#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

std::string_view RevocationKindName(RevocationKind kind) {
  return kind == RevocationKind::kRetire ? "retire" : "revoke";
}

Result<int64_t> SqliteStore::AddRevocation(const RevocationRecord& record) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO revocations (kind, role, subject, cert_sha256, reason, actor, at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(RevocationKindName(record.kind))
        .Text(record.role)
        .Text(record.subject)
        .Text(record.cert_sha256)
        .Text(record.reason)
        .Text(record.actor)
        .Int(record.at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a revocation");
    const int rc = sqlite3_step(stmt->get());
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return MakeError(ErrorCode::kAlreadyExists, std::string(RevocationKindName(record.kind)) +
                                                      " of " + record.role + " '" + record.subject +
                                                      "' was recorded before");
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a revocation");
    id = sqlite3_last_insert_rowid(db_.get());
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return id;
}

Result<std::vector<RevocationRecord>> SqliteStore::ListRevocations() {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(
      "SELECT id, kind, role, subject, cert_sha256, reason, actor, at_ms FROM revocations "
      "ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  std::vector<RevocationRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    RevocationRecord r;
    r.id = ColumnInt64(stmt->get(), 0);
    const std::string kind = ColumnText(stmt->get(), 1);
    if (kind != "revoke" && kind != "retire") {
      return MakeError(ErrorCode::kInternal,
                       "revocation " + std::to_string(r.id) + " has an unknown kind '" + kind +
                           "'; the database was changed outside the collector");
    }
    r.kind = kind == "retire" ? RevocationKind::kRetire : RevocationKind::kRevoke;
    r.role = ColumnText(stmt->get(), 2);
    r.subject = ColumnText(stmt->get(), 3);
    r.cert_sha256 = ColumnText(stmt->get(), 4);
    r.reason = ColumnText(stmt->get(), 5);
    r.actor = ColumnText(stmt->get(), 6);
    r.at_ms = ColumnInt64(stmt->get(), 7);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "listing revocations");
  return out;
}

}  // namespace mamori
