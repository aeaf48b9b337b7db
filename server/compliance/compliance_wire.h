#pragma once

// Compliance verdicts in types.proto's terms.

#include "mamori/v1/admin.pb.h"
#include "mamori/v1/types.pb.h"
#include "server/compliance/compliance.h"
#include "server/compliance/terminal_standing.h"

namespace mamori {

CheckResult FromProto(v1::CheckResult r);
v1::CheckResult ToProto(CheckResult r);
ComplianceStatus FromProto(v1::ComplianceStatus s);
v1::ComplianceStatus ToProto(ComplianceStatus s);
void ToProto(const ComplianceCheck& c, v1::ComplianceCheck* out);
v1::TerminalStanding ToProto(TerminalStanding s);

}  // namespace mamori
