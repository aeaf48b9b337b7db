// ingest_bench: how many state reports per second the collector ingests
// compared with a server that does nothing but the same mutual-TLS gRPC
// transport, and what an idle agent costs its terminal.
//
//   ingest_bench [--agents K] [--seconds S] [--devices D] [--idle-seconds N]
//
// K simulated agents, each with its own certificate and its own TLS
// connection, send ReportState in a closed loop (one call outstanding per
// agent) for S seconds, first to noop_collector, then to a real
// mamori-collector with its default store settings. Everything runs on
// 127.0.0.1 on this machine, so the load generator competes with the server
// for CPU: compare the two servers' figures with each other (the ratio),
// not with a deployment. Then one real mamori-agent runs idle against the
// collector for N seconds while its CPU time and memory are sampled.
//
// The figures are printed, not asserted: the exit code is non-zero only when
// the run itself failed (a server did not start, agents could not connect,
// more than 1% of calls failed, the agent did not report).

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mamori/v1/admin.grpc.pb.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "proto/wire/grpc_logging.h"
#include "tests/bench/bench_support.h"
#include "tests/integration/harness.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace mamori::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::seconds;
using testing::ChildProcess;
using testing::CollectorProcess;
using testing::ReadWholeFile;
using testing::TempDir;
using testing::TestPki;
using testing::TlsPaths;

constexpr double kThroughputTarget = 0.70;  // collector / no-op
constexpr double kMaxErrorFraction = 0.01;
constexpr double kAgentRssTargetMb = 20.0;
// "About zero": an idle agent wakes once per report interval; anything above
// a thousandth of a core means something polls.
constexpr double kAgentCpuTargetPercent = 0.1;
constexpr auto kCallDeadline = seconds(20);
constexpr auto kConnectTimeout = seconds(120);
constexpr auto kAgentSettle = seconds(5);

struct Options {
  int agents = 1000;
  int seconds = 20;
  int devices = 3;
  int idle_seconds = 60;
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  struct Flag {
    std::string_view name;
    int* value;
    int min;
    int max;
  };
  const Flag flags[] = {{"--agents", &o.agents, 1, 20000},
                        {"--seconds", &o.seconds, 1, 600},
                        {"--devices", &o.devices, 0, 1000},
                        {"--idle-seconds", &o.idle_seconds, 1, 3600}};
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const Flag* flag = nullptr;
    for (const Flag& f : flags) {
      if (f.name == arg) flag = &f;
    }
    if (!flag || i + 1 >= argc) return std::nullopt;
    if (!ParseIntArg(argv[++i], flag->min, flag->max, flag->value)) {
      fmt::print(stderr, "ingest_bench: {} must be an integer from {} to {}\n", flag->name,
                 flag->min, flag->max);
      return std::nullopt;
    }
  }
  return o;
}

// --- /proc sampling --------------------------------------------------------

double TicksToSeconds(uint64_t ticks) {
  static const long hz = sysconf(_SC_CLK_TCK);
  return static_cast<double>(ticks) / static_cast<double>(hz);
}

// utime + stime from a /proc/.../stat file, in clock ticks; 0 when unreadable
// (the process or thread is gone).
uint64_t CpuTicks(const std::string& stat_path) {
  const std::string stat = ReadWholeFile(stat_path);
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 1));
  std::string field;
  uint64_t utime = 0;
  uint64_t stime = 0;
  // After the command name: state is field 3; utime and stime are 14 and 15.
  for (int n = 3; n <= 15 && (in >> field); ++n) {
    if (n == 14) utime = std::stoull(field);
    if (n == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

uint64_t ProcessCpuTicks(pid_t pid) { return CpuTicks("/proc/" + std::to_string(pid) + "/stat"); }

// A "VmRSS:   1234 kB" style line of /proc/PID/status, in MB.
double StatusMb(pid_t pid, std::string_view key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      return std::stod(line.substr(key.size() + 1)) / 1024.0;
    }
  }
  return 0;
}

// write_bytes of /proc/PID/io: bytes the process caused to be sent to disk.
uint64_t DiskWriteBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

