// fanout_bench: how long one policy change takes to reach every agent
// watching the collector's policy stream, and what holding the streams
// costs the collector.
//
//   fanout_bench [--agents N] [--baseline B]
//
// N simulated agents in this one process, each with its own certificate and
// its own TLS connection, hold WatchPolicy open, as agents do all day. First
// only B of them watch and one policy change goes out (the baseline, same
// run, same collector); then all N watch and a second change goes out. The
// time of each agent is from just before the admin's ApplyPolicy call to the
// arrival of the new version at the agent: p50, p99, max. The collector's
// RSS is sampled idle and while holding N streams.
//
// Targets (printed, not asserted): max <= 2 s and RSS <= 1.5 GB at 10,000.
// The exit code is non-zero only when the run failed (the collector did not
// start, agents could not connect or watch, a change did not arrive).

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mamori/v1/admin.grpc.pb.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "proto/wire/grpc_logging.h"  // DisableMutexDeadlockDetection
#include "tests/bench/bench_support.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace mamori::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::seconds;
using testing::CollectorProcess;
using testing::ReadWholeFile;
using testing::TempDir;
using testing::TestPki;
using testing::TlsPaths;

constexpr double kMaxLatencyTargetS = 2.0;
constexpr double kRssTargetMb = 1536.0;
constexpr char kGroup[] = "bench";

struct Options {
  int agents = 10000;
  int baseline = 100;
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  if (argc % 2 == 0) return std::nullopt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string_view text = argv[i + 1];
    int v = 0;
    if (!ParseIntArg(text, 1, 20000, &v)) return std::nullopt;
    if (flag == "--agents") {
      o.agents = v;
    } else if (flag == "--baseline") {
      o.baseline = v;
    } else {
      return std::nullopt;
    }
  }
  o.baseline = std::min(o.baseline, o.agents);
  return o;
}

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

rlim_t RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

