// The media ledger, the audit log and the applied documents in SQLite
// (schema version 6).

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "server/store/sqlite/migrations.h"
#include "server/store/sqlite/sqlite_handle.h"
#include "server/store/store.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

LedgerEntry Entry(std::string serial, std::string group = "osaka") {
  LedgerEntry e;
  e.serial = std::move(serial);
  e.vendor_id = 0x0781;
  e.product_id = 0x5581;
  e.owner = "山田太郎";
  e.department = "保険課";
  e.group = std::move(group);
  e.expires_ms = 1'800'000'000'000;
  e.note = "x'); DROP TABLE media_ledger; --";
  e.added_by = "web:alice";
  e.added_at_ms = 1'700'000'000'000;
  return e;
}

class LedgerStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open() {
    auto s = OpenSqliteStore(path_, SqliteOptions{});
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Runs `sql` on a second connection; returns SQLite's result code.
  int RawExec(const std::string& sql, std::string* message = nullptr) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite::DbPtr db(raw);
    char* err = nullptr;
    const int rc = sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &err);
    if (message != nullptr && err != nullptr) *message = err;
    sqlite3_free(err);
    return rc;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("ledger.db");
};

TEST_F(LedgerStoreTest, VersionSixAddsLedgerAuditAndPolicySource) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_GE(store->SchemaVersion(), 6);
  bool found = false;
  for (const auto& m : sqlite::Migrations()) found = found || m.version == 6;
  EXPECT_TRUE(found);
  EXPECT_EQ(RawExec("SELECT id, serial, vendor_id, product_id, owner, department, group_name, "
                    "expires_ms, note, added_by, added_at_ms, retired_by, retired_at_ms, "
                    "retire_reason FROM media_ledger"),
            SQLITE_OK);
  EXPECT_EQ(RawExec("SELECT id, at_ms, actor, action, target, detail, outcome FROM audit_log"),
            SQLITE_OK);
  EXPECT_EQ(RawExec("SELECT source_yaml FROM policies"), SQLITE_OK);
}

TEST_F(LedgerStoreTest, MigratingAVersionFiveDatabaseKeepsItsPolicies) {
  // A database as a version-5 collector left it, with one policy.
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(
        sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
    sqlite::DbPtr db(raw);
    auto exec = [&](std::string_view sql) {
      const std::string text(sql);
      ASSERT_EQ(sqlite3_exec(db.get(), text.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
          << sqlite3_errmsg(db.get());
    };
    exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER "
        "NOT NULL)");
    for (const sqlite::Migration& m : sqlite::Migrations()) {
      if (m.version > 5) break;
      exec(m.sql);
      exec("INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 0)");
    }
    exec(
        "INSERT INTO policies (group_name, version, yaml, applied_by, applied_at_ms) VALUES "
        "('osaka', 3, 'name: old\n', 'mamori://admin/a', 1)");
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion(), sqlite::LatestSchemaVersion());
  auto source = store->PolicySource("osaka", 3);
  ASSERT_TRUE(source.ok()) << source.error().message;
  EXPECT_EQ(*source, "name: old\n");  // no separate source: the stored document
  ASSERT_TRUE(store->SetPolicySource("osaka", 3, "name: admin\n").ok());
  EXPECT_EQ(store->PolicySource("osaka", 3).value(), "name: admin\n");
  EXPECT_EQ(store->PolicySource("osaka", 4).error().code, ErrorCode::kNotFound);
  auto ledger = store->ListLedger(true);
  ASSERT_TRUE(ledger.ok());
  EXPECT_TRUE(ledger->empty());
}

TEST_F(LedgerStoreTest, AddListRetireKeepsHistory) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto a = store->AddLedgerEntry(Entry("AA01"));
  auto b = store->AddLedgerEntry(Entry("AA02", ""));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(*a, *b);

  auto got = store->GetLedgerEntry(*a);
  ASSERT_TRUE(got.ok() && got->has_value());
  const LedgerEntry& e = **got;
  EXPECT_EQ(e.serial, "AA01");
  EXPECT_EQ(e.vendor_id, 0x0781);
  EXPECT_EQ(e.product_id, 0x5581);
  EXPECT_EQ(e.owner, "山田太郎");
  EXPECT_EQ(e.note, "x'); DROP TABLE media_ledger; --");
  EXPECT_EQ(e.expires_ms, 1'800'000'000'000);
  EXPECT_TRUE(e.active());

  // The same medium in the same scope twice is refused while active, but
  // another scope is fine.
  auto dup = store->AddLedgerEntry(Entry("AA01"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(dup.error().message.find(std::to_string(*a)), std::string::npos);
  EXPECT_TRUE(store->AddLedgerEntry(Entry("AA01", "osaka/suita")).ok());

  ASSERT_TRUE(store->RetireLedgerEntry(*a, "web:bob", 1'700'000'500'000, "lost").ok());
  EXPECT_EQ(store->RetireLedgerEntry(*a, "web:bob", 1'700'000'600'000, "again").error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store->RetireLedgerEntry(9999, "web:bob", 1, "x").error().code, ErrorCode::kNotFound);

  auto active = store->ListLedger(false);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].serial, "AA02");
  auto all = store->ListLedger(true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, *a);
  EXPECT_EQ((*all)[0].retired_by, "web:bob");
  EXPECT_EQ((*all)[0].retired_at_ms, 1'700'000'500'000);
  EXPECT_EQ((*all)[0].retire_reason, "lost");

  // Retired, the medium may be registered again in that scope.
  EXPECT_TRUE(store->AddLedgerEntry(Entry("AA01")).ok());
}

