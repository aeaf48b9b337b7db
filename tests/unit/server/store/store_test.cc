#include "server/store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/policy/rule_engine.h"
#include "server/store/sqlite/migrations.h"
#include "server/store/sqlite/sqlite_handle.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::TempDir;

// Device strings an agent (or an attacker holding a USB stick) can send.
const std::string kWithNul("ab\0cd\0", 6);
const std::string kInvalidUtf8("\xff\xfe\xc3\x28\x80 end");
const std::string kInjection = "x'); DROP TABLE terminals; --";
const std::string kMiB(1 << 20, 'M');

Device MakeDevice(std::string id, uint16_t vid, uint16_t pid, std::string serial,
                  DeviceClass cls = DeviceClass::kMassStorage) {
  Device d;
  d.device_id = std::move(id);
  d.identity.vendor_id = vid;
  d.identity.product_id = pid;
  d.identity.serial = std::move(serial);
  d.identity.manufacturer = "SanDisk";
  d.identity.product = "Cruzer Blade";
  d.identity.bus_path = "1-2.3";
  d.identity.device_class = cls;
  d.identity.interface_classes = {DeviceClass::kMassStorage, DeviceClass::kHid};
  d.identity.descriptor_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  d.decision.action = Action::kReadOnly;
  d.decision.matched_rule = "registered";
  d.decision.enforced = true;
  d.decision.enforcement_error = "";
  d.first_seen_ms = 1'700'000'000'123;
  return d;
}

TerminalState MakeTerminal(std::string id, std::string group) {
  TerminalState t;
  t.terminal_id = std::move(id);
  t.group = std::move(group);
  t.hostname = "PC-" + t.terminal_id;
  t.os = "Windows 10 Enterprise LTSC";
  t.agent_version = "0.1.0";
  t.agent_time_ms = 1'700'000'100'000;
  t.last_report_ms = 1'700'000'100'500;
  t.report_interval_s = 60;
  t.applied_policy_version = 7;
  t.enforcement.mode = EnforcementMode::kEnforce;
  t.enforcement.healthy = true;
  t.enforcement.detail = "ok";
  t.enforcement.backend = "sysfs";
  return t;
}

Event MakeEvent(uint64_t seq, int64_t time_ms, EventKind kind = EventKind::kDeviceBlocked) {
  Event e;
  e.seq = seq;
  e.time_ms = time_ms;
  e.kind = kind;
  e.severity = Severity::kWarning;
  e.detail = "event " + std::to_string(seq);
  e.user = "taro";
  return e;
}

void ExpectDeviceEq(const Device& want, const Device& got) {
  EXPECT_EQ(want.device_id, got.device_id);
  EXPECT_EQ(want.identity.vendor_id, got.identity.vendor_id);
  EXPECT_EQ(want.identity.product_id, got.identity.product_id);
  EXPECT_EQ(want.identity.serial, got.identity.serial);
  EXPECT_EQ(want.identity.manufacturer, got.identity.manufacturer);
  EXPECT_EQ(want.identity.product, got.identity.product);
  EXPECT_EQ(want.identity.bus_path, got.identity.bus_path);
  EXPECT_EQ(want.identity.device_class, got.identity.device_class);
  EXPECT_EQ(want.identity.interface_classes, got.identity.interface_classes);
  EXPECT_EQ(want.identity.descriptor_hash, got.identity.descriptor_hash);
  EXPECT_EQ(want.decision.action, got.decision.action);
  EXPECT_EQ(want.decision.matched_rule, got.decision.matched_rule);
  EXPECT_EQ(want.decision.allowed_interface_classes, got.decision.allowed_interface_classes);
  EXPECT_EQ(want.decision.enforced, got.decision.enforced);
  EXPECT_EQ(want.decision.enforcement_error, got.decision.enforcement_error);
  EXPECT_EQ(want.first_seen_ms, got.first_seen_ms);
}

void ExpectTerminalEq(const TerminalState& want, const TerminalState& got) {
  EXPECT_EQ(want.terminal_id, got.terminal_id);
  EXPECT_EQ(want.group, got.group);
  EXPECT_EQ(want.hostname, got.hostname);
  EXPECT_EQ(want.os, got.os);
  EXPECT_EQ(want.agent_version, got.agent_version);
  EXPECT_EQ(want.agent_time_ms, got.agent_time_ms);
  EXPECT_EQ(want.last_report_ms, got.last_report_ms);
  EXPECT_EQ(want.report_interval_s, got.report_interval_s);
  EXPECT_EQ(want.applied_policy_version, got.applied_policy_version);
  EXPECT_EQ(want.enforcement.mode, got.enforcement.mode);
  EXPECT_EQ(want.enforcement.healthy, got.enforcement.healthy);
  EXPECT_EQ(want.enforcement.detail, got.enforcement.detail);
  EXPECT_EQ(want.enforcement.backend, got.enforcement.backend);
  ASSERT_EQ(want.devices.size(), got.devices.size());
  for (std::size_t i = 0; i < want.devices.size(); ++i) {
    SCOPED_TRACE("device " + std::to_string(i));
    ExpectDeviceEq(want.devices[i], got.devices[i]);
  }
}

