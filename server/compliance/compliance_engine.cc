#include "server/compliance/compliance_engine.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

#include "common/base/jst_time.h"
#include "common/policy/rule_engine.h"
#include "server/ingest/ingest_limits.h"

namespace mamori {
namespace {

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

// Seconds with one decimal when not whole: "180 s", "1.2 s". Truncated, never
// rounded up, so a value shown as within a limit is within it.
std::string FormatSeconds(int64_t ms) {
  const int64_t tenths = ms / 100;
  if (tenths % 10 == 0) return std::to_string(tenths / 10) + " s";
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

// The two most significant units an auditor reads at a glance:
// "350 ms", "1.2 s", "42 s", "7 min 3 s", "2 h 5 min", "3 d 4 h".
std::string FormatDuration(int64_t ms) {
  if (ms <= 0) return "0 s";
  if (ms < kSecondMs) return std::to_string(ms) + " ms";
  if (ms < 10 * kSecondMs) return FormatSeconds(ms);
  auto two_units = [](int64_t major, std::string_view major_unit, int64_t minor,
                      std::string_view minor_unit) {
    std::string out = std::to_string(major) + " " + std::string(major_unit);
    if (minor != 0) out += " " + std::to_string(minor) + " " + std::string(minor_unit);
    return out;
  };
  if (ms < kMinuteMs) return std::to_string(ms / kSecondMs) + " s";
  if (ms < kHourMs) return two_units(ms / kMinuteMs, "min", ms % kMinuteMs / kSecondMs, "s");
  if (ms < kDayMs) return two_units(ms / kHourMs, "h", ms % kHourMs / kMinuteMs, "min");
  return two_units(ms / kDayMs, "d", ms % kDayMs / kHourMs, "h");
}

// ISO 8601 in UTC: unambiguous in an audit record whatever the reader's zone.
std::string FormatUtc(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / kSecondMs);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return std::to_string(ms) + " ms since epoch";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string PolicyLabel(const Policy* assigned, uint64_t assigned_version) {
  if (assigned == nullptr) return "the built-in default policy";
  return "policy version " + std::to_string(assigned_version);
}

// "0781:5567 serial "4C53..." product "Cruzer Blade"". The strings were
// sanitized when the report was received.
std::string DescribeDevice(const Device& d) {
  std::string out = d.identity.VidPid();
  if (!d.identity.serial.empty()) out += " serial " + Quoted(d.identity.serial);
  if (!d.identity.product.empty()) out += " product " + Quoted(d.identity.product);
  return out;
}

std::string DescribeReported(const Decision& d) {
  std::string out = "agent reported " + std::string(ActionName(d.action));
  if (!d.matched_rule.empty()) out += " by rule " + Quoted(d.matched_rule);
  if (!d.enforced) out += ", not enforced";
  if (!d.enforcement_error.empty()) out += ": " + d.enforcement_error;
  return out;
}

std::string JoinEvidence(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

ComplianceCheck NoReport(std::string_view name) {
  return ComplianceCheck{std::string(name), CheckResult::kUnknown, "no report received"};
}

int64_t ReportIntervalMs(const TerminalState& state, const ComplianceConfig& config) {
  return state.report_interval_s > 0 ? int64_t{state.report_interval_s} * kSecondMs
                                     : config.default_report_interval_ms;
}

ComplianceCheck CheckReporting(const TerminalState& state, int64_t now_ms,
                               const ComplianceConfig& config) {
  if (state.last_report_ms == 0) return NoReport(kCheckReporting);
  const int64_t interval_ms = ReportIntervalMs(state, config);
  const int64_t limit_ms = ReportingLimitMs(state, config);
  // The collector's own clock stamps last_report_ms.
  const int64_t age_ms = now_ms > state.last_report_ms ? now_ms - state.last_report_ms : 0;
  const std::string evidence = "last report " + FormatDuration(age_ms) + " ago at " +
                               FormatUtc(state.last_report_ms) + " (limit " +
                               FormatSeconds(limit_ms) + ", three report intervals of " +
                               FormatSeconds(interval_ms) + ")";
  return ComplianceCheck{std::string(kCheckReporting),
                         ReportingVerdict(state.last_report_ms, limit_ms, now_ms), evidence};
}

ComplianceCheck CheckPolicyCurrent(const TerminalState& state, uint64_t assigned_version) {
  if (state.last_report_ms == 0) return NoReport(kCheckPolicyCurrent);
  const std::string applied = std::to_string(state.applied_policy_version);
  const std::string wanted = std::to_string(assigned_version);
  const CheckResult verdict = PolicyCurrentVerdict(state.applied_policy_version, assigned_version);
  if (verdict == CheckResult::kPass) {
    return ComplianceCheck{std::string(kCheckPolicyCurrent), verdict,
                           assigned_version == 0
                               // Version 0 is whatever the agent enforces before
                               // any bundle: its local bootstrap policy file, or
                               // the built-in default. The report does not say
                               // which, so the evidence must not claim either.
                               ? "no policy assigned to the group; the agent enforces version 0 "
                                 "(its local bootstrap policy, or else the built-in default)"
                               : "applies version " + applied + ", the assigned version"};
  }
  return ComplianceCheck{std::string(kCheckPolicyCurrent), verdict,
                         "applies version " + applied + ", assigned version " + wanted};
}

ComplianceCheck CheckEnforcementActive(const TerminalState& state) {
  const std::string name(kCheckEnforcementActive);
  if (state.last_report_ms == 0) return NoReport(kCheckEnforcementActive);
  const EnforcementStatus& e = state.enforcement;
  const std::string backend = e.backend.empty() ? "backend not reported" : "backend " + e.backend;
  switch (e.mode) {
    case EnforcementMode::kUnspecified:
      return ComplianceCheck{name, CheckResult::kUnknown, "enforcement mode not reported"};
    case EnforcementMode::kAuditOnly:
      return ComplianceCheck{name, CheckResult::kFail,
                             "audit-only mode: nothing is blocked (" + backend + ")"};
    case EnforcementMode::kEnforce:
      break;
  }
  if (!e.healthy) {
    std::string evidence = "enforcement unhealthy (" + backend + ")";
    if (!e.detail.empty()) evidence += ": " + e.detail;
    return ComplianceCheck{name, CheckResult::kFail, evidence};
  }
  std::vector<std::string> failures;
  for (const Device& d : state.devices) {
    if (d.decision.enforced) continue;
    failures.push_back(
        DescribeDevice(d) + " not enforced (decision " +
        std::string(ActionName(d.decision.action)) +
        (d.decision.enforcement_error.empty() ? ")" : ": " + d.decision.enforcement_error + ")"));
  }
  if (!failures.empty()) {
    return ComplianceCheck{
        name, CheckResult::kFail,
        "decisions not carried out (" + backend + "): " + JoinEvidence(failures)};
  }
  return ComplianceCheck{name, CheckResult::kPass,
                         "enforcing via " + (e.backend.empty() ? "an unnamed backend" : e.backend) +
                             ", " + std::to_string(state.devices.size()) +
                             " device(s) present, all decisions enforced"};
}

// The action the device is usable with, or kBlock when it is not usable.
Action UsableAs(const Decision& d) {
  switch (d.action) {
    case Action::kAllow:
    case Action::kReadOnly:
      return d.action;
    case Action::kBlock:
      if (!d.enforced) return Action::kAllow;
      // A composite device blocked as a whole still exposes the interfaces
      // it keeps; a kept storage interface is usable storage.
      return std::any_of(d.allowed_interface_classes.begin(), d.allowed_interface_classes.end(),
                         IsRemovableStorage)
                 ? Action::kAllow
                 : Action::kBlock;
    case Action::kUnspecified:
      break;
  }
  // No decision: the agent's fail-closed default (authorized_default=0) keeps
  // the device unusable; enforcement_active reports the missing decision.
  return Action::kBlock;
}

}  // namespace

CheckResult ReportingVerdict(int64_t last_report_ms, int64_t limit_ms, int64_t now_ms) {
  if (last_report_ms == 0) return CheckResult::kUnknown;
  const int64_t age_ms = now_ms > last_report_ms ? now_ms - last_report_ms : 0;
  return age_ms <= limit_ms ? CheckResult::kPass : CheckResult::kFail;
}

CheckResult PolicyCurrentVerdict(uint64_t applied_version, uint64_t assigned_version) {
  return applied_version == assigned_version ? CheckResult::kPass : CheckResult::kFail;
}

bool IsUsableStorage(const Device& device) {
  return device.identity.HasStorage() && UsableAs(device.decision) != Action::kBlock;
}

int64_t ReportingLimitMs(const TerminalState& state, const ComplianceConfig& config) {
  return 3 * ReportIntervalMs(state, config);
}

ComplianceCheck CheckNoUnapprovedStorage(const TerminalState& state, const Policy* assigned,
                                         uint64_t assigned_version, int64_t now_ms) {
  const std::string name(kCheckNoUnapprovedStorage);
  if (state.last_report_ms == 0) return NoReport(kCheckNoUnapprovedStorage);
  const Policy builtin = assigned == nullptr ? BuiltinDefaultPolicy() : Policy{};
  const Policy& policy = assigned == nullptr ? builtin : *assigned;
  const std::string label = PolicyLabel(assigned, assigned_version);

  std::vector<std::string> violations;
  int usable = 0;
  for (const Device& d : state.devices) {
    if (!d.identity.HasStorage()) continue;
    const Action usable_as = UsableAs(d.decision);
    if (usable_as == Action::kBlock) continue;
    ++usable;
    // An approved exception in force allows the device, as on the agent.
    Decision wanted;
    if (const DeviceException* ex =
            ActiveException(policy.exceptions, state.terminal_id, d.identity, now_ms)) {
      wanted.action = Action::kAllow;
      wanted.matched_rule = "exception:" + ex->id;
    } else {
      wanted = Evaluate(policy, d.identity, now_ms);
    }
    wanted.enforced = true;
    const Action wanted_usable = UsableAs(wanted);
    const bool violates = wanted.action == Action::kUnspecified ||
                          wanted_usable == Action::kBlock ||
                          (wanted_usable == Action::kReadOnly && usable_as == Action::kAllow);
    if (!violates) continue;
    violations.push_back(DescribeDevice(d) + " usable (" + DescribeReported(d.decision) + "); " +
                         label + " says " + std::string(ActionName(wanted.action)) + " (rule " +
                         Quoted(wanted.matched_rule) + ")");
  }
  if (!violations.empty()) {
    return ComplianceCheck{name, CheckResult::kFail, JoinEvidence(violations)};
  }
  if (usable == 0) {
    return ComplianceCheck{name, CheckResult::kPass, "no usable removable storage"};
  }
  return ComplianceCheck{
      name, CheckResult::kPass,
      std::to_string(usable) + " usable storage device(s), all permitted by " + label};
}

namespace {

ComplianceCheck CheckClockSkew(const TerminalState& state, const ComplianceConfig& config) {
  const std::string name(kCheckClockSkew);
  // A report refused for its clock is newer than the snapshot: being
  // refused must not hide the skew behind the last accepted report.
  if (state.clock_refused_ms != 0 && state.clock_refused_ms >= state.last_report_ms) {
    const int64_t agent = state.clock_refused_agent_ms;
    const int64_t at = state.clock_refused_ms;
    const uint64_t magnitude = agent > at
                                   ? static_cast<uint64_t>(agent) - static_cast<uint64_t>(at)
                                   : static_cast<uint64_t>(at) - static_cast<uint64_t>(agent);
    return ComplianceCheck{
        name, CheckResult::kFail,
        "report of " + JstIso8601(at) + " refused: agent clock " +
            std::to_string(magnitude / (24ULL * 3600 * 1000)) + " days " +
            (agent > at ? "ahead" : "behind") + " (the collector refuses reports beyond " +
            std::to_string(kMaxAgentClockOffsetMs / (24LL * 3600 * 1000)) + " days)"};
  }
  if (state.last_report_ms == 0) return NoReport(kCheckClockSkew);
  if (state.agent_time_ms == 0) {
    return ComplianceCheck{name, CheckResult::kUnknown, "agent clock not reported"};
  }
  // Measured at receipt, so network delay counts as skew; the limit is
  // minutes, delays are milliseconds.
  const int64_t skew_ms = state.agent_time_ms - state.last_report_ms;
  const int64_t magnitude = skew_ms < 0 ? -skew_ms : skew_ms;
  const std::string direction = skew_ms > 0 ? "ahead" : "behind";
  const std::string limit = "(limit " + FormatSeconds(config.max_clock_skew_ms) + ")";
  if (magnitude <= config.max_clock_skew_ms) {
    std::string evidence = "skew " + FormatDuration(magnitude);
    if (magnitude != 0) evidence += ", agent clock " + direction;
    return ComplianceCheck{name, CheckResult::kPass, evidence + " " + limit};
  }
  return ComplianceCheck{
      name, CheckResult::kFail,
      "agent clock " + FormatDuration(magnitude) + " " + direction + " " + limit};
}

bool InSubtree(std::string_view group, std::string_view root) {
  if (root.empty() || group == root) return true;
  return group.size() > root.size() && group.substr(0, root.size()) == root &&
         group[root.size()] == '/';
}

}  // namespace

CheckResult NotRevokedVerdict(TerminalStanding standing, bool reported) {
  if (standing != TerminalStanding::kActive) return CheckResult::kFail;
  return reported ? CheckResult::kPass : CheckResult::kUnknown;
}

ComplianceCheck CheckStanding(const StandingInfo* standing, bool reported) {
  const TerminalStanding s = standing == nullptr ? TerminalStanding::kActive : standing->standing;
  ComplianceCheck c{std::string(kCheckNotRevoked), NotRevokedVerdict(s, reported), ""};
  switch (s) {
    case TerminalStanding::kActive:
      c.evidence = reported ? "the terminal's identity is not revoked" : "no report received";
      break;
    case TerminalStanding::kRevoked:
    case TerminalStanding::kRetired:
      c.evidence = std::string(s == TerminalStanding::kRevoked ? "identity revoked" : "retired") +
                   " by " + standing->actor + " at " + JstIso8601(standing->at_ms) + ": " +
                   standing->reason;
      break;
  }
  return c;
}

TerminalCompliance EvaluateCompliance(const TerminalState& state, const Policy* assigned,
                                      uint64_t assigned_version, int64_t now_ms,
                                      const ComplianceConfig& config,
                                      const StandingInfo* standing) {
  // In kCheckNames order.
  TerminalCompliance out;
  out.checks.push_back(CheckReporting(state, now_ms, config));
  out.checks.push_back(CheckPolicyCurrent(state, assigned_version));
  out.checks.push_back(CheckEnforcementActive(state));
  out.checks.push_back(CheckNoUnapprovedStorage(state, assigned, assigned_version, now_ms));
  out.checks.push_back(CheckClockSkew(state, config));
  out.checks.push_back(CheckStanding(standing, state.last_report_ms != 0));
  out.status = Combine(out.checks);
  return out;
}

std::vector<GroupSummary> AggregateByGroup(
    const std::vector<std::pair<std::string, ComplianceStatus>>& terminals,
    std::string_view within) {
  std::map<std::string, GroupSummary, std::less<>> rows;
  auto count = [&rows](std::string_view group, ComplianceStatus status) {
    auto it = rows.find(group);
    if (it == rows.end()) {
      it = rows.emplace(std::string(group), GroupSummary{}).first;
      it->second.group = std::string(group);
    }
    GroupSummary& row = it->second;
    ++row.terminals;
    switch (status) {
      case ComplianceStatus::kCompliant:
        ++row.compliant;
        break;
      case ComplianceStatus::kNonCompliant:
        ++row.non_compliant;
        break;
      case ComplianceStatus::kUnknown:
        ++row.unknown;
        break;
    }
  };

  for (const auto& [group, status] : terminals) {
    if (!InSubtree(group, within)) continue;
    // The terminal's group, then each ancestor up to `within` (or up to ""
    // for the whole deployment).
    std::string_view g = group;
    while (InSubtree(g, within)) {
      count(g, status);
      if (g.empty()) break;
      const std::size_t slash = g.rfind('/');
      g = slash == std::string_view::npos ? std::string_view() : g.substr(0, slash);
    }
  }

  std::vector<GroupSummary> out;
  out.reserve(rows.size());
  for (auto& [name, row] : rows) out.push_back(std::move(row));
  return out;
}

}  // namespace mamori
