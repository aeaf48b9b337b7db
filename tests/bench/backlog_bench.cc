// backlog_bench: events queued in agents' journals while the collector was
// down, delivered after it returns — how long until the last one is stored,
// and whether any was lost or stored twice.
//
//   backlog_bench [--events E] [--per-agent P]
//
// ceil(E / P) real mamori-agent processes start against a stopped collector
// with journals prefilled (journal_format) with P events each, as if their
// terminals had recorded them during the outage. Then the collector starts
// on the same port and database and the clock runs until every agent's
// journal is stored: seqs 1..N per terminal, N the journal's highest seq
// (the prefilled events plus the agent's own agent_started). The baseline,
// same run, is the same drain with a tenth of the events (E / 10, the same
// per-agent backlog on a tenth of the agents).
//
// Target (printed, not asserted): 100,000 events within 30 s, 0 lost, 0
// duplicated. The exit code is non-zero when the run failed or an event was
// lost or duplicated.

#include <fmt/format.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/outbox/journal_format.h"
#include "common/device/event.h"
#include "proto/wire/convert.h"
#include "proto/wire/grpc_logging.h"  // DisableMutexDeadlockDetection
#include "tests/bench/bench_support.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace mamori::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::seconds;
using testing::AgentProcess;
using testing::CollectorProcess;
using testing::ReadWholeFile;
using testing::TempDir;
using testing::TestPki;

constexpr double kTargetSeconds = 30.0;

struct Options {
  int events = 100000;
  int per_agent = 5000;  // below the journal's bound of 10,000
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  if (argc % 2 == 0) return std::nullopt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string_view text = argv[i + 1];
    int v = 0;
    if (!ParseIntArg(text, 1, 10'000'000, &v)) return std::nullopt;
    if (flag == "--events") {
      o.events = v;
    } else if (flag == "--per-agent") {
      o.per_agent = std::min(v, 9000);
    } else {
      return std::nullopt;
    }
  }
  return o;
}

Event PrefilledEvent(const std::string& terminal, uint64_t seq, int64_t time_ms) {
  Event e = BlockedStickEvent(seq, time_ms, fmt::format("BL{:010d}", seq));
  e.device->first_seen_ms = time_ms;
  // Unique per event: a duplicate under another seq would show here.
  e.detail = fmt::format("backlog {} #{}", terminal, seq);
  return e;
}

