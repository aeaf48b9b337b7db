// mamori-agent.exe: installs itself as the MamoriAgent service, runs as that
// service (or in a console for troubleshooting), enforces the policy in
// force with the same agent core and rule engine as the Linux agent, and
// reports to the collector as the Linux agent does: agent.yaml from the
// configuration directory, the event journal, the pinned-key policy
// verifier, the signed policy cache and the gRPC client
// (agent/app/collector_link.h). Everything is wired here.
#include "agent/app/windows_agent.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <shellapi.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/app/agent_config.h"
#include "agent/app/collector_link.h"
#include "agent/app/enrollment_setup.h"
#include "agent/core/agent_core.h"
#include "agent/core/unlock_service.h"
#include "agent/platform/windows/device/cm_notification.h"
#include "agent/platform/windows/device/registry_policy.h"
#include "agent/platform/windows/device/registry_watch.h"
#include "agent/platform/windows/device/windows_device_backend.h"
#include "agent/platform/windows/service/config_import.h"
#include "agent/platform/windows/service/service_host.h"
#include "agent/platform/windows/service/service_install.h"
#include "agent/platform/windows/service/service_settings.h"
#include "agent/platform/windows/service/stop_signal.h"
#include "agent/platform/windows/service/unlock_pipe.h"
#include "agent/platform/windows/service/windows_logging.h"
#include "agent/platform/windows/win32/session_user.h"
#include "agent/platform/windows/win32/wide_string.h"
#include "agent/platform/windows/win32/win32_registry.h"
#include "agent/storage/file_unlock_state.h"
#include "common/base/clock.h"
#include "common/base/exit_status.h"
#include "common/base/logging.h"
#include "common/policy/policy.h"

