#include "agent/platform/windows/service/service_host.h"

// clang-format off
#include <windows.h>
// clang-format on
#include <spdlog/spdlog.h>
#include <winsvc.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "agent/platform/windows/service/service_settings.h"
#include "agent/platform/windows/service/stop_signal.h"
#include "agent/platform/windows/win32/handles.h"
#include "agent/platform/windows/win32/win32_registry.h"
#include "common/base/logging.h"

namespace mamori {

// service_state.h mirrors the SDK's values so it stays free of <windows.h>.
static_assert(static_cast<DWORD>(ServiceState::kStopped) == SERVICE_STOPPED);
static_assert(static_cast<DWORD>(ServiceState::kStartPending) == SERVICE_START_PENDING);
static_assert(static_cast<DWORD>(ServiceState::kStopPending) == SERVICE_STOP_PENDING);
static_assert(static_cast<DWORD>(ServiceState::kRunning) == SERVICE_RUNNING);
static_assert(kServiceAcceptStop == SERVICE_ACCEPT_STOP);
static_assert(kServiceAcceptPreshutdown == SERVICE_ACCEPT_PRESHUTDOWN);
static_assert(kServiceControlStop == SERVICE_CONTROL_STOP);
static_assert(kServiceControlInterrogate == SERVICE_CONTROL_INTERROGATE);
static_assert(kServiceControlShutdown == SERVICE_CONTROL_SHUTDOWN);
static_assert(kServiceControlDeviceEvent == SERVICE_CONTROL_DEVICEEVENT);
static_assert(kServiceControlPreshutdown == SERVICE_CONTROL_PRESHUTDOWN);
static_assert(kNoError == NO_ERROR);
static_assert(kErrorCallNotImplemented == ERROR_CALL_NOT_IMPLEMENTED);
static_assert(kErrorServiceSpecificError == ERROR_SERVICE_SPECIFIC_ERROR);

namespace {

// How often a pending state reports a new checkpoint: well inside the wait
// hints, so the SCM always sees progress while the agent starts or stops.
constexpr auto kCheckpointInterval = std::chrono::seconds(1);

class ServiceHost {
 public:
  ServiceHost(ServiceRunner& runner, ServiceTimings timings)
      : runner_(runner), log_(GetLogger("service")), machine_(timings) {}

  void Main();
  DWORD Handle(DWORD control, DWORD event_type, const void* event_data);

 private:
  // SetServiceStatus(report). Requires mu_.
  void ReportLocked(const ServiceStatusReport& report);
  class CheckpointTicker;

  ServiceRunner& runner_;
  std::shared_ptr<spdlog::logger> log_;
  SERVICE_STATUS_HANDLE status_handle_ = nullptr;  // not closed (SCM-owned)
  UniqueHandle stop_event_;

  std::mutex mu_;
  ServiceStateMachine machine_;  // guarded by mu_
  std::string stop_reason_;      // guarded by mu_
};

std::atomic<ServiceHost*> g_host{nullptr};

DWORD WINAPI HandlerEx(DWORD control, DWORD event_type, LPVOID event_data, LPVOID context) {
  return static_cast<ServiceHost*>(context)->Handle(control, event_type, event_data);
}

void WINAPI ServiceMain(DWORD /*argc*/, LPWSTR* /*argv*/) {
  if (ServiceHost* host = g_host.load()) host->Main();
}

void ServiceHost::ReportLocked(const ServiceStatusReport& report) {
  SERVICE_STATUS status{};
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = static_cast<DWORD>(report.state);
  status.dwControlsAccepted = report.controls_accepted;
  status.dwWin32ExitCode = report.win32_exit_code;
  status.dwServiceSpecificExitCode = report.service_specific_exit_code;
  status.dwCheckPoint = report.checkpoint;
  status.dwWaitHint = report.wait_hint_ms;
  if (!::SetServiceStatus(status_handle_, &status)) {
    log_->error("{}", Win32ErrorText("SetServiceStatus", ::GetLastError()));
  }
}

// Reports progress every kCheckpointInterval while a start or stop is
// pending, for as long as it lives.
class ServiceHost::CheckpointTicker {
 public:
  explicit CheckpointTicker(ServiceHost* host)
      : thread_([this, host] {
          while (!stop_.WaitFor(kCheckpointInterval)) {
            std::lock_guard lock(host->mu_);
            const ServiceState state = host->machine_.Current().state;
            if (state != ServiceState::kStartPending && state != ServiceState::kStopPending) {
              continue;
            }
            host->ReportLocked(host->machine_.Progress());
          }
        }) {}
  ~CheckpointTicker() {
    stop_.Request();
    thread_.join();
  }
  CheckpointTicker(const CheckpointTicker&) = delete;
  CheckpointTicker& operator=(const CheckpointTicker&) = delete;

