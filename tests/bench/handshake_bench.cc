// What the collector's own listener costs an accepted connection: the time
// from dialing to a connected channel (TCP, the TLS handshake with client
// certificate verification, HTTP/2 settings), through gRPC's own listener
// and through AddressedListener, interleaved so drift on a shared machine
// hits both alike.
//
//   handshake_bench [--connections N] [--threads T]

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/base/logging.h"
#include "common/crypto/credentials.h"
#include "server/tls/addressed_listener.h"
#include "server/tls/server_transport.h"
#include "tests/bench/bench_support.h"
#include "tests/support/child_process.h"
#include "tests/support/test_pki.h"

namespace mamori {
namespace {

using Micros = std::chrono::duration<double, std::micro>;

class WallClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

struct Server {
  grpc::CallbackGenericService generic;
  std::unique_ptr<AddressedListener> listener;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

std::unique_ptr<Server> StartServer(const TlsMaterial& tls, const Clock* clock, bool addressed) {
  auto s = std::make_unique<Server>();
  grpc::ServerBuilder builder;
  if (addressed) {
    auto listener =
        AddressedListener::Create("127.0.0.1:0", builder,
                                  [&tls, clock](HandshakePeerSource* peers) {
                                    return MakeServerCredentials(tls, clock, nullptr, peers);
                                  },
                                  {});
    if (!listener) {
      std::fprintf(stderr, "listener: %s\n", listener.error().message.c_str());
      return nullptr;
    }
    s->listener = std::move(listener).value();
    s->port = s->listener->port();
  } else {
    builder.AddListeningPort("127.0.0.1:0", MakeServerCredentials(tls, clock), &s->port);
  }
  builder.RegisterCallbackGenericService(&s->generic);
  s->server = builder.BuildAndStart();
  if (s->listener) s->listener->Start();
  return s;
}

// One new connection, dial to ready; negative when it failed.
double ConnectOnce(int port, const grpc::SslCredentialsOptions& opts) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(std::string(testing::TestPki::kServerName));
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const auto start = std::chrono::steady_clock::now();
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                           grpc::SslCredentials(opts), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return -1;
  }
  return Micros(std::chrono::steady_clock::now() - start).count();
}

int Main(int argc, char** argv) {
  int connections = 300;
  int threads = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if ((a == "--connections" && bench::ParseIntArg(argv[i + 1], 1, 100000, &connections)) ||
        (a == "--threads" && bench::ParseIntArg(argv[i + 1], 1, 64, &threads))) {
      continue;
    }
    std::fprintf(stderr, "usage: handshake_bench [--connections N] [--threads T]\n");
    return 2;
  }
  (void)SetupLoggingSinks("off", {});
  testing::TestPki pki;
  WallClock clock;
  const testing::TlsPaths server = pki.Server();
  Result<TlsMaterial> tls = LoadTlsMaterial({server.ca, server.cert, server.key}, clock.NowMs());
  if (!tls) return 1;
  const testing::TlsPaths client = pki.IssueTerminal("bench-terminal", "bench");
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = testing::ReadWholeFile(client.ca);
  opts.pem_private_key = testing::ReadWholeFile(client.key);
  opts.pem_cert_chain = testing::ReadWholeFile(client.cert);

  auto direct = StartServer(*tls, &clock, false);
  auto addressed = StartServer(*tls, &clock, true);
  if (!direct || !addressed) return 1;

  std::printf("handshake_bench: %d connections each, %d client threads, interleaved\n", connections,
              threads);
  for (int round = 0; round < 2; ++round) {  // round 0 warms both up
    std::vector<double> times[2];
    int failures[2] = {0, 0};
    std::mutex mu;
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = t; i < connections; i += threads) {
          for (int which = 0; which < 2; ++which) {
            const int w = (i + which) % 2;  // alternate which goes first
            const double us = ConnectOnce(w == 0 ? direct->port : addressed->port, opts);
            std::lock_guard lock(mu);
            if (us < 0) {
              ++failures[w];
            } else {
              times[w].push_back(us);
            }
          }
        }
      });
    }
    workers.clear();
    if (round == 0) continue;
    const char* names[2] = {"gRPC listener      ", "AddressedListener  "};
    for (int w = 0; w < 2; ++w) {
      double sum = 0;
      for (double v : times[w]) sum += v;
      const double mean = times[w].empty() ? 0 : sum / static_cast<double>(times[w].size());
      const double p50 = bench::NearestRank(times[w], 0.50);
      const double p99 = bench::NearestRank(times[w], 0.99);
      std::printf("  %s mean %8.0f us  p50 %8.0f us  p99 %8.0f us  failures %d\n", names[w], mean,
                  p50, p99, failures[w]);
    }
    if (failures[0] + failures[1] > 0) return 1;
  }
  addressed->listener->Stop();
  addressed->server->Shutdown(std::chrono::system_clock::now());
  direct->server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

}  // namespace
}  // namespace mamori

int main(int argc, char** argv) { return mamori::Main(argc, argv); }
