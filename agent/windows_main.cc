// mamori-agent.exe: the Windows agent. Installs itself as the MamoriAgent
// service, runs as that service (or in a console for troubleshooting) and
// enforces the device policy with the same agent core and rule engine as
// the Linux agent. Everything is wired here.
//
// The MSVC build (MAMORI_AGENT_WITH_TRANSPORT) reports to the collector as
// the Linux agent does: agent.yaml from the configuration directory, the
// event journal, the pinned-key policy verifier, the signed policy cache
// and the gRPC client (agent/wiring/collector_link.h). The mingw-w64 cross
// build has no collector transport and no policy signature verification,
// because Debian has no mingw builds of gRPC, protobuf or OpenSSL: it
// enforces the built-in default policy and records its events in the Event
// Log and its log file (agent/core/local_only.h). CoreServices below is the
// one place where the two differ.

// clang-format off
#include <windows.h>
// clang-format on
#include <shellapi.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/core/agent_core.h"
#include "agent/core/host_info.h"
#if MAMORI_AGENT_WITH_TRANSPORT
#include "agent/core/agent_config.h"
#include "agent/wiring/collector_link.h"
#else
#include "agent/core/local_only.h"
#endif
#include "agent/platform/windows/cm_notification.h"
#include "agent/platform/windows/device_manager.h"
#include "agent/platform/windows/disk_attributes.h"
#include "agent/platform/windows/registry_policy.h"
#include "agent/platform/windows/registry_watch.h"
#include "agent/platform/windows/service_host.h"
#include "agent/platform/windows/service_install.h"
#include "agent/platform/windows/service_settings.h"
#include "agent/platform/windows/session_user.h"
#include "agent/platform/windows/stop_signal.h"
#include "agent/platform/windows/wide_string.h"
#include "agent/platform/windows/win32_registry.h"
#include "agent/platform/windows/windows_device_backend.h"
#include "agent/platform/windows/windows_logging.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/policy.h"

namespace mamori {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// A safety net behind device notifications (which Wine, for one, never
// sends) and the longest time between two checks of the registry policy.
constexpr auto kRescanInterval = std::chrono::seconds(30);

constexpr std::string_view kUsage =
    "Usage: mamori-agent COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  install [--config-dir DIR] [--audit-only]\n"
    "                 register the MamoriAgent service (auto start, LocalSystem) and\n"
    "                 configure it as `configure` does\n"
    "  configure      apply recovery actions, the service DACL, the data directory\n"
    "                 and its ACL and the Event Log source to an already registered\n"
    "                 MamoriAgent service (for installers that register it themselves)\n"
    "  uninstall      stop and delete the service (the data directory and its logs stay)\n"
    "  run [--config-dir DIR] [--audit-only] [--log-level LEVEL]\n"
    "                 run the agent in this console until Ctrl+C (troubleshooting)\n"
    "  service        run as the service (what the service control manager starts)\n"
    "\n"
    "Options:\n"
    "  --config-dir DIR   configuration directory (default %ProgramData%\\Mamori\\config)\n"
    "  --audit-only       decide and log, but never enforce\n"
    "  --log-level LEVEL  trace, debug, info, warn, error, critical or off (default info)\n"
    "  -h, --help         show this help and exit\n"
    "  --version          show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int Fail(std::string_view command, const std::string& message) {
  std::cerr << "mamori-agent: " << command << ": " << message << "\n";
  return kExitFailure;
}