 private:
  StopSignal stop_;
  std::thread thread_;
};

void ServiceHost::Main() {
  status_handle_ = ::RegisterServiceCtrlHandlerExW(kServiceName, &HandlerEx, this);
  if (status_handle_ == nullptr) {
    // Nothing can be reported to the SCM without the handle.
    log_->critical("{}", Win32ErrorText("RegisterServiceCtrlHandlerExW", ::GetLastError()));
    return;
  }
  stop_event_.reset(::CreateEventW(nullptr, /*manual reset=*/TRUE, FALSE, nullptr));
  {
    std::lock_guard lock(mu_);
    if (!stop_event_) {
      log_->critical("{}", Win32ErrorText("CreateEventW", ::GetLastError()));
      ReportLocked(machine_.Stopped(kServiceExitStartFailed));
      return;
    }
    ReportLocked(machine_.BeginStart());
  }

  Status started = Status::Ok();
  {
    CheckpointTicker checkpoints(this);
    started = runner_.Start(status_handle_);
  }
  if (!started.ok()) {
    log_->critical("service start failed: {}", started.error().message);
    std::lock_guard lock(mu_);
    ReportLocked(machine_.Stopped(kServiceExitStartFailed));
    return;
  }

  {
    std::lock_guard lock(mu_);
    ReportLocked(machine_.Started());
  }
  log_->info("service running");
  ::WaitForSingleObject(stop_event_.get(), INFINITE);

  std::string reason;
  {
    std::lock_guard lock(mu_);
    reason = stop_reason_;
  }
  log_->info("service stopping: {}", reason);
  {
    CheckpointTicker checkpoints(this);
    runner_.Stop(reason);
  }
  log_->info("service stopped");
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  std::lock_guard lock(mu_);
  // The SCM may end the process once it sees STOPPED: nothing after this.
  ReportLocked(machine_.Stopped());
}

DWORD ServiceHost::Handle(DWORD control, DWORD event_type, const void* event_data) {
  ControlResult r;
  {
    std::lock_guard lock(mu_);
    r = machine_.OnControl(control);
    if (r.report) ReportLocked(machine_.Current());
    if (r.stop_requested) {
      stop_reason_ = control == SERVICE_CONTROL_PRESHUTDOWN ? "preshutdown" : "service stop";
      ::SetEvent(stop_event_.get());
    }
  }
  if (r.devices_changed) runner_.OnDeviceEvent(event_type, event_data);
  return r.return_code;
}

// Console mode's stop request, set by the console control handler (which
// Windows runs on a thread of its own).
HANDLE g_console_stop = nullptr;
std::atomic<DWORD> g_console_signal{0};

BOOL WINAPI ConsoleCtrlHandler(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      g_console_signal = type;
      ::SetEvent(g_console_stop);
      return TRUE;
    default:
      return FALSE;
  }
}

const char* ConsoleSignalName(DWORD type) {
  switch (type) {
    case CTRL_C_EVENT:
      return "Ctrl+C";
    case CTRL_BREAK_EVENT:
      return "Ctrl+Break";
    case CTRL_CLOSE_EVENT:
      return "console closed";
    case CTRL_LOGOFF_EVENT:
      return "logoff";
    default:
      return "shutdown";
  }
}

}  // namespace

Status RunAsService(ServiceRunner& runner, ServiceTimings timings) {
  ServiceHost host(runner, timings);
  ServiceHost* expected = nullptr;
  if (!g_host.compare_exchange_strong(expected, &host)) {
    return MakeError(ErrorCode::kFailedPrecondition, "a service host already runs in this process");
  }
  std::wstring name = kServiceName;
  const SERVICE_TABLE_ENTRYW table[] = {{name.data(), &ServiceMain}, {nullptr, nullptr}};
  const BOOL ok = ::StartServiceCtrlDispatcherW(table);
  const DWORD err = ok ? 0 : ::GetLastError();
  g_host = nullptr;
  if (ok) return Status::Ok();
  if (err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "not started by the service control manager (`service` is what the SCM "
                     "runs; use `mamori-agent run` in a console)");
  }
  return MakeError(ErrorCode::kInternal, Win32ErrorText("StartServiceCtrlDispatcherW", err));
}

Status RunInConsole(ServiceRunner& runner) {
  UniqueHandle stop(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!stop)
    return MakeError(ErrorCode::kInternal, Win32ErrorText("CreateEventW", ::GetLastError()));
  g_console_stop = stop.get();
  if (!::SetConsoleCtrlHandler(&ConsoleCtrlHandler, TRUE)) {
    g_console_stop = nullptr;
    return MakeError(ErrorCode::kInternal,
                     Win32ErrorText("SetConsoleCtrlHandler", ::GetLastError()));
  }
  Status result = runner.Start(/*status_handle=*/nullptr);
  if (result.ok()) {
    GetLogger("service")->info("running in the console; Ctrl+C stops");
    ::WaitForSingleObject(stop.get(), INFINITE);
    const char* reason = ConsoleSignalName(g_console_signal.load());
    GetLogger("service")->info("stopping: {}", reason);
    runner.Stop(reason);
  }
  ::SetConsoleCtrlHandler(&ConsoleCtrlHandler, FALSE);
  g_console_stop = nullptr;
  return result;
}

}  // namespace mamori