namespace mamori {
namespace {

constexpr std::string_view kUsage =
    "Usage: mamori-agent COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  install [--config-dir DIR] [--audit-only]\n"
    "                 register the MamoriAgent service (auto start, LocalSystem) and\n"
    "                 configure it as `configure` does\n"
    "  configure [--import-config DIR] [--collector HOST:PORT --ca-fingerprint FP\n"
    "            [--enroll-token TOKEN] [--policy-key KEY] [--terminal-id ID]]\n"
    "                 apply recovery actions, the service DACL, the data directory\n"
    "                 and its ACL and the Event Log source to an already registered\n"
    "                 MamoriAgent service (for installers that register it themselves);\n"
    "                 with DIR (the MSI's CONFIG_SOURCE), first copy the files in DIR\n"
    "                 (agent.yaml, certificates, key, policy key) into the configuration\n"
    "                 directory; with --collector (the MSI's COLLECTOR, CA_FINGERPRINT,\n"
    "                 ENROLL_TOKEN, POLICY_KEY), write agent.yaml for an agent that\n"
    "                 enrolls itself, the token file and the policy key instead;\n"
    "                 then check that agent.yaml there loads\n"
    "  uninstall      stop and delete the service (the data directory and its logs stay)\n"
    "  run [--config-dir DIR] [--audit-only] [--log-level LEVEL]\n"
    "                 run the agent in this console until Ctrl+C (troubleshooting)\n"
    "  service        run as the service (what the service control manager starts)\n"
    "  unlock CODE    hand an offline unlock code (read out by the administrator) to\n"
    "                 the running service; only the user logged on at the console and\n"
    "                 administrators may\n"
    "\n"
    "Options:\n"
    "  --config-dir DIR   configuration directory (default %ProgramData%\\Mamori\\config)\n"
    "  --audit-only       decide and log, but never enforce\n"
    "  --import-config DIR  configuration to copy in (\"\" = none)\n"
    "  --collector HOST:PORT  the collector's agent API (\"\" = none: keep agent.yaml)\n"
    "  --ca-fingerprint FP    SHA-256 fingerprint of the deployment's root CA certificate\n"
    "  --enroll-token TOKEN   enrollment token (mamorictl enroll token create); written to\n"
    "                         the configuration directory and deleted once used\n"
    "  --policy-key KEY       the collector's policy-signing.pub (PEM or its base64 line)\n"
    "  --terminal-id ID       the terminal id to ask for (default: the computer name)\n"
    "  --enroll-address HOST:PORT  the enrollment port (default: the collector's host, 7444)\n"
    "  --log-level LEVEL  trace, debug, info, warn, error, critical or off (default info)\n"
    "  -h, --help         show this help and exit\n"
    "  --version          show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int FailCommand(std::string_view command, const std::string& message) {
  return Fail("mamori-agent: " + std::string(command), message);
}

int Usage(const std::string& message) {
  std::cerr << "mamori-agent: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

// Time allowed at shutdown for the last events (AGENT_STOPPING among them),
// as in the Linux agent.
constexpr auto kStopFlushBudget = std::chrono::milliseconds(2000);

// agent.yaml in the configuration directory, parsed as on Linux; the
// --audit-only option or AuditOnly service parameter overrides its mode.
Result<std::unique_ptr<CollectorLink>> OpenCollectorLink(const AgentPaths& paths, bool audit_only,
                                                         const Clock& clock, spdlog::logger& log) {
  const std::string config_file =
      Utf16ToUtf8((std::filesystem::path(paths.config_dir) / "agent.yaml").wstring());
  auto config = LoadAgentConfig(config_file);
  if (!config.ok()) return config.error();
  if (audit_only) config->mode = EnforcementMode::kAuditOnly;
  auto link = CollectorLink::Open(*config, clock);
  if (!link.ok()) return link.error();
  log.info(
      "mamori-agent {} starting, {} mode: {}: collector {}, terminal certificate {}, "
      "pinned policy key {}, state directory {}",
      MAMORI_VERSION, config->mode == EnforcementMode::kAuditOnly ? "audit-only" : "enforce",
      config_file, config->collector_address, (*link)->cert_subject(), (*link)->policy_key_id(),
      config->state_dir);
  return link;
}

// The agent as the service host and the console mode run it.
class WindowsAgent final : public ServiceRunner {
 public:
  WindowsAgent(const WindowsPlatform& platform, AgentPaths paths, bool audit_only,
               std::optional<Error> setup_error)
      : platform_(platform),
        paths_(std::move(paths)),
        audit_only_(audit_only),
        setup_error_(std::move(setup_error)),
        log_(GetLogger("agent")),
        devices_(platform.device_manager()),
        disks_(platform.disk_control()),
        registry_signal_(HKEY_LOCAL_MACHINE, std::string(kPolicyWatchKey)) {}

  ~WindowsAgent() override { Stop("shutdown"); }
  WindowsAgent(const WindowsAgent&) = delete;
  WindowsAgent& operator=(const WindowsAgent&) = delete;

  Status Start(SERVICE_STATUS_HANDLE status_handle) override {
    if (setup_error_) return *setup_error_;
    auto link = OpenCollectorLink(paths_, audit_only_, clock_, *log_);
    if (!link.ok()) return link.error();
    link_ = std::move(*link);
    AgentCoreOptions options = link_->core_options();
    const bool audit_only = options.mode == EnforcementMode::kAuditOnly;

    // Arrival notifications: CM_Register_Notification where Windows has
    // it, else through the service's handler, else (console) a window.
    if (platform_.notifications) {
      notifications_ = platform_.notifications();
    } else if (CmNotificationAvailable()) {
      notifications_ = std::make_unique<CmNotificationSource>();
    } else if (status_handle != nullptr) {
      auto source = std::make_unique<ServiceNotificationSource>(status_handle);
      service_notifications_ = source.get();
      notifications_ = std::move(source);
    } else {
      notifications_ = std::make_unique<WindowNotificationSource>();
    }
    backend_ = std::make_unique<WindowsDeviceBackend>(*devices_, *disks_, notifications_.get());

    // The second line follows the policy in force: the core hands over each
    // policy before it decides a device under it, so a device the first
    // line misses is denied too, and registered media the policy allows
    // are not denied class-wide.
    if (!audit_only) {
      registry_watcher_ = std::make_unique<RegistryPolicyWatcher>(
          registry_, registry_signal_, platform_.rescan_interval,
          [this](const RegistryTamperReport& report) { RecordTamper(report); });
    }

    options.current_user = [this] { return session_user_.Current(); };
    core_ = std::make_unique<AgentCore>(*backend_, link_->outbox(), clock_, link_->verifier(),
                                        link_->policy_cache(), std::move(options),
                                        GetLogger("agent-core"));
    if (registry_watcher_) {
      core_->SetPolicyListener([this](const Policy& policy) {
        std::lock_guard lock(line_mu_);
        line_policy_ = policy;
        (void)ApplyRegistryLineLocked();
      });
      // A device an exception allows gets its own way through the line
      // while it is plugged in; the line closes again when it goes.
      backend_->SetAllowanceListener([this](const ExceptionAllowance& allowance) {
        std::lock_guard lock(line_mu_);
        line_allowance_ = allowance;
        return ApplyRegistryLineLocked();
      });
    }
    core_->SetExceptionStore(link_->exception_store());
    link_->AttachReporter(*core_);
    if (Status s = core_->Start(); !s.ok()) return s;
    if (registry_watcher_) registry_watcher_->Start();
    link_->StartReporting();
    StartUnlockChannel();
    rescan_ = std::thread([this] { RescanLoop(); });
    log_->info("started with {} notifications: {} device(s) present", notifications_->Name(),
               core_->Snapshot().devices.size());
    return Status::Ok();
  }

  void Stop(std::string_view reason) override {
    if (stopped_) return;
    stopped_ = true;
    if (rescan_.joinable()) {
      rescan_stop_.Request();
      rescan_.join();
    }
    unlock_pipe_.reset();  // no code is handed in while the core stops
    if (registry_watcher_) registry_watcher_->Stop();
    if (!core_) return;  // never started
    core_->Stop();
    core_->RecordStopping(reason);
    link_->StopReporting(kStopFlushBudget);
    log_->info("stopped ({})", reason);
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  }

  void OnDeviceEvent(DWORD event_type, const void* event_data) override {
    if (ServiceNotificationSource* source = service_notifications_.load()) {
      source->OnServiceDeviceEvent(event_type, event_data);
    }
  }

 private:
  // A safety net behind the notifications (Wine sends none).
  void RescanLoop() {
    while (!rescan_stop_.WaitFor(platform_.rescan_interval)) core_->NotifyDevicesChanged();
  }

  // Offline unlock codes: `mamori-agent unlock CODE` reaches the shared
  // unlock service through the pipe. A failure leaves the agent enforcing,
  // without codes, and says why.
  void StartUnlockChannel() {
    unlock_state_ = std::make_unique<FileUnlockStateStore>(link_->state_dir());
    unlock_ = std::make_unique<UnlockService>(link_->UnlockDeps(*core_, *unlock_state_, clock_));
    if (Status s = unlock_->Start(); !s.ok()) {
      log_->error("offline unlock codes are refused until this is fixed: {}", s.error().message);
    }
    auto pipe = UnlockPipeServer::Listen(
        platform_.unlock_pipe,
        [this](std::string_view code, std::string_view requester) {
          UnlockReply reply = unlock_->Submit(code, requester);
          if (reply.accepted) {
            log_->warn("unlock code from {}: {}", requester, reply.message);
          } else {
            log_->warn("unlock code from {} refused ({}): {}", requester,
                       UnlockRefusalName(reply.refusal), reply.message);
          }
          return reply;
        },
        CurrentConsoleUser);
    if (!pipe.ok()) {
      log_->error("offline unlock codes cannot be typed on this terminal: {}",
                  pipe.error().message);
      return;
    }
    unlock_pipe_ = std::move(*pipe);
  }

  // Requires line_mu_.
  Status ApplyRegistryLineLocked() {
    const Policy& policy = line_policy_;
    const std::string excepted =
        line_allowance_.empty() ? ""
                                : " with " + std::to_string(line_allowance_.instance_ids.size()) +
                                      " device node(s) allowed by an exception";
    Status s = registry_watcher_->SetDesired(RegistryLineFor(policy, line_allowance_));
    if (!s.ok()) {
      log_->error("registry policy line for policy '{}'{} not applied: {}", policy.name, excepted,
                  s.error().message);
      core_->RecordEnforcementFailure("registry policy line for policy '" + policy.name + "'" +
                                      excepted + " not applied: " + s.error().message);
    } else {
      log_->info("registry policy line for policy '{}'{} applied and verified", policy.name,
                 excepted);
    }
    return s;
  }

  void RecordTamper(const RegistryTamperReport& report) {
    log_->error("{}", report.Describe());
    core_->RecordEnforcementFailure(report.Describe());
  }

  const WindowsPlatform& platform_;
  const AgentPaths paths_;
  const bool audit_only_;
  const std::optional<Error> setup_error_;
  const std::shared_ptr<spdlog::logger> log_;
  const SystemClock clock_;
  const std::unique_ptr<DeviceManager> devices_;
  const std::unique_ptr<DiskControl> disks_;
  WtsSessionUser session_user_;
  // Declared before core_, which uses it, so it outlives it.
  std::unique_ptr<CollectorLink> link_;
  Win32Registry registry_;
  Win32RegistryChangeSignal registry_signal_;
  // Kept until the agent is destroyed: the service's handler thread may
  // still be passing an event on while the agent stops.
  std::unique_ptr<DeviceNotificationSource> notifications_;
  std::atomic<ServiceNotificationSource*> service_notifications_{nullptr};
  std::unique_ptr<WindowsDeviceBackend> backend_;
  std::unique_ptr<RegistryPolicyWatcher> registry_watcher_;
  // What the registry line is made of: the policy in force and the devices
  // an exception lets through.
  std::mutex line_mu_;
  Policy line_policy_;                 // guarded by line_mu_
  ExceptionAllowance line_allowance_;  // guarded by line_mu_
  std::unique_ptr<AgentCore> core_;
  // After core_: the pipe goes first (its thread calls the service, which
  // calls the core).
  std::unique_ptr<FileUnlockStateStore> unlock_state_;
  std::unique_ptr<UnlockService> unlock_;
  std::unique_ptr<UnlockPipeServer> unlock_pipe_;
  StopSignal rescan_stop_;
  std::thread rescan_;
  bool stopped_ = false;
};

struct Options {
  std::wstring config_dir;
  std::wstring import_config;  // "" = nothing to import
  EnrollmentSetup enrollment;  // collector "" = none
  bool audit_only = false;
  std::string log_level = "info";
};

// Parses the options after the command; only those in `allowed` are
// accepted. Returns an error message for a usage error.
std::optional<std::string> ParseOptions(const std::vector<std::wstring>& args,
                                        std::vector<std::wstring_view> allowed, Options& out) {
  auto is_allowed = [&](std::wstring_view a) {
    for (std::wstring_view x : allowed) {
      if (x == a) return true;
    }
    return false;
  };
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::wstring& a = args[i];
    if (!is_allowed(a)) {
      return "unknown option '" + Utf16ToUtf8(a) + "' for " + Utf16ToUtf8(args[1]);
    }
    if (a == L"--audit-only") {
      out.audit_only = true;
      continue;
    }
    if (i + 1 >= args.size()) return Utf16ToUtf8(a) + " needs a value";
    const std::wstring& value = args[++i];
    if (a == L"--import-config") {
      out.import_config = value;  // "" from an MSI without CONFIG_SOURCE
    } else if (a == L"--config-dir") {
      if (value.empty()) return "--config-dir needs a directory";
      out.config_dir = value;
    } else if (a == L"--collector") {
      out.enrollment.collector = Utf16ToUtf8(value);
    } else if (a == L"--ca-fingerprint") {
      out.enrollment.ca_fingerprint = Utf16ToUtf8(value);
    } else if (a == L"--enroll-token") {
      out.enrollment.token = Utf16ToUtf8(value);
    } else if (a == L"--policy-key") {
      out.enrollment.policy_key = Utf16ToUtf8(value);
    } else if (a == L"--enroll-address") {
      out.enrollment.enroll_address = Utf16ToUtf8(value);
    } else if (a == L"--terminal-id") {
      out.enrollment.terminal_id = Utf16ToUtf8(value);
    } else if (a == L"--log-level") {
      out.log_level = Utf16ToUtf8(value);
      if (Status s = CheckLogLevel(out.log_level); !s.ok()) {
        return "--log-level: " + s.error().message;
      }
    }
  }
  return std::nullopt;
}

int Install(const Options& options) {
  auto exe = OwnExecutablePath();
  if (!exe.ok()) return FailCommand("install", exe.error().message);
  InstallOptions install;
  install.executable = *exe;
  install.parameters.config_dir = options.config_dir;
  install.parameters.audit_only = options.audit_only;
  auto installed = InstallService(install);
  if (!installed.ok()) return FailCommand("install", installed.error().message);
  for (const std::string& w : *installed)
    std::cerr << "mamori-agent: install: warning: " << w << "\n";
  std::cout << "installed service MamoriAgent (" << Utf16ToUtf8(*exe) << " service, "
            << (options.audit_only ? "audit-only" : "enforce")
            << " mode); start it with `sc start MamoriAgent`\n";
  return kExitOk;
}

int Configure(const Options& options) {
  auto exe = OwnExecutablePath();
  if (!exe.ok()) return FailCommand("configure", exe.error().message);
  auto configured = ConfigureService(*exe);
  if (!configured.ok()) return FailCommand("configure", configured.error().message);
  for (const std::string& w : *configured) {
    std::cerr << "mamori-agent: configure: warning: " << w << "\n";
  }
  std::cout << "configured service MamoriAgent: recovery actions, preshutdown timeout, service "
               "DACL, data directory ACL, Event Log source\n";

  // The configuration the service will load: imported first when given,
  // then loaded as the service will, so that an installation with a bad or
  // missing configuration fails now, with the reason in the installer's
  // log, instead of leaving a service that cannot report.
  auto params = ReadServiceParameters();
  if (!params.ok()) return FailCommand("configure", params.error().message);
  auto paths = ResolveAgentPaths(params->config_dir);
  if (!paths.ok()) return FailCommand("configure", paths.error().message);
  if (!options.import_config.empty()) {
    auto copied = ImportConfig(options.import_config, paths->config_dir);
    if (!copied.ok()) return FailCommand("configure", copied.error().message);
    std::cout << "imported " << copied->size() << " file(s) from "
              << Utf16ToUtf8(options.import_config) << " into " << Utf16ToUtf8(paths->config_dir)
              << "\n";
  }
  const EnrollmentSetup& enrollment = options.enrollment;
  if (!enrollment.collector.empty()) {
    // The token is a secret: it goes to the file only, never to the output
    // (which the installer's log keeps).
    auto written = WriteEnrollmentSetup(enrollment, Utf16ToUtf8(paths->config_dir));
    if (!written.ok()) return FailCommand("configure", written.error().message);
    std::cout << "wrote " << written->size() << " file(s) into " << Utf16ToUtf8(paths->config_dir)
              << " for an agent that enrolls with " << enrollment.collector
              << (enrollment.token.empty() ? " (no new token)" : " (token file written)") << "\n";
  } else if (!enrollment.ca_fingerprint.empty() || !enrollment.token.empty() ||
             !enrollment.policy_key.empty() || !enrollment.terminal_id.empty() ||
             !enrollment.enroll_address.empty()) {
    return FailCommand("configure",
                       "--ca-fingerprint, --enroll-token, --policy-key, --terminal-id and "
                       "--enroll-address need "
                       "--collector (the MSI's COLLECTOR property)");
  }
  const std::string config_file =
      Utf16ToUtf8((std::filesystem::path(paths->config_dir) / "agent.yaml").wstring());
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(paths->config_dir) / "agent.yaml", ec)) {
    return FailCommand("configure",
                       "no configuration: " + config_file +
                           " does not exist; install with COLLECTOR=host:port "
                           "CA_FINGERPRINT=... ENROLL_TOKEN=... POLICY_KEY=..., or with "
                           "CONFIG_SOURCE=<folder holding agent.yaml and the files it names>");
  }
  auto config = LoadAgentConfig(config_file);
  if (!config.ok()) return FailCommand("configure", config.error().message);
  std::cout << "configuration " << config_file << " loads: collector " << config->collector_address
            << "\n";
  return kExitOk;
}

