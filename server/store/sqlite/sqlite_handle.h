#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/result.h"

namespace mamori::sqlite {

struct DbCloser {
  // close_v2 so that a statement still alive somewhere cannot make the close
  // fail silently and leak the connection; it is finalized with the last one.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// A cached statement borrowed for one use. Resetting and clearing bindings on
// release keeps a statement that is reused later from holding a read
// transaction open or leaking the previous caller's (hostile) values.
class StmtLease {
 public:
  explicit StmtLease(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtLease() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  StmtLease(StmtLease&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  StmtLease(const StmtLease&) = delete;
  StmtLease& operator=(const StmtLease&) = delete;
  StmtLease& operator=(StmtLease&&) = delete;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// Text is bound with its explicit length and SQLITE_TRANSIENT: the bytes are
// stored exactly, embedded NULs and invalid UTF-8 included.
inline int BindText(sqlite3_stmt* stmt, int index, std::string_view value) {
  return sqlite3_bind_text64(stmt, index, value.data(), value.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8);
}

inline int BindInt64(sqlite3_stmt* stmt, int index, int64_t value) {
  return sqlite3_bind_int64(stmt, index, value);
}

// Reads a TEXT column as the exact bytes stored (length from column_bytes,
// which must be called after column_text).
inline std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

inline int64_t ColumnInt64(sqlite3_stmt* stmt, int column) {
  return sqlite3_column_int64(stmt, column);
}

inline bool ColumnIsNull(sqlite3_stmt* stmt, int column) {
  return sqlite3_column_type(stmt, column) == SQLITE_NULL;
}

// Binds parameters left to right and remembers the first failure, so a
// statement's bindings read as one chain and are checked once.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* stmt) : stmt_(stmt) {}

  Binder& Text(std::string_view value) { return Track(BindText(stmt_, ++index_, value)); }
  Binder& Int(int64_t value) { return Track(BindInt64(stmt_, ++index_, value)); }
  Binder& Null() { return Track(sqlite3_bind_null(stmt_, ++index_)); }

  // SQLITE_OK, or the code of the first binding that failed.
  int rc() const { return rc_; }

 private:
  Binder& Track(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
    return *this;
  }

  sqlite3_stmt* stmt_;
  int index_ = 0;
  int rc_ = SQLITE_OK;
};

// Busy and locked are transient (another process holds the write lock past
// busy_timeout); a full disk is exhaustion; file-level failures are I/O.
inline ErrorCode ErrorCodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kUnavailable;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return ErrorCode::kResourceExhausted;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return ErrorCode::kIo;
    case SQLITE_CONSTRAINT:
    case SQLITE_RANGE:
      return ErrorCode::kInvalidArgument;
    default:
      return ErrorCode::kInternal;
  }
}

// "sqlite /var/lib/mamori/collector.db: <what>: <SQLite's message>".
inline Error MakeSqliteError(sqlite3* db, int rc, std::string_view path, std::string_view what) {
  std::string message = "sqlite ";
  message.append(path).append(": ").append(what).append(": ");
  // errmsg describes the connection's last failure; for a failed bind it may
  // be stale, so fall back to the description of the code itself.
  const bool bind_failure = (rc & 0xff) == SQLITE_RANGE || (rc & 0xff) == SQLITE_TOOBIG;
  message.append(db != nullptr && !bind_failure ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  return MakeError(ErrorCodeFor(rc), std::move(message));
}

}  // namespace mamori::sqlite