// EventQuery with only the named fields set (GCC flags partially designated
// aggregates).
class Query {
 public:
  Query& Terminal(std::string id) {
    q_.terminal_id = std::move(id);
    return *this;
  }
  Query& Group(std::string group) {
    q_.group = std::move(group);
    return *this;
  }
  Query& Kinds(std::vector<EventKind> kinds) {
    q_.kinds = std::move(kinds);
    return *this;
  }
  Query& Since(int64_t ms) {
    q_.since_ms = ms;
    return *this;
  }
  Query& Until(int64_t ms) {
    q_.until_ms = ms;
    return *this;
  }
  Query& Limit(uint32_t limit) {
    q_.limit = limit;
    return *this;
  }
  operator EventQuery() const { return q_; }  // NOLINT: implicit by design

 private:
  EventQuery q_;
};

std::vector<std::string> Ids(const std::vector<TerminalState>& terminals) {
  std::vector<std::string> ids;
  for (const auto& t : terminals) ids.push_back(t.terminal_id);
  return ids;
}

std::vector<uint64_t> Seqs(const std::vector<StoredEvent>& events) {
  std::vector<uint64_t> seqs;
  for (const auto& e : events) seqs.push_back(e.event.seq);
  return seqs;
}

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(SqliteOptions options = {}) {
    auto store = OpenSqliteStore(path_, options);
    if (!store.ok()) {
      ADD_FAILURE() << store.error().message;
      return nullptr;
    }
    return std::move(*store);
  }

  // A second, independent connection for looking at the file directly.
  sqlite::DbPtr RawDb() {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    sqlite::DbPtr db(raw);
    if (rc != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(raw));
    return db;
  }

  int64_t RawCount(std::string_view table) {
    sqlite::DbPtr db = RawDb();
    const std::string sql = "SELECT COUNT(*) FROM " + std::string(table);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db.get()));
    }
    sqlite::StmtPtr stmt(raw);
    if (sqlite3_step(stmt.get()) != SQLITE_ROW) throw std::runtime_error("no row");
    return sqlite3_column_int64(stmt.get(), 0);
  }

  void RawExec(std::string_view sql) {
    sqlite::DbPtr db = RawDb();
    const std::string text(sql);
    ASSERT_EQ(sqlite3_exec(db.get(), text.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db.get());
  }

  // The database as a collector of schema `version` left it, holding `rows`
  // (SQL statements run after the schema): migration steps are append-only,
  // so replaying steps 1..version gives exactly that schema.
  void CreateAtVersion(int version, std::initializer_list<std::string_view> rows) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(
        sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
    sqlite::DbPtr db(raw);
    auto exec = [&](std::string_view sql) {
      const std::string text(sql);
      ASSERT_EQ(sqlite3_exec(db.get(), text.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
          << sqlite3_errmsg(db.get()) << "\n"
          << text;
    };
    exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at_ms INTEGER NOT NULL)");
    for (const sqlite::Migration& m : sqlite::Migrations()) {
      if (m.version > version) break;
      exec(m.sql);
      exec("INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 0)");
    }
    for (std::string_view row : rows) exec(row);
  }

  TempDir dir_;
  std::string path_ = dir_.File("collector.db");
};

TEST_F(StoreTest, MigrationsCreateTheLatestVersionAndReopenIsIdempotent) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->SchemaVersion(), 11);
    EXPECT_EQ(sqlite::LatestSchemaVersion(), 11);
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->SchemaVersion(), 11);
  }
  EXPECT_EQ(RawCount("schema_migrations"), 11);
  for (std::string_view table : {"terminals", "devices", "events", "event_cursors", "policies"}) {
    EXPECT_EQ(RawCount(table), 0) << table;
  }
}

TEST_F(StoreTest, MigrationVersionsAreContiguousFromOne) {
  int expected = 1;
  for (const auto& m : sqlite::Migrations()) EXPECT_EQ(m.version, expected++);
}

TEST_F(StoreTest, FileIsInWalMode) {
  ASSERT_NE(Open(), nullptr);
  sqlite::DbPtr db = RawDb();
  sqlite3_stmt* raw = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db.get(), "PRAGMA journal_mode", -1, &raw, nullptr), SQLITE_OK);
  sqlite::StmtPtr stmt(raw);
  ASSERT_EQ(sqlite3_step(stmt.get()), SQLITE_ROW);
  EXPECT_EQ(sqlite::ColumnText(stmt.get(), 0), "wal");
}