int Uninstall() {
  if (Status s = UninstallService(); !s.ok()) return FailCommand("uninstall", s.error().message);
  auto paths = ResolveAgentPaths();
  std::cout << "uninstalled service MamoriAgent";
  if (paths.ok()) std::cout << "; " << Utf16ToUtf8(paths->data_dir) << " (logs) is kept";
  std::cout << "\n";
  return kExitOk;
}

// Sets up the directories and logging; what went wrong is returned for the
// runner to report as a failed start (the Event Log gets it even when the
// log file cannot be opened).
std::optional<Error> PrepareRun(const AgentPaths& paths, const std::string& level, bool console) {
  WindowsLogOptions log_options;
  log_options.level = level;
  log_options.console = console;
  std::vector<std::string> warnings;
  if (Status s = PrepareAgentDirectories(paths, &warnings); !s.ok()) {
    // Logging without the file, so the reason reaches the Event Log.
    (void)SetupWindowsLogging(log_options);
    return s.error();
  }
  log_options.logs_dir = paths.logs_dir;
  if (Status s = SetupWindowsLogging(log_options); !s.ok()) {
    log_options.logs_dir.clear();
    (void)SetupWindowsLogging(log_options);
    return s.error();
  }
  for (const std::string& w : warnings) GetLogger("agent")->warn("{}", w);
  return std::nullopt;
}