// Scheduler statistics of one thread (/proc/PID/task/TID/schedstat): time
// on a CPU and time runnable but waiting for one. A thread that is busy or
// waiting nearly all the time is a serial bottleneck even when its CPU
// share looks moderate on a saturated machine.
struct ThreadSched {
  std::string name;
  uint64_t run_ns = 0;
  uint64_t wait_ns = 0;
};
std::map<std::string, ThreadSched> ThreadSchedStats(pid_t pid) {
  std::map<std::string, ThreadSched> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(task, ec)) {
    const std::string dir = entry.path().string();
    ThreadSched t;
    t.name = ReadWholeFile(dir + "/comm");
    while (!t.name.empty() && t.name.back() == '\n') t.name.pop_back();
    std::istringstream in(ReadWholeFile(dir + "/schedstat"));
    in >> t.run_ns >> t.wait_ns;
    out[entry.path().filename().string()] = std::move(t);
  }
  return out;
}

// The busiest threads between two snapshots, as
// "name/tid cpu 45% wait 12%" (percent of the window).
std::string BusiestThreads(const std::map<std::string, ThreadSched>& before,
                           const std::map<std::string, ThreadSched>& after, double window_s,
                           std::size_t top) {
  struct Row {
    std::string label;
    double run_s;
    double wait_s;
  };
  std::vector<Row> rows;
  for (const auto& [tid, t] : after) {
    auto it = before.find(tid);
    const ThreadSched zero;
    const ThreadSched& b = it == before.end() ? zero : it->second;
    rows.push_back({t.name + "/" + tid, static_cast<double>(t.run_ns - b.run_ns) / 1e9,
                    static_cast<double>(t.wait_ns - b.wait_ns) / 1e9});
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& x, const Row& y) { return x.run_s + x.wait_s > y.run_s + y.wait_s; });
  std::string out;
  for (std::size_t i = 0; i < rows.size() && i < top; ++i) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} cpu {:.0f}% wait {:.0f}%", rows[i].label,
                       100.0 * rows[i].run_s / window_s, 100.0 * rows[i].wait_s / window_s);
  }
  return out;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// --- the simulated agents' reports ------------------------------------------

