#include "server/ctl/render.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <vector>

#include "common/crypto/pki.h"
#include "server/ctl/display_text.h"
#include "server/ctl/table.h"

namespace mamori::ctl {
namespace {

// Widths that keep a device row within a wide terminal; the JSON output has
// the full strings.
constexpr int kDeviceStringWidth = 28;
constexpr int kSerialWidth = 24;
constexpr int kRuleWidth = 24;
constexpr int kDetailWidth = 60;
constexpr int kEvidenceWidth = 80;

// "DEVICE_CLASS_MASS_STORAGE" -> "mass_storage".
std::string ShortEnumName(const std::string& full, std::string_view prefix) {
  std::string s = full;
  if (std::string_view(s).starts_with(prefix)) s.erase(0, prefix.size());
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s.empty() ? "-" : s;
}

std::string ClassName(v1::DeviceClass c) {
  if (c == v1::DEVICE_CLASS_UNSPECIFIED) return "-";
  return ShortEnumName(v1::DeviceClass_Name(c), "DEVICE_CLASS_");
}

std::string ActionName(v1::Action a) {
  if (a == v1::ACTION_UNSPECIFIED) return "-";
  return ShortEnumName(v1::Action_Name(a), "ACTION_");
}

std::string SeverityName(v1::Severity s) {
  if (s == v1::SEVERITY_UNSPECIFIED) return "-";
  return ShortEnumName(v1::Severity_Name(s), "SEVERITY_");
}

std::string_view CheckResultName(v1::CheckResult r) {
  switch (r) {
    case v1::CHECK_RESULT_PASS:
      return "PASS";
    case v1::CHECK_RESULT_FAIL:
      return "FAIL";
    default:
      return "UNKNOWN";
  }
}

int CheckOrder(v1::CheckResult r) {
  switch (r) {
    case v1::CHECK_RESULT_FAIL:
      return 0;
    case v1::CHECK_RESULT_PASS:
      return 2;
    default:
      return 1;
  }
}

std::string Timestamp(bool has, const google::protobuf::Timestamp& t, std::string_view none) {
  return has ? FormatTimestamp(t) : std::string(none);
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

// "block (keeps hid, printer)": a composite device blocked as a whole with
// some interfaces still usable must not read as fully blocked.
std::string DecisionText(const v1::Decision& d) {
  std::string out = ActionName(d.action());
  std::string kept;
  for (int c : d.allowed_interface_classes()) {
    if (!kept.empty()) kept += ", ";
    kept += ClassName(static_cast<v1::DeviceClass>(c));
  }
  if (!kept.empty()) out += " (keeps " + kept + ")";
  return out;
}

std::string EnforcedText(const v1::Decision& d) {
  if (!d.enforcement_error().empty()) return "FAILED: " + d.enforcement_error();
  return d.enforced() ? "yes" : "no";
}

std::string EnforcementText(const v1::EnforcementStatus& e) {
  std::string out;
  switch (e.mode()) {
    case v1::ENFORCEMENT_MODE_ENFORCE:
      out = "enforce";
      break;
    case v1::ENFORCEMENT_MODE_AUDIT_ONLY:
      out = "AUDIT ONLY (nothing is blocked)";
      break;
    default:
      out = "unknown";
      break;
  }
  out += e.healthy() ? ", healthy" : ", UNHEALTHY";
  if (!e.detail().empty()) out += ": " + e.detail();
  if (!e.backend().empty()) out += " [" + e.backend() + "]";
  return out;
}

// Aligned "Label:  value" lines; values are made safe here since they do not
// pass through a Table.
void PrintFields(const std::vector<std::pair<std::string, std::string>>& fields,
                 std::ostream& out) {
  std::size_t width = 0;
  for (const auto& f : fields) width = std::max(width, f.first.size());
  for (const auto& [label, value] : fields) {
    out << label << ':' << std::string(width - label.size() + 2, ' ') << TerminalSafe(value)
        << '\n';
  }
}

}  // namespace

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  return FormatUtc(t.seconds() * 1000 + t.nanos() / 1'000'000);
}

std::string_view ComplianceStatusName(v1::ComplianceStatus s) {
  switch (s) {
    case v1::COMPLIANCE_STATUS_COMPLIANT:
      return "compliant";
    case v1::COMPLIANCE_STATUS_NON_COMPLIANT:
      return "non_compliant";
    case v1::COMPLIANCE_STATUS_UNKNOWN:
      return "unknown";
    default:
      return "-";
  }
}

std::string EventKindName(v1::EventKind k) {
  if (k == v1::EVENT_KIND_UNSPECIFIED) return "-";
  return ShortEnumName(v1::EventKind_Name(k), "EVENT_KIND_");
}

void RenderGroupSummaries(const v1::GroupSummariesResponse& response, std::ostream& out) {
  Table table({"GROUP", "TERMINALS", "COMPLIANT", "NON-COMPLIANT", "UNKNOWN", "% COMPLIANT"});
  for (std::size_t c = 1; c <= 5; ++c) table.SetRightAligned(c);
  for (const v1::GroupSummary& g : response.groups()) {
    std::string percent = "-";
    if (g.terminals() > 0) {
      char buf[16];
      std::snprintf(
          buf, sizeof(buf), "%.1f",
          100.0 * static_cast<double>(g.compliant()) / static_cast<double>(g.terminals()));
      percent = buf;
    }
    table.AddRow({g.group().empty() ? "(all)" : g.group(), std::to_string(g.terminals()),
                  std::to_string(g.compliant()), std::to_string(g.non_compliant()),
                  std::to_string(g.unknown()), percent});
  }
  table.Render(out);
}

// The status, with the standing when the terminal is revoked or retired.
std::string StatusText(const v1::TerminalSummary& t) {
  std::string out(ComplianceStatusName(t.status()));
  if (t.standing() == v1::TERMINAL_STANDING_REVOKED) out += " (revoked)";
  if (t.standing() == v1::TERMINAL_STANDING_RETIRED) out += " (retired)";
  return out;
}

void RenderTerminalList(const v1::ListTerminalsResponse& response, std::ostream& out) {
  Table table({"ID", "GROUP", "STATUS", "FAILING CHECKS", "LAST REPORT", "POLICY"});
  for (const v1::TerminalSummary& t : response.terminals()) {
    table.AddRow({t.terminal_id(), t.group(), StatusText(t), Join(t.failing_checks()),
                  Timestamp(t.has_last_report(), t.last_report(), "never"),
                  std::to_string(t.applied_policy_version()) + "/" +
                      std::to_string(t.assigned_policy_version())});
  }
  table.Render(out);
  if (response.total() > static_cast<uint32_t>(response.terminals_size())) {
    out << "(" << response.terminals_size() << " of " << response.total()
        << " terminals shown; use --limit and --offset for more)\n";
  }
}

void RenderTerminalDetail(const v1::TerminalDetail& detail, std::ostream& out) {
  const v1::TerminalSummary& s = detail.summary();
  PrintFields(
      {
          {"Terminal", s.terminal_id()},
          {"Group", s.group()},
          {"Hostname", s.hostname().empty() ? "-" : s.hostname()},
          {"Status", StatusText(s)},
          {"Last report", Timestamp(s.has_last_report(), s.last_report(), "never")},
          {"Policy", "applied " + std::to_string(s.applied_policy_version()) + ", assigned " +
                         std::to_string(s.assigned_policy_version())},
          {"Agent", (detail.agent_version().empty() ? "-" : detail.agent_version()) + " on " +
                        (detail.os().empty() ? "-" : detail.os())},
          {"Agent clock", Timestamp(detail.has_agent_time(), detail.agent_time(), "-")},
          {"Enforcement", EnforcementText(detail.enforcement())},
      },
      out);

  out << "\nChecks\n";
  std::vector<const v1::ComplianceCheck*> checks;
  for (const v1::ComplianceCheck& c : detail.checks()) checks.push_back(&c);
  std::stable_sort(checks.begin(), checks.end(), [](const auto* a, const auto* b) {
    return CheckOrder(a->result()) < CheckOrder(b->result());
  });
  Table check_table({"RESULT", "CHECK", "EVIDENCE"});
  check_table.SetMaxWidth(2, kEvidenceWidth);
  for (const v1::ComplianceCheck* c : checks) {
    check_table.AddRow({std::string(CheckResultName(c->result())), c->name(), c->evidence()});
  }
  check_table.Render(out);

  out << "\nDevices\n";
  if (detail.devices().empty()) {
    out << "(none)\n";
  } else {
    Table devices(
        {"VID:PID", "CLASS", "MANUFACTURER", "PRODUCT", "SERIAL", "DECISION", "RULE", "ENFORCED"});
    devices.SetMaxWidth(2, kDeviceStringWidth)
        .SetMaxWidth(3, kDeviceStringWidth)
        .SetMaxWidth(4, kSerialWidth)
        .SetMaxWidth(6, kRuleWidth)
        .SetMaxWidth(7, kDetailWidth);
    for (const v1::DeviceView& d : detail.devices()) {
      devices.AddRow({d.vid_pid(), ClassName(d.device_class()), d.manufacturer(), d.product(),
                      d.serial(), DecisionText(d.decision()), d.decision().matched_rule(),
                      EnforcedText(d.decision())});
    }
    devices.Render(out);
  }

  out << "\nRecent events\n";
  if (detail.recent_events().empty()) {
    out << "(none)\n";
  } else {
    v1::QueryEventsResponse events;
    *events.mutable_events() = detail.recent_events();
    RenderEvents(events, out);
  }
}

void RenderEvents(const v1::QueryEventsResponse& response, std::ostream& out) {
  Table table({"TIME", "TERMINAL", "KIND", "SEVERITY", "DEVICE", "RULE", "USER", "DETAIL"});
  table.SetMaxWidth(4, kDeviceStringWidth + 10)
      .SetMaxWidth(5, kRuleWidth)
      .SetMaxWidth(6, kRuleWidth)
      .SetMaxWidth(7, kDetailWidth);
  for (const v1::EventView& e : response.events()) {
    std::string device;
    std::string rule;
    if (e.has_device()) {
      device = e.device().vid_pid();
      if (!e.device().product().empty()) device += " " + e.device().product();
      rule = e.device().decision().matched_rule();
    }
    table.AddRow({Timestamp(e.has_time(), e.time(), "-"), e.terminal_id(), EventKindName(e.kind()),
                  SeverityName(e.severity()), device, rule, e.user(), e.detail()});
  }
  table.Render(out);
  if (!response.next_cursor().empty()) {
    out << "(more events: add --cursor " << TerminalSafe(response.next_cursor()) << ")\n";
  }
}

void RenderTrend(const v1::ComplianceTrendResponse& response, std::ostream& out) {
  Table table(
      {"DATE (JST)", "TERMINALS", "COMPLIANT", "NON-COMPLIANT", "STALE", "UNKNOWN", "% COMPLIANT"});
  for (std::size_t c = 1; c <= 6; ++c) table.SetRightAligned(c);
  for (const v1::ComplianceDay& d : response.days()) {
    std::string percent = "-";
    if (d.terminals() > 0) {
      char buf[16];
      std::snprintf(
          buf, sizeof(buf), "%.1f",
          100.0 * static_cast<double>(d.compliant()) / static_cast<double>(d.terminals()));
      percent = buf;
    }
    table.AddRow({d.date(), std::to_string(d.terminals()), std::to_string(d.compliant()),
                  std::to_string(d.non_compliant()), std::to_string(d.stale()),
                  std::to_string(d.unknown()), percent});
  }
  table.Render(out);
}

void RenderPolicy(const v1::GetPolicyResponse& response, std::string_view group,
                  std::ostream& out) {
  const std::string safe_group = TerminalSafe(group);
  if (!response.has_bundle() || response.bundle().version() == 0) {
    out << "# No policy applies to group " << (group.empty() ? "(all)" : safe_group)
        << ": agents enforce the built-in default (removable storage blocked).\n";
    return;
  }
  const v1::PolicyBundle& b = response.bundle();
  out << "# group:       " << safe_group << '\n';
  if (response.inherited()) out << "# inherited from: " << TerminalSafe(b.group()) << '\n';
  out << "# version:     " << b.version() << '\n';
  out << "# applied by:  " << (b.applied_by().empty() ? "-" : TerminalSafe(b.applied_by())) << '\n';
  out << "# applied at:  " << Timestamp(b.has_applied_at(), b.applied_at(), "-") << '\n';
  out << "# signed:      "
      << (b.signature().empty() ? "no" : "yes, key " + TerminalSafe(b.key_id())) << '\n';
  out << TerminalSafeMultiline(b.policy_yaml());
  if (!b.policy_yaml().empty() && b.policy_yaml().back() != '\n') out << '\n';
}

void RenderPolicyDryRun(const v1::PolicyDryRun& run, std::string_view group, std::ostream& out) {
  std::string current = "none: agents use the built-in default (removable storage blocked)";
  if (run.current_version() != 0) {
    current = "version " + std::to_string(run.current_version()) + " of " + run.current_group() +
              (run.current_inherited() ? " (inherited)" : " (the group's own)");
  }
  out << "Dry run: nothing was stored.\n";
  PrintFields(
      {
          {"Group", std::string(group)},
          {"Replaces", current},
          {"New policy", run.policy_name().empty() ? "-" : run.policy_name()},
          {"Examined", std::to_string(run.terminals_examined()) + " terminal(s), " +
                           std::to_string(run.devices_examined()) + " device(s)"},
      },
      out);
  out << '\n';
  if (run.diff().empty()) {
    out << "(the policy document is unchanged)\n";
  } else {
    if (run.diff_whole_replacement()) {
      out << "(documents too large for a line-by-line diff: shown as a whole replacement)\n";
    }
    out << TerminalSafeMultiline(run.diff());
    if (run.diff().back() != '\n') out << '\n';
  }
  out << "\nDecisions that would change\n";
  if (run.changes().empty()) {
    out << "(no device would change decision)\n";
    return;
  }
  Table table(
      {"TERMINAL", "GROUP", "VID:PID", "PRODUCT", "SERIAL", "OLD", "OLD RULE", "NEW", "NEW RULE"});
  table.SetMaxWidth(3, kDeviceStringWidth)
      .SetMaxWidth(4, kSerialWidth)
      .SetMaxWidth(6, kRuleWidth)
      .SetMaxWidth(8, kRuleWidth);
  for (const v1::DecisionChange& c : run.changes()) {
    table.AddRow({c.terminal_id(), c.group(), c.device().vid_pid(), c.device().product(),
                  c.device().serial(), DecisionText(c.old_decision()),
                  c.old_decision().matched_rule(), DecisionText(c.new_decision()),
                  c.new_decision().matched_rule()});
  }
  table.Render(out);
}

void RenderPolicyHistory(const v1::PolicyHistoryResponse& response, std::string_view group,
                         std::ostream& out) {
  if (response.entries().empty()) {
    out << "(group " << TerminalSafe(group) << " has no policy of its own)\n";
    return;
  }
  Table table({"VERSION", "APPLIED AT", "APPLIED BY", "NAME", "BYTES", "FIRST LINE"});
  table.SetRightAligned(0).SetRightAligned(4).SetMaxWidth(3, kRuleWidth).SetMaxWidth(5, 40);
  for (const v1::PolicyHistoryEntry& e : response.entries()) {
    table.AddRow({std::to_string(e.version()), Timestamp(e.has_applied_at(), e.applied_at(), "-"),
                  e.applied_by().empty() ? "-" : e.applied_by(),
                  e.policy_name().empty() ? "-" : e.policy_name(), std::to_string(e.yaml_bytes()),
                  e.first_line()});
  }
  table.Render(out);
}

Result<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return MakeError(ErrorCode::kInternal, "cannot encode JSON: " + std::string(status.message()));
  }
  return json;
}

}  // namespace mamori::ctl
