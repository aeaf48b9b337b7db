// SqliteStore: policy versions and their signatures.

#include <cstdint>

#include "common/base/hex.h"
#include "server/store/sqlite/sqlite_rows.h"
#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

PolicyBundle ReadPolicy(sqlite3_stmt* stmt) {
  PolicyBundle p;
  p.group = ColumnText(stmt, 0);
  p.version = static_cast<uint64_t>(ColumnInt64(stmt, 1));
  p.policy_yaml = ColumnText(stmt, 2);
  p.applied_by = ColumnText(stmt, 3);
  p.applied_at_ms = ColumnInt64(stmt, 4);
  // Hex in the database so an auditor can read it with the sqlite3 shell;
  // a value that is not hex reads as unsigned, which agents refuse.
  p.signature = HexDecode(ColumnText(stmt, 5)).value_or("");
  p.key_id = ColumnText(stmt, 6);
  return p;
}

}  // namespace

Result<PolicyBundle> SqliteStore::PutPolicy(std::string_view group, std::string_view yaml,
                                            std::string_view applied_by, int64_t now_ms) {
  std::lock_guard lock(mu_);
  PolicyBundle stored;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    uint64_t latest = 0;
    {
      Result<StmtLease> stmt = Prepare("SELECT COALESCE(MAX(version), 0) FROM policies");
      if (!stmt.ok()) return stmt.error();
      const int rc = sqlite3_step(stmt->get());
      if (rc != SQLITE_ROW) return SqlError(rc, "reading the latest policy version");
      latest = static_cast<uint64_t>(ColumnInt64(stmt->get(), 0));
    }
    stored = PolicyBundle{};
    stored.version = latest + 1;
    stored.group = std::string(group);
    stored.policy_yaml = std::string(yaml);
    stored.applied_by = std::string(applied_by);
    stored.applied_at_ms = now_ms;
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO policies (group_name, version, yaml, applied_by, applied_at_ms) "
        "VALUES (?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(stored.group)
        .Int(static_cast<int64_t>(stored.version))
        .Text(stored.policy_yaml)
        .Text(stored.applied_by)
        .Int(stored.applied_at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a policy");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a policy");
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return stored;
}

#define MAMORI_POLICY_COLUMNS \
  "group_name, version, yaml, applied_by, applied_at_ms, signature_hex, key_id"

Status SqliteStore::SetPolicySignature(std::string_view group, uint64_t version,
                                       std::string_view signature, std::string_view key_id) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "UPDATE policies SET signature_hex = ?, key_id = ? WHERE group_name = ? AND version = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(HexEncode(signature)).Text(key_id).Text(group).Int(static_cast<int64_t>(version));
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a policy signature");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a policy signature");
    if (sqlite3_changes(db_.get()) != 1) {
      return MakeError(ErrorCode::kNotFound, "no policy version " + std::to_string(version) +
                                                 " of group " + std::string(group) + " to sign");
    }
    return Status::Ok();
  });
}

Result<std::vector<PolicyBundle>> SqliteStore::ReadPolicies(std::string_view sql,
                                                            std::string_view group,
                                                            bool bind_group) {
  Result<StmtLease> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  if (bind_group) bind.Text(group);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a group");
  std::vector<PolicyBundle> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(ReadPolicy(stmt->get()));
  if (rc != SQLITE_DONE) return SqlError(rc, "reading policies");
  return out;
}

Result<std::optional<PolicyBundle>> SqliteStore::GetPolicy(std::string_view group,
                                                           uint64_t version) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt =
      version == 0 ? Prepare("SELECT " MAMORI_POLICY_COLUMNS
                             " FROM policies WHERE group_name = ? ORDER BY version DESC LIMIT 1")
                   : Prepare("SELECT " MAMORI_POLICY_COLUMNS
                             " FROM policies WHERE group_name = ? AND version = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(group);
  if (version != 0) bind.Int(static_cast<int64_t>(version));
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a policy key");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<PolicyBundle>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a policy");
  return std::optional<PolicyBundle>(ReadPolicy(stmt->get()));
}

Result<std::vector<PolicyBundle>> SqliteStore::LatestPolicies() {
  std::lock_guard lock(mu_);
  return ReadPolicies("SELECT " MAMORI_POLICY_COLUMNS
                      " FROM policies p WHERE version = (SELECT MAX(version) FROM policies "
                      "WHERE group_name = p.group_name) ORDER BY group_name",
                      {}, false);
}

Result<std::vector<PolicyBundle>> SqliteStore::PolicyHistory(std::string_view group) {
  std::lock_guard lock(mu_);
  return ReadPolicies("SELECT " MAMORI_POLICY_COLUMNS
                      " FROM policies WHERE group_name = ? ORDER BY version",
                      group, true);
}

Result<std::vector<PolicyBundle>> SqliteStore::RecentPolicyVersions(std::string_view group,
                                                                    uint32_t limit) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare("SELECT " MAMORI_POLICY_COLUMNS
                                   " FROM policies WHERE group_name = ? ORDER BY version DESC "
                                   "LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  // SQLite reads a negative LIMIT as no limit.
  bind.Text(group).Int(limit == 0 ? -1 : static_cast<int64_t>(limit));
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a policy history query");
  std::vector<PolicyBundle> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(ReadPolicy(stmt->get()));
  if (rc != SQLITE_DONE) return SqlError(rc, "reading the policy history");
  return out;
}

// The documents admins applied, before the ledger was merged in (schema
// version 6).

Status SqliteStore::SetPolicySource(std::string_view group, uint64_t version,
                                    std::string_view source_yaml) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt =
        Prepare("UPDATE policies SET source_yaml = ? WHERE group_name = ? AND version = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(source_yaml).Text(group).Int(static_cast<int64_t>(version));
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a policy source");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a policy source");
    if (sqlite3_changes(db_.get()) != 1) {
      return MakeError(ErrorCode::kNotFound, "no policy version " + std::to_string(version) +
                                                 " of group " + std::string(group));
    }
    return Status::Ok();
  });
}

Result<std::string> SqliteStore::PolicySource(std::string_view group, uint64_t version) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(
      "SELECT CASE WHEN source_yaml = '' THEN yaml ELSE source_yaml END FROM policies "
      "WHERE group_name = ? AND version = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(group).Int(static_cast<int64_t>(version));
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a policy key");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) {
    return MakeError(ErrorCode::kNotFound, "no policy version " + std::to_string(version) +
                                               " of group " + std::string(group));
  }
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a policy source");
  return ColumnText(stmt->get(), 0);
}

}  // namespace mamori

#undef MAMORI_POLICY_COLUMNS
