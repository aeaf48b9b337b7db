// mamori-agent: enforces the USB device policy on a terminal and reports to
// the collector. Everything is wired here; components get their
// collaborators through their constructors.

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "agent/core/agent_config.h"
#include "agent/core/agent_core.h"
#include "agent/core/event_journal.h"
#include "agent/core/host_info.h"
#include "agent/core/policy_cache.h"
#include "agent/core/policy_verifier.h"
#include "agent/core/reporter.h"
#include "agent/platform/linux/block_guard.h"
#include "agent/platform/linux/sysfs.h"
#include "agent/platform/linux/sysfs_device_backend.h"
#include "agent/platform/linux/uevent_source.h"
#include "agent/platform/sim/sim_device_backend.h"
#include "agent/transport/grpc_collector_client.h"
#include "common/clock.h"
#include "common/credentials.h"
#include "common/logging.h"
#include "common/policy.h"
#include "common/policy_signing.h"
#include "proto/grpc_logging.h"

namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Time allowed at shutdown for the last events (AGENT_STOPPING among them).
constexpr auto kStopFlushBudget = 2s;

int Fail(const std::string& message) {
  std::cerr << "mamori-agent: " << message << "\n";
  return kExitFailure;
}

int Run(const mamori::AgentConfig& config, const sigset_t& signals) {
  const mamori::SystemClock clock;
  auto log = mamori::GetLogger("agent");

  // Fail fast on TLS problems: an expired or mismatched certificate would
  // otherwise only show as endless reconnects.
  auto tls = mamori::LoadTlsMaterial(config.tls, clock.NowMs());
  if (!tls.ok()) return Fail(tls.error().message);
  auto policy_key = mamori::PolicyPublicKey::LoadFile(config.policy_public_key_file);
  if (!policy_key.ok()) return Fail("policy.public_key_file " + policy_key.error().message);
  const mamori::PinnedKeyPolicyVerifier verifier(*policy_key);

  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) return Fail("state_dir " + config.state_dir + ": cannot create: " + ec.message());
  // Holds the seq counters; nobody else needs to read it.
  ::chmod(config.state_dir.c_str(), 0700);

  mamori::AgentCoreOptions core_options;
  core_options.mode = config.mode;
  core_options.report_interval_s = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(config.report_interval).count());
  const mamori::HostInfo host = mamori::ReadHostInfo();
  core_options.hostname = host.hostname;
  core_options.os = host.os;
  if (!config.policy_file.empty()) {
    auto text = mamori::ReadFileToString(config.policy_file);
    if (!text.ok()) return Fail("policy_file: " + text.error().message);
    auto policy = mamori::ParsePolicy(*text, config.policy_file);
    if (!policy.ok()) return Fail(policy.error().message);
    core_options.local_policy = std::move(*policy);
    core_options.local_policy_source = config.policy_file;
  }

  auto outbox = mamori::JournalEventOutbox::Open(config.state_dir, clock, config.outbox_max_events);
  if (!outbox.ok()) return Fail(outbox.error().message);

  std::unique_ptr<mamori::DeviceBackend> backend;
  if (config.device_backend == "linux") {
    auto sysfs = std::make_unique<mamori::SysfsImpl>(config.sysfs_root);
    auto block_guard = std::make_unique<mamori::BlockGuardImpl>(config.dev_root, *sysfs);
    backend = std::make_unique<mamori::SysfsDeviceBackend>(
        std::move(sysfs), std::make_unique<mamori::NetlinkUeventSource>(), std::move(block_guard),
        /*audit_only=*/config.mode == mamori::EnforcementMode::kAuditOnly);
  } else {
    backend = std::make_unique<mamori::SimulatedDeviceBackend>(config.device_directory);
  }

  mamori::GrpcCollectorOptions client_options;
  client_options.address = config.collector_address;
  client_options.server_name = config.server_name;
  client_options.ca_pem = tls->ca_pem;
  client_options.cert_pem = tls->cert_pem;
  client_options.key_pem = tls->key_pem;
  client_options.keepalive_time = config.keepalive_time;
  client_options.keepalive_timeout = config.keepalive_timeout;
  client_options.reconnect_backoff_initial = config.backoff_initial;
  client_options.reconnect_backoff_max = config.backoff_max;
  mamori::GrpcCollectorClient client(client_options);

  mamori::FilePolicyCache policy_cache(config.state_dir);
  mamori::AgentCore core(*backend, **outbox, clock, verifier, policy_cache,
                         std::move(core_options));

  mamori::ReporterOptions reporter_options;
  reporter_options.interval = config.report_interval;
  reporter_options.jitter_percent = config.jitter_percent;
  reporter_options.backoff_initial = config.backoff_initial;
  reporter_options.backoff_max = config.backoff_max;
  mamori::Reporter reporter(core, **outbox, client, reporter_options);
  core.SetChangeListener([&reporter] { reporter.NotifyChange(); });

  if (mamori::Status s = core.Start(); !s.ok()) return Fail(s.error().message);
  reporter.Start();
  log->info("mamori-agent {} started: collector {}, terminal certificate {}, pinned policy key {}",
            MAMORI_VERSION, config.collector_address, tls->cert.subject, policy_key->key_id());

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  log->info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");

  core.Stop();
  core.RecordStopping(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  const auto deadline = std::chrono::steady_clock::now() + kStopFlushBudget;
  client.SetCallTimeout(std::chrono::duration_cast<std::chrono::milliseconds>(kStopFlushBudget));
  // A call already in flight carries the long timeout; cut it off when the
  // budget is spent so shutdown stays bounded.
  std::jthread guard([&client, deadline](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    if (!cv.wait_until(lock, stop, deadline, [] { return false; })) client.CancelAll();
  });
  reporter.Stop(deadline);
  guard.request_stop();
  guard.join();
  log->info("stopped");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  mamori::DisableMutexDeadlockDetection();
  // Block the stop signals before any thread exists so that every thread
  // inherits the mask and only sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  po::options_description desc("Usage: mamori-agent --config FILE [options]\nOptions");
  desc.add_options()("help,h", "show this help and exit")("version", "show the version and exit")(
      "config,c", po::value<std::string>(), "agent configuration file (YAML)")(
      "audit-only", "decide and report, but never enforce")(
      "log-level", po::value<std::string>(),
      "trace, debug, info, warn, error, critical or off (overrides log.level)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "mamori-agent: " << e.what() << "\n" << desc << "\n";
    return kExitUsage;
  }
  if (vm.count("help") != 0) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (vm.count("version") != 0) {
    std::cout << "mamori-agent " << MAMORI_VERSION << "\n";
    return kExitOk;
  }
  if (vm.count("config") == 0) {
    std::cerr << "mamori-agent: --config is required\n" << desc << "\n";
    return kExitUsage;
  }

  std::optional<std::string> log_level;
  if (vm.count("log-level") != 0) {
    log_level = vm["log-level"].as<std::string>();
    bool known = false;
    for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
      known = known || *log_level == l;
    }
    if (!known) {
      std::cerr << "mamori-agent: --log-level: unknown level '" << *log_level
                << "' (expected trace, debug, info, warn, error, critical or off)\n";
      return kExitUsage;
    }
  }

  try {
    auto config = mamori::LoadAgentConfig(vm["config"].as<std::string>());
    if (!config.ok()) return Fail(config.error().message);
    if (vm.count("audit-only") != 0) config->mode = mamori::EnforcementMode::kAuditOnly;
    if (log_level) config->log.level = *log_level;
    if (mamori::Status s = mamori::SetupLogging(config->log); !s.ok()) {
      return Fail("log: " + s.error().message);
    }
    return Run(*config, signals);
  } catch (const std::exception& e) {
    return Fail(std::string("unexpected error: ") + e.what());
  }
}
