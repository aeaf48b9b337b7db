#include "server/compliance/compliance_wire.h"

namespace mamori {

CheckResult FromProto(v1::CheckResult r) {
  switch (r) {
    case v1::CHECK_RESULT_PASS:
      return CheckResult::kPass;
    case v1::CHECK_RESULT_FAIL:
      return CheckResult::kFail;
    default:
      return CheckResult::kUnknown;
  }
}
v1::CheckResult ToProto(CheckResult r) {
  switch (r) {
    case CheckResult::kPass:
      return v1::CHECK_RESULT_PASS;
    case CheckResult::kFail:
      return v1::CHECK_RESULT_FAIL;
    case CheckResult::kUnknown:
      break;
  }
  return v1::CHECK_RESULT_UNKNOWN;
}

ComplianceStatus FromProto(v1::ComplianceStatus s) {
  switch (s) {
    case v1::COMPLIANCE_STATUS_COMPLIANT:
      return ComplianceStatus::kCompliant;
    case v1::COMPLIANCE_STATUS_NON_COMPLIANT:
      return ComplianceStatus::kNonCompliant;
    default:
      return ComplianceStatus::kUnknown;
  }
}
v1::ComplianceStatus ToProto(ComplianceStatus s) {
  switch (s) {
    case ComplianceStatus::kCompliant:
      return v1::COMPLIANCE_STATUS_COMPLIANT;
    case ComplianceStatus::kNonCompliant:
      return v1::COMPLIANCE_STATUS_NON_COMPLIANT;
    case ComplianceStatus::kUnknown:
      break;
  }
  return v1::COMPLIANCE_STATUS_UNKNOWN;
}

void ToProto(const ComplianceCheck& c, v1::ComplianceCheck* out) {
  out->set_name(c.name);
  out->set_result(ToProto(c.result));
  out->set_evidence(c.evidence);
}

v1::TerminalStanding ToProto(TerminalStanding s) {
  switch (s) {
    case TerminalStanding::kActive:
      return v1::TERMINAL_STANDING_ACTIVE;
    case TerminalStanding::kRevoked:
      return v1::TERMINAL_STANDING_REVOKED;
    case TerminalStanding::kRetired:
      return v1::TERMINAL_STANDING_RETIRED;
  }
  return v1::TERMINAL_STANDING_UNSPECIFIED;
}

}  // namespace mamori
