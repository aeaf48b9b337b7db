// A report refused for its clock is recorded with the terminal, whether or
// not the terminal had reported before, without touching its snapshot.

#include <gtest/gtest.h>

#include "server/store/store.h"
#include "tests/support/temp_dir.h"

namespace mamori {
namespace {

using testing::TempDir;

TEST(ClockRefusalStoreTest, RecordedForANewTerminalAndBesideAnExistingSnapshot) {
  TempDir dir;
  auto store = OpenSqliteStore(dir.File("c.db"), {});
  ASSERT_TRUE(store.ok()) << store.error().message;
  Store& s = **store;

  ASSERT_TRUE(s.RecordClockRefusal("t-new", "osaka", 5, 1'000).ok());
  auto fresh = s.GetTerminal("t-new");
  ASSERT_TRUE(fresh.ok() && fresh->has_value());
  EXPECT_EQ((*fresh)->group, "osaka");
  EXPECT_EQ((*fresh)->last_report_ms, 0);
  EXPECT_EQ((*fresh)->clock_refused_ms, 1'000);
  EXPECT_EQ((*fresh)->clock_refused_agent_ms, 5);

  TerminalState t;
  t.terminal_id = "t-old";
  t.group = "kyoto";
  t.hostname = "pc-01";
  t.last_report_ms = 2'000;
  t.agent_time_ms = 2'001;
  Device d;
  d.device_id = "1-1";
  t.devices.push_back(d);
  ASSERT_TRUE(s.PutTerminalState(t).ok());
  ASSERT_TRUE(s.RecordClockRefusal("t-old", "kyoto", 99'000'000'000'000, 3'000).ok());
  auto old = s.GetTerminal("t-old");
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->hostname, "pc-01");
  EXPECT_EQ((*old)->last_report_ms, 2'000);
  EXPECT_EQ((*old)->devices.size(), 1u);
  EXPECT_EQ((*old)->clock_refused_ms, 3'000);
  EXPECT_EQ((*old)->clock_refused_agent_ms, 99'000'000'000'000);

  // A later accepted report keeps the note; the compliance check compares
  // the times.
  t.last_report_ms = 4'000;
  ASSERT_TRUE(s.PutTerminalState(t).ok());
  auto after = s.GetTerminal("t-old");
  EXPECT_EQ((*after)->last_report_ms, 4'000);
  EXPECT_EQ((*after)->clock_refused_ms, 3'000);
}

}  // namespace
}  // namespace mamori
