// revoke_bench: how long after a terminal is revoked its policy stream ends,
// next to the policy fan-out time measured in the same run as a baseline.
//
//   revoke_bench [--agents N]
//
// N simulated agents in this one process, each with its own certificate and
// its own TLS connection, hold WatchPolicy open. First one policy change
// goes out to all of them (the baseline: from just before ApplyPolicy to the
// arrival of the version at each agent). Then every terminal is revoked, one
// RevokeTerminal call after another; the time of each is from the return of
// its RevokeTerminal call to the end of that agent's stream (negative when
// the stream ended before the call returned). Median and max of both.
//
// Target (printed, not asserted): every stream ended within 1 s of the
// revocation. The exit code is non-zero only when the run failed.

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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

constexpr double kTargetS = 1.0;
constexpr char kGroup[] = "bench";

int64_t NowNs() { return Steady::now().time_since_epoch().count(); }

// One agent's policy stream: when a version arrived, when the stream ended
// and with what status.
class Watcher final : public grpc::ClientReadReactor<v1::PolicyBundle> {
 public:
  explicit Watcher(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), stub_(v1::AgentService::NewStub(channel_)) {}
  grpc::Channel& channel() { return *channel_; }

  void Start() {
    stub_->async()->WatchPolicy(&ctx_, &request_, this);
    StartRead(&bundle_);
    StartCall();
  }
  void Expect(uint64_t version) { expected_.store(version); }
  int64_t arrived_ns() const { return arrived_ns_.load(); }
  int64_t ended_ns() const { return ended_ns_.load(); }
  void Cancel() { ctx_.TryCancel(); }
  bool WaitDone(Steady::duration timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  grpc::StatusCode code() {
    std::lock_guard lock(mu_);
    return status_.error_code();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (bundle_.version() == expected_.load()) arrived_ns_.store(NowNs());
    StartRead(&bundle_);
  }
  void OnDone(const grpc::Status& s) override {
    ended_ns_.store(NowNs());
    std::lock_guard lock(mu_);
    status_ = s;
    done_ = true;
    cv_.notify_all();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext ctx_;
  v1::WatchPolicyRequest request_;
  v1::PolicyBundle bundle_;
  std::atomic<uint64_t> expected_{0};
  std::atomic<int64_t> arrived_ns_{0};
  std::atomic<int64_t> ended_ns_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  grpc::Status status_;
};

void PrintRow(std::string_view label, std::vector<double> v, int of) {
  const double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
  fmt::print("  {:<44} {:>4}/{:<4} {:>9} {:>9}\n", label, v.size(), of,
             fmt::format("{:.3f}", NearestRank(v, 0.50)), fmt::format("{:.3f}", max));
}

int Main(int argc, char** argv) {
  int agents = 100;
  if (argc == 3 && std::string_view(argv[1]) == "--agents") {
    if (!ParseIntArg(argv[2], 1, 5000, &agents)) argc = 0;
  }
  if (argc != 1 && argc != 3) {
    fmt::print(stderr, "usage: revoke_bench [--agents N]\n");
    return 2;
  }
  DisableMutexDeadlockDetection();
  fmt::print("revocation: {} agents watching policy, revoked one after another\n", agents);

  TestPki pki;
  TempDir dir;
  const std::string ca_pem = ReadWholeFile(pki.ca_file());
  std::vector<std::string> ids;
  std::vector<std::unique_ptr<Watcher>> watchers;
  CollectorProcess collector(pki, dir);
  std::vector<testing::TlsPaths> creds;
  for (int i = 0; i < agents; ++i) {
    ids.push_back(fmt::format("rv-{:05d}", i));
    creds.push_back(pki.IssueTerminal(ids.back(), kGroup));
  }
  if (!collector.Start()) {
    fmt::print("collector did not start:\n{}\n", collector.Log());
    return 1;
  }
  for (const auto& paths : creds) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ca_pem;
    tls.pem_private_key = ReadWholeFile(paths.key);
    tls.pem_cert_chain = ReadWholeFile(paths.cert);
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    watchers.push_back(std::make_unique<Watcher>(
        grpc::CreateCustomChannel(collector.address(), grpc::SslCredentials(tls), args)));
  }
  for (auto& w : watchers) {
    if (!w->channel().WaitForConnected(std::chrono::system_clock::now() + seconds(60))) {
      fmt::print("an agent did not connect\n");
      return 1;
    }
    w->Start();
  }
  const bool open = testing::WaitUntil(
      [&] {
        const std::string log = collector.Log();
        std::size_t n = 0;
        for (auto p = log.find("watching policy of group"); p != std::string::npos;
             p = log.find("watching policy of group", p + 1)) {
          ++n;
        }
        return n >= static_cast<std::size_t>(agents);
      },
      seconds(60));
  if (!open) {
    fmt::print("not every stream opened at the collector\n");
    return 1;
  }
  auto admin = collector.Admin(pki.Admin());
  int status = 0;

  // Baseline: one policy change to every watcher.
  for (auto& w : watchers) w->Expect(1);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
    v1::ApplyPolicyRequest req;
    req.set_group(kGroup);
    req.set_policy_yaml("name: revoke-bench\nrules: []\n");
    v1::ApplyPolicyResponse resp;
    const int64_t start = NowNs();
    const grpc::Status s = admin->ApplyPolicy(&ctx, req, &resp);
    if (!s.ok()) {
      fmt::print("ApplyPolicy failed: {}\n", s.error_message());
      return 1;
    }
    testing::WaitUntil(
        [&] {
          return std::all_of(watchers.begin(), watchers.end(),
                             [](const auto& w) { return w->arrived_ns() != 0; });
        },
        seconds(30));
    std::vector<double> fanout;
    for (auto& w : watchers) {
      if (w->arrived_ns() != 0)
        fanout.push_back(static_cast<double>(w->arrived_ns() - start) / 1e9);
    }
    fmt::print("  {:<44} {:>9} {:>9} {:>9}\n", "", "n", "median s", "max s");
    PrintRow("baseline: policy change -> arrival", fanout, agents);
    if (static_cast<int>(fanout.size()) != agents) status = 1;
  }

