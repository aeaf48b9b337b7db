// Event queries filtered by group answer the same whichever way the store
// finds the group's events (through its terminals, or newest first over the
// whole table): checked against a brute-force filter and sort, for a group
// holding most terminals and one holding a few, with kinds, time windows
// and paging.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/crypto/identity.h"
#include "server/store/store.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

constexpr int64_t kT0 = 1'750'000'000'000;

struct Row {
  std::string terminal;
  std::string group;
  uint64_t seq;
  int64_t time_ms;
  EventKind kind;
};

std::string Key(const Row& r) { return r.terminal + "#" + std::to_string(r.seq); }

class EventQueryPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("events.db"), SqliteOptions{"normal", 5000});
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    std::mt19937 rng(11);
    std::vector<std::string> ids;
    for (int i = 0; i < 200; ++i) {
      TerminalState t;
      t.terminal_id = "t" + std::to_string(1000 + i);
      t.group = i < 150 ? "big/a" : i < 155 ? "small/b" : "other";
      if (i % 10 == 0 && i < 150) t.group = "big";
      t.last_report_ms = kT0;
      ASSERT_TRUE(store_->PutTerminalState(t).ok());
      ids.push_back(t.terminal_id);
      groups_.push_back(t.group);
    }
    const EventKind kinds[] = {EventKind::kDeviceAllowed, EventKind::kDeviceRemoved,
                               EventKind::kDeviceBlocked, EventKind::kEnforcementFailure};
    std::vector<uint64_t> seq(ids.size(), 1);
    ASSERT_TRUE(store_
                    ->WithTransaction([&]() -> Status {
                      for (int n = 0; n < 9000; ++n) {
                        const std::size_t t = rng() % ids.size();
                        Event e;
                        e.seq = seq[t]++;
                        // Coarse times so that ties on time are common.
                        e.time_ms = kT0 - static_cast<int64_t>(rng() % 3000) * 1000;
                        const unsigned roll = rng() % 100;
                        e.kind = roll < 50   ? kinds[0]
                                 : roll < 80 ? kinds[1]
                                 : roll < 98 ? kinds[2]
                                             : kinds[3];
                        auto r = store_->AppendEvents(ids[t], {e}, kT0);
                        if (!r.ok()) return r.error();
                        rows_.push_back({ids[t], groups_[t], e.seq, e.time_ms, e.kind});
                      }
                      return Status::Ok();
                    })
                    .ok());
  }

  std::vector<std::string> Expected(const EventQuery& q) const {
    std::vector<Row> hits;
    for (const Row& r : rows_) {
      if (!q.group.empty() && !GroupContains(q.group, r.group)) continue;
      if (!q.kinds.empty() && std::find(q.kinds.begin(), q.kinds.end(), r.kind) == q.kinds.end()) {
        continue;
      }
      if (q.since_ms != 0 && r.time_ms < q.since_ms) continue;
      if (q.until_ms != 0 && r.time_ms >= q.until_ms) continue;
      hits.push_back(r);
    }
    std::sort(hits.begin(), hits.end(), [](const Row& a, const Row& b) {
      return std::tuple(-a.time_ms, -static_cast<int64_t>(a.seq), a.terminal) <
             std::tuple(-b.time_ms, -static_cast<int64_t>(b.seq), b.terminal);
    });
    std::vector<std::string> out;
    for (const Row& r : hits) out.push_back(Key(r));
    return out;
  }

  // Every page of the query, following the position of each page's last row.
  std::vector<std::string> AllPages(EventQuery q) const {
    std::vector<std::string> out;
    for (int page = 0; page < 1000; ++page) {
      auto events = store_->QueryEvents(q);
      EXPECT_TRUE(events.ok()) << (events.ok() ? "" : events.error().message);
      if (!events.ok() || events->empty()) break;
      for (const StoredEvent& e : *events) {
        out.push_back(e.terminal_id + "#" + std::to_string(e.event.seq));
      }
      const StoredEvent& last = events->back();
      q.after = EventPosition{last.event.time_ms, last.event.seq, last.terminal_id};
      if (events->size() < q.limit) break;
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<std::string> groups_;
  std::vector<Row> rows_;
};

TEST_F(EventQueryPlanTest, GroupQueriesMatchBruteForceForLargeAndSmallGroups) {
  const std::vector<std::vector<EventKind>> kind_sets = {
      {},
      {EventKind::kDeviceBlocked},
      {EventKind::kDeviceBlocked, EventKind::kEnforcementFailure},
      {EventKind::kEnforcementFailure}};
  for (const char* group : {"big", "big/a", "small", "small/b", "other", "none", "bi"}) {
    for (const auto& kinds : kind_sets) {
      for (uint32_t limit : {7u, 100u}) {
        EventQuery q;
        q.group = group;
        q.kinds = kinds;
        q.limit = limit;
        const std::vector<std::string> want = Expected(q);
        auto first = store_->QueryEvents(q);
        ASSERT_TRUE(first.ok()) << first.error().message;
        std::vector<std::string> got;
        for (const StoredEvent& e : *first) {
          got.push_back(e.terminal_id + "#" + std::to_string(e.event.seq));
        }
        const std::vector<std::string> head(
            want.begin(), want.begin() + std::min<std::size_t>(limit, want.size()));
        EXPECT_EQ(got, head) << group << " kinds " << kinds.size() << " limit " << limit;
        EXPECT_EQ(AllPages(q), want) << group << " kinds " << kinds.size() << " limit " << limit;
      }
    }
  }
}

TEST_F(EventQueryPlanTest, TimeWindowsWithGroups) {
  for (const char* group : {"big", "small/b"}) {
    EventQuery q;
    q.group = group;
    q.since_ms = kT0 - 2000 * 1000;
    q.until_ms = kT0 - 1000 * 1000;
    q.kinds = {EventKind::kDeviceBlocked, EventKind::kDeviceAllowed};
    q.limit = 50;
    EXPECT_EQ(AllPages(q), Expected(q)) << group;
    // A window too small for the sample.
    q.since_ms = kT0 - 10 * 1000;
    q.until_ms = 0;
    EXPECT_EQ(AllPages(q), Expected(q)) << group;
  }
}

}  // namespace
}  // namespace mamori