void SetNow(google::protobuf::Timestamp* ts) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  ts->set_seconds(ns / 1'000'000'000);
  ts->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

// What a municipal My Number terminal typically has plugged in: keyboard,
// mouse, a blocked USB stick, a registered card reader, a printer, a hub.
void FillDevice(int agent, int index, v1::Device* d) {
  struct Template {
    uint32_t vid, pid;
    const char* manufacturer;
    const char* product;
    v1::DeviceClass cls;
    v1::Action action;
    const char* rule;
  };
  static constexpr Template kTemplates[] = {
      {0x046d, 0xc31c, "Logitech", "USB Keyboard", v1::DEVICE_CLASS_HID, v1::ACTION_ALLOW,
       "allow-hid"},
      {0x046d, 0xc077, "Logitech", "USB Optical Mouse", v1::DEVICE_CLASS_HID, v1::ACTION_ALLOW,
       "allow-hid"},
      {0x0781, 0x5581, "SanDisk", "Ultra", v1::DEVICE_CLASS_MASS_STORAGE, v1::ACTION_BLOCK,
       "default"},
      {0x05e3, 0x0749, "Generic", "USB3.0 Card Reader", v1::DEVICE_CLASS_CARD_READER,
       v1::ACTION_READ_ONLY, "registered-media"},
      {0x04b8, 0x0005, "EPSON", "USB Printer", v1::DEVICE_CLASS_PRINTER, v1::ACTION_ALLOW,
       "printers"},
      {0x05e3, 0x0610, "GenesysLogic", "USB2.1 Hub", v1::DEVICE_CLASS_HUB, v1::ACTION_ALLOW,
       "allow-hubs"},
  };
  const Template& t = kTemplates[index % std::size(kTemplates)];
  const std::string bus = fmt::format("1-{}", index + 1);
  d->set_device_id(bus);
  auto* id = d->mutable_identity();
  id->set_vendor_id(t.vid);
  id->set_product_id(t.pid);
  id->set_serial(fmt::format("{:04X}{:08X}", t.pid, agent * 1000 + index));
  id->set_manufacturer(t.manufacturer);
  id->set_product(t.product);
  id->set_bus_path(bus);
  id->set_device_class(t.cls);
  id->add_interface_classes(t.cls);
  id->set_descriptor_hash(fmt::format("{:016x}{:016x}{:016x}{:016x}", t.vid, t.pid,
                                      static_cast<unsigned>(agent), static_cast<unsigned>(index)));
  auto* decision = d->mutable_decision();
  decision->set_action(t.action);
  decision->set_matched_rule(t.rule);
  decision->set_enforced(true);
  SetNow(d->mutable_first_seen());
}

v1::StateReport MakeReport(int agent, const std::string& terminal_id, int devices) {
  v1::StateReport r;
  r.set_terminal_id(terminal_id);
  SetNow(r.mutable_agent_time());
  r.set_agent_version("0.1.0");
  r.set_os("Windows 10 Enterprise LTSC 2021 (10.0.19044)");
  r.set_hostname(fmt::format("MN-PC-{:05d}", agent));
  r.set_applied_policy_version(0);
  auto* e = r.mutable_enforcement();
  e->set_mode(v1::ENFORCEMENT_MODE_ENFORCE);
  e->set_healthy(true);
  e->set_backend("windows-setupapi");
  for (int i = 0; i < devices; ++i) FillDevice(agent, i, r.add_devices());
  r.set_report_interval_seconds(60);
  return r;
}

// --- load generator ---------------------------------------------------------

struct AgentCredentials {
  std::string id;
  std::string cert_pem;
  std::string key_pem;
};

struct LoadResult {
  bool connected = false;
  double connect_seconds = 0;
  uint64_t ok = 0;      // completed successfully within the window
  uint64_t errors = 0;  // failed calls, within the window or while draining
  int agents_with_errors = 0;
  std::string first_error;
  std::vector<uint32_t> latencies_us;  // of the `ok` calls
  double window_seconds = 0;
  std::vector<uint64_t> per_second;  // successful calls in each 1 s of the window
  double client_cpu_seconds = 0;
  bool drained = false;
};

// K agents, each on its own channel with its own client certificate, each
// with one ReportState in flight at all times: a closed loop, so throughput
// is what the server sustains at this concurrency, and latency what an agent
// sees under it.
class LoadGenerator {
 public:
  LoadGenerator(const std::vector<AgentCredentials>& creds, const std::string& ca_pem,
                const std::string& address, int devices) {
    agents_.reserve(creds.size());
    for (std::size_t i = 0; i < creds.size(); ++i) {
      auto a = std::make_unique<Agent>();
      grpc::SslCredentialsOptions tls;
      tls.pem_root_certs = ca_pem;
      tls.pem_private_key = creds[i].key_pem;
      tls.pem_cert_chain = creds[i].cert_pem;
      grpc::ChannelArguments args;
      args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
      // Each agent is a separate terminal: no sharing of connections.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      a->channel = grpc::CreateCustomChannel(address, grpc::SslCredentials(tls), args);
      a->stub = v1::AgentService::NewStub(a->channel);
      a->request = MakeReport(static_cast<int>(i), creds[i].id, devices);
      agents_.push_back(std::move(a));
    }
  }

  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  ~LoadGenerator() {
    // Calls still in flight reference the agents; wait for them (bounded by
    // the per-call deadline) before the channels go.
    WaitDrained(kCallDeadline + seconds(10));
  }

  // Connects every channel (full TLS handshake each). Returns false when not
  // all are ready within `timeout`.
  bool Connect(Steady::duration timeout, double* seconds_taken) {
    const auto start = Steady::now();
    const auto deadline = std::chrono::system_clock::now() + timeout;
    for (auto& a : agents_) a->channel->GetState(/*try_to_connect=*/true);
    // Nothing polls a channel that merely connects (only gRPC's 5 s backup
    // poller would). Waiting on one channel polls the I/O of all of them, so
    // the handshakes still run concurrently.
    std::size_t ready = 0;
    for (auto& a : agents_) {
      if (a->channel->WaitForConnected(deadline)) ++ready;
    }
    *seconds_taken = std::chrono::duration<double>(Steady::now() - start).count();
    if (ready == agents_.size()) return true;
    fmt::print("  only {} of {} channels connected after {:.1f} s\n", ready, agents_.size(),
               *seconds_taken);
    return false;
  }

  // Runs the closed loop for `duration`, then waits for the calls in flight.
  LoadResult Run(Steady::duration duration) {
    LoadResult r;
    const double cpu_before = SelfCpuSeconds();
    stop_.store(false);
    completed_ok_.store(0);
    outstanding_.store(static_cast<int>(agents_.size()));
    start_ = Steady::now();
    end_ = start_ + duration;
    for (auto& a : agents_) Issue(*a);
    // Per-second counts show whether the rate was steady or the server
    // stalled (a checkpoint, a full queue) for part of the window.
    uint64_t last = 0;
    for (auto tick = start_ + seconds(1); tick <= end_; tick += seconds(1)) {
      std::this_thread::sleep_until(tick);
      const uint64_t now = completed_ok_.load(std::memory_order_relaxed);
      r.per_second.push_back(now - last);
      last = now;
    }
    std::this_thread::sleep_until(end_);
    stop_.store(true);
    r.window_seconds = std::chrono::duration<double>(duration).count();
    r.client_cpu_seconds = SelfCpuSeconds() - cpu_before;
    r.drained = WaitDrained(kCallDeadline + seconds(10));
    if (!r.drained) return r;
    for (auto& a : agents_) {
      r.ok += a->ok;
      r.errors += a->errors;
      if (a->errors > 0) {
        ++r.agents_with_errors;
        if (r.first_error.empty()) r.first_error = a->first_error;
      }
      r.latencies_us.insert(r.latencies_us.end(), a->latencies_us.begin(), a->latencies_us.end());
    }
    return r;
  }

  bool WaitDrained(Steady::duration timeout) {
    std::unique_lock lock(mu_);
    return drained_cv_.wait_for(lock, timeout, [this] { return outstanding_.load() == 0; });
  }

 private:
  // Touched only by the agent's own call chain: one call at a time, each
  // started after the previous callback, so no lock is needed.
  struct Agent {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::AgentService::Stub> stub;
    v1::StateReport request;
    v1::StateAck response;
    std::unique_ptr<grpc::ClientContext> ctx;
    Steady::time_point started;
    std::vector<uint32_t> latencies_us;
    uint64_t ok = 0;
    uint64_t errors = 0;
    std::string first_error;
  };

  void Issue(Agent& a) {
    a.ctx = std::make_unique<grpc::ClientContext>();
    a.ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    a.response.Clear();
    SetNow(a.request.mutable_agent_time());
    a.started = Steady::now();
    a.stub->async()->ReportState(a.ctx.get(), &a.request, &a.response,
                                 [this, &a](grpc::Status s) { OnDone(a, s); });
  }

  void OnDone(Agent& a, const grpc::Status& s) {
    const auto now = Steady::now();
    if (s.ok()) {
      if (now <= end_) {
        ++a.ok;
        completed_ok_.fetch_add(1, std::memory_order_relaxed);
        a.latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - a.started).count()));
      }
    } else {
      ++a.errors;
      if (a.first_error.empty()) {
        a.first_error = fmt::format("{}: {}", static_cast<int>(s.error_code()), s.error_message());
      }
    }
    if (!stop_.load()) {
      Issue(a);
      return;
    }
    // Under the lock, so the waiter cannot see zero and destroy this object
    // before the notification is done with it.
    std::lock_guard lock(mu_);
    if (outstanding_.fetch_sub(1) == 1) drained_cv_.notify_all();
  }

  std::vector<std::unique_ptr<Agent>> agents_;
  std::atomic<bool> stop_{true};
  std::atomic<int> outstanding_{0};
  std::atomic<uint64_t> completed_ok_{0};
  Steady::time_point start_;
  Steady::time_point end_;
  std::mutex mu_;
  std::condition_variable drained_cv_;
};

