// event_commit_bench: event ingest through the collector's IngestWriter with
// group commit against one commit per batch, each with SQLite synchronous
// = full and = normal (WAL), in the same run on the same disk.
//
//   event_commit_bench [--agents K] [--batch B] [--seconds S]
//
// K simulated agents each keep one ReportEvents batch of B events in flight
// (a closed loop, as real agents wait for the ack before the next batch),
// submitted exactly as AgentServiceImpl does: Store::AppendEvents inside the
// writer, the "ack" when its completion runs. "group" is the collector's
// writer (up to 512 batches per transaction); "per-batch" is the same writer
// limited to one batch per transaction. Figures are printed next to the
// collector's configuration (group, full), which is the baseline; nothing is
// asserted but that every configuration ran without errors.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/device/event.h"
#include "server/ingest/ingest_writer.h"
#include "server/store/store.h"
#include "tests/bench/bench_support.h"
#include "tests/support/temp_dir.h"

namespace mamori::bench {
namespace {

using Steady = std::chrono::steady_clock;

struct Options {
  int agents = 200;
  int batch = 20;
  int seconds = 5;
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string_view text = argv[i + 1];
    int v = 0;
    if (!ParseIntArg(text, 1, 100000, &v)) return std::nullopt;
    if (flag == "--agents") {
      o.agents = v;
    } else if (flag == "--batch") {
      o.batch = v;
    } else if (flag == "--seconds") {
      o.seconds = v;
    } else {
      return std::nullopt;
    }
  }
  if (argc % 2 == 0) return std::nullopt;
  return o;
}

// A blocked USB stick, as most events are.
Event MakeEvent(int agent, uint64_t seq) {
  Event e = BlockedStickEvent(seq,
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count(),
                              fmt::format("{:08X}{:012d}", agent, seq));
  e.detail = "block by rule 'default'";
  e.user = "TOYONAKA\\yamada";
  return e;
}

struct Figures {
  std::string name;
  double events_per_s = 0;
  double batches_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t errors = 0;
  bool ran = false;
};

// One configuration on a fresh database.
Figures Run(const Options& opt, const std::string& name, std::size_t max_batch,
            const std::string& synchronous) {
  Figures f;
  f.name = name;
  testing::TempDir dir;
  SqliteOptions so;
  so.synchronous = synchronous;
  auto store = OpenSqliteStore(dir.File("bench.db"), so);
  if (!store.ok()) {
    fmt::print("{}: {}\n", name, store.error().message);
    return f;
  }
  Store* s = store->get();

  struct Agent {
    std::string id;
    uint64_t next_seq = 1;
    Steady::time_point started;
    std::vector<uint32_t> latencies_us;
    uint64_t acked_batches = 0;
  };
  std::vector<Agent> agents(static_cast<std::size_t>(opt.agents));
  for (std::size_t i = 0; i < agents.size(); ++i) agents[i].id = fmt::format("bench-{:05d}", i);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = opt.agents;
  Steady::time_point end;
  {
    IngestWriter writer(s, max_batch, 100'000);
    std::function<void(Agent&)> issue = [&](Agent& a) {
      auto events = std::make_shared<std::vector<Event>>();
      for (int i = 0; i < opt.batch; ++i) {
        events->push_back(MakeEvent(static_cast<int>(&a - agents.data()), a.next_seq + i));
      }
      a.started = Steady::now();
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      writer.Submit(
          [s, events, &a, now_ms]() -> Status {
            auto r = s->AppendEvents(a.id, *events, now_ms);
            if (!r.ok()) return r.error();
            return Status::Ok();
          },
          [&, events](const Status& st) {
            const auto t = Steady::now();
            if (!st) {
              errors.fetch_add(1);
            } else {
              a.next_seq += events->size();
              if (t <= end) {
                ++a.acked_batches;
                a.latencies_us.push_back(static_cast<uint32_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(t - a.started).count()));
              }
            }
            if (!stop.load()) {
              issue(a);
              return;
            }
            std::lock_guard lock(mu);
            if (--outstanding == 0) cv.notify_all();
          });
    };
    const auto start = Steady::now();
    end = start + std::chrono::seconds(opt.seconds);
    for (Agent& a : agents) issue(a);
    std::this_thread::sleep_until(end);
    stop.store(true);
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
  }
  uint64_t batches = 0;
  std::vector<uint32_t> lat;
  for (Agent& a : agents) {
    batches += a.acked_batches;
    lat.insert(lat.end(), a.latencies_us.begin(), a.latencies_us.end());
  }
  f.batches_per_s = static_cast<double>(batches) / opt.seconds;
  f.events_per_s = f.batches_per_s * opt.batch;
  f.p50_ms = NearestRank(lat, 0.50) / 1000.0;
  f.p99_ms = NearestRank(lat, 0.99) / 1000.0;
  f.errors = errors.load();
  f.ran = batches > 0 && f.errors == 0;
  return f;
}

int Main(int argc, char** argv) {
  const auto opt = ParseOptions(argc, argv);
  if (!opt) {
    fmt::print(stderr, "usage: event_commit_bench [--agents K] [--batch B] [--seconds S]\n");
    return 2;
  }
  fmt::print(
      "event ingest: {} agents, {} events per batch, one batch in flight each, {} s per "
      "configuration\n",
      opt->agents, opt->batch, opt->seconds);
  std::vector<Figures> all;
  all.push_back(Run(*opt, "group commit, synchronous=full (collector default)", 512, "full"));
  all.push_back(Run(*opt, "group commit, synchronous=normal", 512, "normal"));
  all.push_back(Run(*opt, "one commit per batch, synchronous=full", 1, "full"));
  all.push_back(Run(*opt, "one commit per batch, synchronous=normal", 1, "normal"));
  const double base = all[0].events_per_s;
  fmt::print("  {:<52} {:>11} {:>10} {:>9} {:>9} {:>8}\n", "configuration", "events/s", "batches/s",
             "p50 ms", "p99 ms", "vs base");
  bool ok = true;
  for (const Figures& f : all) {
    ok = ok && f.ran;
    fmt::print("  {:<52} {:>11.0f} {:>10.0f} {:>9.2f} {:>9.2f} {:>7.2f}x{}\n", f.name,
               f.events_per_s, f.batches_per_s, f.p50_ms, f.p99_ms,
               base > 0 ? f.events_per_s / base : 0.0,
               f.errors ? fmt::format("  ({} errors)", f.errors) : "");
  }
  if (all[1].events_per_s > 0) {
    fmt::print("  synchronous=full costs {:.1f}% of group-commit throughput vs normal\n",
               100.0 * (1.0 - all[0].events_per_s / all[1].events_per_s));
  }
  if (all[2].events_per_s > 0) {
    fmt::print("  group commit / per-batch commit (full): {:.1f}x\n",
               all[0].events_per_s / all[2].events_per_s);
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace mamori::bench

int main(int argc, char** argv) { return mamori::bench::Main(argc, argv); }
