// SqliteStore: opening, migrating and transactions.

#include "server/store/sqlite/sqlite_store.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include "server/store/sqlite/migrations.h"
#include "server/store/sqlite/sqlite_rows.h"

namespace mamori {

using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> QueryPragma(sqlite3* db, const std::string& path, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  sqlite::StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return sqlite::MakeSqliteError(db, rc, path, sql);
  std::string value;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    if (value.empty()) value = ColumnText(stmt.get(), 0);
  }
  if (rc != SQLITE_DONE) return sqlite::MakeSqliteError(db, rc, path, sql);
  return value;
}

Error Misconfigured(const std::string& path, std::string message) {
  return MakeError(ErrorCode::kFailedPrecondition, "sqlite " + path + ": " + std::move(message));
}

// Rolls the current transaction (or savepoint) back if the body neither
// committed nor released it, including when the body throws.
class TxUnwinder {
 public:
  explicit TxUnwinder(std::function<void()> rollback) : rollback_(std::move(rollback)) {}
  ~TxUnwinder() {
    if (rollback_) rollback_();
  }
  TxUnwinder(const TxUnwinder&) = delete;
  TxUnwinder& operator=(const TxUnwinder&) = delete;
  void Dismiss() { rollback_ = nullptr; }

 private:
  std::function<void()> rollback_;
};

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const SqliteOptions& options) {
  std::string_view synchronous;
  if (options.synchronous == "full") {
    synchronous = "PRAGMA synchronous = FULL";
  } else if (options.synchronous == "normal") {
    synchronous = "PRAGMA synchronous = NORMAL";
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "sqlite " + path + ": synchronous must be \"full\" or \"normal\", not \"" +
                         options.synchronous + "\"");
  }
  if (options.busy_timeout_ms < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "sqlite " + path + ": busy_timeout_ms must not be negative");
  }

  sqlite3* raw = nullptr;
  // NOMUTEX: every use of the connection, sqlite3_errmsg included, happens
  // under SqliteStore::mu_, so SQLite's own connection mutex would be redundant.
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  sqlite::DbPtr db(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) return sqlite::MakeSqliteError(db.get(), rc, path, "opening");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
  // The database file is not trusted to carry code: no schema-embedded
  // functions, and no writes that could corrupt it through SQL.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, static_cast<int*>(nullptr));
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, static_cast<int*>(nullptr));

  // journal_mode answers with the mode in force, which is not WAL when the
  // file system or an old-format file cannot do it; a silent fallback would
  // change the durability and concurrency the deployment was sized for.
  Result<std::string> mode = QueryPragma(db.get(), path, "PRAGMA journal_mode = WAL");
  if (!mode.ok()) return mode.error();
  if (*mode != "wal") {
    return Misconfigured(path, "could not enable WAL journal mode (SQLite kept \"" + *mode + "\")");
  }

  if (Result<std::string> r = QueryPragma(db.get(), path, synchronous); !r.ok()) {
    return r.error();
  }
  Result<std::string> sync_now = QueryPragma(db.get(), path, "PRAGMA synchronous");
  if (!sync_now.ok()) return sync_now.error();
  if (*sync_now != (options.synchronous == "full" ? "2" : "1")) {
    return Misconfigured(path, "synchronous=" + options.synchronous + " did not take effect");
  }

  if (Result<std::string> r = QueryPragma(db.get(), path, "PRAGMA foreign_keys = ON"); !r.ok()) {
    return r.error();
  }
  Result<std::string> fk = QueryPragma(db.get(), path, "PRAGMA foreign_keys");
  if (!fk.ok()) return fk.error();
  if (*fk != "1") return Misconfigured(path, "foreign keys are not supported by this SQLite");

  Result<int> version = sqlite::Migrate(db.get(), path, WallClockMs());
  if (!version.ok()) return version.error();

  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), path, *version));
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

SqliteStore::SqliteStore(sqlite::DbPtr db, std::string path, int schema_version)
    : db_(std::move(db)), path_(std::move(path)), schema_version_(schema_version) {}

int SqliteStore::SchemaVersion() { return schema_version_; }

Error SqliteStore::SqlError(int rc, std::string_view what) const {
  return sqlite::MakeSqliteError(db_.get(), rc, path_, what);
}

Result<StmtLease> SqliteStore::Prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    sqlite::StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return SqlError(rc, "preparing a statement");
    it = statements_.emplace(std::string(sql), std::move(stmt)).first;
  }
  return StmtLease(it->second.get());
}

Status SqliteStore::Exec(std::string_view sql) {
  Result<StmtLease> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqlError(rc, sql);
  return Status::Ok();
}

Status SqliteStore::RunInTransaction(TxKind kind, const std::function<Status()>& body) {
  // The outermost level is a real transaction; levels inside it are
  // savepoints, so a failing inner body undoes only its own writes and the
  // caller decides whether the whole transaction fails.
  const bool outermost = tx_depth_ == 0;
  Status begin = Exec(!outermost               ? "SAVEPOINT mamori_nested"
                      : kind == TxKind::kWrite ? "BEGIN IMMEDIATE"
                                               : "BEGIN DEFERRED");
  if (!begin.ok()) return begin;
  ++tx_depth_;

  TxUnwinder unwind([this, outermost] {
    --tx_depth_;
    // SQLite may already have rolled back on its own (e.g. disk full);
    // then there is nothing left to undo.
    if (sqlite3_get_autocommit(db_.get()) != 0) return;
    if (outermost) {
      (void)Exec("ROLLBACK");
    } else {
      (void)Exec("ROLLBACK TO mamori_nested");
      (void)Exec("RELEASE mamori_nested");
    }
  });

  Status result = body();
  if (!result.ok()) return result;  // unwinder rolls back
  if (outermost && sqlite3_get_autocommit(db_.get()) != 0) {
    return SqlError(SQLITE_ABORT, "transaction was rolled back by SQLite");
  }
  Status end = Exec(outermost ? "COMMIT" : "RELEASE mamori_nested");
  if (!end.ok()) return end;  // unwinder rolls back what is left
  unwind.Dismiss();
  --tx_depth_;
  return Status::Ok();
}

Status SqliteStore::WithTransaction(const std::function<Status()>& body) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, body);
}

}  // namespace mamori
