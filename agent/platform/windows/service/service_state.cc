#include "agent/platform/windows/service/service_state.h"

namespace mamori {

ServiceStateMachine::ServiceStateMachine(ServiceTimings timings) : timings_(timings) {}

ServiceStatusReport ServiceStateMachine::Pending(ServiceState state, uint32_t wait_hint_ms) {
  status_ = ServiceStatusReport{};
  status_.state = state;
  status_.checkpoint = 1;
  status_.wait_hint_ms = wait_hint_ms;
  return status_;
}

ServiceStatusReport ServiceStateMachine::BeginStart() {
  return Pending(ServiceState::kStartPending, timings_.start_wait_hint_ms);
}

ServiceStatusReport ServiceStateMachine::Progress() {
  if (status_.state == ServiceState::kStartPending || status_.state == ServiceState::kStopPending) {
    ++status_.checkpoint;
  }
  return status_;
}

ServiceStatusReport ServiceStateMachine::Started() {
  status_ = ServiceStatusReport{};
  status_.state = ServiceState::kRunning;
  status_.controls_accepted = kServiceAcceptStop | kServiceAcceptPreshutdown;
  return status_;
}

ServiceStatusReport ServiceStateMachine::BeginStop() {
  if (status_.state == ServiceState::kStopPending) return status_;
  return Pending(ServiceState::kStopPending, timings_.stop_wait_hint_ms);
}

ServiceStatusReport ServiceStateMachine::Stopped(uint32_t service_exit_code) {
  status_ = ServiceStatusReport{};
  status_.state = ServiceState::kStopped;
  if (service_exit_code != 0) {
    status_.win32_exit_code = kErrorServiceSpecificError;
    status_.service_specific_exit_code = service_exit_code;
  }
  return status_;
}

ControlResult ServiceStateMachine::OnControl(uint32_t control) {
  ControlResult r;
  switch (control) {
    case kServiceControlInterrogate:
      r.report = true;
      return r;
    case kServiceControlStop:
    case kServiceControlPreshutdown:
    case kServiceControlShutdown: {
      const uint32_t needed = control == kServiceControlStop          ? kServiceAcceptStop
                              : control == kServiceControlPreshutdown ? kServiceAcceptPreshutdown
                                                                      : 0u;
      if (status_.state == ServiceState::kStopPending) {
        return r;  // already stopping: the request is satisfied
      }
      // SHUTDOWN is never accepted (preshutdown is, and comes first).
      if (needed == 0 || (status_.controls_accepted & needed) == 0) {
        r.return_code = kErrorCallNotImplemented;
        return r;
      }
      BeginStop();
      r.report = true;
      r.stop_requested = true;
      return r;
    }
    case kServiceControlDeviceEvent:
      // Device notifications registered with the service handle arrive
      // whatever controls_accepted says. The agent registers while it
      // starts, and an arrival then (a disk that must be made read-only)
      // must not be lost; once stopping, nobody handles them any more.
      // Never acted on on the handler thread.
      r.devices_changed =
          status_.state == ServiceState::kStartPending || status_.state == ServiceState::kRunning;
      return r;
    default:
      r.return_code = kErrorCallNotImplemented;
      return r;
  }
}

}  // namespace mamori
