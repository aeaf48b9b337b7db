#include "server/store/sqlite/migrations.h"

#include <array>
#include <string>

#include "common/base/logging.h"
#include "server/store/sqlite/sqlite_handle.h"

namespace mamori::sqlite {
namespace {

// Version 1. Enumerations are stored by their stable names (DeviceClassName,
// ActionName, EventKindName, ...) so the database stays readable with the
// sqlite3 shell during an audit and does not depend on enum ordinals.
// Device strings are TEXT holding the exact bytes the collector was given.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE terminals (
  id TEXT PRIMARY KEY NOT NULL,
  group_name TEXT NOT NULL,
  hostname TEXT NOT NULL,
  os TEXT NOT NULL,
  agent_version TEXT NOT NULL,
  agent_time_ms INTEGER NOT NULL,
  last_report_ms INTEGER NOT NULL,
  report_interval_s INTEGER NOT NULL,
  applied_policy_version INTEGER NOT NULL,
  enforcement_mode TEXT NOT NULL,
  enforcement_healthy INTEGER NOT NULL,
  enforcement_detail TEXT NOT NULL,
  enforcement_backend TEXT NOT NULL
);
CREATE INDEX terminals_by_group ON terminals (group_name);

-- ordinal keeps the order of the agent's snapshot.
CREATE TABLE devices (
  terminal_id TEXT NOT NULL REFERENCES terminals (id) ON DELETE CASCADE,
  device_id TEXT NOT NULL,
  ordinal INTEGER NOT NULL,
  vendor_id INTEGER NOT NULL,
  product_id INTEGER NOT NULL,
  serial TEXT NOT NULL,
  manufacturer TEXT NOT NULL,
  product TEXT NOT NULL,
  bus_path TEXT NOT NULL,
  device_class TEXT NOT NULL,
  interface_classes TEXT NOT NULL,
  descriptor_hash TEXT NOT NULL,
  action TEXT NOT NULL,
  matched_rule TEXT NOT NULL,
  enforced INTEGER NOT NULL,
  enforcement_error TEXT NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (terminal_id, device_id)
);

-- No foreign key to terminals: an agent may send events before its first
-- snapshot, and the audit trail outlives a terminal's removal. The device
-- columns are NULL when the event concerns no device.
CREATE TABLE events (
  terminal_id TEXT NOT NULL,
  seq INTEGER NOT NULL CHECK (seq > 0),
  time_ms INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  device_id TEXT,
  vendor_id INTEGER,
  product_id INTEGER,
  serial TEXT,
  manufacturer TEXT,
  product TEXT,
  bus_path TEXT,
  device_class TEXT,
  interface_classes TEXT,
  descriptor_hash TEXT,
  action TEXT,
  matched_rule TEXT,
  enforced INTEGER,
  enforcement_error TEXT,
  first_seen_ms INTEGER,
  detail TEXT NOT NULL,
  user_name TEXT NOT NULL,
  PRIMARY KEY (terminal_id, seq)
);
-- Event queries are newest first, across the deployment or per terminal.
CREATE INDEX events_by_time ON events (time_ms DESC, seq DESC, terminal_id);
CREATE INDEX events_by_terminal_time ON events (terminal_id, time_ms DESC, seq DESC);

CREATE TABLE event_cursors (
  terminal_id TEXT PRIMARY KEY NOT NULL,
  acked_through INTEGER NOT NULL
);

CREATE TABLE policies (
  group_name TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  yaml TEXT NOT NULL,
  applied_by TEXT NOT NULL,
  applied_at_ms INTEGER NOT NULL,
  PRIMARY KEY (group_name, version)
);
)sql";

// Most reports repeat the terminal's device list unchanged; a digest of the
// stored list lets the writer skip rewriting identical device rows.
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE terminals ADD COLUMN devices_digest TEXT NOT NULL DEFAULT '';
)sql";

// The interface classes a blocked composite device keeps usable, a comma
// list like interface_classes. Rows written before version 3 had no such
// list, which is what '' means. In events the column stays NULL when the
// event concerns no device, like the other device columns; rows of device
// events from before version 3 read NULL as empty too.
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE devices ADD COLUMN allowed_interface_classes TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN allowed_interface_classes TEXT;
)sql";