TEST_F(StoreTest, RefusesDatabaseFromNewerBuild) {
  ASSERT_NE(Open(), nullptr);
  RawExec("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (99, 0)");

  auto store = OpenSqliteStore(path_, {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(store.error().message.find("99"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find(path_), std::string::npos) << store.error().message;
  // Nothing was downgraded or rewritten: this build's rows plus the newer one.
  EXPECT_EQ(RawCount("schema_migrations"), sqlite::LatestSchemaVersion() + 1);
}

TEST_F(StoreTest, RejectsUnknownSynchronousSetting) {
  SqliteOptions options;
  options.synchronous = "off";
  auto store = OpenSqliteStore(path_, options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(store.error().message.find("off"), std::string::npos);

  options.synchronous = "normal";
  EXPECT_TRUE(OpenSqliteStore(path_, options).ok());
}

TEST_F(StoreTest, OpenErrorsNameThePathAndTheCause) {
  const std::string missing_dir = dir_.File("no/such/dir/collector.db");
  auto missing = OpenSqliteStore(missing_dir, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(missing_dir), std::string::npos)
      << missing.error().message;
  EXPECT_NE(missing.error().message.find("unable to open"), std::string::npos)
      << missing.error().message;

  const std::string garbage = dir_.Write("garbage.db", std::string(4096, 'x'));
  auto not_db = OpenSqliteStore(garbage, {});
  ASSERT_FALSE(not_db.ok());
  EXPECT_NE(not_db.error().message.find(garbage), std::string::npos) << not_db.error().message;
  EXPECT_NE(not_db.error().message.find("not a database"), std::string::npos)
      << not_db.error().message;
}

TEST_F(StoreTest, TerminalRoundTripKeepsHostileBytesExactly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TerminalState t = MakeTerminal(kInjection, "osaka/suita");
  t.hostname = kWithNul;
  t.enforcement.detail = kInvalidUtf8;
  t.applied_policy_version = UINT64_MAX;  // all 64 bits survive the signed column

  Device nul = MakeDevice(kWithNul, 0x0781, 0x5567, kWithNul);
  nul.identity.product = kWithNul;
  Device invalid = MakeDevice("dev-utf8", 0xffff, 0x0001, kInvalidUtf8);
  invalid.identity.manufacturer = kInvalidUtf8;
  invalid.identity.interface_classes = {};
  invalid.decision.action = Action::kBlock;
  invalid.decision.enforced = false;
  invalid.decision.enforcement_error = kInjection;
  Device huge = MakeDevice("dev-huge", 0x1234, 0xabcd, kMiB);
  huge.identity.product = kMiB;
  huge.identity.device_class = DeviceClass::kUnspecified;
  Device empty_id = MakeDevice("", 0, 0, "", DeviceClass::kHid);
  t.devices = {nul, invalid, huge, empty_id};

  ASSERT_TRUE(store->PutTerminalState(t).ok());
  auto got = store->GetTerminal(kInjection);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectTerminalEq(t, **got);

  // The injection string was data, not SQL.
  EXPECT_EQ(RawCount("terminals"), 1);
  EXPECT_EQ(RawCount("devices"), 4);

  auto missing = store->GetTerminal("nobody");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(StoreTest, PutTerminalStateReplacesDevicesAndKeepsTheirOrder) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TerminalState t = MakeTerminal("t1", "kyoto");
  t.devices = {MakeDevice("z", 1, 1, "s1"), MakeDevice("a", 2, 2, "s2"),
               MakeDevice("m", 3, 3, "s3")};
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  auto first = store->GetTerminal("t1");
  ASSERT_TRUE(first.ok() && first->has_value());
  ExpectTerminalEq(t, **first);

  t.hostname = "renamed";
  t.devices = {MakeDevice("b", 9, 9, "s9")};
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  auto second = store->GetTerminal("t1");
  ASSERT_TRUE(second.ok() && second->has_value());
  ExpectTerminalEq(t, **second);
  EXPECT_EQ(RawCount("devices"), 1);
  EXPECT_EQ(RawCount("terminals"), 1);
}

TEST_F(StoreTest, UnchangedDeviceListIsNotRewrittenButAnyChangeIs) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TerminalState t = MakeTerminal("t1", "kyoto");
  t.devices = {MakeDevice("a", 1, 1, "s1"), MakeDevice("b", 2, 2, "s2")};
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  // Mark the stored rows: an unchanged snapshot must leave them in place.
  RawExec("UPDATE devices SET rowid = rowid + 1000");
  t.last_report_ms += 60'000;
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  EXPECT_EQ(RawCount("devices WHERE rowid > 1000"), 2);
  EXPECT_EQ((*store->GetTerminal("t1"))->last_report_ms, t.last_report_ms);

  // A change in any field, even only the decision, replaces the list.
  t.devices[1].decision.action = Action::kBlock;
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  EXPECT_EQ(RawCount("devices WHERE rowid > 1000"), 0);
  ExpectTerminalEq(t, **store->GetTerminal("t1"));

  // A rolled-back write leaves digest and rows consistent.
  t.devices[0].identity.serial = "changed";
  Status failed = store->WithTransaction([&]() -> Status {
    if (Status s = store->PutTerminalState(t); !s) return s;
    return MakeError(ErrorCode::kInternal, "abort");
  });
  EXPECT_FALSE(failed.ok());
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  ExpectTerminalEq(t, **store->GetTerminal("t1"));
}

// A keyboard that also offers storage, blocked with its keyboard kept.
Device CompositeKeyboard(std::string id) {
  Device d = MakeDevice(std::move(id), 0x046d, 0xc31c, "KB-1", DeviceClass::kUnspecified);
  d.identity.interface_classes = {DeviceClass::kHid, DeviceClass::kMassStorage};
  d.decision.action = Action::kBlock;
  d.decision.matched_rule = "default";
  d.decision.allowed_interface_classes = {DeviceClass::kHid, DeviceClass::kOther};
  return d;
}

TEST_F(StoreTest, AllowedInterfaceClassesRoundTripInSnapshotsAndEvents) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TerminalState t = MakeTerminal("t1", "kyoto");
  t.devices = {CompositeKeyboard("kbd"), MakeDevice("stick", 1, 1, "s1")};
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  ExpectTerminalEq(t, **store->GetTerminal("t1"));
  auto listed = store->ListTerminals("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  ExpectTerminalEq(t, (*listed)[0]);

  // A change in the kept classes alone is a change of the device list.
  RawExec("UPDATE devices SET rowid = rowid + 1000");
  t.devices[0].decision.allowed_interface_classes = {DeviceClass::kHid};
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  EXPECT_EQ(RawCount("devices WHERE rowid > 1000"), 0);
  ExpectTerminalEq(t, **store->GetTerminal("t1"));
  // Readable in the sqlite3 shell, like interface_classes.
  EXPECT_EQ(RawCount("devices WHERE allowed_interface_classes = 'hid'"), 1);
  EXPECT_EQ(RawCount("devices WHERE allowed_interface_classes = ''"), 1);

  Event blocked = MakeEvent(1, 100);
  blocked.device = CompositeKeyboard("kbd");
  ASSERT_TRUE(
      store->AppendEvents("t1", {blocked, MakeEvent(2, 200, EventKind::kAgentStarted)}, 1).ok());
  auto events = store->QueryEvents(Query());
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(events->size(), 2u);
  ASSERT_TRUE((*events)[1].event.device.has_value());
  ExpectDeviceEq(*blocked.device, *(*events)[1].event.device);
  EXPECT_FALSE((*events)[0].event.device.has_value());
  EXPECT_EQ(RawCount("events WHERE allowed_interface_classes IS NULL"), 1);
}

TEST_F(StoreTest, EveryDeviceClassRoundTripsByItsName) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TerminalState t = MakeTerminal("t1", "kyoto");
  const std::vector<DeviceClass> classes = {DeviceClass::kNetwork,   DeviceClass::kSerial,
                                            DeviceClass::kBluetooth, DeviceClass::kWifi,
                                            DeviceClass::kSmartCard, DeviceClass::kBiometric};
  for (std::size_t i = 0; i < classes.size(); ++i) {
    Device d = MakeDevice("d" + std::to_string(i), 1, static_cast<uint16_t>(i + 1),
                          "s" + std::to_string(i));
    d.identity.device_class = classes[i];
    d.identity.interface_classes = {classes[i], DeviceClass::kHid};
    d.decision.matched_rule = DefaultRuleNameFor(classes[i]);
    d.decision.allowed_interface_classes = {DeviceClass::kHid};
    t.devices.push_back(d);
  }
  ASSERT_TRUE(store->PutTerminalState(t).ok());
  ExpectTerminalEq(t, **store->GetTerminal("t1"));
  EXPECT_EQ(RawCount("devices WHERE interface_classes = 'smart_card,hid'"), 1);
  EXPECT_EQ(RawCount("devices WHERE device_class = 'biometric'"), 1);
}

TEST_F(StoreTest, VersionTwoDatabaseMigratesToThreeKeepingItsRows) {
  ASSERT_NO_FATAL_FAILURE(CreateAtVersion(
      2, {"INSERT INTO terminals VALUES ('t1', 'osaka', 'PC-1', 'Windows 11', '0.1.0', 10, 20, 60, "
          "4, 'enforce', 1, 'ok', 'sysfs', 'stale-digest')",
          "INSERT INTO devices VALUES ('t1', 'stick', 0, 1921, 21889, 'S1', 'SanDisk', 'Ultra', "
          "'1-2', 'unspecified', 'mass_storage', '', 'block', 'default', 1, '', 5)",
          "INSERT INTO events VALUES ('t1', 1, 100, 101, 'device_blocked', 'alert', 'stick', 1921, "
          "21889, 'S1', 'SanDisk', 'Ultra', '1-2', 'unspecified', 'mass_storage', '', 'block', "
          "'default', 1, '', 5, 'block by rule ''default''', 'taro')",
          "INSERT INTO events (terminal_id, seq, time_ms, received_ms, kind, severity, detail, "
          "user_name) VALUES ('t1', 2, 200, 201, 'agent_started', 'info', 'started', '')"}));

  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion(), sqlite::LatestSchemaVersion());
  EXPECT_EQ(RawCount("schema_migrations"), sqlite::LatestSchemaVersion());

  auto t = store->GetTerminal("t1");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((**t).hostname, "PC-1");
  EXPECT_EQ((**t).applied_policy_version, 4u);
  ASSERT_EQ((**t).devices.size(), 1u);
  const Device& stick = (**t).devices[0];
  EXPECT_EQ(stick.device_id, "stick");
  EXPECT_EQ(stick.identity.VidPid(), "0781:5581");
  EXPECT_EQ(stick.identity.interface_classes, std::vector<DeviceClass>{DeviceClass::kMassStorage});
  EXPECT_EQ(stick.decision.action, Action::kBlock);
  EXPECT_EQ(stick.decision.matched_rule, "default");
  EXPECT_TRUE(stick.decision.enforced);
  EXPECT_TRUE(stick.decision.allowed_interface_classes.empty());

  auto events = store->QueryEvents(Query());
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(Seqs(*events), (std::vector<uint64_t>{2, 1}));
  EXPECT_FALSE((*events)[0].event.device.has_value());
  ASSERT_TRUE((*events)[1].event.device.has_value());
  EXPECT_EQ((*events)[1].event.device->identity.serial, "S1");
  EXPECT_EQ((*events)[1].event.detail, "block by rule 'default'");
  EXPECT_TRUE((*events)[1].event.device->decision.allowed_interface_classes.empty());

  // The migrated database takes the new field.
  TerminalState next = **t;
  next.devices.push_back(CompositeKeyboard("kbd"));
  ASSERT_TRUE(store->PutTerminalState(next).ok());
  ExpectTerminalEq(next, **store->GetTerminal("t1"));
}

TEST_F(StoreTest, SnapshotWithDuplicateDeviceIdIsRejectedWhole) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TerminalState good = MakeTerminal("t1", "kyoto");
  good.devices = {MakeDevice("a", 1, 1, "s1")};
  ASSERT_TRUE(store->PutTerminalState(good).ok());

  TerminalState bad = good;
  bad.hostname = "changed";
  bad.devices = {MakeDevice("x", 1, 1, "s1"), MakeDevice("x", 2, 2, "s2")};
  Status status = store->PutTerminalState(bad);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);

  auto got = store->GetTerminal("t1");
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectTerminalEq(good, **got);
}

