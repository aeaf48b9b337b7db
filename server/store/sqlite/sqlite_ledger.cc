// SqliteStore: the media ledger (schema version 6).

#include <string>

#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

#define MAMORI_LEDGER_COLUMNS                                                            \
  "id, serial, vendor_id, product_id, owner, department, group_name, expires_ms, note, " \
  "added_by, added_at_ms, retired_by, retired_at_ms, retire_reason"

LedgerEntry ReadLedgerEntry(sqlite3_stmt* stmt) {
  LedgerEntry e;
  int c = 0;
  e.id = ColumnInt64(stmt, c++);
  e.serial = ColumnText(stmt, c++);
  e.vendor_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  e.product_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  e.owner = ColumnText(stmt, c++);
  e.department = ColumnText(stmt, c++);
  e.group = ColumnText(stmt, c++);
  e.expires_ms = ColumnInt64(stmt, c++);
  e.note = ColumnText(stmt, c++);
  e.added_by = ColumnText(stmt, c++);
  e.added_at_ms = ColumnInt64(stmt, c++);
  e.retired_by = ColumnText(stmt, c++);
  e.retired_at_ms = ColumnInt64(stmt, c++);
  e.retire_reason = ColumnText(stmt, c++);
  return e;
}

}  // namespace

Result<int64_t> SqliteStore::AddLedgerEntry(const LedgerEntry& entry) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    {
      // The partial unique index would refuse it too; asking first gives a
      // message naming the entry already there.
      Result<StmtLease> stmt = Prepare(
          "SELECT id FROM media_ledger WHERE serial = ? AND vendor_id = ? AND product_id = ? "
          "AND group_name = ? AND retired_at_ms = 0");
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      bind.Text(entry.serial).Int(entry.vendor_id).Int(entry.product_id).Text(entry.group);
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a ledger lookup");
      const int rc = sqlite3_step(stmt->get());
      if (rc == SQLITE_ROW) {
        return MakeError(ErrorCode::kAlreadyExists,
                         "already registered in this scope as ledger entry " +
                             std::to_string(ColumnInt64(stmt->get(), 0)));
      }
      if (rc != SQLITE_DONE) return SqlError(rc, "looking up the ledger");
    }
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO media_ledger (serial, vendor_id, product_id, owner, department, "
        "group_name, expires_ms, note, added_by, added_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(entry.serial)
        .Int(entry.vendor_id)
        .Int(entry.product_id)
        .Text(entry.owner)
        .Text(entry.department)
        .Text(entry.group)
        .Int(entry.expires_ms)
        .Text(entry.note)
        .Text(entry.added_by)
        .Int(entry.added_at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a ledger entry");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a ledger entry");
    id = sqlite3_last_insert_rowid(db_.get());
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return id;
}

Status SqliteStore::RetireLedgerEntry(int64_t id, std::string_view retired_by, int64_t at_ms,
                                      std::string_view reason) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "UPDATE media_ledger SET retired_by = ?, retired_at_ms = ?, retire_reason = ? "
        "WHERE id = ? AND retired_at_ms = 0");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    // 0 means active; a clock at the epoch must not leave it active.
    bind.Text(retired_by).Int(at_ms > 0 ? at_ms : 1).Text(reason).Int(id);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a ledger retirement");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "retiring a ledger entry");
    if (sqlite3_changes(db_.get()) == 1) return Status::Ok();
    Result<StmtLease> exists = Prepare("SELECT retired_at_ms FROM media_ledger WHERE id = ?");
    if (!exists.ok()) return exists.error();
    Binder b(exists->get());
    b.Int(id);
    if (b.rc() != SQLITE_OK) return SqlError(b.rc(), "binding a ledger id");
    const int rc2 = sqlite3_step(exists->get());
    if (rc2 == SQLITE_ROW) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "ledger entry " + std::to_string(id) + " is already retired");
    }
    if (rc2 != SQLITE_DONE) return SqlError(rc2, "reading a ledger entry");
    return MakeError(ErrorCode::kNotFound, "no ledger entry " + std::to_string(id));
  });
}

Result<std::optional<LedgerEntry>> SqliteStore::GetLedgerEntry(int64_t id) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt =
      Prepare("SELECT " MAMORI_LEDGER_COLUMNS " FROM media_ledger WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Int(id);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a ledger id");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<LedgerEntry>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a ledger entry");
  return std::optional<LedgerEntry>(ReadLedgerEntry(stmt->get()));
}

Result<std::vector<LedgerEntry>> SqliteStore::ListLedger(bool include_retired) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt =
      include_retired ? Prepare("SELECT " MAMORI_LEDGER_COLUMNS " FROM media_ledger ORDER BY id")
                      : Prepare("SELECT " MAMORI_LEDGER_COLUMNS
                                " FROM media_ledger WHERE retired_at_ms = 0 ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  std::vector<LedgerEntry> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    out.push_back(ReadLedgerEntry(stmt->get()));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "reading the media ledger");
  return out;
}

}  // namespace mamori

#undef MAMORI_LEDGER_COLUMNS