// --- one server under load --------------------------------------------------

struct ServerFigures {
  std::string name;
  int agents = 0;
  bool ran = false;
  LoadResult load;
  double rss_peak_mb = 0;
  double rss_now_mb = 0;
  double cpu_seconds = 0;  // server CPU during the window
  double disk_write_mb = 0;
  std::string busiest_threads;
  double reports_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double error_fraction = 0;
};

std::string LogTail(const std::string& log, std::size_t bytes = 2000) {
  return log.size() <= bytes ? log : log.substr(log.size() - bytes);
}

ServerFigures LoadServer(std::string name, pid_t pid, int port,
                         const std::vector<AgentCredentials>& creds, const std::string& ca_pem,
                         const Options& opt, const std::function<std::string()>& server_log,
                         const std::function<void()>& kill_server) {
  ServerFigures f;
  f.name = std::move(name);
  f.agents = static_cast<int>(creds.size());
  fmt::print("[{}] pid {}, 127.0.0.1:{}: connecting {} agents\n", f.name, pid, port, creds.size());
  std::fflush(stdout);
  auto gen = std::make_unique<LoadGenerator>(creds, ca_pem, "127.0.0.1:" + std::to_string(port),
                                             opt.devices);
  double connect_s = 0;
  if (!gen->Connect(kConnectTimeout, &connect_s)) {
    fmt::print("[{}] server log ends:\n{}\n", f.name, LogTail(server_log()));
    kill_server();
    return f;
  }
  fmt::print("[{}] {} TLS connections established in {:.2f} s; server RSS {:.1f} MB\n", f.name,
             creds.size(), connect_s, StatusMb(pid, "VmRSS"));
  fmt::print("[{}] sending for {} s\n", f.name, opt.seconds);
  std::fflush(stdout);

  const uint64_t cpu_before = ProcessCpuTicks(pid);
  const uint64_t disk_before = DiskWriteBytes(pid);
  const auto threads_before = ThreadSchedStats(pid);
  f.load = gen->Run(seconds(opt.seconds));
  const uint64_t cpu_after = ProcessCpuTicks(pid);
  const uint64_t disk_after = DiskWriteBytes(pid);
  const auto threads_after = ThreadSchedStats(pid);
  f.load.connected = true;
  f.load.connect_seconds = connect_s;
  if (!f.load.drained) {
    fmt::print("[{}] calls still in flight 30 s after the end; stopping the server\n", f.name);
    kill_server();
    if (!gen->WaitDrained(seconds(30))) {
      fmt::print(stderr, "ingest_bench: calls never completed; giving up\n");
      std::fflush(nullptr);
      std::abort();
    }
    return f;
  }
  f.ran = true;
  f.rss_peak_mb = StatusMb(pid, "VmHWM");
  f.rss_now_mb = StatusMb(pid, "VmRSS");
  f.cpu_seconds = TicksToSeconds(cpu_after - cpu_before);
  f.disk_write_mb = static_cast<double>(disk_after - disk_before) / (1024.0 * 1024.0);
  f.busiest_threads = BusiestThreads(threads_before, threads_after, f.load.window_seconds, 4);
  f.reports_per_s = static_cast<double>(f.load.ok) / f.load.window_seconds;
  f.p50_ms = NearestRank(f.load.latencies_us, 0.50) / 1000.0;
  f.p99_ms = NearestRank(f.load.latencies_us, 0.99) / 1000.0;
  const uint64_t calls = f.load.ok + f.load.errors;
  f.error_fraction = calls == 0 ? 1.0 : static_cast<double>(f.load.errors) / calls;
  return f;
}