TEST_F(StoreTest, AppendEventsAcksHighestContiguousSeq) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto acked =
      store->AppendEvents("t1", {MakeEvent(1, 10), MakeEvent(2, 20), MakeEvent(4, 40)}, 1000);
  ASSERT_TRUE(acked.ok()) << acked.error().message;
  EXPECT_EQ(*acked, 2u);
  EXPECT_EQ(*store->AckedThrough("t1"), 2u);

  acked = store->AppendEvents("t1", {MakeEvent(3, 30)}, 1001);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 4u);

  // A full resend (agent did not see the ack) stores nothing twice.
  acked = store->AppendEvents(
      "t1", {MakeEvent(4, 40), MakeEvent(3, 30), MakeEvent(2, 20), MakeEvent(1, 10)}, 1002);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 4u);
  EXPECT_EQ(RawCount("events"), 4);

  // Duplicates within one batch, out of order, past a gap.
  acked = store->AppendEvents("t1", {MakeEvent(7, 70), MakeEvent(7, 70), MakeEvent(5, 50)}, 1003);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 5u);
  EXPECT_EQ(RawCount("events"), 6);

  // Cursors are per terminal.
  EXPECT_EQ(*store->AckedThrough("t2"), 0u);
  acked = store->AppendEvents("t2", {MakeEvent(2, 20)}, 1004);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 0u);
  acked = store->AppendEvents("t2", {}, 1005);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 0u);

  // The first stored copy wins: received_ms is that of the first delivery.
  auto events = store->QueryEvents(Query().Terminal("t1"));
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events) {
    if (e.event.seq == 1) {
      EXPECT_EQ(e.received_ms, 1000);
    }
  }
}

