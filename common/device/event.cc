#include "common/device/event.h"

#include <array>
#include <utility>

namespace mamori {
namespace {

constexpr std::array<std::pair<EventKind, std::string_view>, 17> kKindNames = {{
    {EventKind::kUnspecified, "unspecified"},
    {EventKind::kDeviceAllowed, "device_allowed"},
    {EventKind::kDeviceBlocked, "device_blocked"},
    {EventKind::kDeviceReadOnly, "device_read_only"},
    {EventKind::kDeviceRemoved, "device_removed"},
    {EventKind::kEnforcementFailure, "enforcement_failure"},
    {EventKind::kPolicyApplied, "policy_applied"},
    {EventKind::kPolicyRejected, "policy_rejected"},
    {EventKind::kEventsDropped, "events_dropped"},
    {EventKind::kAgentStarted, "agent_started"},
    {EventKind::kAgentStopping, "agent_stopping"},
    {EventKind::kExceptionStarted, "exception_started"},
    {EventKind::kExceptionEnded, "exception_ended"},
    {EventKind::kUnlockCodeAccepted, "unlock_code_accepted"},
    {EventKind::kUnlockCodeRefused, "unlock_code_refused"},
    {EventKind::kCertificateRenewed, "certificate_renewed"},
    {EventKind::kCertificateRenewalFailed, "certificate_renewal_failed"},
}};

}  // namespace

std::string_view EventKindName(EventKind k) {
  for (const auto& [kind, name] : kKindNames) {
    if (kind == k) return name;
  }
  return "unspecified";
}

std::optional<EventKind> ParseEventKind(std::string_view name) {
  for (const auto& [kind, n] : kKindNames) {
    if (n == name && kind != EventKind::kUnspecified) return kind;
  }
  return std::nullopt;
}

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kAlert:
      return "alert";
    case Severity::kUnspecified:
      break;
  }
  return "unspecified";
}

}  // namespace mamori