int Usage(const std::string& message) {
  std::cerr << "mamori-agent: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

// What the core records events to and takes policies from, and whether
// anything reports them further.
class CoreServices {
 public:
  virtual ~CoreServices() = default;
  virtual EventOutbox& outbox() = 0;
  virtual const PolicyVerifier& verifier() const = 0;
  virtual PolicyCache& policy_cache() = 0;
  // Mode, report interval, host, OS and bootstrap policy for the core.
  virtual AgentCoreOptions core_options() const = 0;
  // True when only the built-in default policy can ever be in force, so the
  // registry line can be derived from it once at start.
  virtual bool builtin_policy_only() const = 0;
  // Before the core starts (sets its change listener).
  virtual void Attach(AgentCore& core) = 0;
  virtual void Started() = 0;
  // After AGENT_STOPPING was recorded; bounded.
  virtual void Stopping() = 0;
  // Appended to the "stopped" log line.
  virtual std::string RunSummary() const = 0;
};

#if MAMORI_AGENT_WITH_TRANSPORT
constexpr std::string_view kBuildName = "MSVC build";
constexpr std::string_view kBuildSummary = "collector transport, signed policies";

// Time allowed at shutdown for the last events (AGENT_STOPPING among them),
// as in the Linux agent.
constexpr auto kStopFlushBudget = std::chrono::milliseconds(2000);

// Reports to the collector configured in agent.yaml.
class CollectorServices final : public CoreServices {
 public:
  explicit CollectorServices(std::unique_ptr<CollectorLink> link) : link_(std::move(link)) {}
  EventOutbox& outbox() override { return link_->outbox(); }
  const PolicyVerifier& verifier() const override { return link_->verifier(); }
  PolicyCache& policy_cache() override { return link_->policy_cache(); }
  AgentCoreOptions core_options() const override { return link_->core_options(); }
  bool builtin_policy_only() const override { return false; }
  void Attach(AgentCore& core) override { link_->AttachReporter(core); }
  void Started() override { link_->StartReporting(); }
  void Stopping() override { link_->StopReporting(kStopFlushBudget); }
  std::string RunSummary() const override { return ""; }

 private:
  std::unique_ptr<CollectorLink> link_;
};

// agent.yaml in the configuration directory, parsed as on Linux; the
// --audit-only option or AuditOnly service parameter overrides its mode.
Result<std::unique_ptr<CoreServices>> OpenCoreServices(const AgentPaths& paths, bool audit_only,
                                                       const Clock& clock, spdlog::logger& log) {
  const std::string config_file =
      Utf16ToUtf8((std::filesystem::path(paths.config_dir) / "agent.yaml").wstring());
  auto config = LoadAgentConfig(config_file);
  if (!config.ok()) return config.error();
  if (audit_only) config->mode = EnforcementMode::kAuditOnly;
  auto link = CollectorLink::Open(*config, clock);
  if (!link.ok()) return link.error();
  log.info(
      "mamori-agent {} ({}) starting, {} mode: {}: collector {}, terminal certificate {}, "
      "pinned policy key {}, state directory {}",
      MAMORI_VERSION, kBuildName,
      config->mode == EnforcementMode::kAuditOnly ? "audit-only" : "enforce", config_file,
      config->collector_address, (*link)->cert_subject(), (*link)->policy_key_id(),
      config->state_dir);
  return std::unique_ptr<CoreServices>(std::make_unique<CollectorServices>(std::move(*link)));
}
#else
constexpr std::string_view kBuildName = "mingw-w64 build";
constexpr std::string_view kBuildSummary = "built-in default policy, no collector transport";

// Where LogEventOutbox records events. Events are the record of what the
// agent did, so a quieter log level never drops them.
std::shared_ptr<spdlog::logger> EventsLogger() {
  auto logger = GetLogger("events");
  if (logger->level() > spdlog::level::info) logger->set_level(spdlog::level::info);
  return logger;
}

// Keeps events in the logs and enforces the built-in default policy.
class LocalOnlyServices final : public CoreServices {
 public:
  LocalOnlyServices(const AgentPaths& paths, bool audit_only)
      : audit_only_(audit_only), outbox_(EventsLogger()), cache_(Utf16ToUtf8(paths.state_dir)) {}
  EventOutbox& outbox() override { return outbox_; }
  const PolicyVerifier& verifier() const override { return verifier_; }
  PolicyCache& policy_cache() override { return cache_; }
  AgentCoreOptions core_options() const override {
    AgentCoreOptions options;
    options.mode = audit_only_ ? EnforcementMode::kAuditOnly : EnforcementMode::kEnforce;
    const HostInfo host = ReadHostInfo();
    options.hostname = host.hostname;
    options.os = host.os;
    return options;
  }
  bool builtin_policy_only() const override { return true; }
  void Attach(AgentCore&) override {}
  void Started() override {}
  void Stopping() override {}
  std::string RunSummary() const override {
    return "; " + std::to_string(outbox_.appended()) + " event(s) recorded in this run";
  }

 private:
  const bool audit_only_;
  LogEventOutbox outbox_;
  NoKeyPolicyVerifier verifier_;
  NoPolicyCache cache_;
};

// agent.yaml is not read: no YAML parser in this build.
Result<std::unique_ptr<CoreServices>> OpenCoreServices(const AgentPaths& paths, bool audit_only,
                                                       const Clock&, spdlog::logger& log) {
  log.info(
      "mamori-agent {} (mingw-w64 build) starting, {} mode: this build has no collector "
      "transport and cannot verify signed policies, so it enforces the built-in default "
      "policy (removable storage blocked) and records events in the Event Log and {}\\"
      "mamori-agent.log",
      MAMORI_VERSION, audit_only ? "audit-only" : "enforce", Utf16ToUtf8(paths.logs_dir));
  std::error_code ec;
  const std::filesystem::path config_file = std::filesystem::path(paths.config_dir) / "agent.yaml";
  if (std::filesystem::exists(config_file, ec)) {
    log.warn("{} is not read by this build (no YAML parser); its settings do not apply",
             Utf16ToUtf8(config_file.wstring()));
  }
  return std::unique_ptr<CoreServices>(std::make_unique<LocalOnlyServices>(paths, audit_only));
}
#endif

// The agent as the service host and the console mode run it.
class WindowsAgent final : public ServiceRunner {
 public:
  WindowsAgent(AgentPaths paths, bool audit_only, std::optional<Error> setup_error)
      : paths_(std::move(paths)),
        audit_only_(audit_only),
        setup_error_(std::move(setup_error)),
        log_(GetLogger("agent")),
        registry_signal_(HKEY_LOCAL_MACHINE, std::string(kPolicyWatchKey)) {}

  ~WindowsAgent() override { Stop("shutdown"); }
  WindowsAgent(const WindowsAgent&) = delete;
  WindowsAgent& operator=(const WindowsAgent&) = delete;

  Status Start(SERVICE_STATUS_HANDLE status_handle) override {
    if (setup_error_) return *setup_error_;
    auto services = OpenCoreServices(paths_, audit_only_, clock_, *log_);
    if (!services.ok()) return services.error();
    services_ = std::move(*services);
    AgentCoreOptions options = services_->core_options();
    const bool audit_only = options.mode == EnforcementMode::kAuditOnly;

    // Arrival notifications: CM_Register_Notification where Windows has
    // it, else through the service's handler, else (console) a window.
    if (CmNotificationAvailable()) {
      notifications_ = std::make_unique<CmNotificationSource>();
    } else if (status_handle != nullptr) {
      auto source = std::make_unique<ServiceNotificationSource>(status_handle);
      service_notifications_ = source.get();
      notifications_ = std::move(source);
    } else {
      notifications_ = std::make_unique<WindowNotificationSource>();
    }
    backend_ = std::make_unique<WindowsDeviceBackend>(devices_, disks_, notifications_.get());

    // The second line, written before devices are decided so that a device
    // the first line misses is denied too, and kept in place from then on.
    if (!audit_only && !services_->builtin_policy_only()) {
      // The registry line is class-wide and must never deny what the policy
      // in force allows; it is derived from the built-in default only, so
      // with policies from the collector the device line enforces alone.
      log_->warn(
          "registry policy line not written: it is derived from the built-in default "
          "policy only, and this agent takes its policy from the collector");
    } else if (!audit_only) {
      registry_watcher_ = std::make_unique<RegistryPolicyWatcher>(
          registry_, registry_signal_, kRescanInterval,
          [this](const RegistryTamperReport& report) { RecordTamper(report); });
      if (Status s = registry_watcher_->SetDesired(RegistryLineFor(BuiltinDefaultPolicy()));
          !s.ok()) {
        log_->error("registry policy not applied: {}", s.error().message);
        RecordAlert("registry policy not applied: " + s.error().message);
      } else {
        log_->info("registry policy applied and verified");
      }
      registry_watcher_->Start();
    }

    options.current_user = [this] { return session_user_.Current(); };
    core_ = std::make_unique<AgentCore>(*backend_, services_->outbox(), clock_,
                                        services_->verifier(), services_->policy_cache(),
                                        std::move(options), GetLogger("agent-core"));
    services_->Attach(*core_);
    if (Status s = core_->Start(); !s.ok()) return s;
    services_->Started();
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
    if (registry_watcher_) registry_watcher_->Stop();
    if (!core_) return;  // never started
    core_->Stop();
    core_->RecordStopping(reason);
    services_->Stopping();
    log_->info("stopped ({}){}", reason, services_->RunSummary());
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
    while (!rescan_stop_.WaitFor(kRescanInterval)) core_->NotifyDevicesChanged();
  }

  void RecordAlert(std::string detail) {
    Event e;
    e.time_ms = clock_.NowMs();
    e.kind = EventKind::kEnforcementFailure;
    e.severity = Severity::kAlert;
    e.detail = std::move(detail);
    if (Result<uint64_t> seq = services_->outbox().Append(std::move(e)); !seq.ok()) {
      log_->error("could not record an event: {}", seq.error().message);
    }
  }

  void RecordTamper(const RegistryTamperReport& report) {
    log_->error("{}", report.Describe());
    RecordAlert(report.Describe());
  }

  const AgentPaths paths_;
  const bool audit_only_;
  const std::optional<Error> setup_error_;
  const std::shared_ptr<spdlog::logger> log_;
  const SystemClock clock_;
  SetupApiDeviceManager devices_;
  Win32DiskControl disks_;
  WtsSessionUser session_user_;
  // Declared before core_, which uses it, so it outlives it.
  std::unique_ptr<CoreServices> services_;
  Win32Registry registry_;
  Win32RegistryChangeSignal registry_signal_;
  // Kept until the agent is destroyed: the service's handler thread may
  // still be passing an event on while the agent stops.
  std::unique_ptr<DeviceNotificationSource> notifications_;
  std::atomic<ServiceNotificationSource*> service_notifications_{nullptr};
  std::unique_ptr<WindowsDeviceBackend> backend_;
  std::unique_ptr<RegistryPolicyWatcher> registry_watcher_;
  std::unique_ptr<AgentCore> core_;
  StopSignal rescan_stop_;
  std::thread rescan_;
  bool stopped_ = false;
};

struct Options {
  std::wstring config_dir;
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
    if (a == L"--config-dir") {
      if (value.empty()) return "--config-dir needs a directory";
      out.config_dir = value;
    } else if (a == L"--log-level") {
      out.log_level = Utf16ToUtf8(value);
      bool known = false;
      for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
        known = known || out.log_level == l;
      }
      if (!known) {
        return "--log-level: unknown level '" + out.log_level +
               "' (expected trace, debug, info, warn, error, critical or off)";
      }
    }
  }
  return std::nullopt;
}