TEST_F(StoreTest, AppendEventsRejectsSeqZeroAndStoresNothingOfTheBatch) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto acked = store->AppendEvents("t1", {MakeEvent(1, 10), MakeEvent(0, 20)}, 1000);
  ASSERT_FALSE(acked.ok());
  EXPECT_EQ(acked.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(RawCount("events"), 0);
  EXPECT_EQ(*store->AckedThrough("t1"), 0u);
}

TEST_F(StoreTest, EventsRoundTripWithAndWithoutDevice) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Event with = MakeEvent(1, 111, EventKind::kDeviceBlocked);
  with.severity = Severity::kAlert;
  with.device = MakeDevice(kWithNul, 0x0781, 0x5567, kInvalidUtf8);
  with.detail = kInjection;
  with.user = kWithNul;
  Event empty_device = MakeEvent(2, 222, EventKind::kDeviceRemoved);
  empty_device.device = Device{};
  Event without = MakeEvent(3, 333, EventKind::kAgentStarted);
  without.severity = Severity::kInfo;
  ASSERT_TRUE(store->AppendEvents("t1", {with, empty_device, without}, 5000).ok());

  auto events = store->QueryEvents(Query());
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(events->size(), 3u);
  const StoredEvent& e3 = (*events)[0];
  const StoredEvent& e2 = (*events)[1];
  const StoredEvent& e1 = (*events)[2];
  EXPECT_EQ(e1.terminal_id, "t1");
  EXPECT_EQ(e1.received_ms, 5000);
  EXPECT_EQ(e1.event.seq, 1u);
  EXPECT_EQ(e1.event.time_ms, 111);
  EXPECT_EQ(e1.event.kind, EventKind::kDeviceBlocked);
  EXPECT_EQ(e1.event.severity, Severity::kAlert);
  EXPECT_EQ(e1.event.detail, kInjection);
  EXPECT_EQ(e1.event.user, kWithNul);
  ASSERT_TRUE(e1.event.device.has_value());
  ExpectDeviceEq(*with.device, *e1.event.device);

  ASSERT_TRUE(e2.event.device.has_value());  // an empty device is still a device
  ExpectDeviceEq(Device{}, *e2.event.device);

  EXPECT_EQ(e3.event.kind, EventKind::kAgentStarted);
  EXPECT_EQ(e3.event.severity, Severity::kInfo);
  EXPECT_FALSE(e3.event.device.has_value());
}

TEST_F(StoreTest, DataSurvivesCloseAndReopen) {
  TerminalState t = MakeTerminal("t1", "osaka");
  t.devices = {MakeDevice("d1", 1, 2, "serial")};
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->PutTerminalState(t).ok());
    ASSERT_TRUE(store->AppendEvents("t1", {MakeEvent(1, 10), MakeEvent(2, 20)}, 1).ok());
    ASSERT_TRUE(store->PutPolicy("osaka", "rules: []\n", "uri:admin", 42).ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto got = store->GetTerminal("t1");
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectTerminalEq(t, **got);
  EXPECT_EQ(*store->AckedThrough("t1"), 2u);
  auto events = store->QueryEvents(Query());
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(Seqs(*events), (std::vector<uint64_t>{2, 1}));
  auto policy = store->GetPolicy("osaka", 0);
  ASSERT_TRUE(policy.ok() && policy->has_value());
  EXPECT_EQ((*policy)->version, 1u);
  EXPECT_EQ((*policy)->policy_yaml, "rules: []\n");
}

