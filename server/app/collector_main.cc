// mamori-collector: receives device state and events from agents over
// mutual TLS, stores them, computes compliance and serves the admin API.

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/base/logging.h"
#include "common/crypto/credentials.h"
#include "common/policy/policy_signing.h"
#include "proto/wire/grpc_logging.h"
#include "server/app/collector_config.h"
#include "server/app/collector_server.h"
#include "server/web/web_credentials.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  mamori::DisableMutexDeadlockDetection();
  po::options_description opts(
      "Usage: mamori-collector --config FILE [options]\n\n"
      "Receives device state and events from Mamori agents over mutual TLS,\n"
      "stores them in SQLite, computes compliance and serves the admin API.\n\n"
      "Options");
  opts.add_options()("help,h", "show this help and exit")("version", "print the version and exit")(
      "config,c", po::value<std::string>(), "collector configuration (YAML)")(
      "check-config", "validate the configuration and credentials, then exit")(
      "log-level", po::value<std::string>(), "override log.level (trace|debug|info|warn|error)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "mamori-collector: " << e.what() << "\nTry 'mamori-collector --help'.\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "mamori-collector " << MAMORI_VERSION << "\n";
    return 0;
  }
  if (!vm.count("config")) {
    std::cerr << "mamori-collector: --config FILE is required\nTry 'mamori-collector --help'.\n";
    return 2;
  }

  auto config = mamori::LoadCollectorConfig(vm["config"].as<std::string>());
  if (!config.ok()) {
    std::cerr << "mamori-collector: invalid configuration:\n" << config.error().message << "\n";
    return 1;
  }
  if (vm.count("log-level")) config->log.level = vm["log-level"].as<std::string>();
  if (auto s = mamori::SetupLogging(config->log); !s) {
    std::cerr << "mamori-collector: " << s.error().message << "\n";
    return 1;
  }
  mamori::RouteGrpcLogging();
  const auto log = mamori::GetLogger("collector");

  mamori::SystemClock clock;
  if (vm.count("check-config")) {
    auto tls = mamori::LoadTlsMaterial(config->tls, clock.NowMs());
    if (!tls.ok()) {
      std::cerr << "mamori-collector: " << tls.error().message << "\n";
      return 1;
    }
    auto key = mamori::PolicySigningKey::LoadFile(config->policy_signing_key_file);
    if (!key.ok()) {
      std::cerr << "mamori-collector: policy.signing_key_file " << key.error().message << "\n";
      return 1;
    }
    if (config->web.enabled) {
      if (auto s = mamori::web::CheckWebCredentials(config->web, clock.NowMs()); !s.ok()) {
        std::cerr << "mamori-collector: " << s.error().message << "\n";
        return 1;
      }
    }
    std::cout << "configuration OK\n";
    return 0;
  }

  // Block the shutdown signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = mamori::CollectorServer::Start(*config, &clock);
  if (!server.ok()) {
    log->error("cannot start: {}", server.error().message);
    std::cerr << "mamori-collector: " << server.error().message << "\n";
    return 1;
  }
  if (!config->port_file.empty()) {
    if (auto s =
            mamori::WriteFileAtomic(config->port_file, std::to_string((*server)->port()) + "\n");
        !s) {
      log->error("cannot write port file: {}", s.error().message);
      return 1;
    }
  }

  if (!config->web.port_file.empty()) {
    if (auto s = mamori::WriteFileAtomic(config->web.port_file,
                                         std::to_string((*server)->web_port()) + "\n");
        !s) {
      log->error("cannot write web port file: {}", s.error().message);
      return 1;
    }
  }

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Shutdown();
  return 0;
}
