// SqliteStore: terminal snapshots and their devices.

#include <openssl/evp.h>

#include <cstdint>
#include <unordered_map>
#include <utility>

#include "server/store/sqlite/sqlite_rows.h"
#include "server/store/sqlite/sqlite_store.h"

namespace mamori {

using sqlite::BindDevice;
using sqlite::Binder;
using sqlite::BindGroup;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::EnforcementModeName;
using sqlite::JoinClasses;
using sqlite::kGroupFilter;
using sqlite::ParseEnforcementMode;
using sqlite::ReadDevice;
using sqlite::StmtLease;

namespace {

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

#define MAMORI_TERMINAL_COLUMNS                                                        \
  "id, group_name, hostname, os, agent_version, agent_time_ms, last_report_ms, "       \
  "report_interval_s, applied_policy_version, enforcement_mode, enforcement_healthy, " \
  "enforcement_detail, enforcement_backend"
// What is read back: the snapshot and the collector's own notes on it.
#define MAMORI_TERMINAL_READ_COLUMNS \
  MAMORI_TERMINAL_COLUMNS ", clock_refused_ms, clock_refused_agent_ms"

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
  t.clock_refused_ms = ColumnInt64(stmt, 13);
  t.clock_refused_agent_ms = ColumnInt64(stmt, 14);
  return t;
}

}  // namespace

Status SqliteStore::PutTerminalState(const TerminalState& state) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&] { return PutTerminalStateLocked(state); });
}

Status SqliteStore::RecordClockRefusal(std::string_view terminal_id, std::string_view group,
                                       int64_t agent_time_ms, int64_t at_ms) {
  std::lock_guard lock(mu_);
  return RunInTransaction(TxKind::kWrite, [&]() -> Status {
    // A terminal whose first report is refused still appears, as never
    // having reported, with the refusal.
    Result<StmtLease> stmt = Prepare(
        "INSERT INTO terminals (id, group_name, hostname, os, agent_version, agent_time_ms, "
        "last_report_ms, report_interval_s, applied_policy_version, enforcement_mode, "
        "enforcement_healthy, enforcement_detail, enforcement_backend, clock_refused_ms, "
        "clock_refused_agent_ms) VALUES (?, ?, '', '', '', 0, 0, 0, 0, ?, 0, '', '', ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET clock_refused_ms = excluded.clock_refused_ms, "
        "clock_refused_agent_ms = excluded.clock_refused_agent_ms");
    if (!stmt.ok()) return stmt.error();
    Binder bind(stmt->get());
    bind.Text(terminal_id)
        .Text(group)
        .Text(EnforcementModeName(EnforcementMode::kUnspecified))
        .Int(at_ms)
        .Int(agent_time_ms);
    if (bind.rc() != SQLITE_OK) return SqlError(bind.rc(), "binding a clock refusal");
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_DONE) return SqlError(rc, "recording a clock refusal");
    return Status::Ok();
  });
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
          Prepare("SELECT " MAMORI_TERMINAL_READ_COLUMNS " FROM terminals WHERE id = ?");
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
      std::string sql = "SELECT " MAMORI_TERMINAL_READ_COLUMNS " FROM terminals";
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
    std::string terminal_sql = "SELECT " MAMORI_TERMINAL_READ_COLUMNS " FROM terminals";
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

}  // namespace mamori

#undef MAMORI_TERMINAL_READ_COLUMNS
#undef MAMORI_TERMINAL_COLUMNS