void PrintTable(const std::vector<ServerFigures>& servers) {
  fmt::print("\n{:<10}  {:>6}  {:>9}  {:>7}  {:>7}  {:>6}  {:>11}  {:>10}\n", "server", "agents",
             "reports/s", "p50_ms", "p99_ms", "errors", "rss_peak_MB", "rss_now_MB");
  for (const ServerFigures& f : servers) {
    if (!f.ran) {
      fmt::print("{:<10}  (did not run)\n", f.name);
      continue;
    }
    fmt::print("{:<10}  {:>6}  {:>9.0f}  {:>7.1f}  {:>7.1f}  {:>6}  {:>11.1f}  {:>10.1f}\n", f.name,
               f.agents, f.reports_per_s, f.p50_ms, f.p99_ms, f.load.errors, f.rss_peak_mb,
               f.rss_now_mb);
  }
}

void PrintDetails(const ServerFigures& f) {
  if (!f.load.connected) return;
  const std::string& n = f.name;
  fmt::print("{}: TLS connection setup for {} agents: {:.2f} s\n", n, f.agents,
             f.load.connect_seconds);
  if (!f.ran) return;
  const uint64_t calls = f.load.ok + f.load.errors;
  fmt::print("{}: calls: {} ok in the window, {} failed ({:.3f}% of {}; {} agents saw errors)\n", n,
             f.load.ok, f.load.errors, 100.0 * f.error_fraction, calls, f.load.agents_with_errors);
  if (!f.load.first_error.empty()) fmt::print("{}: first error: {}\n", n, f.load.first_error);
  if (!f.load.per_second.empty()) {
    std::vector<uint64_t> v = f.load.per_second;
    std::sort(v.begin(), v.end());
    fmt::print("{}: reports/s over 1 s intervals: min {}, median {}, max {}\n", n, v.front(),
               v[v.size() / 2], v.back());
  }
  fmt::print("{}: server CPU: {:.1f} s in {:.0f} s = {:.0f}% of one core\n", n, f.cpu_seconds,
             f.load.window_seconds, 100.0 * f.cpu_seconds / f.load.window_seconds);
  fmt::print("{}: server CPU per report: {:.0f} us\n", n,
             f.load.ok == 0 ? 0.0 : 1e6 * f.cpu_seconds / static_cast<double>(f.load.ok));
  fmt::print("{}: load generator CPU: {:.1f} s = {:.0f}% of one core\n", n,
             f.load.client_cpu_seconds, 100.0 * f.load.client_cpu_seconds / f.load.window_seconds);
  fmt::print("{}: server disk writes: {:.1f} MB ({:.2f} MB/s)\n", n, f.disk_write_mb,
             f.disk_write_mb / f.load.window_seconds);
  fmt::print(
      "{}: busiest server threads (% of the window on a CPU / runnable but waiting "
      "for one): {}\n",
      n, f.busiest_threads);
}

