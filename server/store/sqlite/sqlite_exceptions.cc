// SqliteStore: requests for time-limited exceptions (schema version 9).

#include <string>

#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

#define MAMORI_EXCEPTION_COLUMNS                                                            \
  "id, terminal_id, group_name, vendor_id, product_id, serial, from_ms, until_ms, reason, " \
  "requested_for, source_event, requested_by, requested_at_ms, state, decided_by, "         \
  "decided_at_ms, decision_note"

ExceptionRequest ReadExceptionRequest(sqlite3_stmt* stmt) {
  ExceptionRequest e;
  int c = 0;
  e.id = ColumnInt64(stmt, c++);
  e.terminal_id = ColumnText(stmt, c++);
  e.group = ColumnText(stmt, c++);
  e.vendor_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  e.product_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  e.serial = ColumnText(stmt, c++);
  e.from_ms = ColumnInt64(stmt, c++);
  e.until_ms = ColumnInt64(stmt, c++);
  e.reason = ColumnText(stmt, c++);
  e.requested_for = ColumnText(stmt, c++);
  e.source_event = ColumnText(stmt, c++);
  e.requested_by = ColumnText(stmt, c++);
  e.requested_at_ms = ColumnInt64(stmt, c++);
  // Written by this code only; an unknown name would be a tampered row,
  // which must never read as approved.
  e.state =
      ParseExceptionRequestState(ColumnText(stmt, c++)).value_or(ExceptionRequestState::kCancelled);
  e.decided_by = ColumnText(stmt, c++);
  e.decided_at_ms = ColumnInt64(stmt, c++);
  e.decision_note = ColumnText(stmt, c++);
  return e;
}

}  // namespace

Result<int64_t> SqliteStore::AddExceptionRequest(const ExceptionRequest& r) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO exception_requests (terminal_id, group_name, vendor_id, product_id, serial, "
        "from_ms, until_ms, reason, requested_for, source_event, requested_by, requested_at_ms, "
        "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(r.terminal_id)
        .Text(r.group)
        .Int(r.vendor_id)
        .Int(r.product_id)
        .Text(r.serial)
        .Int(r.from_ms)
        .Int(r.until_ms)
        .Text(r.reason)
        .Text(r.requested_for)
        .Text(r.source_event)
        .Text(r.requested_by)
        .Int(r.requested_at_ms)
        .Text(ExceptionRequestStateName(ExceptionRequestState::kRequested));
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an exception request");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing an exception request");
    id = sqlite3_last_insert_rowid(db_.get());
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return id;
}

Status SqliteStore::DecideExceptionRequest(int64_t id,
                                           const std::vector<ExceptionRequestState>& from,
                                           ExceptionRequestState to, std::string_view by,
                                           int64_t at_ms, std::string_view note) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> get = Prepare("SELECT state FROM exception_requests WHERE id = ?");
    if (!get.ok()) return get.error();
    Binder b(get->get());
    b.Int(id);
    if (b.rc() != SQLITE_OK) return SqlError(b.rc(), "binding an exception request id");
    const int rc = sqlite3_step(get->get());
    if (rc == SQLITE_DONE) {
      return MakeError(ErrorCode::kNotFound, "no exception request EX-" + std::to_string(id));
    }
    if (rc != SQLITE_ROW) return SqlError(rc, "reading an exception request");
    const std::string state = ColumnText(get->get(), 0);
    bool allowed = false;
    for (ExceptionRequestState s : from) allowed = allowed || ExceptionRequestStateName(s) == state;
    if (!allowed) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "exception request EX-" + std::to_string(id) + " is " + state);
    }
    Result<StmtLease> stmt = Prepare(
        "UPDATE exception_requests SET state = ?, decided_by = ?, decided_at_ms = ?, "
        "decision_note = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(ExceptionRequestStateName(to)).Text(by).Int(at_ms).Text(note).Int(id);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an exception decision");
    const int rc2 = sqlite3_step(stmt->get());
    if (rc2 != SQLITE_DONE) return SqlError(rc2, "storing an exception decision");
    return Status::Ok();
  });
}

Result<std::optional<ExceptionRequest>> SqliteStore::GetExceptionRequest(int64_t id) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt =
      Prepare("SELECT " MAMORI_EXCEPTION_COLUMNS " FROM exception_requests WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Int(id);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an exception request id");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<ExceptionRequest>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading an exception request");
  return std::optional<ExceptionRequest>(ReadExceptionRequest(stmt->get()));
}

Result<std::vector<ExceptionRequest>> SqliteStore::ListExceptionRequests() {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt =
      Prepare("SELECT " MAMORI_EXCEPTION_COLUMNS " FROM exception_requests ORDER BY id DESC");
  if (!stmt.ok()) return stmt.error();
  std::vector<ExceptionRequest> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    out.push_back(ReadExceptionRequest(stmt->get()));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "reading the exception requests");
  return out;
}

Result<std::vector<ExceptionRequest>> SqliteStore::ApprovedExceptions(int64_t now_ms) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare("SELECT " MAMORI_EXCEPTION_COLUMNS
                                   " FROM exception_requests WHERE state = ? AND until_ms > ? "
                                   "ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(ExceptionRequestStateName(ExceptionRequestState::kApproved)).Int(now_ms);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an exception query");
  std::vector<ExceptionRequest> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    out.push_back(ReadExceptionRequest(stmt->get()));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "reading the approved exceptions");
  return out;
}

}  // namespace mamori

#undef MAMORI_EXCEPTION_COLUMNS
