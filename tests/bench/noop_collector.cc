// noop_collector: the ingest benchmark's baseline. It serves
// mamori.v1.AgentService with the collector's exact transport setup (mutual
// TLS through PeerCertificateVerifier, the same channel arguments, the
// callback API) but acknowledges every ReportState at once without
// authorising, sanitising or storing anything. The gap between it and the
// real collector is what the collector's own work costs.
//
//   noop_collector --ca CA --cert CERT --key KEY --port-file FILE
//
// Listens on 127.0.0.1 with a kernel-chosen port, writes the port to FILE
// once it accepts connections, and exits on SIGTERM or SIGINT.

#include <grpcpp/server_builder.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/clock.h"
#include "common/crypto/credentials.h"
#include "mamori/v1/agent.grpc.pb.h"
#include "proto/wire/grpc_logging.h"
#include "server/app/collector_config.h"
#include "server/tls/server_transport.h"

namespace {

class NoopAgentService final : public mamori::v1::AgentService::CallbackService {
 public:
  grpc::ServerUnaryReactor* ReportState(grpc::CallbackServerContext* ctx,
                                        const mamori::v1::StateReport* /*request*/,
                                        mamori::v1::StateAck* /*response*/) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

struct Args {
  mamori::TlsFiles tls;
  std::string port_file;
};

bool ParseArgs(int argc, char** argv, Args* out) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--ca") {
      out->tls.ca_file = value;
    } else if (flag == "--cert") {
      out->tls.cert_file = value;
    } else if (flag == "--key") {
      out->tls.key_file = value;
    } else if (flag == "--port-file") {
      out->port_file = value;
    } else {
      return false;
    }
  }
  return !out->tls.ca_file.empty() && !out->tls.cert_file.empty() && !out->tls.key_file.empty() &&
         !out->port_file.empty();
}

}  // namespace

int main(int argc, char** argv) {
  // The same process set-up as mamori-collector, so the comparison is fair.
  mamori::DisableMutexDeadlockDetection();
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::cerr << "usage: noop_collector --ca CA --cert CERT --key KEY --port-file FILE\n";
    return 2;
  }

  // Blocked in every thread (gRPC's included); main collects them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  mamori::SystemClock clock;
  auto tls = mamori::LoadTlsMaterial(args.tls, clock.NowMs());
  if (!tls.ok()) {
    std::cerr << "noop_collector: " << tls.error().message << "\n";
    return 1;
  }

  NoopAgentService service;
  int port = 0;
  grpc::ServerBuilder builder;
  // The collector's own transport set-up, so a handshake and a call cost
  // the same on both servers.
  builder.AddListeningPort("127.0.0.1:0", mamori::MakeServerCredentials(*tls, &clock), &port);
  builder.RegisterService(&service);
  mamori::ApplyServerOptions(
      builder, mamori::CollectorLimits{}.max_message_bytes);  // the collector's defaults
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "noop_collector: cannot listen on 127.0.0.1\n";
    return 1;
  }
  if (auto s = mamori::WriteFileAtomic(args.port_file, std::to_string(port) + "\n"); !s) {
    std::cerr << "noop_collector: cannot write port file: " << s.error().message << "\n";
    return 1;
  }
  std::cerr << "noop_collector listening on 127.0.0.1:" << port << "\n";

  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