TEST_F(StoreTest, WithTransactionCommitsEverythingOrNothing) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status failed = store->WithTransaction([&]() -> Status {
    if (Status s = store->PutTerminalState(MakeTerminal("t1", "g")); !s.ok()) return s;
    if (auto r = store->AppendEvents("t1", {MakeEvent(1, 1)}, 1); !r.ok()) return r.error();
    if (auto r = store->PutPolicy("g", "y", "a", 1); !r.ok()) return r.error();
    // Reads inside the transaction see its own writes.
    auto seen = store->GetTerminal("t1");
    if (!seen.ok() || !seen->has_value()) return MakeError(ErrorCode::kInternal, "not visible");
    return MakeError(ErrorCode::kInternal, "caller gives up");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "caller gives up");
  for (std::string_view table : {"terminals", "events", "event_cursors", "policies"}) {
    EXPECT_EQ(RawCount(table), 0) << table;
  }
  EXPECT_FALSE(store->GetTerminal("t1")->has_value());

  Status ok = store->WithTransaction([&]() -> Status {
    if (Status s = store->PutTerminalState(MakeTerminal("t1", "g")); !s.ok()) return s;
    if (auto r = store->AppendEvents("t1", {MakeEvent(1, 1)}, 1); !r.ok()) return r.error();
    return Status::Ok();
  });
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(RawCount("terminals"), 1);
  EXPECT_EQ(RawCount("events"), 1);
}

TEST_F(StoreTest, FailedCallInsideTransactionUndoesOnlyItself) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status status = store->WithTransaction([&]() -> Status {
    if (Status s = store->PutTerminalState(MakeTerminal("t1", "g")); !s.ok()) return s;
    // The caller tolerates this failure; it must not leave half a write.
    TerminalState bad = MakeTerminal("t2", "g");
    bad.devices = {MakeDevice("x", 1, 1, "a"), MakeDevice("x", 1, 1, "b")};
    EXPECT_FALSE(store->PutTerminalState(bad).ok());
    EXPECT_FALSE(store->AppendEvents("t1", {MakeEvent(1, 1), MakeEvent(0, 1)}, 1).ok());
    Status nested = store->WithTransaction([&]() -> Status {
      (void)store->PutPolicy("g", "y", "a", 1);
      return MakeError(ErrorCode::kInternal, "inner fails");
    });
    EXPECT_FALSE(nested.ok());
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(RawCount("terminals"), 1);
  EXPECT_EQ(RawCount("devices"), 0);
  EXPECT_EQ(RawCount("events"), 0);
  EXPECT_EQ(RawCount("policies"), 0);
}

TEST_F(StoreTest, ExceptionInsideTransactionRollsBackAndStoreStaysUsable) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THROW((void)store->WithTransaction([&]() -> Status {
    (void)store->PutTerminalState(MakeTerminal("t1", "g"));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(RawCount("terminals"), 0);
  EXPECT_TRUE(store->PutTerminalState(MakeTerminal("t2", "g")).ok());
  EXPECT_EQ(RawCount("terminals"), 1);
}

TEST_F(StoreTest, ConcurrentWritersAndTransactionsDoNotInterleave) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        // Half the writes go through a transaction that is rolled back: none
        // of those may become visible, whatever the other threads do.
        Status s = store->WithTransaction([&]() -> Status {
          if (Status put = store->PutTerminalState(MakeTerminal(id, "g")); !put.ok()) return put;
          if (i % 2 == 1) return MakeError(ErrorCode::kInternal, "rollback");
          return Status::Ok();
        });
        if (s.ok() != (i % 2 == 0)) ++failures;
      }
    });
  }
  threads.clear();
  EXPECT_EQ(failures.load(), 0);
  auto all = store->ListTerminals("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u * 25u);
}

TEST_F(StoreTest, GroupFilterMatchesSubtreeOnly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const std::vector<std::pair<std::string, std::string>> terminals = {
      {"t-osaka", "osaka"},
      {"t-suita", "osaka/suita"},
      {"t-hoken", "osaka/suita/hoken"},
      {"t-suitak", "osaka/suitak"},
      {"t-osakax", "osakax"},
      {"t-osaka-dash", "osaka-fu"},
      {"t-kyoto", "kyoto"},
      {"t-percent", "%"},
      {"t-underscore", "_"},
      {"t-under-child", "_/x"},
      {"t-empty", ""},
  };
  for (const auto& [id, group] : terminals) {
    TerminalState t = MakeTerminal(id, group);
    t.devices = {MakeDevice(id + "-dev", 1, 1, id)};
    ASSERT_TRUE(store->PutTerminalState(t).ok());
  }
  auto ids = [&](std::string_view group) {
    auto r = store->ListTerminals(group);
    EXPECT_TRUE(r.ok());
    std::set<std::string> out;
    for (const auto& t : *r) {
      out.insert(t.terminal_id);
      // Each listed terminal carries its own devices, no one else's.
      EXPECT_EQ(t.devices.size(), 1u);
      if (!t.devices.empty()) {
        EXPECT_EQ(t.devices[0].device_id, t.terminal_id + "-dev");
      }
    }
    return out;
  };
  EXPECT_EQ(ids("osaka/suita"), (std::set<std::string>{"t-suita", "t-hoken"}));
  EXPECT_EQ(ids("osaka"), (std::set<std::string>{"t-osaka", "t-suita", "t-hoken", "t-suitak"}));
  EXPECT_EQ(ids("osaka/suita/hoken"), (std::set<std::string>{"t-hoken"}));
  EXPECT_EQ(ids("%"), (std::set<std::string>{"t-percent"}));
  EXPECT_EQ(ids("_"), (std::set<std::string>{"t-underscore", "t-under-child"}));
  EXPECT_EQ(ids("osak%"), (std::set<std::string>{}));
  EXPECT_EQ(ids("osaka/suit_"), (std::set<std::string>{}));
  EXPECT_EQ(ids("nowhere"), (std::set<std::string>{}));
  EXPECT_EQ(ids("").size(), terminals.size());

  auto all = store->ListTerminals("");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> sorted = Ids(*all);
  EXPECT_TRUE(std::is_sorted(sorted.begin(), sorted.end()));
}