TEST_F(LedgerStoreTest, AuditLogFiltersPagesAndRefusesChanges) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 5; ++i) {
    AuditRecord r;
    r.at_ms = 1000 + i * 100;
    r.actor = i % 2 == 0 ? "web:alice" : "cert:mamori://admin/ops";
    r.action = i < 3 ? "ledger.add" : "login.fail";
    r.target = "#" + std::to_string(i);
    r.detail = "d";
    r.outcome = "ok";
    ASSERT_TRUE(store->AppendAudit(r).ok());
  }
  auto all = store->QueryAudit({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].target, "#4");  // newest first
  EXPECT_EQ((*all)[4].target, "#0");

  AuditQuery by_action;
  by_action.action = "ledger.add";
  EXPECT_EQ(store->QueryAudit(by_action)->size(), 3u);
  AuditQuery by_actor;
  by_actor.actor = "web:alice";
  by_actor.action = "ledger.add";
  EXPECT_EQ(store->QueryAudit(by_actor)->size(), 2u);
  AuditQuery window;
  window.since_ms = 1100;
  window.until_ms = 1300;
  auto w = store->QueryAudit(window);
  ASSERT_EQ(w->size(), 2u);
  EXPECT_EQ((*w)[0].target, "#2");
  EXPECT_EQ((*w)[1].target, "#1");
  AuditQuery page;
  page.limit = 2;
  auto p1 = store->QueryAudit(page);
  ASSERT_EQ(p1->size(), 2u);
  page.before_id = p1->back().id;
  auto p2 = store->QueryAudit(page);
  ASSERT_EQ(p2->size(), 2u);
  EXPECT_EQ((*p2)[0].target, "#2");

  // Append-only, even for someone with the database file.
  std::string message;
  EXPECT_NE(RawExec("DELETE FROM audit_log", &message), SQLITE_OK);
  EXPECT_NE(message.find("append-only"), std::string::npos) << message;
  EXPECT_NE(RawExec("UPDATE audit_log SET outcome = 'ok'"), SQLITE_OK);
  EXPECT_EQ(store->QueryAudit({})->size(), 5u);
}

}  // namespace
}  // namespace mamori
