#pragma once

// clang-format off
#include <windows.h>
// clang-format on
#include <winsvc.h>

#include <string_view>

#include "agent/platform/windows/service/service_state.h"
#include "common/base/result.h"

namespace mamori {

// What the service host (and the console mode) runs: the agent, wired in
// main.
class ServiceRunner {
 public:
  virtual ~ServiceRunner() = default;
  // Brings the agent up. `status_handle` is the service's (for device
  // notifications delivered as SERVICE_CONTROL_DEVICEEVENT), nullptr in
  // console mode. An error ends the service with a service-specific exit
  // code, which triggers the recovery actions.
  virtual Status Start(SERVICE_STATUS_HANDLE status_handle) = 0;
  // Orderly stop; `reason` ("service stop", "preshutdown", "Ctrl+C") is
  // recorded. Returns within the stop wait hint.
  virtual void Stop(std::string_view reason) = 0;
  // SERVICE_CONTROL_DEVICEEVENT's dwEventType and lpEventData, while the
  // service starts or runs. Runs on the SCM's handler thread: must only
  // queue work.
  virtual void OnDeviceEvent(DWORD event_type, const void* event_data) = 0;
};

// The service-specific exit code of a start that failed.
inline constexpr uint32_t kServiceExitStartFailed = 1;

// Runs `runner` as the MamoriAgent service: StartServiceCtrlDispatcherW,
// ServiceMain, RegisterServiceCtrlHandlerExW (stop, preshutdown, device
// events, interrogate) and SetServiceStatus with checkpoints and wait hints
// from ServiceStateMachine. Returns when the service has stopped. An error
// when the process was not started by the SCM (kFailedPrecondition) or the
// dispatcher failed. One service per process.
Status RunAsService(ServiceRunner& runner, ServiceTimings timings);

// Console mode: Start, wait for Ctrl+C, Ctrl+Break, the console closing or
// a logoff/shutdown (SetConsoleCtrlHandler), Stop.
Status RunInConsole(ServiceRunner& runner);

}  // namespace mamori
