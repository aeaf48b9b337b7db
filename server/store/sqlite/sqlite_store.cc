#include "server/store/sqlite/sqlite_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <utility>

#include "common/base/hex.h"
#include "server/store/sqlite/migrations.h"

namespace mamori {

using sqlite::Binder;
using sqlite::ColumnInt64;
using sqlite::ColumnIsNull;
using sqlite::ColumnText;
using sqlite::StmtLease;

namespace {

constexpr uint32_t kDefaultEventLimit = 100;

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view EnforcementModeName(EnforcementMode mode) {
  switch (mode) {
    case EnforcementMode::kEnforce:
      return "enforce";
    case EnforcementMode::kAuditOnly:
      return "audit_only";
    case EnforcementMode::kUnspecified:
      break;
  }
  return "unspecified";
}

EnforcementMode ParseEnforcementMode(std::string_view name) {
  if (name == "enforce") return EnforcementMode::kEnforce;
  if (name == "audit_only") return EnforcementMode::kAuditOnly;
  return EnforcementMode::kUnspecified;
}

Severity ParseSeverity(std::string_view name) {
  for (Severity s : {Severity::kInfo, Severity::kWarning, Severity::kAlert}) {
    if (SeverityName(s) == name) return s;
  }
  return Severity::kUnspecified;
}

EventKind KindFromName(std::string_view name) {
  return ParseEventKind(name).value_or(EventKind::kUnspecified);
}

// A name written by a later release (a class this build does not know) reads
// as "other" rather than disappearing.
DeviceClass ClassFromName(std::string_view name) {
  if (name.empty() || name == DeviceClassName(DeviceClass::kUnspecified)) {
    return DeviceClass::kUnspecified;
  }
  return ParseDeviceClass(name).value_or(DeviceClass::kOther);
}

Action ActionFromName(std::string_view name) {
  return ParseAction(name).value_or(Action::kUnspecified);
}

// Class names never contain a comma, so a comma-separated list is unambiguous
// and stays readable in the sqlite3 shell.
std::string JoinClasses(const std::vector<DeviceClass>& classes) {
  std::string out;
  for (DeviceClass c : classes) {
    if (!out.empty()) out.push_back(',');
    out.append(DeviceClassName(c));
  }
  return out;
}

std::vector<DeviceClass> SplitClasses(std::string_view text) {
  std::vector<DeviceClass> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    out.push_back(ClassFromName(text.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// The sixteen device columns, in the order BindDevice and ReadDevice use;
// shared by the devices and events tables.
#define MAMORI_DEVICE_COLUMNS                                                                 \
  "device_id, vendor_id, product_id, serial, manufacturer, product, bus_path, device_class, " \
  "interface_classes, descriptor_hash, action, matched_rule, allowed_interface_classes, "     \
  "enforced, enforcement_error, first_seen_ms"
#define MAMORI_DEVICE_PARAMS "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
constexpr int kDeviceColumnCount = 16;

void BindDevice(Binder& bind, const Device& device) {
  const DeviceIdentity& id = device.identity;
  bind.Text(device.device_id)
      .Int(id.vendor_id)
      .Int(id.product_id)
      .Text(id.serial)
      .Text(id.manufacturer)
      .Text(id.product)
      .Text(id.bus_path)
      .Text(DeviceClassName(id.device_class))
      .Text(JoinClasses(id.interface_classes))
      .Text(id.descriptor_hash)
      .Text(ActionName(device.decision.action))
      .Text(device.decision.matched_rule)
      .Text(JoinClasses(device.decision.allowed_interface_classes))
      .Int(device.decision.enforced ? 1 : 0)
      .Text(device.decision.enforcement_error)
      .Int(device.first_seen_ms);
}

// SHA-256 (hex) of the device list in a length-prefixed canonical form, so
// two lists digest alike only when every stored field is equal.
std::string DevicesDigest(const std::vector<Device>& devices) {
  std::string canon;
  auto add = [&canon](std::string_view field) {
    canon += std::to_string(field.size());
    canon += ':';
    canon += field;
  };
  for (const Device& d : devices) {
    const DeviceIdentity& id = d.identity;
    add(d.device_id);
    add(std::to_string(id.vendor_id));
    add(std::to_string(id.product_id));
    add(id.serial);
    add(id.manufacturer);
    add(id.product);
    add(id.bus_path);
    add(DeviceClassName(id.device_class));
    add(JoinClasses(id.interface_classes));
    add(id.descriptor_hash);
    add(ActionName(d.decision.action));
    add(d.decision.matched_rule);
    add(JoinClasses(d.decision.allowed_interface_classes));
    add(d.decision.enforced ? "1" : "0");
    add(d.decision.enforcement_error);
    add(std::to_string(d.first_seen_ms));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(canon.data(), canon.size(), md, &md_len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(md_len * 2);
  for (unsigned int i = 0; i < md_len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 0xF];
  }
  return hex;
}

void BindNoDevice(Binder& bind) {
  for (int i = 0; i < kDeviceColumnCount; ++i) bind.Null();
}

Device ReadDevice(sqlite3_stmt* stmt, int first) {
  Device d;
  int c = first;
  d.device_id = ColumnText(stmt, c++);
  d.identity.vendor_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  d.identity.product_id = static_cast<uint16_t>(ColumnInt64(stmt, c++));
  d.identity.serial = ColumnText(stmt, c++);
  d.identity.manufacturer = ColumnText(stmt, c++);
  d.identity.product = ColumnText(stmt, c++);
  d.identity.bus_path = ColumnText(stmt, c++);
  d.identity.device_class = ClassFromName(ColumnText(stmt, c++));
  d.identity.interface_classes = SplitClasses(ColumnText(stmt, c++));
  d.identity.descriptor_hash = ColumnText(stmt, c++);
  d.decision.action = ActionFromName(ColumnText(stmt, c++));
  d.decision.matched_rule = ColumnText(stmt, c++);
  d.decision.allowed_interface_classes = SplitClasses(ColumnText(stmt, c++));
  d.decision.enforced = ColumnInt64(stmt, c++) != 0;
  d.decision.enforcement_error = ColumnText(stmt, c++);
  d.first_seen_ms = ColumnInt64(stmt, c++);
  return d;
}

#define MAMORI_TERMINAL_COLUMNS                                                        \
  "id, group_name, hostname, os, agent_version, agent_time_ms, last_report_ms, "       \
  "report_interval_s, applied_policy_version, enforcement_mode, enforcement_healthy, " \
  "enforcement_detail, enforcement_backend"

TerminalState ReadTerminal(sqlite3_stmt* stmt) {
  TerminalState t;
  t.terminal_id = ColumnText(stmt, 0);
  t.group = ColumnText(stmt, 1);
  t.hostname = ColumnText(stmt, 2);
  t.os = ColumnText(stmt, 3);
  t.agent_version = ColumnText(stmt, 4);
  t.agent_time_ms = ColumnInt64(stmt, 5);
  t.last_report_ms = ColumnInt64(stmt, 6);
  t.report_interval_s = static_cast<uint32_t>(ColumnInt64(stmt, 7));
  // Stored as the same 64 bits; see PutTerminalStateLocked.
  t.applied_policy_version = static_cast<uint64_t>(ColumnInt64(stmt, 8));
  t.enforcement.mode = ParseEnforcementMode(ColumnText(stmt, 9));
  t.enforcement.healthy = ColumnInt64(stmt, 10) != 0;
  t.enforcement.detail = ColumnText(stmt, 11);
  t.enforcement.backend = ColumnText(stmt, 12);
  return t;
}

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

// Group `g` and its descendants: group_name = g, or within [g + "/", g + "0").
// '0' is the byte after '/', so the range holds exactly the names starting
// with "g/" under SQLite's bytewise BINARY collation. Unlike LIKE, nothing in
// `g` acts as a wildcard, and the range can use the group index.
constexpr std::string_view kGroupFilter =
    "(group_name = ? OR (group_name >= ? AND group_name < ?))";

void BindGroup(Binder& bind, std::string_view group) {
  std::string lower(group);
  lower.push_back('/');
  std::string upper(group);
  upper.push_back('0');
  bind.Text(group).Text(lower).Text(upper);
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

Status SqliteStore::PutTerminalState(const TerminalState& state) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&] { return PutTerminalStateLocked(state); });
}

Status SqliteStore::PutTerminalStateLocked(const TerminalState& state) {
  const std::string digest = DevicesDigest(state.devices);
  std::string stored_digest;
  {
    Result<StmtLease> stmt = Prepare("SELECT devices_digest FROM terminals WHERE id = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(state.terminal_id);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal id");
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_ROW) {
      stored_digest = ColumnText(stmt->get(), 0);
    } else if (rc != SQLITE_DONE) {
      return SqlError(rc, "reading a terminal's device digest");
    }
  }
  {
    Result<StmtLease> stmt =
        Prepare("INSERT INTO terminals (" MAMORI_TERMINAL_COLUMNS
                ", devices_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET group_name = excluded.group_name, "
                "devices_digest = excluded.devices_digest, "
                "hostname = excluded.hostname, os = excluded.os, "
                "agent_version = excluded.agent_version, agent_time_ms = excluded.agent_time_ms, "
                "last_report_ms = excluded.last_report_ms, "
                "report_interval_s = excluded.report_interval_s, "
                "applied_policy_version = excluded.applied_policy_version, "
                "enforcement_mode = excluded.enforcement_mode, "
                "enforcement_healthy = excluded.enforcement_healthy, "
                "enforcement_detail = excluded.enforcement_detail, "
                "enforcement_backend = excluded.enforcement_backend");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(state.terminal_id)
        .Text(state.group)
        .Text(state.hostname)
        .Text(state.os)
        .Text(state.agent_version)
        .Int(state.agent_time_ms)
        .Int(state.last_report_ms)
        .Int(state.report_interval_s)
        // SQLite integers are signed 64-bit; the version keeps its 64 bits.
        .Int(static_cast<int64_t>(state.applied_policy_version))
        .Text(EnforcementModeName(state.enforcement.mode))
        .Int(state.enforcement.healthy ? 1 : 0)
        .Text(state.enforcement.detail)
        .Text(state.enforcement.backend)
        .Text(digest);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a terminal");
  }
  // The digest is read inside this transaction, so it always describes the
  // rows actually stored, even after a rolled-back group commit.
  if (!stored_digest.empty() && stored_digest == digest) return Status::Ok();
  {
    Result<StmtLease> stmt = Prepare("DELETE FROM devices WHERE terminal_id = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(state.terminal_id);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal id");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "replacing a terminal's devices");
  }
  for (std::size_t i = 0; i < state.devices.size(); ++i) {
    Result<StmtLease> stmt =
        Prepare("INSERT INTO devices (terminal_id, ordinal, " MAMORI_DEVICE_COLUMNS
                ") VALUES (?, ?, " MAMORI_DEVICE_PARAMS ")");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(state.terminal_id).Int(static_cast<int64_t>(i));
    BindDevice(bind, state.devices[i]);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a device");
    const int rc = sqlite3_step(stmt->get());
    // The device id is deliberately not echoed: it came from the agent.
    if (rc != SQLITE_DONE) {
      return SqlError(rc, "storing device #" + std::to_string(i + 1) + " of the snapshot");
    }
  }
  return Status::Ok();
}

Result<std::optional<TerminalState>> SqliteStore::GetTerminal(std::string_view terminal_id) {
  std::lock_guard lock(mu_);
  std::optional<TerminalState> out;
  Status status = RunInTransaction(TxKind::kRead, [&]() -> Status {
    {
      Result<StmtLease> stmt =
          Prepare("SELECT " MAMORI_TERMINAL_COLUMNS " FROM terminals WHERE id = ?");
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      bind.Text(terminal_id);
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal id");
      const int rc = sqlite3_step(stmt->get());
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return SqlError(rc, "reading a terminal");
      out = ReadTerminal(stmt->get());
    }
    Result<StmtLease> stmt = Prepare("SELECT " MAMORI_DEVICE_COLUMNS
                                     " FROM devices WHERE terminal_id = ? ORDER BY ordinal");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(terminal_id);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a terminal id");
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
      out->devices.push_back(ReadDevice(stmt->get(), 0));
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "reading a terminal's devices");
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return out;
}

Result<std::vector<TerminalState>> SqliteStore::ListTerminals(std::string_view group) {
  std::lock_guard lock(mu_);
  const bool filtered = !group.empty();
  std::vector<TerminalState> out;
  Status status = RunInTransaction(TxKind::kRead, [&]() -> Status {
    std::unordered_map<std::string_view, std::size_t> index;
    {
      std::string sql = "SELECT " MAMORI_TERMINAL_COLUMNS " FROM terminals";
      if (filtered) sql.append(" WHERE ").append(kGroupFilter);
      sql.append(" ORDER BY id");
      Result<StmtLease> stmt = Prepare(sql);
      if (!stmt.ok()) return stmt.error();
      Binder bind(stmt->get());
      if (filtered) BindGroup(bind, group);
      if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a group");
      int rc;
      while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
        out.push_back(ReadTerminal(stmt->get()));
      }
      if (rc != SQLITE_DONE) return SqlError(rc, "listing terminals");
    }
    if (out.empty()) return Status::Ok();
    index.reserve(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) index.emplace(out[i].terminal_id, i);

    // One query for the devices of every selected terminal, not one per
    // terminal: listing a whole prefecture stays a pair of scans.
    std::string sql = "SELECT terminal_id, " MAMORI_DEVICE_COLUMNS " FROM devices";
    if (filtered) {
      sql.append(" WHERE terminal_id IN (SELECT id FROM terminals WHERE ")
          .append(kGroupFilter)
          .append(")");
    }
    sql.append(" ORDER BY terminal_id, ordinal");
    Result<StmtLease> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    if (filtered) BindGroup(bind, group);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a group");
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
      const auto* id = sqlite3_column_text(stmt->get(), 0);
      const auto id_size = static_cast<std::size_t>(sqlite3_column_bytes(stmt->get(), 0));
      auto it = index.find(std::string_view(reinterpret_cast<const char*>(id), id_size));
      if (it == index.end()) continue;  // cannot happen inside one read transaction
      out[it->second].devices.push_back(ReadDevice(stmt->get(), 1));
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "listing devices");
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return out;
}

Status SqliteStore::ForEachTerminal(std::string_view group,
                                    const std::function<Status(TerminalState&&)>& visit) {
  std::lock_guard lock(mu_);
  const bool filtered = !group.empty();
  return RunInTransaction(TxKind::kRead, [&]() -> Status {
    // Both statements are in terminal id order: a merge join, one pass each.
    std::string terminal_sql = "SELECT " MAMORI_TERMINAL_COLUMNS " FROM terminals";
    std::string device_sql = "SELECT terminal_id, " MAMORI_DEVICE_COLUMNS " FROM devices";
    if (filtered) {
      terminal_sql.append(" WHERE ").append(kGroupFilter);
      device_sql.append(" WHERE terminal_id IN (SELECT id FROM terminals WHERE ")
          .append(kGroupFilter)
          .append(")");
    }
    terminal_sql.append(" ORDER BY id");
    device_sql.append(" ORDER BY terminal_id, ordinal");
    Result<StmtLease> terminals = Prepare(terminal_sql);
    if (!terminals.ok()) return terminals.error();
    Result<StmtLease> devices = Prepare(device_sql);
    if (!devices.ok()) return devices.error();
    Binder bind_terminals(terminals->get());
    Binder bind_devices(devices->get());
    if (filtered) {
      BindGroup(bind_terminals, group);
      BindGroup(bind_devices, group);
    }
    if (bind_terminals.rc() != SQLITE_OK) return SqlError(bind_terminals.rc(), "binding a group");
    if (bind_devices.rc() != SQLITE_OK) return SqlError(bind_devices.rc(), "binding a group");
    int device_rc = sqlite3_step(devices->get());
    int rc;
    while ((rc = sqlite3_step(terminals->get())) == SQLITE_ROW) {
      TerminalState t = ReadTerminal(terminals->get());
      while (device_rc == SQLITE_ROW) {
        const auto* id = sqlite3_column_text(devices->get(), 0);
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(devices->get(), 0));
        const int order =
            std::string_view(reinterpret_cast<const char*>(id), size).compare(t.terminal_id);
        if (order > 0) break;
        // order < 0: a device row without its terminal, which the foreign
        // key rules out; skip it rather than attach it to the wrong one.
        if (order == 0) t.devices.push_back(ReadDevice(devices->get(), 1));
        device_rc = sqlite3_step(devices->get());
      }
      if (device_rc != SQLITE_ROW && device_rc != SQLITE_DONE) {
        return SqlError(device_rc, "listing devices");
      }
      if (Status s = visit(std::move(t)); !s.ok()) return s;
    }
    if (rc != SQLITE_DONE) return SqlError(rc, "listing terminals");
    return Status::Ok();
  });
}

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

}  // namespace mamori

#undef MAMORI_POLICY_COLUMNS
#undef MAMORI_EVENT_COLUMNS
#undef MAMORI_TERMINAL_COLUMNS
#undef MAMORI_DEVICE_PARAMS
#undef MAMORI_DEVICE_COLUMNS

namespace mamori {

Status SqliteStore::PutUser(const UserRecord& user) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT OR REPLACE INTO users (name, role, password_hash, totp_secret_hex, disabled, "
        "failed_logins, locked_until_ms, last_totp_step, created_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(user.name)
        .Text(user.role)
        .Text(user.password_hash)
        .Text(HexEncode(user.totp_secret))
        .Int(user.disabled ? 1 : 0)
        .Int(user.failed_logins)
        .Int(user.locked_until_ms)
        .Int(user.last_totp_step)
        .Int(user.created_at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a user");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a user");
    return Status::Ok();
  });
}

