// mamori-collector: receives device state and events from agents over
// mutual TLS, stores them, computes compliance and serves the admin API.

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/base/exit_status.h"
#include "common/base/file_io.h"
#include "common/base/logging.h"
#include "common/crypto/credentials.h"
#include "common/policy/policy_signing.h"
#include "proto/wire/grpc_logging.h"
#include "server/app/collector_config.h"
#include "server/app/collector_server.h"
#include "server/web/web_credentials.h"

namespace po = boost::program_options;

namespace {

using mamori::kExitFailure;
using mamori::kExitOk;
using mamori::kExitUsage;

constexpr std::string_view kProgram = "mamori-collector";

// The command line; an exit status instead when there is nothing to run
// (--help, --version) or it is wrong.
struct Options {
  std::string config;
  std::optional<std::string> log_level;
  bool check_config = false;
};

std::variant<Options, int> ParseOptions(int argc, char** argv) {
  po::options_description opts(
      "Usage: mamori-collector --config FILE [options]\n\n"
      "Receives device state and events from Mamori agents over mutual TLS,\n"
      "stores them in SQLite, computes compliance and serves the admin API.\n\n"
      "Options");
  opts.add_options()("help,h", "show this help and exit")("version", "print the version and exit")(
      "config,c", po::value<std::string>(), "collector configuration (YAML)")(
      "check-config", "validate the configuration and credentials, then exit")(
      "log-level", po::value<std::string>(),
      "override log.level (trace|debug|info|warn|error|critical|off)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << kProgram << ": " << e.what() << "\nTry 'mamori-collector --help'.\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kExitOk;
  }
  if (vm.count("version")) {
    std::cout << kProgram << " " << MAMORI_VERSION << "\n";
    return kExitOk;
  }
  if (!vm.count("config")) {
    std::cerr << kProgram << ": --config FILE is required\nTry 'mamori-collector --help'.\n";
    return kExitUsage;
  }
  Options o;
  o.config = vm["config"].as<std::string>();
  o.check_config = vm.count("check-config") != 0;
  if (vm.count("log-level")) {
    o.log_level = vm["log-level"].as<std::string>();
    if (mamori::Status s = mamori::CheckLogLevel(*o.log_level); !s.ok()) {
      std::cerr << kProgram << ": --log-level: " << s.error().message << "\n";
      return kExitUsage;
    }
  }
  return o;
}

// --check-config: what the collector would load at start, without serving.
int CheckConfig(const mamori::CollectorConfig& config, const mamori::Clock& clock) {
  auto tls = mamori::LoadTlsMaterial(config.tls, clock.NowMs());
  if (!tls.ok()) return mamori::Fail(kProgram, tls.error().message);
  auto key = mamori::PolicySigningKey::LoadFile(config.policy_signing_key_file);
  if (!key.ok()) {
    return mamori::Fail(kProgram, "policy.signing_key_file " + key.error().message);
  }
  if (!config.enrollment.issuing_ca_cert_file.empty()) {
    auto issuer = mamori::LoadIssuingCa(config.enrollment, tls->ca_pem, clock.NowMs());
    if (!issuer.ok()) return mamori::Fail(kProgram, issuer.error().message);
  }
  if (config.web.enabled) {
    if (auto s = mamori::web::CheckWebCredentials(config.web, clock.NowMs()); !s.ok()) {
      return mamori::Fail(kProgram, s.error().message);
    }
  }
  std::cout << "configuration OK\n";
  return kExitOk;
}

mamori::Status WritePortFile(const std::string& path, int port) {
  if (path.empty()) return mamori::Status::Ok();
  return mamori::WriteFileAtomic(path, std::to_string(port) + "\n");
}

// Serves until SIGINT or SIGTERM.
int Serve(const mamori::CollectorConfig& config, const mamori::Clock& clock) {
  const auto log = mamori::GetLogger("collector");
  // Block the shutdown signals in every thread; this one waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = mamori::CollectorServer::Start(config, &clock);
  if (!server.ok()) {
    log->error("cannot start: {}", server.error().message);
    return mamori::Fail(kProgram, server.error().message);
  }
  // Written before the main port file, which tells that the collector is up.
  if (auto s = WritePortFile(config.enrollment.port_file, (*server)->enrollment_port()); !s) {
    log->error("cannot write enrollment port file: {}", s.error().message);
    return kExitFailure;
  }
  if (auto s = WritePortFile(config.port_file, (*server)->port()); !s) {
    log->error("cannot write port file: {}", s.error().message);
    return kExitFailure;
  }
  if (auto s = WritePortFile(config.web.port_file, (*server)->web_port()); !s) {
    log->error("cannot write web port file: {}", s.error().message);
    return kExitFailure;
  }

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Shutdown();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  mamori::DisableMutexDeadlockDetection();
  auto options = ParseOptions(argc, argv);
  if (const int* status = std::get_if<int>(&options)) return *status;
  const Options& o = std::get<Options>(options);

  auto config = mamori::LoadCollectorConfig(o.config);
  if (!config.ok()) {
    return mamori::Fail(kProgram, "invalid configuration:\n" + config.error().message);
  }
  if (o.log_level) config->log.level = *o.log_level;
  if (auto s = mamori::SetupLogging(config->log); !s) {
    return mamori::Fail(kProgram, s.error().message);
  }
  mamori::RouteGrpcLogging();

  mamori::SystemClock clock;
  if (o.check_config) return CheckConfig(*config, clock);
  return Serve(*config, clock);
}
