// SqliteStore: the daily compliance counts.

#include <cstdint>
#include <limits>
#include <utility>

#include "server/store/sqlite/sqlite_rows.h"
#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

Status SqliteStore::PutComplianceSnapshots(const std::vector<ComplianceSnapshot>& rows) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    for (const ComplianceSnapshot& row : rows) {
      Result<StmtLease> stmt = Prepare(
          "INSERT OR REPLACE INTO compliance_daily (day, group_name, terminals, compliant, "
          "non_compliant, unknown, stale, recorded_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      bind.Text(row.date)
          .Text(row.group)
          .Int(row.terminals)
          .Int(row.compliant)
          .Int(row.non_compliant)
          .Int(row.unknown)
          .Int(row.stale)
          .Int(row.recorded_at_ms);
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a compliance snapshot");
      const int rc = sqlite3_step(stmt->get());
      if (rc != SQLITE_DONE) return SqlError(rc, "storing a compliance snapshot");
    }
    return Status::Ok();
  });
}

Result<std::vector<ComplianceSnapshot>> SqliteStore::ComplianceSnapshots(std::string_view group,
                                                                         std::string_view from_date,
                                                                         std::string_view to_date) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(
      "SELECT day, group_name, terminals, compliant, non_compliant, unknown, stale, "
      "recorded_at_ms FROM compliance_daily WHERE group_name = ? AND day >= ? AND day <= ? "
      "ORDER BY day");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(group).Text(from_date).Text(to_date);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a compliance trend query");
  std::vector<ComplianceSnapshot> out;
  const auto count = [&](int column) {
    return static_cast<uint32_t>(std::clamp<int64_t>(ColumnInt64(stmt->get(), column), 0,
                                                     std::numeric_limits<uint32_t>::max()));
  };
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    ComplianceSnapshot row;
    row.date = ColumnText(stmt->get(), 0);
    row.group = ColumnText(stmt->get(), 1);
    row.terminals = count(2);
    row.compliant = count(3);
    row.non_compliant = count(4);
    row.unknown = count(5);
    row.stale = count(6);
    row.recorded_at_ms = ColumnInt64(stmt->get(), 7);
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "reading compliance snapshots");
  return out;
}

}  // namespace mamori
