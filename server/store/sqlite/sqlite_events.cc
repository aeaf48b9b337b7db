// SqliteStore: events, stored once per (terminal, seq), and their queries.

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "server/store/sqlite/sqlite_rows.h"
#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::BindDevice;
using sqlite::Binder;
using sqlite::BindGroup;
using sqlite::BindNoDevice;
using sqlite::ColumnInt64;
using sqlite::ColumnIsNull;
using sqlite::ColumnText;
using sqlite::kGroupFilter;
using sqlite::KindFromName;
using sqlite::ParseSeverity;
using sqlite::ReadDevice;
using sqlite::StmtLease;

namespace {

constexpr uint32_t kDefaultEventLimit = 100;

#define MAMORI_EVENT_COLUMNS                                                       \
  "terminal_id, seq, time_ms, received_ms, kind, severity, " MAMORI_DEVICE_COLUMNS \
  ", detail, user_name"

StoredEvent ReadEvent(sqlite3_stmt* stmt) {
  StoredEvent e;
  e.terminal_id = ColumnText(stmt, 0);
  e.event.seq = static_cast<uint64_t>(ColumnInt64(stmt, 1));
  e.event.time_ms = ColumnInt64(stmt, 2);
  e.received_ms = ColumnInt64(stmt, 3);
  e.event.kind = KindFromName(ColumnText(stmt, 4));
  e.event.severity = ParseSeverity(ColumnText(stmt, 5));
  // device_id is NULL exactly when the event carried no device; an empty id
  // is still a device.
  if (!ColumnIsNull(stmt, 6)) e.event.device = ReadDevice(stmt, 6);
  e.event.detail = ColumnText(stmt, 6 + kDeviceColumnCount);
  e.event.user = ColumnText(stmt, 7 + kDeviceColumnCount);
  return e;
}
constexpr int kEventColumnCount = 8 + kDeviceColumnCount;

// Columns of events a text search looks at; NULL (no device) never matches.
constexpr std::array<std::string_view, 7> kTextSearchColumns = {
    "terminal_id",
    "user_name",
    "matched_rule",
    "manufacturer",
    "product",
    "serial",
    "printf('%04x:%04x', vendor_id, product_id)"};

// `text` as a literal inside a LIKE pattern with ESCAPE '\'.
std::string LikeEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

Result<uint64_t> SqliteStore::AckedThroughLocked(std::string_view terminal_id) {
  Result<StmtLease> stmt = Prepare("SELECT acked_through FROM event_cursors WHERE terminal_id = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(terminal_id);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal id");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return uint64_t{0};
  if (rc != SQLITE_ROW) return SqlError(rc, "reading an event cursor");
  return static_cast<uint64_t>(ColumnInt64(stmt->get(), 0));
}

Result<uint64_t> SqliteStore::AckedThrough(std::string_view terminal_id) {
  std::lock_guard lock(mu_);
  return AckedThroughLocked(terminal_id);
}

Result<uint64_t> SqliteStore::AppendEvents(std::string_view terminal_id,
                                           const std::vector<Event>& events, int64_t received_ms) {
  // Validated before anything is written so a bad batch stores nothing.
  constexpr uint64_t kMaxSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (const Event& e : events) {
    if (e.seq == 0 || e.seq > kMaxSeq) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "event sequence number " + std::to_string(e.seq) +
                           " is invalid: sequence numbers start at 1 and fit in 63 bits");
    }
  }

  std::lock_guard lock(mu_);
  uint64_t acked = 0;
  Status status = RunInTransaction(TxKind::kWrite, [&]() -> Status {
    for (const Event& e : events) {
      Result<StmtLease> stmt =
          Prepare("INSERT OR IGNORE INTO events (" MAMORI_EVENT_COLUMNS
                  ") VALUES (?, ?, ?, ?, ?, ?, " MAMORI_DEVICE_PARAMS ", ?, ?)");
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      bind.Text(terminal_id)
          .Int(static_cast<int64_t>(e.seq))
          .Int(e.time_ms)
          .Int(received_ms)
          .Text(EventKindName(e.kind))
          .Text(SeverityName(e.severity));
      if (e.device.has_value()) {
        BindDevice(bind, *e.device);
      } else {
        BindNoDevice(bind);
      }
      bind.Text(e.detail).Text(e.user);
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an event");
      const int rc = sqlite3_step(stmt->get());
      if (rc != SQLITE_DONE) return SqlError(rc, "storing event " + std::to_string(e.seq));
    }

    Result<uint64_t> cursor = AckedThroughLocked(terminal_id);
    if (!cursor.ok()) return cursor.error();
    acked = *cursor;

    // The cursor moves only across a contiguous run starting at acked + 1:
    // first check that acked + 1 is there, then find where the run ends (the
    // first stored seq whose successor is missing). Walking the primary key
    // in order, the search stops at the end of the run.
    {
      Result<StmtLease> stmt = Prepare("SELECT 1 FROM events WHERE terminal_id = ? AND seq = ?");
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      bind.Text(terminal_id).Int(static_cast<int64_t>(acked + 1));
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a sequence number");
      const int rc = sqlite3_step(stmt->get());
      if (rc == SQLITE_DONE) return Status::Ok();  // nothing new is contiguous
      if (rc != SQLITE_ROW) return SqlError(rc, "reading events");
    }
    {
      Result<StmtLease> stmt = Prepare(
          "SELECT e.seq FROM events e WHERE e.terminal_id = ?1 AND e.seq > ?2 AND NOT EXISTS "
          "(SELECT 1 FROM events n WHERE n.terminal_id = ?1 AND n.seq = e.seq + 1) "
          "ORDER BY e.seq LIMIT 1");
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      bind.Text(terminal_id).Int(static_cast<int64_t>(acked));
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a sequence number");
      const int rc = sqlite3_step(stmt->get());
      if (rc != SQLITE_ROW) return SqlError(rc, "finding the end of the stored events");
      acked = static_cast<uint64_t>(ColumnInt64(stmt->get(), 0));
    }
    {
      Result<StmtLease> stmt = Prepare(
          "INSERT INTO event_cursors (terminal_id, acked_through) VALUES (?, ?) "
          "ON CONFLICT (terminal_id) DO UPDATE SET acked_through = excluded.acked_through");
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      bind.Text(terminal_id).Int(static_cast<int64_t>(acked));
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an event cursor");
      const int rc = sqlite3_step(stmt->get());
      if (rc != SQLITE_DONE) return SqlError(rc, "advancing the event cursor");
    }
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return acked;
}

// A group's events can be found two ways. Through each terminal of the
// group (events_by_terminal_time), which reads every event of the group in
// the time window and sorts the matches: the cost grows with the group. Or
// by walking events_by_time newest first and keeping the group's matching
// rows until the page is full: the cost grows with how far back that page
// reaches, which is short for a large group and a common kind but can be
// the whole table for a small group or a rare kind. Both indexes carry the
// kind, so neither reads a row to reject it. A sample of the newest entries
// of the window says how dense the matches are; the terminal and event
// counts say how big the group is. Costs are in index entries, a row read
// and sorted counting as a few.
Result<bool> SqliteStore::WalkTimeIndexForGroup(const EventQuery& query,
                                                const std::vector<EventKind>& kinds) {
  constexpr int64_t kSample = 4000;
  constexpr double kRowCost = 4;
  constexpr double kSeekCost = 4;
  std::string kind_in;
  if (!kinds.empty()) {
    kind_in = "kind IN (?";
    for (std::size_t i = 1; i < kinds.size(); ++i) kind_in.append(", ?");
    kind_in.append(")");
  } else {
    kind_in = "1";
  }
  std::string sql = "SELECT count(*), coalesce(sum(" + kind_in + "), 0), coalesce(sum(" + kind_in +
                    " AND terminal_id IN (SELECT id FROM terminals WHERE " +
                    std::string(kGroupFilter) +
                    ")), 0) FROM (SELECT terminal_id, kind FROM events INDEXED BY events_by_time "
                    "WHERE 1";
  if (query.since_ms != 0) sql.append(" AND time_ms >= ?");
  if (query.until_ms != 0) sql.append(" AND time_ms < ?");
  if (query.after) sql.append(" AND time_ms <= ?");
  sql.append(" ORDER BY time_ms DESC, seq DESC LIMIT ?)");
  int64_t sampled = 0, kind_matches = 0, matches = 0;
  {
    Result<StmtLease> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    for (EventKind k : kinds) bind.Text(EventKindName(k));
    for (EventKind k : kinds) bind.Text(EventKindName(k));
    BindGroup(bind, query.group);
    if (query.since_ms != 0) bind.Int(query.since_ms);
    if (query.until_ms != 0) bind.Int(query.until_ms);
    if (query.after) bind.Int(query.after->time_ms);
    bind.Int(kSample);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an event sample");
    if (const int rc = sqlite3_step(stmt->get()); rc != SQLITE_ROW) {
      return SqlError(rc, "sampling events");
    }
    sampled = ColumnInt64(stmt->get(), 0);
    kind_matches = ColumnInt64(stmt->get(), 1);
    matches = ColumnInt64(stmt->get(), 2);
  }
  // The whole window is smaller than the sample: walking it is cheap.
  if (sampled < kSample) return true;
  if (matches == 0) return false;

  const auto one = [&](const std::string& text, bool group) -> Result<int64_t> {
    Result<StmtLease> stmt = Prepare(text);
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    if (group) BindGroup(bind, query.group);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a group");
    if (const int rc = sqlite3_step(stmt->get()); rc != SQLITE_ROW) {
      return SqlError(rc, "sizing an event query");
    }
    return ColumnInt64(stmt->get(), 0);
  };
  // rowid only grows: the largest is the number of rows ever inserted, a
  // good enough count that costs one seek.
  Result<int64_t> events = one("SELECT coalesce(max(rowid), 0) FROM events", false);
  if (!events.ok()) return events.error();
  Result<int64_t> terminals = one("SELECT coalesce(max(rowid), 0) FROM terminals", false);
  if (!terminals.ok()) return terminals.error();
  Result<int64_t> in_group =
      one("SELECT count(*) FROM terminals WHERE " + std::string(kGroupFilter), true);
  if (!in_group.ok()) return in_group.error();

  const double limit = query.limit == 0 ? kDefaultEventLimit : query.limit;
  const double group_events = static_cast<double>(*events) * static_cast<double>(*in_group) /
                              static_cast<double>(std::max<int64_t>(1, *terminals));
  const double kind_share = static_cast<double>(kind_matches) / static_cast<double>(sampled);
  const double per_terminal = static_cast<double>(*in_group) * kSeekCost + group_events +
                              group_events * kind_share * kRowCost;
  const double walk =
      static_cast<double>(sampled) * limit / static_cast<double>(matches) + limit * kRowCost;
  return walk < per_terminal;
}

Result<std::vector<StoredEvent>> SqliteStore::QueryEvents(const EventQuery& query) {
  // Only the shape of the statement varies with the filters; every value is
  // bound. The shapes are few (kinds are deduplicated), so each is prepared
  // once and cached like the fixed statements.
  std::vector<EventKind> kinds;
  for (EventKind k : query.kinds) {
    bool seen = false;
    for (EventKind have : kinds) seen = seen || have == k;
    if (!seen) kinds.push_back(k);
  }

  // Which index serves the query is decided here rather than left to
  // SQLite, which has no statistics to tell a small group from a large one.
  std::string_view index = "events_by_time";
  if (!query.terminal_id.empty()) {
    index = "events_by_terminal_time";
  } else if (!query.group.empty()) {
    std::lock_guard lock(mu_);
    Result<bool> walk = WalkTimeIndexForGroup(query, kinds);
    if (!walk.ok()) return walk.error();
    if (!*walk) index = "events_by_terminal_time";
  }

  // The terminal's group comes along by primary-key lookup, one per row returned.
  std::string sql = "SELECT " MAMORI_EVENT_COLUMNS
                    ", (SELECT group_name FROM terminals WHERE id = events.terminal_id)"
                    " FROM events INDEXED BY ";
  sql.append(index).append(" WHERE 1");
  if (!query.terminal_id.empty()) sql.append(" AND terminal_id = ?");
  if (!query.group.empty()) {
    sql.append(" AND terminal_id IN (SELECT id FROM terminals WHERE ")
        .append(kGroupFilter)
        .append(")");
  }
  if (!kinds.empty()) {
    sql.append(" AND kind IN (?");
    for (std::size_t i = 1; i < kinds.size(); ++i) sql.append(", ?");
    sql.append(")");
  }
  if (query.since_ms != 0) sql.append(" AND time_ms >= ?");
  if (query.until_ms != 0) sql.append(" AND time_ms < ?");
  std::string like;
  if (!query.text.empty()) {
    like = "%" + LikeEscape(query.text) + "%";
    const char* sep = " AND (";
    for (std::string_view column : kTextSearchColumns) {
      sql.append(sep).append(column).append(" LIKE ? ESCAPE '\\'");
      sep = " OR ";
    }
    sql.append(")");
  }
  // The position continues the ORDER BY below: time and seq descending,
  // terminal ascending.
  if (query.after) {
    // The first bound is implied by the second; it lets the index seek to
    // the position instead of walking to it.
    sql.append(
        " AND time_ms <= ? AND (time_ms < ? OR (time_ms = ? AND (seq < ? OR (seq = ? AND "
        "terminal_id > ?))))");
  }
  sql.append(" ORDER BY time_ms DESC, seq DESC, terminal_id LIMIT ?");

  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  if (!query.terminal_id.empty()) bind.Text(query.terminal_id);
  if (!query.group.empty()) BindGroup(bind, query.group);
  for (EventKind k : kinds) bind.Text(EventKindName(k));
  if (query.since_ms != 0) bind.Int(query.since_ms);
  if (query.until_ms != 0) bind.Int(query.until_ms);
  if (!like.empty()) {
    for (std::size_t i = 0; i < kTextSearchColumns.size(); ++i) bind.Text(like);
  }
  if (query.after) {
    bind.Int(query.after->time_ms)
        .Int(query.after->time_ms)
        .Int(query.after->time_ms)
        .Int(static_cast<int64_t>(query.after->seq))
        .Int(static_cast<int64_t>(query.after->seq))
        .Text(query.after->terminal_id);
  }
  bind.Int(query.limit == 0 ? kDefaultEventLimit : query.limit);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding an event query");

  std::vector<StoredEvent> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    out.push_back(ReadEvent(stmt->get()));
    out.back().terminal_group = ColumnText(stmt->get(), kEventColumnCount);
  }
  if (rc != SQLITE_DONE) return SqlError(rc, "querying events");
  return out;
}

}  // namespace mamori

#undef MAMORI_EVENT_COLUMNS
