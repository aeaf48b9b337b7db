#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/device/device.h"

namespace mamori {

// Mirrors mamori.v1.EventKind.
enum class EventKind {
  kUnspecified,
  kDeviceAllowed,
  kDeviceBlocked,
  kDeviceReadOnly,
  kDeviceRemoved,
  kEnforcementFailure,
  kPolicyApplied,
  kPolicyRejected,
  kEventsDropped,
  kAgentStarted,
  kAgentStopping,
  kExceptionStarted,          // a time-limited exception began to allow a device
  kExceptionEnded,            // its window closed (the device is decided again)
  kUnlockCodeAccepted,        // an offline unlock code was accepted on the terminal
  kUnlockCodeRefused,         // an offline unlock code was refused (why in detail)
  kCertificateRenewed,        // the terminal certificate was renewed (new expiry in detail)
  kCertificateRenewalFailed,  // renewal keeps failing and the certificate expires soon
};

enum class Severity { kUnspecified, kInfo, kWarning, kAlert };

// "device_allowed", "device_blocked", ... ; "unspecified".
std::string_view EventKindName(EventKind k);
std::optional<EventKind> ParseEventKind(std::string_view name);
std::string_view SeverityName(Severity s);  // "info", "warning", "alert"

struct Event {
  uint64_t seq = 0;     // per-agent, monotonic, from 1
  int64_t time_ms = 0;  // agent clock, Unix epoch ms
  EventKind kind = EventKind::kUnspecified;
  Severity severity = Severity::kInfo;
  std::optional<Device> device;
  std::string detail;
  std::string user;
};

// An event as the collector stored it.
struct StoredEvent {
  std::string terminal_id;
  Event event;
  int64_t received_ms = 0;  // collector clock
  // The terminal's group as of its last report ("" if it never reported);
  // filled in by queries, not stored with the event.
  std::string terminal_group;
};

}  // namespace mamori