int Install(const Options& options) {
  auto exe = OwnExecutablePath();
  if (!exe.ok()) return Fail("install", exe.error().message);
  InstallOptions install;
  install.executable = *exe;
  install.parameters.config_dir = options.config_dir;
  install.parameters.audit_only = options.audit_only;
  auto installed = InstallService(install);
  if (!installed.ok()) return Fail("install", installed.error().message);
  for (const std::string& w : *installed)
    std::cerr << "mamori-agent: install: warning: " << w << "\n";
  std::cout << "installed service MamoriAgent (" << Utf16ToUtf8(*exe) << " service, "
            << (options.audit_only ? "audit-only" : "enforce")
            << " mode); start it with `sc start MamoriAgent`\n";
  return kExitOk;
}

int Configure() {
  auto exe = OwnExecutablePath();
  if (!exe.ok()) return Fail("configure", exe.error().message);
  auto configured = ConfigureService(*exe);
  if (!configured.ok()) return Fail("configure", configured.error().message);
  for (const std::string& w : *configured) {
    std::cerr << "mamori-agent: configure: warning: " << w << "\n";
  }
  std::cout << "configured service MamoriAgent: recovery actions, preshutdown timeout, service "
               "DACL, data directory ACL, Event Log source\n";
  return kExitOk;
}