TEST_F(StoreTest, QueryEventsFiltersAndOrdersNewestFirst) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutTerminalState(MakeTerminal("a", "osaka/suita")).ok());
  ASSERT_TRUE(store->PutTerminalState(MakeTerminal("b", "osaka/suitak")).ok());
  ASSERT_TRUE(store
                  ->AppendEvents("a",
                                 {MakeEvent(1, 100, EventKind::kDeviceBlocked),
                                  MakeEvent(2, 300, EventKind::kDeviceAllowed),
                                  MakeEvent(3, 300, EventKind::kDeviceBlocked),
                                  MakeEvent(4, 200, EventKind::kPolicyApplied)},
                                 1)
                  .ok());
  ASSERT_TRUE(store
                  ->AppendEvents("b",
                                 {MakeEvent(1, 150, EventKind::kDeviceBlocked),
                                  MakeEvent(2, 400, EventKind::kAgentStarted)},
                                 1)
                  .ok());

  auto run = [&](EventQuery q) {
    auto r = store->QueryEvents(q);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& e : *r) out.push_back(e.terminal_id + std::to_string(e.event.seq));
    return out;
  };
  using V = std::vector<std::string>;
  // Newest first by agent time, ties broken by seq (a3 before a2 at t=300).
  EXPECT_EQ(run(Query()), (V{"b2", "a3", "a2", "a4", "b1", "a1"}));
  EXPECT_EQ(run(Query().Terminal("a")), (V{"a3", "a2", "a4", "a1"}));
  EXPECT_EQ(run(Query().Group("osaka/suita")), (V{"a3", "a2", "a4", "a1"}));
  EXPECT_EQ(run(Query().Group("osaka")).size(), 6u);
  EXPECT_EQ(run(Query().Group("osaka/suit%")), V{});
  EXPECT_EQ(run(Query().Kinds({EventKind::kDeviceBlocked})), (V{"a3", "b1", "a1"}));
  EXPECT_EQ(run(Query().Kinds(
                {EventKind::kDeviceBlocked, EventKind::kAgentStarted, EventKind::kDeviceBlocked})),
            (V{"b2", "a3", "b1", "a1"}));
  EXPECT_EQ(run(Query().Since(200)), (V{"b2", "a3", "a2", "a4"}));
  EXPECT_EQ(run(Query().Until(200)), (V{"b1", "a1"}));
  EXPECT_EQ(run(Query().Since(150).Until(300)), (V{"a4", "b1"}));
  EXPECT_EQ(run(Query().Limit(2)), (V{"b2", "a3"}));
  EXPECT_EQ(run(Query().Limit(0)).size(), 6u);  // 0 = the default limit
  EXPECT_EQ(run(Query()
                    .Terminal("a")
                    .Group("osaka")
                    .Kinds({EventKind::kDeviceBlocked})
                    .Since(50)
                    .Until(250)
                    .Limit(10)),
            (V{"a1"}));
  EXPECT_EQ(run(Query().Terminal(kInjection)), V{});
}

TEST_F(StoreTest, PolicyVersionsAreOneDeploymentWideRevisionWithHistory) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const std::string hostile_yaml = "name: x\n# '); DELETE FROM policies; --\n" + kWithNul;
  auto o1 = store->PutPolicy("osaka", "v1", "uri:admin-1", 100);
  auto o2 = store->PutPolicy("osaka", hostile_yaml, "uri:admin-2", 200);
  auto k1 = store->PutPolicy("kyoto", "k1", "uri:admin-1", 150);
  auto o3 = store->PutPolicy("osaka", "v3", "uri:admin-1", 300);
  auto s1 = store->PutPolicy("osaka/suita", "s1", "uri:admin-3", 250);
  ASSERT_TRUE(o1.ok() && o2.ok() && k1.ok() && o3.ok() && s1.ok());
  // One revision counter across groups: increasing per group, and a
  // terminal moving from osaka's policy (v4) to osaka/suita's own (v5)
  // never sees its version go down.
  EXPECT_EQ(o1->version, 1u);
  EXPECT_EQ(o2->version, 2u);
  EXPECT_EQ(k1->version, 3u);
  EXPECT_EQ(o3->version, 4u);
  EXPECT_EQ(s1->version, 5u);
  EXPECT_EQ(o2->applied_by, "uri:admin-2");
  EXPECT_EQ(o2->applied_at_ms, 200);

  auto history = store->PolicyHistory("osaka");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].policy_yaml, "v1");
  EXPECT_EQ((*history)[1].policy_yaml, hostile_yaml);
  EXPECT_EQ((*history)[2].policy_yaml, "v3");
  EXPECT_EQ((*history)[1].version, 2u);

  auto latest = store->GetPolicy("osaka", 0);
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->version, 4u);
  auto second = store->GetPolicy("osaka", 2);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->policy_yaml, hostile_yaml);
  EXPECT_FALSE(store->GetPolicy("osaka", 3)->has_value());  // kyoto's revision
  EXPECT_FALSE(store->GetPolicy("nagoya", 0)->has_value());
  // No inheritance at this level: osaka/suita/hoken has no policy of its own.
  EXPECT_FALSE(store->GetPolicy("osaka/suita/hoken", 0)->has_value());

  auto all_latest = store->LatestPolicies();
  ASSERT_TRUE(all_latest.ok());
  ASSERT_EQ(all_latest->size(), 3u);
  EXPECT_EQ((*all_latest)[0].group, "kyoto");
  EXPECT_EQ((*all_latest)[1].group, "osaka");
  EXPECT_EQ((*all_latest)[1].version, 4u);
  EXPECT_EQ((*all_latest)[2].group, "osaka/suita");
  EXPECT_EQ(RawCount("policies"), 5);
}

