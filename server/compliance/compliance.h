#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mamori {

enum class CheckResult { kPass, kFail, kUnknown };
enum class ComplianceStatus { kCompliant, kNonCompliant, kUnknown };

std::string_view CheckResultName(CheckResult r);  // "pass", "fail", "unknown"
std::string_view ComplianceStatusName(
    ComplianceStatus s);  // "compliant", "non_compliant", "unknown"

// Names of the checks, stable across releases (used in filters and output).
inline constexpr std::string_view kCheckReporting = "reporting";
inline constexpr std::string_view kCheckPolicyCurrent = "policy_current";
inline constexpr std::string_view kCheckEnforcementActive = "enforcement_active";
inline constexpr std::string_view kCheckNoUnapprovedStorage = "no_unapproved_storage";
inline constexpr std::string_view kCheckClockSkew = "clock_skew";

struct ComplianceCheck {
  std::string name;
  CheckResult result = CheckResult::kUnknown;
  std::string evidence;  // readable by an auditor
};

struct TerminalCompliance {
  ComplianceStatus status = ComplianceStatus::kUnknown;
  std::vector<ComplianceCheck> checks;

  std::vector<std::string> FailingChecks() const;
};

// Compliant when every check passes; non-compliant when any fails; unknown otherwise.
ComplianceStatus Combine(const std::vector<ComplianceCheck>& checks);

}  // namespace mamori
