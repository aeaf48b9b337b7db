// enrollment_bench: how fast the collector enrolls terminals that arrive
// all at once (a prefecture's MSI rollout after the morning boot).
//
//   enrollment_bench [--clients N]
//
// N clients in this process, each with its own P-256 key (made before the
// clock starts) and its own TLS connection, call Enroll at the same moment
// against a real collector process with one token of N uses. Each call's
// time includes its TLS handshake. The baseline, same run, same collector,
// same port and concurrency: N calls of a method the enrollment port does
// not serve (answered UNIMPLEMENTED by gRPC without touching the store),
// i.e. the cost of TLS and gRPC alone; and bare SignCsr in this process,
// the cost of the signature alone. Printed: calls/s, p50, p99, max.
//
// The exit code is non-zero only when the run failed (the collector did not
// start, an enrollment failed, or the count of certificates is wrong).

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/csr.h"
#include "mamori/v1/admin.grpc.pb.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "mamori/v1/enrollment.grpc.pb.h"
#include "proto/wire/grpc_logging.h"  // DisableMutexDeadlockDetection
#include "tests/bench/bench_support.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace mamori::bench {
namespace {

using Steady = std::chrono::steady_clock;
using testing::CollectorProcess;
using testing::ReadWholeFile;
using testing::TempDir;
using testing::TestPki;

struct Figures {
  int ok = 0;
  int failed = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
};

void Print(std::string_view what, Figures f) {
  const double p50 = NearestRank(f.latencies_ms, 0.50);
  const double p99 = NearestRank(f.latencies_ms, 0.99);
  const double max = NearestRank(f.latencies_ms, 1.0);
  fmt::print(
      "  {:<34} {:>6} ok {:>4} failed  {:>8.1f} calls/s  p50 {:>7.1f} ms  p99 {:>7.1f} ms  "
      "max {:>7.1f} ms\n",
      what, f.ok, f.failed, f.ok / std::max(f.seconds, 1e-9), p50, p99, max);
}

// Runs `call(i)` for i in [0, n), each on its own thread, released together.
Figures Burst(int n, const std::function<bool(int)>& call) {
  Figures f;
  f.latencies_ms.assign(static_cast<std::size_t>(n), 0);
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return go; });
      }
      const auto start = Steady::now();
      if (call(i)) ++ok;
      f.latencies_ms[static_cast<std::size_t>(i)] =
          std::chrono::duration<double, std::milli>(Steady::now() - start).count();
    });
  }
  const auto start = Steady::now();
  {
    std::lock_guard lock(mu);
    go = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  f.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  f.ok = ok.load();
  f.failed = n - f.ok;
  return f;
}

int Main(int argc, char** argv) {
  int clients = 1000;
  if (argc == 3 && std::string_view(argv[1]) == "--clients") {
    if (!ParseIntArg(argv[2], 1, 10000, &clients)) argc = 0;
  }
  if (argc != 1 && argc != 3) {
    fmt::print(stderr, "usage: enrollment_bench [--clients N]\n");
    return 2;
  }
  DisableMutexDeadlockDetection();
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  fmt::print("enrollment: {} clients at once, each with its own key and connection\n", clients);

  TestPki pki;
  TempDir dir;
  const std::string port_file = dir.File("enroll.port");
  CollectorProcess collector(pki, dir,
                             "enrollment:\n  listen: 127.0.0.1:0\n"
                             "  port_file: " +
                                 port_file + "\n  issuing_ca_cert_file: " + pki.dir() +
                                 "/ca.pem\n  issuing_ca_key_file: " + pki.dir() +
                                 "/ca.key\n  max_attempts_per_minute: 10000\n");
  if (!collector.Start()) {
    fmt::print("collector did not start:\n{}\n", collector.Log());
    return 1;
  }
  const int enroll_port = std::stoi(ReadWholeFile(port_file));
  const std::string target = "127.0.0.1:" + std::to_string(enroll_port);

  std::string token;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CreateEnrollTokenRequest req;
    req.set_group("bench");
    req.set_uses(static_cast<uint32_t>(clients));
    v1::CreateEnrollTokenResponse resp;
    const grpc::Status s = collector.Admin(pki.Admin())->CreateEnrollToken(&ctx, req, &resp);
    if (!s.ok()) {
      fmt::print("cannot create a token: {}\n", s.error_message());
      return 1;
    }
    token = resp.token_text();
  }

  std::vector<KeyAndCsr> keys;
  keys.reserve(static_cast<std::size_t>(clients));
  for (int i = 0; i < clients; ++i) keys.push_back(*MakeKeyAndCsr("bench"));

  const std::string ca_pem = ReadWholeFile(pki.ca_file());
  const auto channel = [&] {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ca_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(std::string(TestPki::kServerName));
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(target, grpc::SslCredentials(opts), args);
  };
  const auto deadline = [](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  };

  // Baseline 1: TLS + gRPC only.
  Figures noop = Burst(clients, [&](int) {
    auto stub = v1::AgentService::NewStub(channel());
    grpc::ClientContext ctx;
    deadline(&ctx);
    v1::StateAck ack;
    return stub->ReportState(&ctx, v1::StateReport(), &ack).error_code() ==
           grpc::StatusCode::UNIMPLEMENTED;
  });

  Figures enroll = Burst(clients, [&](int i) {
    auto stub = v1::EnrollmentService::NewStub(channel());
    grpc::ClientContext ctx;
    deadline(&ctx);
    v1::EnrollRequest req;
    req.set_token(token);
    req.set_csr_pem(keys[static_cast<std::size_t>(i)].csr_pem);
    req.set_hostname(fmt::format("bench-{:05d}", i));
    v1::IssuedCertificate out;
    const grpc::Status s = stub->Enroll(&ctx, req, &out);
    if (!s.ok()) fmt::print(stderr, "enroll {}: {}\n", i, s.error_message());
    return s.ok();
  });

  // Baseline 2: the signature alone, one thread.
  Figures sign;
  {
    IssueRequest r;
    r.id = "bench";
    r.validity_seconds = 3600;
    const int n = std::min(clients, 1000);
    const auto start = Steady::now();
    for (int i = 0; i < n; ++i) {
      const auto t0 = Steady::now();
      if (SignCsr(pki.ca(), keys[static_cast<std::size_t>(i)].csr_pem, r).ok()) ++sign.ok;
      sign.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
    }
    sign.seconds = std::chrono::duration<double>(Steady::now() - start).count();
    sign.failed = n - sign.ok;
  }

  Print("baseline: unserved call, same TLS", noop);
  Print("Enroll (token, CSR, sign, commit)", enroll);
  Print("baseline: bare SignCsr, 1 thread", sign);
  const bool ok = enroll.failed == 0 && noop.failed == 0;
  if (!ok) fmt::print("FAILED: {} enrollment(s) failed\n", enroll.failed);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace mamori::bench

int main(int argc, char** argv) { return mamori::bench::Main(argc, argv); }