TEST_F(StoreTest, RecentPolicyVersionsNewestFirstWithLimit) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutPolicy("osaka", "v1", "mamori://admin/alice", 100).ok());
  ASSERT_TRUE(store->PutPolicy("osaka/suita", "s1", "mamori://admin/bob", 150).ok());
  ASSERT_TRUE(store->PutPolicy("osaka", "v3", "mamori://admin/bob", 200).ok());
  ASSERT_TRUE(store->PutPolicy("osaka", "v4", "mamori://admin/carol", 300).ok());

  auto all = store->RecentPolicyVersions("osaka", 0);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 3u);  // the group's own versions only, not osaka/suita's
  EXPECT_EQ((*all)[0].version, 4u);
  EXPECT_EQ((*all)[0].policy_yaml, "v4");
  EXPECT_EQ((*all)[0].applied_by, "mamori://admin/carol");
  EXPECT_EQ((*all)[0].applied_at_ms, 300);
  EXPECT_EQ((*all)[1].version, 3u);
  EXPECT_EQ((*all)[2].version, 1u);
  EXPECT_EQ((*all)[2].applied_by, "mamori://admin/alice");

  auto two = store->RecentPolicyVersions("osaka", 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].version, 4u);
  EXPECT_EQ((*two)[1].version, 3u);

  EXPECT_TRUE(store->RecentPolicyVersions("nagoya", 10)->empty());
  EXPECT_TRUE(store->RecentPolicyVersions("osaka'; DROP TABLE policies; --", 10)->empty());
  EXPECT_EQ(RawCount("policies"), 4);
}

// How fast this is belongs to the benchmarks; here only that a large
// listing is complete and correct.
TEST_F(StoreTest, ListsTenThousandTerminalsWithTheirDevices) {
  SqliteOptions options;
  options.synchronous = "normal";
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  constexpr int kTerminals = 10'000;
  Status filled = store->WithTransaction([&]() -> Status {
    for (int i = 0; i < kTerminals; ++i) {
      char id[16];
      std::snprintf(id, sizeof id, "t%05d", i);
      TerminalState t = MakeTerminal(id, "pref/city" + std::to_string(i % 40));
      t.devices = {MakeDevice("d1", 1, 1, "s1", DeviceClass::kHid), MakeDevice("d2", 2, 2, "s2"),
                   MakeDevice("d3", 3, 3, "s3")};
      if (Status s = store->PutTerminalState(t); !s.ok()) return s;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(filled.ok()) << filled.error().message;

  auto all = store->ListTerminals("");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), static_cast<std::size_t>(kTerminals));
  for (const auto& t : *all) ASSERT_EQ(t.devices.size(), 3u) << t.terminal_id;

  auto one_city = store->ListTerminals("pref/city7");
  ASSERT_TRUE(one_city.ok());
  EXPECT_EQ(one_city->size(), static_cast<std::size_t>(kTerminals / 40));
}

TEST_F(StoreTest, PolicySignatureIsStoredWithTheRowAndReadBackExactly) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto put = store->PutPolicy("osaka", "name: p\n", "uri:admin", 100);
  ASSERT_TRUE(put.ok());
  EXPECT_TRUE(put->signature.empty());
  EXPECT_TRUE(put->key_id.empty());
  const std::string sig("\x00\xff\x10sig", 6);
  ASSERT_TRUE(store->SetPolicySignature("osaka", put->version, sig, "0123456789abcdef").ok());

  auto got = store->GetPolicy("osaka", 0);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->signature, sig);
  EXPECT_EQ((*got)->key_id, "0123456789abcdef");
  auto latest = store->LatestPolicies();
  ASSERT_TRUE(latest.ok() && latest->size() == 1u);
  EXPECT_EQ((*latest)[0].signature, sig);
  // Hex in the file, readable with the sqlite3 shell during an audit.
  EXPECT_EQ(RawCount("policies WHERE signature_hex = '00ff10736967'"), 1);

  Status missing = store->SetPolicySignature("osaka", 99, sig, "k");
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreTest, VersionThreePoliciesMigrateToFourUnsigned) {
  ASSERT_NO_FATAL_FAILURE(CreateAtVersion(
      3, {"INSERT INTO policies VALUES ('osaka', 7, 'name: old', 'uri:admin', 5)"}));
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion(), sqlite::LatestSchemaVersion());
  auto got = store->GetPolicy("osaka", 7);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->policy_yaml, "name: old");
  EXPECT_TRUE((*got)->signature.empty());
  EXPECT_TRUE((*got)->key_id.empty());
}

}  // namespace
}  // namespace mamori