// Policy signatures (Ed25519, lower-case hex) and the id of the signing key.
// Rows from before version 4 read '' (unsigned); the collector signs them at
// its next start.
constexpr std::string_view kSchemaV4 = R"sql(
ALTER TABLE policies ADD COLUMN signature_hex TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
)sql";

// Dashboard accounts and sessions (server/web). Sessions are keyed by a
// hash of the cookie token; expired rows are ignored on read.
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  totp_secret_hex TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  failed_logins INTEGER NOT NULL,
  locked_until_ms INTEGER NOT NULL,
  last_totp_step INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_name TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name);
)sql";

// The media ledger (外部記録媒体管理台帳) and the audit log.
//
// Ledger rows are never deleted: retiring a medium records who, when and
// why, so the ledger keeps the history an auditor asks for. group_name is
// the entry's scope ('' = the whole deployment); one medium may be
// registered in several scopes but only once per scope while active.
// expires_ms is the last millisecond of the expiry day in JST (0 = never).
//
// The audit log is append-only: triggers refuse UPDATE and DELETE, and no
// code path issues either.
//
// policies.source_yaml is the document as the admin applied it, before the
// collector merged the ledger's media into it ('' for versions stored before
// version 6: their yaml is the admin's document).
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TABLE media_ledger (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  serial TEXT NOT NULL,
  vendor_id INTEGER NOT NULL,
  product_id INTEGER NOT NULL,
  owner TEXT NOT NULL,
  department TEXT NOT NULL,
  group_name TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  note TEXT NOT NULL,
  added_by TEXT NOT NULL,
  added_at_ms INTEGER NOT NULL,
  retired_by TEXT NOT NULL DEFAULT '',
  retired_at_ms INTEGER NOT NULL DEFAULT 0,
  retire_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX media_ledger_one_active
  ON media_ledger (serial, vendor_id, product_id, group_name) WHERE retired_at_ms = 0;
CREATE INDEX media_ledger_by_state ON media_ledger (retired_at_ms, group_name);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at_ms);
CREATE INDEX audit_log_by_action ON audit_log (action, id);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

ALTER TABLE policies ADD COLUMN source_yaml TEXT NOT NULL DEFAULT '';
)sql";

// Daily compliance counts per group for the dashboard's trend chart: one
// row per JST day and group, overwritten during the day, so the table grows
// by (groups) rows a day.
constexpr std::string_view kSchemaV7 = R"sql(
CREATE TABLE compliance_daily (
  day TEXT NOT NULL,
  group_name TEXT NOT NULL,
  terminals INTEGER NOT NULL,
  compliant INTEGER NOT NULL,
  non_compliant INTEGER NOT NULL,
  unknown INTEGER NOT NULL,
  stale INTEGER NOT NULL,
  recorded_at_ms INTEGER NOT NULL,
  PRIMARY KEY (group_name, day)
);
)sql";

// Both event indexes carry the kind, so a query filtering on it rejects
// entries from the index alone, whichever index serves it (a group's events
// are found through its terminals or newest first; see
// SqliteStore::QueryEvents).
constexpr std::string_view kSchemaV8 = R"sql(
DROP INDEX events_by_time;
CREATE INDEX events_by_time ON events (time_ms DESC, seq DESC, terminal_id, kind);
DROP INDEX events_by_terminal_time;
CREATE INDEX events_by_terminal_time ON events (terminal_id, time_ms DESC, seq DESC, kind);
)sql";

// Requests for time-limited exceptions and their decisions. The state is
// stored by name; whether an approved one is active follows from the time.
constexpr std::string_view kSchemaV9 = R"sql(
CREATE TABLE exception_requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  terminal_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  vendor_id INTEGER NOT NULL,
  product_id INTEGER NOT NULL,
  serial TEXT NOT NULL,
  from_ms INTEGER NOT NULL,
  until_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  requested_for TEXT NOT NULL,
  source_event TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at_ms INTEGER NOT NULL,
  state TEXT NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_at_ms INTEGER NOT NULL DEFAULT 0,
  decision_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX exception_requests_by_state ON exception_requests (state, until_ms);
)sql";