bool WriteJournal(const std::string& state_dir, const std::string& terminal, int count) {
  std::filesystem::create_directories(state_dir);
  std::string bytes = EncodeJournalHeader(1);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (int i = 1; i <= count; ++i) {
    if (!AppendJournalRecord(SerializeEvent(PrefilledEvent(terminal, static_cast<uint64_t>(i),
                                                           now_ms - (count - i) * 10)),
                             bytes)
             .ok()) {
      return false;
    }
  }
  std::ofstream out(state_dir + "/events.journal", std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

uint64_t JournalHighestSeq(const std::string& state_dir) {
  const std::string bytes = ReadWholeFile(state_dir + "/events.journal");
  auto parsed = ParseJournal(bytes, "events.journal");
  if (!parsed.ok()) return 0;
  uint64_t highest = parsed->next_seq_floor - 1;
  for (const auto& r : parsed->records) highest = std::max(highest, r.event.seq);
  return highest;
}

struct Stored {
  uint64_t rows = 0;
  uint64_t max_seq = 0;
  uint64_t distinct_details = 0;
  uint64_t prefilled = 0;
};

class Db {
 public:
  explicit Db(const std::string& path) {
    sqlite3* raw = nullptr;
    sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    db_.reset(raw);
    sqlite3_busy_timeout(raw, 5000);
  }
  Stored Of(const std::string& terminal) {
    Stored s;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_.get(),
                           "SELECT count(*), coalesce(max(seq), 0), count(DISTINCT detail), "
                           "sum(detail LIKE 'backlog %') FROM events WHERE terminal_id = ?1",
                           -1, &st, nullptr) != SQLITE_OK) {
      return s;
    }
    sqlite3_bind_text(st, 1, terminal.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
      s.rows = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
      s.max_seq = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
      s.distinct_details = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
      s.prefilled = static_cast<uint64_t>(sqlite3_column_int64(st, 3));
    }
    sqlite3_finalize(st);
    return s;
  }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

struct DrainFigures {
  bool ran = false;
  int agents = 0;
  uint64_t events = 0;  // prefilled
  double seconds = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
};

DrainFigures Drain(int events, int per_agent) {
  DrainFigures f;
  TestPki pki;
  TempDir dir;
  CollectorProcess collector(pki, dir, "");
  // Started once for its port and database, then stopped: the outage.
  if (!collector.Start()) {
    fmt::print("collector did not start:\n{}\n", collector.Log());
    return f;
  }
  collector.process().Signal(SIGTERM);
  collector.process().Wait(seconds(10));

  const int agents = (events + per_agent - 1) / per_agent;
  std::vector<std::unique_ptr<AgentProcess>> procs;
  for (int i = 0; i < agents; ++i) {
    const std::string id = fmt::format("backlog-{:03d}", i);
    procs.push_back(std::make_unique<AgentProcess>(pki, dir, collector, id, "bench/backlog"));
    const int count = std::min(per_agent, events - i * per_agent);
    if (!WriteJournal(procs.back()->state_dir(), id, count)) return f;
    f.events += static_cast<uint64_t>(count);
  }
  f.agents = agents;
  for (auto& p : procs) p->Start();
  // Every agent is up and has found the collector away.
  const bool waiting = testing::WaitUntil(
      [&] {
        for (auto& p : procs) {
          if (p->Log().find("reporting to the collector failed") == std::string::npos) {
            return false;
          }
        }
        return true;
      },
      seconds(60));
  if (!waiting) {
    fmt::print("agents did not start:\n{}\n", procs.front()->Log());
    return f;
  }
  std::vector<uint64_t> expected;
  for (auto& p : procs) expected.push_back(JournalHighestSeq(p->state_dir()));

  const auto start = Steady::now();
  if (!collector.Start()) {
    fmt::print("collector did not restart:\n{}\n", collector.Log());
    return f;
  }
  Db db(collector.db_path());
  const auto deadline = start + seconds(300);
  bool done = false;
  while (!done && Steady::now() < deadline) {
    done = true;
    for (std::size_t i = 0; i < procs.size() && done; ++i) {
      const Stored s = db.Of(procs[i]->id());
      done = s.rows >= expected[i] && s.max_seq >= expected[i];
    }
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  f.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  if (!done) fmt::print("  the backlog was not delivered within 300 s\n");
  for (std::size_t i = 0; i < procs.size(); ++i) {
    const Stored s = db.Of(procs[i]->id());
    const uint64_t prefilled =
        static_cast<uint64_t>(std::min(per_agent, events - static_cast<int>(i) * per_agent));
    f.lost += prefilled > s.prefilled ? prefilled - s.prefilled : 0;
    f.lost += expected[i] > s.rows ? expected[i] - s.rows : 0;
    // Same detail under two seqs, or more rows than seqs issued.
    f.duplicated += s.rows - s.distinct_details;
    f.duplicated += s.rows > expected[i] ? s.rows - expected[i] : 0;
    if (s.max_seq != s.rows) f.lost += 1;  // a gap
  }
  f.ran = done;
  for (auto& p : procs) p->process().Signal(SIGTERM);
  for (auto& p : procs) p->process().Wait(seconds(10));
  collector.process().Signal(SIGTERM);
  collector.process().Wait(seconds(10));
  return f;
}

void Print(std::string_view label, const DrainFigures& f) {
  fmt::print("  {:<28} {:>7} {:>9} {:>10} {:>11} {:>6} {:>11}\n", label, f.agents, f.events,
             fmt::format("{:.2f}", f.seconds),
             fmt::format("{:.0f}", f.seconds > 0 ? static_cast<double>(f.events) / f.seconds : 0),
             f.lost, f.duplicated);
}

int Main(int argc, char** argv) {
  const auto opt = ParseOptions(argc, argv);
  if (!opt) {
    fmt::print(stderr, "usage: backlog_bench [--events E] [--per-agent P]\n");
    return 2;
  }
  DisableMutexDeadlockDetection();
  fmt::print("backlog drain: {} events queued in agents' journals while the collector was down\n",
             opt->events);
  fmt::print("  {:<28} {:>7} {:>9} {:>10} {:>11} {:>6} {:>11}\n", "", "agents", "events", "seconds",
             "events/s", "lost", "duplicated");
  const int small = std::max(1, opt->events / 10);
  const DrainFigures base = Drain(small, std::min(opt->per_agent, small));
  Print("baseline (a tenth)", base);
  const DrainFigures full = Drain(opt->events, opt->per_agent);
  Print("full backlog", full);
  const bool clean =
      base.ran && full.ran && base.lost + base.duplicated + full.lost + full.duplicated == 0;
  fmt::print("  target <= {:.0f} s, lost 0, duplicated 0: {}\n", kTargetSeconds,
             full.ran && full.seconds <= kTargetSeconds && clean ? "met" : "MISSED");
  if (base.seconds > 0)
    fmt::print("  full / baseline time: {:.1f}x\n", full.seconds / base.seconds);
  return clean ? 0 : 1;
}

}  // namespace
}  // namespace mamori::bench

int main(int argc, char** argv) { return mamori::bench::Main(argc, argv); }