namespace {

#define MAMORI_USER_COLUMNS                                                                \
  "name, role, password_hash, totp_secret_hex, disabled, failed_logins, locked_until_ms, " \
  "last_totp_step, created_at_ms"

UserRecord ReadUser(sqlite3_stmt* stmt) {
  UserRecord u;
  u.name = ColumnText(stmt, 0);
  u.role = ColumnText(stmt, 1);
  u.password_hash = ColumnText(stmt, 2);
  u.totp_secret = HexDecode(ColumnText(stmt, 3)).value_or("");
  u.disabled = ColumnInt64(stmt, 4) != 0;
  u.failed_logins = ColumnInt64(stmt, 5);
  u.locked_until_ms = ColumnInt64(stmt, 6);
  u.last_totp_step = ColumnInt64(stmt, 7);
  u.created_at_ms = ColumnInt64(stmt, 8);
  return u;
}

}  // namespace

Result<std::optional<UserRecord>> SqliteStore::GetUser(std::string_view name) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare("SELECT " MAMORI_USER_COLUMNS " FROM users WHERE name = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(name);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a user name");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<UserRecord>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a user");
  return std::optional<UserRecord>(ReadUser(stmt->get()));
}

Result<std::vector<UserRecord>> SqliteStore::ListUsers() {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare("SELECT " MAMORI_USER_COLUMNS " FROM users ORDER BY name");
  if (!stmt.ok()) return stmt.error();
  std::vector<UserRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(ReadUser(stmt->get()));
  if (rc != SQLITE_DONE) return SqlError(rc, "listing users");
  return out;
}

