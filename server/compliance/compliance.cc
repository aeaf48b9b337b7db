#include "server/compliance/compliance.h"

#include "server/compliance/terminal_standing.h"

namespace mamori {

std::string_view CheckResultName(CheckResult r) {
  switch (r) {
    case CheckResult::kPass:
      return "pass";
    case CheckResult::kFail:
      return "fail";
    case CheckResult::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view ComplianceStatusName(ComplianceStatus s) {
  switch (s) {
    case ComplianceStatus::kCompliant:
      return "compliant";
    case ComplianceStatus::kNonCompliant:
      return "non_compliant";
    case ComplianceStatus::kUnknown:
      break;
  }
  return "unknown";
}

std::vector<std::string> TerminalCompliance::FailingChecks() const {
  std::vector<std::string> out;
  for (const auto& c : checks) {
    if (c.result == CheckResult::kFail) out.push_back(c.name);
  }
  return out;
}

ComplianceStatus Combine(std::span<const CheckResult> results) {
  bool unknown = results.empty();
  for (CheckResult r : results) {
    if (r == CheckResult::kFail) return ComplianceStatus::kNonCompliant;
    if (r == CheckResult::kUnknown) unknown = true;
  }
  return unknown ? ComplianceStatus::kUnknown : ComplianceStatus::kCompliant;
}

ComplianceStatus Combine(const std::vector<ComplianceCheck>& checks) {
  std::vector<CheckResult> results;
  results.reserve(checks.size());
  for (const auto& c : checks) results.push_back(c.result);
  return Combine(results);
}

std::string_view TerminalStandingName(TerminalStanding s) {
  switch (s) {
    case TerminalStanding::kActive:
      return "active";
    case TerminalStanding::kRevoked:
      return "revoked";
    case TerminalStanding::kRetired:
      return "retired";
  }
  return "active";
}

}  // namespace mamori
