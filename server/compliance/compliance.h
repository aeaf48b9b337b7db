#pragma once

#include <array>
#include <optional>
#include <span>
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
// Fails when the terminal's identity was revoked or the terminal retired:
// it can no longer connect, so nothing it reported before still holds.
inline constexpr std::string_view kCheckNotRevoked = "not_revoked";

// The checks in the order every verdict lists them.
inline constexpr std::array<std::string_view, 6> kCheckNames = {
    kCheckReporting,           kCheckPolicyCurrent, kCheckEnforcementActive,
    kCheckNoUnapprovedStorage, kCheckClockSkew,     kCheckNotRevoked};
using CheckResults = std::array<CheckResult, kCheckNames.size()>;

// Position of `name` in kCheckNames, or nullopt for a name that is not a check.
constexpr std::optional<int> CheckPosition(std::string_view name) {
  for (std::size_t i = 0; i < kCheckNames.size(); ++i) {
    if (kCheckNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

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

// Compliant when every check passes; non-compliant when any fails; unknown
// otherwise (no checks at all included).
ComplianceStatus Combine(std::span<const CheckResult> results);
ComplianceStatus Combine(const std::vector<ComplianceCheck>& checks);

}  // namespace mamori