std::string LocalTime() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

// Raises the soft open-files limit to the hard limit: each agent is a socket
// here and in the server (which inherits the limit).
rlim_t RaiseOpenFilesLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  // Linux refuses "unlimited" for open files; 2^20 is its default ceiling.
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1 << 20 : rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

bool WaitForPortFile(ChildProcess& p, const std::string& port_file, int* port) {
  const bool up = testing::WaitUntil(
      [&] { return !p.running() || std::filesystem::exists(port_file); }, seconds(20));
  if (!up || !p.running()) return false;
  *port = std::atoi(ReadWholeFile(port_file).c_str());
  return *port > 0;
}

void StopGracefully(ChildProcess& p, std::string_view name) {
  if (!p.running()) return;
  p.Signal(SIGTERM);
  if (!p.Wait(seconds(15))) {
    fmt::print("{} did not stop within 15 s of SIGTERM; killed\n", name);
    p.Signal(SIGKILL);
    p.Wait(seconds(5));
  }
}

// Asks the collector (admin API) how many devices it holds for a terminal;
// nullopt when it does not know the terminal or cannot be asked.
std::optional<int> StoredDevices(const CollectorProcess& collector, TestPki& pki,
                                 const std::string& terminal_id) {
  auto admin = collector.Admin(pki.Admin());
  grpc::ClientContext ctx;
  testing::WithDeadline(&ctx, 10);
  v1::GetTerminalRequest req;
  req.set_terminal_id(terminal_id);
  v1::TerminalDetail detail;
  if (!admin->GetTerminal(&ctx, req, &detail).ok()) return std::nullopt;
  if (!detail.summary().has_last_report()) return std::nullopt;
  return detail.devices_size();
}

struct IdleFigures {
  bool ran = false;
  double rss_mb = 0;      // at the end of the window
  double rss_max_mb = 0;  // highest sample in the window
  double hwm_mb = 0;      // VmHWM: peak since start, including start-up
  double anon_mb = 0;     // RssAnon: the agent's own heap and stacks
  double file_mb = 0;     // RssFile: mapped binary and shared libraries
  double cpu_seconds = 0;
};

// One real agent against the collector: idle apart from its periodic report.
IdleFigures MeasureIdleAgent(const CollectorProcess& collector, TestPki& pki, const TlsPaths& tls,
                             const std::string& terminal_id, const TempDir& dir,
                             const Options& opt) {
  IdleFigures f;
  const std::string devices = dir.File("idle-devices");
  std::filesystem::create_directories(devices);
  dir.Write("idle-devices/keyboard.yaml", testing::KeyboardYaml());
  dir.Write("idle-devices/stick.yaml", testing::StickYaml("4C530001230915112055"));
  dir.Write("idle-devices/reader.yaml",
            "vendor_id: \"05e3\"\nproduct_id: \"0749\"\nserial: \"000000001532\"\n"
            "manufacturer: Generic\nproduct: USB3.0 Card Reader\nclass: card_reader\n"
            "interfaces: [mass_storage]\nbus_path: \"1-3\"\n");
  const std::string config = dir.Write(
      "idle-agent.yaml",
      "collector:\n  address: " + collector.address() +
          "\n  server_name: " + std::string(TestPki::kServerName) + "\ntls:\n  ca_file: " + tls.ca +
          "\n  cert_file: " + tls.cert + "\n  key_file: " + tls.key +
          "\npolicy:\n  public_key_file: " + pki.PolicyKey().pub +
          "\nreport:\n  interval: 60s\ndevices:\n  backend: simulated\n  directory: " + devices +
          "\nstate_dir: " + dir.File("idle-state") + "\nlog:\n  level: info\n");
  ChildProcess agent =
      ChildProcess::Start({MAMORI_AGENT_BIN, "--config", config}, dir.File("idle-agent.log"));
  const bool reported = testing::WaitUntil(
      [&] {
        if (!agent.running()) return true;
        auto n = StoredDevices(collector, pki, terminal_id);
        return n && *n == 3;
      },
      seconds(30));
  if (!reported || !agent.running()) {
    fmt::print("agent did not report its 3 devices within 30 s; its log ends:\n{}\n",
               LogTail(agent.Log()));
    return f;
  }
  std::this_thread::sleep_for(kAgentSettle);

  const pid_t pid = agent.pid();
  const uint64_t cpu_before = ProcessCpuTicks(pid);
  const auto end = Steady::now() + seconds(opt.idle_seconds);
  while (Steady::now() < end && agent.running()) {
    f.rss_max_mb = std::max(f.rss_max_mb, StatusMb(pid, "VmRSS"));
    std::this_thread::sleep_until(std::min(end, Steady::now() + seconds(1)));
  }
  if (!agent.running()) {
    fmt::print("agent exited during the idle window; its log ends:\n{}\n", LogTail(agent.Log()));
    return f;
  }
  f.cpu_seconds = TicksToSeconds(ProcessCpuTicks(pid) - cpu_before);
  f.rss_mb = StatusMb(pid, "VmRSS");
  f.rss_max_mb = std::max(f.rss_max_mb, f.rss_mb);
  f.hwm_mb = StatusMb(pid, "VmHWM");
  f.anon_mb = StatusMb(pid, "RssAnon");
  f.file_mb = StatusMb(pid, "RssFile");
  f.ran = true;
  StopGracefully(agent, "mamori-agent");
  return f;
}