int Run(const WindowsPlatform& platform, const Options& options) {
  auto paths = ResolveAgentPaths(options.config_dir);
  if (!paths.ok()) return FailCommand("run", paths.error().message);
  std::optional<Error> setup = PrepareRun(*paths, options.log_level, /*console=*/true);
  WindowsAgent agent(platform, *paths, options.audit_only, setup);
  if (Status s = RunInConsole(agent); !s.ok()) return FailCommand("run", s.error().message);
  return kExitOk;
}

int Service(const WindowsPlatform& platform) {
  // Until logging is set up, messages go to stderr, which nobody reads in a
  // service; the parameters come first so their errors still reach the
  // runner.
  std::optional<Error> setup;
  auto params = ReadServiceParameters();
  if (!params.ok()) setup = params.error();
  const ServiceParameters p = params.ok() ? *params : ServiceParameters{};
  auto paths = ResolveAgentPaths(p.config_dir);
  if (!paths.ok()) return FailCommand("service", paths.error().message);
  if (std::optional<Error> e = PrepareRun(*paths, "info", /*console=*/false); e && !setup) {
    setup = std::move(e);
  }
  WindowsAgent agent(platform, *paths, p.audit_only, setup);
  if (Status s = RunAsService(agent, kServiceTimings); !s.ok()) {
    return FailCommand("service", s.error().message);
  }
  return kExitOk;
}