  // Every terminal revoked, one call after another.
  std::vector<int64_t> returned(watchers.size(), 0);
  std::vector<double> rpc;
  for (std::size_t i = 0; i < watchers.size(); ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
    v1::RevokeTerminalRequest req;
    req.set_terminal_id(ids[i]);
    req.set_reason("revoke_bench");
    v1::RevocationView view;
    const int64_t start = NowNs();
    const grpc::Status s = admin->RevokeTerminal(&ctx, req, &view);
    returned[i] = NowNs();
    rpc.push_back(static_cast<double>(returned[i] - start) / 1e9);
    if (!s.ok() || view.streams_closed() != 1) {
      fmt::print("RevokeTerminal {} failed: {} (streams closed {})\n", ids[i], s.error_message(),
                 view.streams_closed());
      status = 1;
    }
  }
  std::vector<double> ended;
  int denied = 0;
  for (std::size_t i = 0; i < watchers.size(); ++i) {
    if (!watchers[i]->WaitDone(seconds(10))) continue;
    ended.push_back(static_cast<double>(watchers[i]->ended_ns() - returned[i]) / 1e9);
    if (watchers[i]->code() == grpc::StatusCode::PERMISSION_DENIED) ++denied;
  }
  PrintRow("RevokeTerminal call (store + audit + close)", rpc, agents);
  PrintRow("revoke returned -> stream ended", ended, agents);
  const double max = ended.empty() ? 0 : *std::max_element(ended.begin(), ended.end());
  fmt::print("  streams ended with PERMISSION_DENIED: {}/{}; target max <= {:.1f} s: {}\n", denied,
             agents, kTargetS,
             static_cast<int>(ended.size()) == agents && max <= kTargetS ? "met" : "MISSED");
  if (static_cast<int>(ended.size()) != agents || denied != agents) status = 1;
  for (auto& w : watchers) w->Cancel();
  for (auto& w : watchers) w->WaitDone(seconds(10));
  return status;
}

}  // namespace
}  // namespace mamori::bench

int main(int argc, char** argv) { return mamori::bench::Main(argc, argv); }
