#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string_view>

#include "common/base/result.h"

namespace mamori::sqlite {

// One step of the schema's history. Steps are append-only: a released step
// is never edited, a change is a new step, so every database reaches the
// same schema whatever version it started from.
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;  // static DDL only; never built from input
};

// Every step, oldest first, versions 1, 2, 3, ... without gaps.
std::span<const Migration> Migrations();

// The schema version this build creates and understands.
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion(), each pending step in its own
// transaction, and returns the resulting version. A database written by a
// newer build (a version this build does not know) is refused rather than
// used or downgraded. `path` only names the database in errors.
Result<int> Migrate(sqlite3* db, std::string_view path, int64_t now_ms);

}  // namespace mamori::sqlite