// `mamori-agent unlock CODE`: hands the code to the running service.
int Unlock(const WindowsPlatform& platform, const std::string& code) {
  auto reply = SendUnlockCodeOverPipe(platform.unlock_pipe, code);
  if (!reply.ok()) return FailCommand("unlock", reply.error().message);
  if (reply->accepted) {
    std::cout << reply->message << "\n";
    return kExitOk;
  }
  std::cerr << "mamori-agent unlock: refused (" << UnlockRefusalName(reply->refusal)
            << "): " << reply->message << "\n";
  return kExitFailure;
}

int Main(const WindowsPlatform& platform) {
  int argc = 0;
  wchar_t** argv = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  if (argv == nullptr) return FailCommand("startup", "cannot read the command line");
  std::vector<std::wstring> args(argv, argv + argc);
  ::LocalFree(argv);

  if (args.size() < 2) return Usage("a command is required");
  const std::wstring& command = args[1];
  if (command == L"-h" || command == L"--help" || command == L"help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == L"--version") {
    std::cout << "mamori-agent " << MAMORI_VERSION;
    if (!platform.build_name.empty()) std::cout << " (" << platform.build_name << ")";
    std::cout << "\n";
    return kExitOk;
  }
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (args[i] == L"-h" || args[i] == L"--help") {
      std::cout << kUsage;
      return kExitOk;
    }
  }
  Options options;
  std::optional<std::string> usage_error;
  if (command == L"install") {
    usage_error = ParseOptions(args, {L"--config-dir", L"--audit-only"}, options);
    if (!usage_error) return Install(options);
  } else if (command == L"configure") {
    usage_error =
        ParseOptions(args,
                     {L"--import-config", L"--collector", L"--ca-fingerprint", L"--enroll-token",
                      L"--policy-key", L"--terminal-id", L"--enroll-address"},
                     options);
    if (!usage_error) return Configure(options);
  } else if (command == L"uninstall") {
    usage_error = ParseOptions(args, {}, options);
    if (!usage_error) return Uninstall();
  } else if (command == L"run") {
    usage_error = ParseOptions(args, {L"--config-dir", L"--audit-only", L"--log-level"}, options);
    if (!usage_error) return Run(platform, options);
  } else if (command == L"unlock") {
    if (args.size() != 3 || args[2].starts_with(L"-")) {
      usage_error = "unlock takes the code and nothing else";
    } else {
      return Unlock(platform, Utf16ToUtf8(args[2]));
    }
  } else if (command == L"service") {
    usage_error = ParseOptions(args, {}, options);
    if (!usage_error) return Service(platform);
  } else {
    usage_error = "unknown command '" + Utf16ToUtf8(command) + "'";
  }
  return Usage(*usage_error);
}

}  // namespace

WindowsPlatform SystemWindowsPlatform() {
  WindowsPlatform platform;
  platform.device_manager = [] { return std::make_unique<SetupApiDeviceManager>(); };
  platform.disk_control = [] { return std::make_unique<Win32DiskControl>(); };
  return platform;
}

int WindowsAgentMain(const WindowsPlatform& platform) { return Main(platform); }

}  // namespace mamori
