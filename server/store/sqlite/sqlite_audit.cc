// SqliteStore: the audit log, append and read only (schema version 6).

#include <string>

#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

constexpr uint32_t kDefaultAuditLimit = 100;

AuditRecord ReadAudit(sqlite3_stmt* stmt) {
  AuditRecord r;
  r.id = ColumnInt64(stmt, 0);
  r.at_ms = ColumnInt64(stmt, 1);
  r.actor = ColumnText(stmt, 2);
  r.action = ColumnText(stmt, 3);
  r.target = ColumnText(stmt, 4);
  r.detail = ColumnText(stmt, 5);
  r.outcome = ColumnText(stmt, 6);
  return r;
}

}  // namespace

Result<int64_t> SqliteStore::AppendAudit(const AuditRecord& record) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO audit_log (at_ms, actor, action, target, detail, outcome) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Int(record.at_ms)
        .Text(record.actor)
        .Text(record.action)
        .Text(record.target)
        .Text(record.detail)
        .Text(record.outcome);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an audit record");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing an audit record");
    id = sqlite3_last_insert_rowid(db_.get());
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return id;
}

Result<std::vector<AuditRecord>> SqliteStore::QueryAudit(const AuditQuery& query) {
  // Like QueryEvents: only the shape varies, every value is bound.
  std::string sql =
      "SELECT id, at_ms, actor, action, target, detail, outcome FROM audit_log WHERE 1";
  if (!query.actor.empty()) sql.append(" AND actor = ?");
  if (!query.action.empty()) sql.append(" AND action = ?");
  if (query.since_ms != 0) sql.append(" AND at_ms >= ?");
  if (query.until_ms != 0) sql.append(" AND at_ms < ?");
  if (query.before_id != 0) sql.append(" AND id < ?");
  sql.append(" ORDER BY id DESC LIMIT ?");

  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  if (!query.actor.empty()) bind.Text(query.actor);
  if (!query.action.empty()) bind.Text(query.action);
  if (query.since_ms != 0) bind.Int(query.since_ms);
  if (query.until_ms != 0) bind.Int(query.until_ms);
  if (query.before_id != 0) bind.Int(query.before_id);
  bind.Int(query.limit == 0 ? kDefaultAuditLimit : query.limit);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an audit query");
  std::vector<AuditRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(ReadAudit(stmt->get()));
  if (rc != SQLITE_DONE) return SqlError(rc, "querying the audit log");
  return out;
}

}  // namespace mamori