// Offline unlock codes as issued and their reported use, and the
// certificate each terminal last connected with (its unlock key comes from
// the certificate's public key).
constexpr std::string_view kSchemaV10 = R"sql(
CREATE TABLE unlock_codes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  code TEXT NOT NULL UNIQUE,
  terminal_id TEXT NOT NULL,
  vendor_id INTEGER NOT NULL,
  product_id INTEGER NOT NULL,
  serial TEXT NOT NULL,
  expiry_ms INTEGER NOT NULL,
  nonce INTEGER NOT NULL,
  issued_by TEXT NOT NULL,
  issued_at_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  used_at_ms INTEGER NOT NULL DEFAULT 0,
  used_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX unlock_codes_by_terminal ON unlock_codes (terminal_id, id DESC);
CREATE TABLE terminal_certificates (
  terminal_id TEXT PRIMARY KEY,
  cert_pem TEXT NOT NULL,
  seen_ms INTEGER NOT NULL
);
)sql";

// The last report refused because the agent's clock was off by more than
// the collector accepts: when (collector clock) and what the agent
// declared. The clock check fails on it until a later report is accepted.
constexpr std::string_view kSchemaV11 = R"sql(
ALTER TABLE terminals ADD COLUMN clock_refused_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN clock_refused_agent_ms INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 12. Enrollment: tokens hold only the SHA-256 of their secret;
// uses_left is decremented in the transaction that records the enrollment,
// so concurrent enrollments never issue more certificates than uses.
constexpr std::string_view kSchemaV12 = R"sql(
CREATE TABLE enroll_tokens (
  id TEXT PRIMARY KEY NOT NULL,
  secret_sha256 TEXT NOT NULL,
  group_name TEXT NOT NULL,
  uses_total INTEGER NOT NULL,
  uses_left INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  note TEXT NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0,
  revoked_by TEXT NOT NULL DEFAULT '',
  last_used_ms INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE enrollments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  terminal_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  token_id TEXT NOT NULL,
  source_address TEXT NOT NULL,
  serial_hex TEXT NOT NULL,
  hostname TEXT NOT NULL,
  agent_version TEXT NOT NULL,
  os TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX enrollments_by_terminal ON enrollments (terminal_id);

CREATE TABLE issued_certificates (
  serial_hex TEXT PRIMARY KEY NOT NULL,
  sha256_fingerprint TEXT NOT NULL,
  role TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  not_before_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  token_id TEXT NOT NULL,
  source_address TEXT NOT NULL,
  issued_ms INTEGER NOT NULL
);
CREATE INDEX issued_certificates_by_subject ON issued_certificates (role, subject_id, not_after_ms);
CREATE UNIQUE INDEX issued_certificates_by_fingerprint ON issued_certificates (sha256_fingerprint);

CREATE TABLE reenroll_allowances (
  terminal_id TEXT PRIMARY KEY NOT NULL,
  allowed_by TEXT NOT NULL,
  until_ms INTEGER NOT NULL
);
)sql";

// Revocations and retired terminals. A record is never changed or deleted;
// the unique index makes recording the same revocation twice an error.
constexpr std::string_view kSchemaV13 = R"sql(
CREATE TABLE revocations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('revoke', 'retire')),
  role TEXT NOT NULL,
  subject TEXT NOT NULL,
  cert_sha256 TEXT NOT NULL,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX revocations_once ON revocations (kind, role, subject, cert_sha256);
)sql";

constexpr auto kMigrations = std::to_array<Migration>({
    {1, "terminals, devices, events, event cursors, policies", kSchemaV1},
    {2, "digest of each terminal's stored device list", kSchemaV2},
    {3, "interface classes a blocked composite device keeps", kSchemaV3},
    {4, "policy signatures and signing key ids", kSchemaV4},
    {5, "dashboard users and sessions", kSchemaV5},
    {6, "media ledger, audit log, policies as applied", kSchemaV6},
    {7, "daily compliance counts per group", kSchemaV7},
    {8, "event indexes that carry the kind", kSchemaV8},
    {9, "requests for time-limited exceptions", kSchemaV9},
    {10, "offline unlock codes, terminal certificates", kSchemaV10},
    {11, "reports refused for the agent's clock", kSchemaV11},
    {12, "enrollment tokens, enrollments, issued certificates", kSchemaV12},
    {13, "revocations and retired terminals", kSchemaV13},
});

