// mamori-agent: enforces the USB device policy on a terminal and reports to
// the collector. Everything is wired here; components get their
// collaborators through their constructors.

#include <pthread.h>
#include <signal.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "agent/app/agent_config.h"
#include "agent/app/collector_link.h"
#include "agent/core/agent_core.h"
#include "agent/platform/linux/block_guard.h"
#include "agent/platform/linux/sysfs.h"
#include "agent/platform/linux/sysfs_device_backend.h"
#include "agent/platform/linux/uevent_source.h"
#include "agent/platform/sim/sim_device_backend.h"
#include "common/base/clock.h"
#include "common/base/exit_status.h"
#include "common/base/logging.h"
#include "proto/wire/grpc_logging.h"

namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;

using mamori::kExitFailure;
using mamori::kExitOk;
using mamori::kExitUsage;

// Time allowed at shutdown for the last events (AGENT_STOPPING among them).
constexpr auto kStopFlushBudget = 2s;

int Fail(const std::string& message) { return mamori::Fail("mamori-agent", message); }

// Without the running kernel's module aliases, vendor-specific network,
// Wi-Fi, Bluetooth and serial adapters are `other` (allowed under the
// built-in default): loud, so monitoring sees it.
mamori::UsbDriverClasses LoadDriverClasses(spdlog::logger& log) {
  auto drivers = mamori::UsbDriverClasses::LoadRunningKernel();
  if (!drivers.ok()) {
    log.error("cannot read the kernel's module aliases ({}); vendor-specific adapters are "
              "classified by their class codes only",
              drivers.error().message);
    return {};
  }
  log.info("{} USB driver aliases of network, Wi-Fi, Bluetooth, serial and storage drivers loaded",
           drivers->size());
  return std::move(*drivers);
}

int Run(const mamori::AgentConfig& config, const sigset_t& signals) {
  const mamori::SystemClock clock;
  auto log = mamori::GetLogger("agent");

  auto link = mamori::CollectorLink::Open(config, clock);
  if (!link.ok()) return Fail(link.error().message);

  std::unique_ptr<mamori::DeviceBackend> backend;
  if (config.device_backend == "linux") {
    auto sysfs = std::make_unique<mamori::SysfsImpl>(config.sysfs_root);
    auto block_guard = std::make_unique<mamori::BlockGuardImpl>(config.dev_root, *sysfs);
    backend = std::make_unique<mamori::SysfsDeviceBackend>(
        std::move(sysfs), std::make_unique<mamori::NetlinkUeventSource>(), std::move(block_guard),
        /*audit_only=*/config.mode == mamori::EnforcementMode::kAuditOnly, LoadDriverClasses(*log));
  } else {
    backend = std::make_unique<mamori::SimulatedDeviceBackend>(config.device_directory);
  }

  mamori::AgentCore core(*backend, (*link)->outbox(), clock, (*link)->verifier(),
                         (*link)->policy_cache(), (*link)->core_options());
  core.SetExceptionStore((*link)->exception_store());
  (*link)->AttachReporter(core);

  if (mamori::Status s = core.Start(); !s.ok()) return Fail(s.error().message);
  (*link)->StartReporting();
  log->info("mamori-agent {} started: collector {}, terminal certificate {}, pinned policy key {}",
            MAMORI_VERSION, config.collector_address, (*link)->cert_subject(),
            (*link)->policy_key_id());

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  log->info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");

  core.Stop();
  core.RecordStopping(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*link)->StopReporting(std::chrono::duration_cast<std::chrono::milliseconds>(kStopFlushBudget));
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
    if (mamori::Status s = mamori::CheckLogLevel(*log_level); !s.ok()) {
      std::cerr << "mamori-agent: --log-level: " << s.error().message << "\n";
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
