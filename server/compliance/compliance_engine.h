#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/device/terminal_state.h"
#include "common/policy/policy.h"
#include "server/compliance/compliance.h"
#include "server/compliance/terminal_standing.h"

namespace mamori {

struct ComplianceConfig {
  int64_t default_report_interval_ms = 60'000;  // when the agent did not say
  int64_t max_clock_skew_ms = 120'000;
};

// Evaluates the checks of server/compliance/compliance.h for one terminal at now_ms.
// `assigned` is the policy in force for the terminal's group (nullptr = none,
// i.e. the built-in default, version 0).
//
// A terminal that never reported is unknown on every check: there is nothing
// to judge. no_unapproved_storage treats a storage device as usable when the
// agent allowed it (allow or read_only), and also when the agent decided to
// block it but could not enforce that: a block that did not happen leaves
// the device usable. A usable device fails the check when the assigned
// policy blocks it, or makes it read-only while the agent allowed writing.
// `standing` (nullptr = active) decides not_revoked.
TerminalCompliance EvaluateCompliance(const TerminalState& state, const Policy* assigned,
                                      uint64_t assigned_version, int64_t now_ms,
                                      const ComplianceConfig& config,
                                      const StandingInfo* standing = nullptr);

// Pieces of EvaluateCompliance for callers that keep verdicts between
// reports (ComplianceIndex) and must reach the same ones: the verdicts of
// the checks that depend on the time or the assigned policy are made here
// only, from the few values they depend on.
//
// reporting: unknown before any report (last_report_ms 0); passes while the
// last report is at most `limit_ms` old (a report stamped after `now_ms`,
// evaluation racing ingest, is simply current).
CheckResult ReportingVerdict(int64_t last_report_ms, int64_t limit_ms, int64_t now_ms);
// policy_current: the agent applies the version assigned to its group.
CheckResult PolicyCurrentVerdict(uint64_t applied_version, uint64_t assigned_version);
//
// How old the last report may be for the reporting check to pass: three
// report intervals, the agent's own or else the configured default.
int64_t ReportingLimitMs(const TerminalState& state, const ComplianceConfig& config);
// True when no_unapproved_storage judges the device: removable storage that
// the agent left usable. The check ignores every other device.
bool IsUsableStorage(const Device& device);
// not_revoked: fails for a revoked or retired terminal whatever it reported,
// with who did it, when and why; unknown before any report otherwise.
CheckResult NotRevokedVerdict(TerminalStanding standing, bool reported);
ComplianceCheck CheckStanding(const StandingInfo* standing, bool reported);
// The no_unapproved_storage check on its own, as EvaluateCompliance makes it.
ComplianceCheck CheckNoUnapprovedStorage(const TerminalState& state, const Policy* assigned,
                                         uint64_t assigned_version, int64_t now_ms);

struct GroupSummary {
  std::string group;
  uint32_t terminals = 0;
  uint32_t compliant = 0;
  uint32_t non_compliant = 0;
  uint32_t unknown = 0;
};

// One row per group that has terminals and one per ancestor group (each
// counting all descendants), plus "" for the whole deployment; sorted by name.
// With a non-empty `within`, only terminals in that group or below count and
// only that group and its descendants get rows (no "" row, no ancestors).
std::vector<GroupSummary> AggregateByGroup(
    const std::vector<std::pair<std::string, ComplianceStatus>>& terminals,
    std::string_view within = "");

}  // namespace mamori