#undef MAMORI_USER_COLUMNS

Status SqliteStore::PutSession(const SessionRecord& session) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare(
        "INSERT OR REPLACE INTO sessions (token_hash, user_name, csrf_token, created_at_ms, "
        "expires_at_ms) VALUES (?, ?, ?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(session.token_hash)
        .Text(session.user_name)
        .Text(session.csrf_token)
        .Int(session.created_at_ms)
        .Int(session.expires_at_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a session");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "storing a session");
    // Expired sessions are useless; dropping them here keeps the table small
    // without a timer.
    Result<StmtLease> purge = Prepare("DELETE FROM sessions WHERE expires_at_ms < ?");
    if (!purge.ok()) return purge.error();
    Binder purge_bind(purge->get());
    purge_bind.Int(session.created_at_ms);
    if (purge_bind.rc() != SQLITE_OK) return SqlError(purge_bind.rc(), "binding a purge");
    const int purge_rc = sqlite3_step(purge->get());
    if (purge_rc != SQLITE_DONE) return SqlError(purge_rc, "purging expired sessions");
    return Status::Ok();
  });
}

Result<std::optional<SessionRecord>> SqliteStore::GetSession(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  Result<StmtLease> stmt = Prepare(
      "SELECT token_hash, user_name, csrf_token, created_at_ms, expires_at_ms FROM sessions "
      "WHERE token_hash = ?");
  if (!stmt.ok()) return stmt.error();
  Binder bind(stmt->get());
  bind.Text(token_hash);
  if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a session key");
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::optional<SessionRecord>();
  if (rc != SQLITE_ROW) return SqlError(rc, "reading a session");
  SessionRecord s;
  s.token_hash = ColumnText(stmt->get(), 0);
  s.user_name = ColumnText(stmt->get(), 1);
  s.csrf_token = ColumnText(stmt->get(), 2);
  s.created_at_ms = ColumnInt64(stmt->get(), 3);
  s.expires_at_ms = ColumnInt64(stmt->get(), 4);
  return std::optional<SessionRecord>(std::move(s));
}

Status SqliteStore::DeleteSession(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare("DELETE FROM sessions WHERE token_hash = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(token_hash);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a session key");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "deleting a session");
    return Status::Ok();
  });
}

Status SqliteStore::DeleteUserSessions(std::string_view user_name) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    Result<StmtLease> stmt = Prepare("DELETE FROM sessions WHERE user_name = ?");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(user_name);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a user name");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "deleting sessions");
    return Status::Ok();
  });
}

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
