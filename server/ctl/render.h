#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <ostream>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "mamori/v1/admin.pb.h"

namespace mamori::ctl {

// Human-readable views of AdminService responses. Pure functions of the
// message, so tests pin the output without a collector. Every string is
// printed through Table or TerminalSafe: device strings are hostile.

// GROUP, TERMINALS, COMPLIANT, NON-COMPLIANT, UNKNOWN, % COMPLIANT.
void RenderGroupSummaries(const v1::GroupSummariesResponse& response, std::ostream& out);
// ID, GROUP, STATUS, FAILING CHECKS, LAST REPORT, POLICY (applied/assigned).
void RenderTerminalList(const v1::ListTerminalsResponse& response, std::ostream& out);
// Header, checks (failing first), devices, recent events.
void RenderTerminalDetail(const v1::TerminalDetail& detail, std::ostream& out);
// TIME, TERMINAL, KIND, SEVERITY, DEVICE, RULE, USER, DETAIL.
void RenderEvents(const v1::QueryEventsResponse& response, std::ostream& out);
// Daily compliance counts, oldest first, with the compliance rate.
void RenderTrend(const v1::ComplianceTrendResponse& response, std::ostream& out);
// The policy YAML preceded by a header of YAML comments (version, group,
// applied by/at, inheritance), so the output can be saved and re-applied.
void RenderPolicy(const v1::GetPolicyResponse& response, std::string_view group, std::ostream& out);
// A dry run of `policy apply`: what it replaces, the diff, then TERMINAL,
// GROUP, VID:PID, PRODUCT, SERIAL, OLD, OLD RULE, NEW, NEW RULE for every
// device whose decision would change ("(no device would change decision)").
void RenderPolicyDryRun(const v1::PolicyDryRun& run, std::string_view group, std::ostream& out);
// VERSION, APPLIED AT, APPLIED BY, NAME, BYTES, FIRST LINE; newest first.
void RenderPolicyHistory(const v1::PolicyHistoryResponse& response, std::string_view group,
                         std::ostream& out);

// Protobuf's JSON mapping, indented, with zero values printed.
Result<std::string> ToJson(const google::protobuf::Message& message);

// "2026-11-22T03:04:05Z".
std::string FormatTimestamp(const google::protobuf::Timestamp& t);

// Lower-case names used on the command line and in tables.
std::string_view ComplianceStatusName(v1::ComplianceStatus s);  // "non_compliant"
std::string EventKindName(v1::EventKind k);                     // "device_blocked"

}  // namespace mamori::ctl