int Uninstall() {
  if (Status s = UninstallService(); !s.ok()) return Fail("uninstall", s.error().message);
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

int Run(const Options& options) {
  auto paths = ResolveAgentPaths(options.config_dir);
  if (!paths.ok()) return Fail("run", paths.error().message);
  std::optional<Error> setup = PrepareRun(*paths, options.log_level, /*console=*/true);
  WindowsAgent agent(*paths, options.audit_only, setup);
  if (Status s = RunInConsole(agent); !s.ok()) return Fail("run", s.error().message);
  return kExitOk;
}

int Service() {
  // Until logging is set up, messages go to stderr, which nobody reads in a
  // service; the parameters come first so their errors still reach the
  // runner.
  std::optional<Error> setup;
  auto params = ReadServiceParameters();
  if (!params.ok()) setup = params.error();
  const ServiceParameters p = params.ok() ? *params : ServiceParameters{};
  auto paths = ResolveAgentPaths(p.config_dir);
  if (!paths.ok()) return Fail("service", paths.error().message);
  if (std::optional<Error> e = PrepareRun(*paths, "info", /*console=*/false); e && !setup) {
    setup = std::move(e);
  }
  WindowsAgent agent(*paths, p.audit_only, setup);
  if (Status s = RunAsService(agent, kServiceTimings); !s.ok()) {
    return Fail("service", s.error().message);
  }
  return kExitOk;
}

int Main() {
  int argc = 0;
  wchar_t** argv = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  if (argv == nullptr) return Fail("startup", "cannot read the command line");
  std::vector<std::wstring> args(argv, argv + argc);
  ::LocalFree(argv);

  if (args.size() < 2) return Usage("a command is required");
  const std::wstring& command = args[1];
  if (command == L"-h" || command == L"--help" || command == L"help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == L"--version") {
    std::cout << "mamori-agent " << MAMORI_VERSION << " (" << kBuildName << ": " << kBuildSummary
              << ")\n";
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
    usage_error = ParseOptions(args, {}, options);
    if (!usage_error) return Configure();
  } else if (command == L"uninstall") {
    usage_error = ParseOptions(args, {}, options);
    if (!usage_error) return Uninstall();
  } else if (command == L"run") {
    usage_error = ParseOptions(args, {L"--config-dir", L"--audit-only", L"--log-level"}, options);
    if (!usage_error) return Run(options);
  } else if (command == L"service") {
    usage_error = ParseOptions(args, {}, options);
    if (!usage_error) return Service();
  } else {
    usage_error = "unknown command '" + Utf16ToUtf8(command) + "'";
  }
  return Usage(*usage_error);
}

}  // namespace
}  // namespace mamori

int main() {
  try {
    return mamori::Main();
  } catch (const std::exception& e) {
    std::cerr << "mamori-agent: unexpected error: " << e.what() << "\n";
    return 1;
  }
}