Status Exec(sqlite3* db, std::string_view path, std::string_view sql, std::string_view what) {
  // sqlite3_exec needs a terminated string; the view may not be one.
  const std::string text(sql);
  const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return MakeSqliteError(db, rc, path, what);
  return Status::Ok();
}

Result<int> CurrentVersion(sqlite3* db, std::string_view path) {
  constexpr std::string_view kSql = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, kSql.data(), static_cast<int>(kSql.size()), &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return MakeSqliteError(db, rc, path, "reading the schema version");
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return MakeSqliteError(db, rc, path, "reading the schema version");
  const int64_t version = sqlite3_column_int64(stmt.get(), 0);
  if (version < 0 || version > 1'000'000) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        "sqlite " + std::string(path) + ": implausible schema version " + std::to_string(version));
  }
  return static_cast<int>(version);
}

Error TooNew(std::string_view path, int version) {
  return MakeError(ErrorCode::kFailedPrecondition,
                   "sqlite " + std::string(path) + ": schema version " + std::to_string(version) +
                       " is newer than this build supports (up to " +
                       std::to_string(LatestSchemaVersion()) +
                       "); refusing to open it; run a collector at least as new as the one "
                       "that last wrote this database");
}

// Rolls back unless dismissed, so that an early return or an exception never
// leaves a half-applied step open on the connection.
class RollbackGuard {
 public:
  explicit RollbackGuard(sqlite3* db) : db_(db) {}
  ~RollbackGuard() {
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  RollbackGuard(const RollbackGuard&) = delete;
  RollbackGuard& operator=(const RollbackGuard&) = delete;
  void Dismiss() { db_ = nullptr; }

 private:
  sqlite3* db_;
};

Status ApplyStep(sqlite3* db, std::string_view path, const Migration& step, int64_t now_ms) {
  const std::string what = "migrating to schema version " + std::to_string(step.version);
  if (Status s = Exec(db, path, "BEGIN IMMEDIATE", what); !s.ok()) return s;
  RollbackGuard guard(db);

  // Another collector process may have migrated between our first read and
  // taking the write lock; re-read under the lock.
  Result<int> current = CurrentVersion(db, path);
  if (!current.ok()) return current.error();
  if (*current > LatestSchemaVersion()) return TooNew(path, *current);
  if (*current >= step.version) return Status::Ok();  // guard rolls the empty transaction back

  if (Status s = Exec(db, path, step.sql, what); !s.ok()) return s;

  constexpr std::string_view kRecord =
      "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)";
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, kRecord.data(), static_cast<int>(kRecord.size()), &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return MakeSqliteError(db, rc, path, what);
  Binder bind(stmt.get());
  bind.Int(step.version).Int(now_ms);
  if (bind.rc() != SQLITE_OK) return MakeSqliteError(db, bind.rc(), path, what);
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_DONE) return MakeSqliteError(db, rc, path, what);
  stmt.reset();

  if (Status s = Exec(db, path, "COMMIT", what); !s.ok()) return s;
  guard.Dismiss();
  GetLogger("store")->info("{}: applied schema migration {} ({})", path, step.version,
                           step.description);
  return Status::Ok();
}

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int LatestSchemaVersion() { return kMigrations.back().version; }

Result<int> Migrate(sqlite3* db, std::string_view path, int64_t now_ms) {
  if (Status s = Exec(db, path,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
                      "creating schema_migrations");
      !s.ok()) {
    return s.error();
  }
  Result<int> current = CurrentVersion(db, path);
  if (!current.ok()) return current.error();
  if (*current > LatestSchemaVersion()) return TooNew(path, *current);

  for (const Migration& step : kMigrations) {
    if (step.version <= *current) continue;
    if (Status s = ApplyStep(db, path, step, now_ms); !s.ok()) return s.error();
  }
  return CurrentVersion(db, path);
}

}  // namespace mamori::sqlite
