#pragma once

#include <cstdint>

namespace mamori {

// The service's side of the SCM protocol as a pure state machine, so the
// rules (what is accepted when, checkpoints, wait hints, exit codes) are
// unit-tested without an SCM. The service host feeds it controls from
// HandlerEx and passes every report to SetServiceStatus. Values equal the
// SDK constants (winsvc.h); service_host.cc static_asserts that. Not
// thread-safe: the host serializes calls.

enum class ServiceState : uint32_t {
  kStopped = 1,       // SERVICE_STOPPED
  kStartPending = 2,  // SERVICE_START_PENDING
  kStopPending = 3,   // SERVICE_STOP_PENDING
  kRunning = 4,       // SERVICE_RUNNING
};

inline constexpr uint32_t kServiceAcceptStop = 0x00000001;         // SERVICE_ACCEPT_STOP
inline constexpr uint32_t kServiceAcceptPreshutdown = 0x00000100;  // SERVICE_ACCEPT_PRESHUTDOWN

inline constexpr uint32_t kServiceControlStop = 1;          // SERVICE_CONTROL_STOP
inline constexpr uint32_t kServiceControlInterrogate = 4;   // SERVICE_CONTROL_INTERROGATE
inline constexpr uint32_t kServiceControlShutdown = 5;      // SERVICE_CONTROL_SHUTDOWN
inline constexpr uint32_t kServiceControlDeviceEvent = 11;  // SERVICE_CONTROL_DEVICEEVENT
inline constexpr uint32_t kServiceControlPreshutdown = 15;  // SERVICE_CONTROL_PRESHUTDOWN

inline constexpr uint32_t kNoError = 0;                       // NO_ERROR
inline constexpr uint32_t kErrorCallNotImplemented = 120;     // ERROR_CALL_NOT_IMPLEMENTED
inline constexpr uint32_t kErrorServiceSpecificError = 1066;  // ERROR_SERVICE_SPECIFIC_ERROR

// The fields of SERVICE_STATUS the service sets.
struct ServiceStatusReport {
  ServiceState state = ServiceState::kStopped;
  uint32_t controls_accepted = 0;
  uint32_t win32_exit_code = kNoError;
  uint32_t service_specific_exit_code = 0;
  uint32_t checkpoint = 0;
  uint32_t wait_hint_ms = 0;
  bool operator==(const ServiceStatusReport&) const = default;
};

struct ServiceTimings {
  uint32_t start_wait_hint_ms = 30'000;
  // Also what the SCM waits after preshutdown before it gives up on us.
  uint32_t stop_wait_hint_ms = 15'000;
};

// What the host should do about one control.
struct ControlResult {
  uint32_t return_code = kNoError;  // HandlerEx's return value
  bool report = false;              // call SetServiceStatus(machine.Current())
  bool stop_requested = false;      // begin an orderly stop
  bool devices_changed = false;     // pass the device event on (start pending or running)
};

class ServiceStateMachine {
 public:
  explicit ServiceStateMachine(ServiceTimings timings = {});

  // START_PENDING, checkpoint 1, accepting nothing: the SCM must not send
  // stop before the service can handle it.
  ServiceStatusReport BeginStart();
  // Another checkpoint of a pending state (start or stop), so the SCM sees
  // progress within the wait hint. Outside pending states: no change.
  ServiceStatusReport Progress();
  // RUNNING, accepting stop and preshutdown, checkpoint 0.
  ServiceStatusReport Started();
  // STOP_PENDING (if not already), checkpoint 1, stop wait hint.
  ServiceStatusReport BeginStop();
  // STOPPED. A nonzero `service_exit_code` is reported as
  // ERROR_SERVICE_SPECIFIC_ERROR with that code, which is what makes the
  // SCM's recovery actions (restart on failure) apply.
  ServiceStatusReport Stopped(uint32_t service_exit_code = 0);

  ControlResult OnControl(uint32_t control);

  const ServiceStatusReport& Current() const { return status_; }

 private:
  ServiceStatusReport Pending(ServiceState state, uint32_t wait_hint_ms);

  ServiceTimings timings_;
  ServiceStatusReport status_;
};

}  // namespace mamori