const char* Verdict(bool pass) { return pass ? "PASS" : "MISS"; }

int Main(const Options& opt) {
  // Debian's Abseil leaves mutex deadlock detection on; the servers turn it
  // off at start, and so does the load generator, which shares their cores.
  mamori::DisableMutexDeadlockDetection();
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const rlim_t nofile = RaiseOpenFilesLimit();
  fmt::print("Mamori ingest benchmark, {}\n", LocalTime());
  fmt::print("agents (K): {}\n", opt.agents);
  fmt::print("seconds of load per server (S): {}\n", opt.seconds);
  fmt::print("devices per report (D): {}\n", opt.devices);
  fmt::print("idle agent sample (N): {} s\n", opt.idle_seconds);
  fmt::print("cores: {}\n", cores);
  fmt::print("open files limit: {}\n", static_cast<unsigned long long>(nofile));
  fmt::print("load generator, servers and agent share this machine over 127.0.0.1\n\n");
  std::fflush(stdout);
  if (nofile < static_cast<rlim_t>(opt.agents) + 256) {
    fmt::print(stderr, "ingest_bench: {} agents need about {} open files; the limit is {}\n",
               opt.agents, opt.agents + 256, static_cast<unsigned long long>(nofile));
    return 1;
  }

  TempDir dir;
  TestPki pki;
  // Every certificate is made here, before any thread exists: TestPki is
  // not thread-safe.
  const auto pki_start = Steady::now();
  std::vector<AgentCredentials> creds;
  creds.reserve(static_cast<std::size_t>(opt.agents));
  for (int i = 0; i < opt.agents; ++i) {
    AgentCredentials c;
    c.id = fmt::format("bench-{:05d}", i);
    const TlsPaths paths = pki.IssueTerminal(c.id, fmt::format("bench/g{:02d}", i % 20));
    c.cert_pem = ReadWholeFile(paths.cert);
    c.key_pem = ReadWholeFile(paths.key);
    creds.push_back(std::move(c));
  }
  const std::string idle_id = "bench-idle-agent";
  const TlsPaths idle_tls = pki.IssueTerminal(idle_id, "bench/idle");
  const std::string ca_pem = ReadWholeFile(pki.ca_file());
  fmt::print("issued {} terminal certificates in {:.2f} s\n\n", opt.agents,
             std::chrono::duration<double>(Steady::now() - pki_start).count());
  std::fflush(stdout);

  bool failed = false;
  std::vector<ServerFigures> servers;

  // The baseline: the same transport, no work.
  {
    const TlsPaths server = pki.Server();
    const std::string port_file = dir.File("noop.port");
    ChildProcess noop =
        ChildProcess::Start({NOOP_COLLECTOR_BIN, "--ca", server.ca, "--cert", server.cert, "--key",
                             server.key, "--port-file", port_file},
                            dir.File("noop.log"));
    int port = 0;
    if (!WaitForPortFile(noop, port_file, &port)) {
      fmt::print("noop_collector did not start; its log ends:\n{}\n", LogTail(noop.Log()));
      servers.emplace_back().name = "noop";
      failed = true;
    } else {
      servers.push_back(LoadServer(
          "noop", noop.pid(), port, creds, ca_pem, opt, [&] { return noop.Log(); },
          [&] { noop.Signal(SIGKILL); }));
      StopGracefully(noop, "noop_collector");
    }
  }

  // The real collector, default store settings (synchronous=full), kept
  // running for the idle agent afterwards.
  CollectorProcess collector(pki, dir);
  const bool collector_up = collector.Start();
  if (!collector_up) {
    fmt::print("mamori-collector did not start; its log ends:\n{}\n", LogTail(collector.Log()));
    servers.emplace_back().name = "collector";
    failed = true;
  } else {
    servers.push_back(LoadServer(
        "collector", collector.process().pid(), collector.port(), creds, ca_pem, opt,
        [&] { return collector.Log(); }, [&] { collector.process().Signal(SIGKILL); }));
    if (servers.back().ran) {
      // A collector that acknowledged without storing would look fast.
      const auto stored = StoredDevices(collector, pki, creds.front().id);
      if (!stored || *stored != opt.devices) {
        fmt::print("collector: terminal {} not stored with {} devices after the load\n",
                   creds.front().id, opt.devices);
        failed = true;
      }
    }
  }

  PrintTable(servers);
  fmt::print("\n");
  for (const ServerFigures& f : servers) {
    PrintDetails(f);
    if (!f.ran) {
      failed = true;
    } else if (f.error_fraction > kMaxErrorFraction) {
      fmt::print("{}: more than {:.0f}% of calls failed: the run is not valid\n", f.name,
                 100 * kMaxErrorFraction);
      failed = true;
    }
  }
  if (servers.size() == 2 && servers[0].ran && servers[1].ran && servers[0].reports_per_s > 0) {
    const double ratio = servers[1].reports_per_s / servers[0].reports_per_s;
    fmt::print("\ncollector/no-op throughput ratio: {:.2f} (target >= {:.2f}) {}\n", ratio,
               kThroughputTarget, Verdict(ratio >= kThroughputTarget));
    if (servers[0].p50_ms > 0) {
      fmt::print("collector/no-op p50 latency ratio: {:.2f}\n",
                 servers[1].p50_ms / servers[0].p50_ms);
    }
  }
  std::fflush(stdout);

  if (collector_up && collector.process().running()) {
    fmt::print(
        "\nagent idle: 1 mamori-agent, simulated backend, 3 devices, report interval 60 s, "
        "sampled over {} s after {} s settling\n",
        opt.idle_seconds, kAgentSettle.count());
    std::fflush(stdout);
    const IdleFigures idle = MeasureIdleAgent(collector, pki, idle_tls, idle_id, dir, opt);
    if (!idle.ran) {
      failed = true;
    } else {
      const double cpu_percent = 100.0 * idle.cpu_seconds / opt.idle_seconds;
      fmt::print("agent RSS: {:.1f} MB (target <= {:.0f} MB) {}\n", idle.rss_mb, kAgentRssTargetMb,
                 Verdict(idle.rss_max_mb <= kAgentRssTargetMb));
      fmt::print("agent RSS highest sample in the window: {:.1f} MB\n", idle.rss_max_mb);
      fmt::print("agent peak RSS since start (VmHWM): {:.1f} MB\n", idle.hwm_mb);
      fmt::print("agent RSS anonymous (heap, stacks): {:.1f} MB\n", idle.anon_mb);
      fmt::print("agent RSS file-backed (binary, shared libraries): {:.1f} MB\n", idle.file_mb);
      fmt::print("agent CPU: {:.2f} s in {} s\n", idle.cpu_seconds, opt.idle_seconds);
      fmt::print("agent CPU: {:.3f}% of one core (target ~0, < {:.1f}%) {}\n", cpu_percent,
                 kAgentCpuTargetPercent, Verdict(cpu_percent < kAgentCpuTargetPercent));
    }
  }
  if (collector_up) StopGracefully(collector.process(), "mamori-collector");

  fmt::print("\nresult: {}\n", failed ? "RUN FAILED" : "run complete");
  std::fflush(stdout);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace mamori::bench

int main(int argc, char** argv) {
  const auto opt = mamori::bench::ParseOptions(argc, argv);
  if (!opt) {
    fmt::print(stderr,
               "usage: ingest_bench [--agents K] [--seconds S] [--devices D] "
               "[--idle-seconds N]\n");
    return 2;
  }
  try {
    return mamori::bench::Main(*opt);
  } catch (const std::exception& e) {
    fmt::print(stderr, "ingest_bench: {}\n", e.what());
    return 1;
  }
}
