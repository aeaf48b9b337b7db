#include "tests/integration/delivery.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <memory>

#include "agent/outbox/journal_format.h"

namespace mamori::testing {

uint64_t JournalHighestSeq(const std::string& state_dir) {
  const std::string bytes = ReadWholeFile(state_dir + "/events.journal");
  if (bytes.empty()) return 0;
  auto parsed = ParseJournal(bytes, "events.journal");
  if (!parsed.ok()) return 0;
  uint64_t highest = parsed->next_seq_floor - 1;
  for (const auto& r : parsed->records) highest = std::max(highest, r.event.seq);
  return highest;
}

uint64_t AckedSeq(const std::string& state_dir) {
  const std::string text = ReadWholeFile(state_dir + "/acked_seq");
  return text.empty() ? 0 : std::stoull(text);
}

std::vector<StoredRow> StoredEvents(const std::string& db_path, const std::string& terminal) {
  std::vector<StoredRow> rows;
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return rows;
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db.get(),
                         "SELECT seq, time_ms, received_ms, rowid, kind, coalesce(serial, '') "
                         "FROM events WHERE terminal_id = ?1 ORDER BY seq, rowid",
                         -1, &st, nullptr) != SQLITE_OK) {
    return rows;
  }
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(st, &sqlite3_finalize);
  sqlite3_bind_text(st, 1, terminal.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(st) == SQLITE_ROW) {
    StoredRow r;
    r.seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
    r.time_ms = sqlite3_column_int64(st, 1);
    r.received_ms = sqlite3_column_int64(st, 2);
    r.rowid = sqlite3_column_int64(st, 3);
    r.kind = reinterpret_cast<const char*>(sqlite3_column_text(st, 4));
    r.serial = reinterpret_cast<const char*>(sqlite3_column_text(st, 5));
    rows.push_back(std::move(r));
  }
  return rows;
}

void ExpectExactlyOnceInOrder(const std::vector<StoredRow>& rows, uint64_t expected,
                              const std::string& terminal) {
  SCOPED_TRACE(terminal);
  ASSERT_EQ(rows.size(), expected) << "stored events vs seqs the journal issued";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].seq, i + 1) << "gap or duplicate at position " << i;
    if (i == 0) continue;
    EXPECT_GT(rows[i].rowid, rows[i - 1].rowid) << "seq " << rows[i].seq << " stored out of order";
    EXPECT_GE(rows[i].received_ms, rows[i - 1].received_ms) << "seq " << rows[i].seq;
  }
}

bool WaitDelivered(const CollectorProcess& collector, const std::string& state_dir,
                   const std::string& terminal, std::chrono::milliseconds timeout, Delivered* out) {
  return WaitUntil(
      [&] {
        out->recorded = JournalHighestSeq(state_dir);
        out->rows = StoredEvents(collector.db_path(), terminal);
        return out->recorded > 0 && !out->rows.empty() && out->rows.back().seq == out->recorded &&
               out->rows.size() == out->recorded && AckedSeq(state_dir) == out->recorded;
      },
      timeout);
}

}  // namespace mamori::testing