std::size_t CountOccurrences(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// One agent's policy stream, on the callback API.
class Watcher final : public grpc::ClientReadReactor<v1::PolicyBundle> {
 public:
  Watcher(std::shared_ptr<grpc::Channel> channel, std::string terminal_id)
      : channel_(std::move(channel)), stub_(v1::AgentService::NewStub(channel_)) {
    request_.set_terminal_id(std::move(terminal_id));
  }
  grpc::Channel& channel() { return *channel_; }

  void Start(uint64_t current_version) {
    request_.set_current_version(current_version);
    stub_->async()->WatchPolicy(&ctx_, &request_, this);
    StartRead(&bundle_);
    StartCall();
  }
  // Each change the test makes is awaited by version: the arrival time of
  // `version` (a steady-clock count), 0 while it has not arrived.
  void Expect(uint64_t version) {
    expected_.store(version);
    arrived_ns_.store(0);
  }
  int64_t arrived_ns() const { return arrived_ns_.load(); }
  void Cancel() { ctx_.TryCancel(); }
  bool WaitDone(Steady::duration timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  const grpc::Status& status() const { return status_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (bundle_.version() == expected_.load()) {
      arrived_ns_.store(Steady::now().time_since_epoch().count());
      arrivals_->fetch_add(1);
    }
    StartRead(&bundle_);
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(mu_);
    status_ = s;
    done_ = true;
    cv_.notify_all();
  }
  void set_arrivals(std::atomic<int>* arrivals) { arrivals_ = arrivals; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext ctx_;
  v1::WatchPolicyRequest request_;
  v1::PolicyBundle bundle_;
  std::atomic<uint64_t> expected_{0};
  std::atomic<int64_t> arrived_ns_{0};
  std::atomic<int>* arrivals_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  grpc::Status status_;
};

struct FanoutFigures {
  int agents = 0;
  int arrived = 0;
  double p50_s = 0;
  double p99_s = 0;
  double max_s = 0;
};

std::string PolicyYaml(int n) {
  return fmt::format(
      "name: fanout-{}\nregistered_media:\n  - serial: \"BENCH{:04d}\"\n    vid_pid: "
      "\"0781:5581\"\nrules:\n  - name: registered\n    match:\n      registered_media: true\n"
      "    action: allow\n",
      n, n);
}

// Applies a policy to the bench group and waits until each of `watchers`
// has its version.
std::optional<FanoutFigures> Change(v1::AdminService::Stub& admin,
                                    const std::vector<std::unique_ptr<Watcher>>& watchers,
                                    std::size_t count, int n, std::atomic<int>& arrivals) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
  v1::ApplyPolicyRequest req;
  req.set_group(kGroup);
  req.set_policy_yaml(PolicyYaml(n));
  req.set_source_name("fanout_bench.yaml");
  // The version is known before the call: one per change, from 1.
  const auto version = static_cast<uint64_t>(n);
  arrivals.store(0);
  for (std::size_t i = 0; i < count; ++i) watchers[i]->Expect(version);
  v1::ApplyPolicyResponse resp;
  const auto start = Steady::now();
  const grpc::Status s = admin.ApplyPolicy(&ctx, req, &resp);
  if (!s.ok() || resp.version() != version) {
    fmt::print("  ApplyPolicy failed: {} (version {})\n", s.error_message(), resp.version());
    return std::nullopt;
  }
  const auto deadline = Steady::now() + seconds(60);
  while (arrivals.load() < static_cast<int>(count) && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  FanoutFigures f;
  f.agents = static_cast<int>(count);
  std::vector<double> lat;
  for (std::size_t i = 0; i < count; ++i) {
    const int64_t at = watchers[i]->arrived_ns();
    if (at == 0) continue;
    lat.push_back(static_cast<double>(at - start.time_since_epoch().count()) / 1e9);
  }
  f.arrived = static_cast<int>(lat.size());
  f.max_s = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  f.p50_s = NearestRank(lat, 0.50);
  f.p99_s = NearestRank(lat, 0.99);
  return f;
}

void PrintFanout(std::string_view label, const FanoutFigures& f) {
  fmt::print("  {:<34} {:>7} {:>9} {:>9} {:>9} {:>9}\n", label, f.agents, f.arrived,
             fmt::format("{:.3f}", f.p50_s), fmt::format("{:.3f}", f.p99_s),
             fmt::format("{:.3f}", f.max_s));
}

// Connects and starts watching watchers [from, to); returns false when not
// every stream was open at the collector within the timeout.
bool OpenStreams(CollectorProcess& collector, std::vector<std::unique_ptr<Watcher>>& watchers,
                 std::size_t from, std::size_t to, uint64_t current_version,
                 double* seconds_taken) {
  const auto start = Steady::now();
  constexpr std::size_t kChunk = 500;
  for (std::size_t c = from; c < to; c += kChunk) {
    const std::size_t end = std::min(to, c + kChunk);
    for (std::size_t i = c; i < end; ++i) watchers[i]->channel().GetState(true);
    const auto deadline = std::chrono::system_clock::now() + seconds(120);
    for (std::size_t i = c; i < end; ++i) {
      if (!watchers[i]->channel().WaitForConnected(deadline)) {
        fmt::print("  channel {} did not connect\n", i);
        return false;
      }
    }
    for (std::size_t i = c; i < end; ++i) watchers[i]->Start(current_version);
  }
  // Open at the collector: it logs every watch it registers.
  const auto deadline = Steady::now() + seconds(120);
  std::size_t open = 0;
  while (Steady::now() < deadline) {
    open = CountOccurrences(collector.Log(), "watching policy of group");
    if (open >= to) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  *seconds_taken = std::chrono::duration<double>(Steady::now() - start).count();
  if (open < to) {
    fmt::print("  only {} of {} streams open at the collector\n", open, to);
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  const auto opt = ParseOptions(argc, argv);
  if (!opt) {
    fmt::print(stderr, "usage: fanout_bench [--agents N] [--baseline B]\n");
    return 2;
  }
  DisableMutexDeadlockDetection();
  const rlim_t fds = RaiseFdLimit();
  // Each connection is one fd here and one in the collector (which inherits
  // the limit), plus a few for gRPC's own use.
  if (fds < static_cast<rlim_t>(opt->agents) + 200) {
    fmt::print("fd limit {} is too low for {} connections\n", fds, opt->agents);
    return 1;
  }
  fmt::print("policy fan-out: {} agents watching (baseline {}), fd limit {}\n", opt->agents,
             opt->baseline, fds);

  TestPki pki;
  TempDir dir;
  const std::string ca_pem = ReadWholeFile(pki.ca_file());
  std::vector<std::unique_ptr<Watcher>> watchers;
  watchers.reserve(static_cast<std::size_t>(opt->agents));
  const auto issue_start = Steady::now();
  std::vector<std::pair<std::string, TlsPaths>> creds;
  for (int i = 0; i < opt->agents; ++i) {
    const std::string id = fmt::format("fan-{:05d}", i);
    creds.emplace_back(id, pki.IssueTerminal(id, fmt::format("{}/g{:02d}", kGroup, i % 50)));
  }
  fmt::print("issued {} terminal certificates (ECDSA P-256) in {:.2f} s\n", opt->agents,
             std::chrono::duration<double>(Steady::now() - issue_start).count());

  CollectorProcess collector(pki, dir);
  if (!collector.Start()) {
    fmt::print("collector did not start:\n{}\n", collector.Log());
    return 1;
  }
  const pid_t pid = collector.process().pid();
  const double rss_idle = StatusMb(pid, "VmRSS");
  for (const auto& [id, paths] : creds) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ca_pem;
    tls.pem_private_key = ReadWholeFile(paths.key);
    tls.pem_cert_chain = ReadWholeFile(paths.cert);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    watchers.push_back(std::make_unique<Watcher>(
        grpc::CreateCustomChannel(collector.address(), grpc::SslCredentials(tls), args), id));
  }
  std::atomic<int> arrivals{0};
  for (auto& w : watchers) w->set_arrivals(&arrivals);
  auto admin = collector.Admin(pki.Admin());

  int status = 0;
  double took = 0;
  fmt::print("  {:<34} {:>7} {:>9} {:>9} {:>9} {:>9}\n", "", "agents", "arrived", "p50 s", "p99 s",
             "max s");
  std::optional<FanoutFigures> base;
  std::optional<FanoutFigures> full;
  double rss_streams = 0;
  if (!OpenStreams(collector, watchers, 0, static_cast<std::size_t>(opt->baseline), 0, &took)) {
    status = 1;
  } else {
    base = Change(*admin, watchers, static_cast<std::size_t>(opt->baseline), 1, arrivals);
    if (!base || base->arrived != base->agents) status = 1;
    if (base) PrintFanout(fmt::format("baseline: one change, {} watching", opt->baseline), *base);
  }
  if (status == 0) {
    if (!OpenStreams(collector, watchers, static_cast<std::size_t>(opt->baseline), watchers.size(),
                     1, &took)) {
      status = 1;
    } else {
      rss_streams = StatusMb(pid, "VmRSS");
      full = Change(*admin, watchers, watchers.size(), 2, arrivals);
      if (!full || full->arrived != full->agents) status = 1;
      if (full) PrintFanout(fmt::format("one change, {} watching", opt->agents), *full);
    }
    fmt::print("  connected and watching {} more agents in {:.1f} s\n", opt->agents - opt->baseline,
               took);
  }
  fmt::print("  collector RSS: idle {:.0f} MB, holding {} streams {:.0f} MB ({:.1f} KB/stream)\n",
             rss_idle, opt->agents, rss_streams,
             rss_streams > rss_idle ? (rss_streams - rss_idle) * 1024.0 / opt->agents : 0.0);
  if (full) {
    fmt::print("  target max <= {:.1f} s: {}; target RSS <= {:.0f} MB: {}\n", kMaxLatencyTargetS,
               full->max_s <= kMaxLatencyTargetS ? "met" : "MISSED", kRssTargetMb,
               rss_streams <= kRssTargetMb ? "met" : "MISSED");
    if (base && base->p50_s > 0) {
      fmt::print("  p50 at {} / p50 at {}: {:.1f}x\n", opt->agents, opt->baseline,
                 full->p50_s / base->p50_s);
    }
  }

  for (auto& w : watchers) w->Cancel();
  for (auto& w : watchers) w->WaitDone(seconds(30));
  return status;
}

}  // namespace
}  // namespace mamori::bench

int main(int argc, char** argv) { return mamori::bench::Main(argc, argv); }
