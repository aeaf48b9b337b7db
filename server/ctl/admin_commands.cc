// Commands that talk to the collector's AdminService.

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/crypto/credentials.h"
#include "common/crypto/identity.h"
#include "common/policy/policy.h"
#include "common/policy/policy_parser.h"
#include "server/accounts/qr_code.h"
#include "server/ctl/command_support.h"
#include "server/ctl/render.h"

namespace mamori::ctl {
namespace {

constexpr int64_t kMaxPage = 10000;

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

int RunStatus(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::GroupSummariesRequest request;
  request.set_group(args.GetOr("group", ""));
  v1::GroupSummariesResponse response;
  rc = CallCollector(args, ctx, &AdminClient::GroupSummaries, request, &response);
  if (rc != kExitOk) return rc;
  return Print(response, *json, ctx, RenderGroupSummaries);
}

int RunTerminals(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ListTerminalsRequest request;
  request.set_group(args.GetOr("group", ""));
  if (std::optional<std::string> status = args.Get("status")) {
    v1::ComplianceStatus value;
    if (!v1::ComplianceStatus_Parse("COMPLIANCE_STATUS_" + Upper(*status), &value) ||
        value == v1::COMPLIANCE_STATUS_UNSPECIFIED) {
      return ctx.Usage("--status must be compliant, non_compliant or unknown, not \"" + *status +
                       "\"");
    }
    request.set_status(value);
  }
  if (std::optional<std::string> check = args.Get("check")) {
    constexpr std::string_view kChecks[] = {"reporting",          "policy_current",
                                            "enforcement_active", "no_unapproved_storage",
                                            "clock_skew",         "not_revoked"};
    if (std::find(std::begin(kChecks), std::end(kChecks), *check) == std::end(kChecks)) {
      return ctx.Usage(
          "--check must be reporting, policy_current, enforcement_active, "
          "no_unapproved_storage, clock_skew or not_revoked, not \"" +
          *check + "\"");
    }
    request.set_failing_check(*check);
  }
  if (std::optional<std::string> standing = args.Get("standing")) {
    v1::TerminalStanding value;
    if (!v1::TerminalStanding_Parse("TERMINAL_STANDING_" + Upper(*standing), &value) ||
        value == v1::TERMINAL_STANDING_UNSPECIFIED) {
      return ctx.Usage("--standing must be active, revoked or retired, not \"" + *standing + "\"");
    }
    request.set_standing(value);
  }
  if (std::optional<std::string> search = args.Get("search")) request.set_search(*search);
  Result<int64_t> limit = IntOption(args, "limit", 1, kMaxPage);
  if (!limit) return ctx.Report(limit.error());
  request.set_limit(static_cast<uint32_t>(*limit));
  Result<int64_t> offset = IntOption(args, "offset", 0, UINT32_MAX);
  if (!offset) return ctx.Report(offset.error());
  request.set_offset(static_cast<uint32_t>(*offset));
  v1::ListTerminalsResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ListTerminals, request, &response);
  if (rc != kExitOk) return rc;
  return Print(response, *json, ctx, RenderTerminalList);
}

int RunTerminal(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::GetTerminalRequest request;
  request.set_terminal_id(args.positionals()[0]);
  v1::TerminalDetail response;
  rc = CallCollector(args, ctx, &AdminClient::GetTerminal, request, &response);
  if (rc != kExitOk) return rc;
  return Print(response, *json, ctx, RenderTerminalDetail);
}

int RunEvents(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::QueryEventsRequest request;
  request.set_terminal_id(args.GetOr("terminal", ""));
  request.set_group(args.GetOr("group", ""));
  for (const std::string& kind : args.GetAll("kind")) {
    v1::EventKind value;
    if (!v1::EventKind_Parse("EVENT_KIND_" + Upper(kind), &value) ||
        value == v1::EVENT_KIND_UNSPECIFIED) {
      std::string known;
      for (int k = v1::EventKind_MIN + 1; k <= v1::EventKind_MAX; ++k) {
        if (!v1::EventKind_IsValid(k)) continue;
        if (!known.empty()) known += ", ";
        known += EventKindName(static_cast<v1::EventKind>(k));
      }
      return ctx.Usage("unknown --kind \"" + kind + "\" (one of: " + known + ")");
    }
    request.add_kinds(value);
  }
  Result<int64_t> limit = IntOption(args, "limit", 1, kMaxPage);
  if (!limit) return ctx.Report(limit.error());
  request.set_limit(static_cast<uint32_t>(*limit));
  request.set_text(args.GetOr("text", ""));
  request.set_cursor(args.GetOr("cursor", ""));
  v1::QueryEventsResponse response;
  rc = CallCollector(args, ctx, &AdminClient::QueryEvents, request, &response);
  if (rc != kExitOk) return rc;
  return Print(response, *json, ctx, RenderEvents);
}

int RunTrend(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ComplianceTrendRequest request;
  request.set_group(args.GetOr("group", ""));
  Result<int64_t> days = IntOption(args, "days", 1, 366);
  if (!days) return ctx.Report(days.error());
  request.set_days(static_cast<uint32_t>(*days));
  v1::ComplianceTrendResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ComplianceTrend, request, &response);
  if (rc != kExitOk) return rc;
  return Print(response, *json, ctx, RenderTrend);
}

int RunPolicyShow(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> group = args.Get("group");
  if (!group) return ctx.Usage("--group G is required");
  v1::GetPolicyRequest request;
  request.set_group(*group);
  Result<int64_t> version = IntOption(args, "version", 1, INT64_MAX);
  if (!version) return ctx.Report(version.error());
  request.set_version(static_cast<uint64_t>(*version));
  v1::GetPolicyResponse response;
  const int rc = CallCollector(args, ctx, &AdminClient::GetPolicy, request, &response);
  if (rc != kExitOk) return rc;
  RenderPolicy(response, *group, ctx.out);
  return kExitOk;
}

int RunPolicyApply(const ParsedArgs& args, const CommandContext& ctx) {
  const std::string& file = args.positionals()[0];
  const std::optional<std::string> group = args.Get("group");
  if (!group) return ctx.Usage("--group G is required");
  if (!IsValidGroup(*group)) {
    return ctx.Fail("invalid group \"" + *group +
                    "\": use segments of a-z 0-9 _ - separated by '/', e.g. osaka/suita/hoken");
  }
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  const bool dry_run = args.Has("dry-run");
  Result<std::string> text = ReadFileToString(file);
  if (!text) return ctx.Fail(text.error().message);
  // Validate here first: a typo is reported with file:line:column before
  // anything reaches the collector.
  Result<Policy> policy = ParsePolicy(*text, file);
  if (!policy) return ctx.Fail(policy.error().message);

  v1::ApplyPolicyRequest request;
  request.set_group(*group);
  request.set_policy_yaml(*text);
  request.set_source_name(file);
  request.set_dry_run(dry_run);
  v1::ApplyPolicyResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ApplyPolicy, request, &response);
  if (rc != kExitOk) return rc;
  return Print(response, *json, ctx, [&](const v1::ApplyPolicyResponse& r, std::ostream& out) {
    if (dry_run) {
      RenderPolicyDryRun(r.dry_run(), *group, out);
    } else {
      out << "Applied " << file << " to group " << *group << ": version " << r.version() << '\n';
    }
  });
}

int RunPolicyHistory(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> group = args.Get("group");
  if (!group) return ctx.Usage("--group G is required");
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::PolicyHistoryRequest request;
  request.set_group(*group);
  Result<int64_t> limit = IntOption(args, "limit", 1, 1000);
  if (!limit) return ctx.Report(limit.error());
  request.set_limit(static_cast<uint32_t>(*limit));
  v1::PolicyHistoryResponse response;
  rc = CallCollector(args, ctx, &AdminClient::PolicyHistory, request, &response);
  if (rc != kExitOk) return rc;
  return Print(response, *json, ctx, [&](const v1::PolicyHistoryResponse& r, std::ostream& out) {
    RenderPolicyHistory(r, *group, out);
  });
}

// The QR code is drawn for the usual light-on-dark terminal (see
// QrTerminalStyle); --no-qr leaves it out, e.g. when the output is logged.
void PrintCredentials(const v1::UserCredentials& c, bool qr, std::ostream& out) {
  out << "user:      " << c.name() << " (" << c.role() << ")\n"
      << "password:  " << c.password() << "\n"
      << "otpauth:   " << c.otpauth_uri() << "\n\n";
  if (qr) {
    auto matrix = web::EncodeQr(c.otpauth_uri());
    if (matrix.ok()) {
      out << web::QrTerminalText(*matrix) << "\n";
    } else {
      out << "(no QR code: " << matrix.error().message << ")\n\n";
    }
  }
  out << "Hand the password over in person; it is shown only now. Scan the QR code\n"
      << "with an authenticator app (or enter the otpauth URI's secret), then log in\n"
      << "with the password and the 6-digit code.\n";
}

int RunUserAdd(const ParsedArgs& args, const CommandContext& ctx) {
  const std::string role = args.GetOr("role", "viewer");
  if (role != "viewer" && role != "operator" && role != "admin") {
    return ctx.Usage("--role must be viewer, operator or admin, not \"" + role + "\"");
  }
  v1::AddUserRequest request;
  request.set_name(args.positionals().at(0));
  request.set_role(role);
  v1::UserCredentials response;
  const int rc = CallCollector(args, ctx, &AdminClient::AddUser, request, &response);
  if (rc != kExitOk) return rc;
  PrintCredentials(response, !args.Has("no-qr"), ctx.out);
  return kExitOk;
}

int RunUserReset(const ParsedArgs& args, const CommandContext& ctx) {
  v1::ResetUserRequest request;
  request.set_name(args.positionals().at(0));
  v1::UserCredentials response;
  const int rc = CallCollector(args, ctx, &AdminClient::ResetUser, request, &response);
  if (rc != kExitOk) return rc;
  PrintCredentials(response, !args.Has("no-qr"), ctx.out);
  return kExitOk;
}

int RunUserDisable(const ParsedArgs& args, const CommandContext& ctx) {
  v1::DisableUserRequest request;
  request.set_name(args.positionals().at(0));
  v1::DisableUserResponse response;
  const int rc = CallCollector(args, ctx, &AdminClient::DisableUser, request, &response);
  if (rc != kExitOk) return rc;
  ctx.out << "Disabled dashboard user " << request.name() << "; their sessions have ended.\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> AdminCommands() {
  const std::string connection(kConnectionHelp);
  std::vector<Command> commands;

  Command status;
  status.name = "status";
  status.summary = "compliance per group";
  status.options = WithConnection({
      {"group", "G", "only this group and its descendants", false},
      OutputOption(),
  });
  status.details = "Each group counts the terminals of its descendants too.\n\n" + connection;
  status.run = RunStatus;
  commands.push_back(status);

  Command terminals;
  terminals.name = "terminals";
  terminals.summary = "list terminals with their compliance";
  terminals.options = WithConnection({
      {"group", "G", "only this group and its descendants", false},
      {"status", "S", "compliant, non_compliant or unknown", false},
      {"check", "NAME", "only terminals failing this check (see below)", false},
      {"search", "TEXT", "only terminals whose id or host name contains TEXT", false},
      {"standing", "S", "only active, revoked or retired terminals (default: all but retired ones)",
       false},
      {"limit", "N", "at most N terminals (collector default 1000, max 10000)", false},
      {"offset", "N", "skip the first N terminals", false},
      OutputOption(),
  });
  terminals.details =
      "POLICY shows applied/assigned policy versions; they differ while a terminal\n"
      "has not picked up its group's latest policy.\n\n"
      "--check takes reporting, policy_current, enforcement_active,\n"
      "no_unapproved_storage, clock_skew or not_revoked. --search ignores the case of ASCII\n"
      "letters. Filters combine: all must hold.\n\n" +
      connection;
  terminals.run = RunTerminals;
  commands.push_back(terminals);

  Command terminal;
  terminal.name = "terminal";
  terminal.args = "ID";
  terminal.min_positionals = 1;
  terminal.max_positionals = 1;
  terminal.summary = "one terminal: checks with evidence, devices, recent events";
  terminal.options = WithConnection({OutputOption()});
  terminal.details = "Failing checks are listed first.\n\n" + connection;
  terminal.run = RunTerminal;
  commands.push_back(terminal);

  Command events;
  events.name = "events";
  events.summary = "query events, newest first";
  events.options = WithConnection({
      {"terminal", "ID", "only this terminal", false},
      {"group", "G", "only terminals in this group and its descendants", false},
      {"kind", "KIND", "only this kind, e.g. device_blocked (repeatable)", true},
      {"limit", "N", "at most N events (default 100, max 10000)", false},
      {"text", "S",
       "only events whose terminal, user, rule, vid:pid or device strings "
       "contain S",
       false},
      {"cursor", "C", "the next page: the cursor a full page ends with", false},
      OutputOption(),
  });
  events.details =
      "Kinds: device_allowed, device_blocked, device_read_only, device_removed,\n"
      "enforcement_failure, policy_applied, policy_rejected, events_dropped,\n"
      "agent_started, agent_stopping, exception_started, exception_ended,\n"
      "unlock_code_accepted, unlock_code_refused, certificate_renewed,\n"
      "certificate_renewal_failed.\n\n" +
      connection;
  events.run = RunEvents;
  commands.push_back(events);

  Command trend;
  trend.name = "trend";
  trend.summary = "daily compliance counts of a group, oldest first";
  trend.options = WithConnection({
      {"group", "G", "the group (default: the whole deployment)", false},
      {"days", "N", "days back from today, today included (default 30, max 366)", false},
      OutputOption(),
  });
  trend.details =
      "The collector records each group's counts at start and every 10 minutes;\n"
      "a day shows its last record. Dates are Japan Standard Time.\n\n" +
      connection;
  trend.run = RunTrend;
  commands.push_back(trend);

  Command show;
  show.name = "policy show";
  show.summary = "print the policy in force for a group";
  show.options = WithConnection({
      {"group", "G", "the group (required)", false},
      {"version", "N", "an earlier version instead of the latest", false},
  });
  show.details =
      "The header lines are YAML comments, so the output can be saved, edited and\n"
      "applied again.\n\n" +
      connection;
  show.run = RunPolicyShow;
  commands.push_back(show);

  Command apply;
  apply.name = "policy apply";
  apply.args = "FILE";
  apply.min_positionals = 1;
  apply.max_positionals = 1;
  apply.summary = "validate a policy file and make it the group's policy";
  apply.options = WithConnection({
      {"group", "G", "the group (required)", false},
      {"dry-run", "", "store nothing; show the diff and the decisions that would change", false},
      OutputOption(),
  });
  apply.details =
      "FILE is validated locally first; every problem is reported as\n"
      "FILE:LINE:COLUMN and nothing is sent to the collector. On success the\n"
      "collector stores a new version and agents in the group pick it up.\n\n"
      "With --dry-run the collector validates FILE as a real apply would and\n"
      "stores nothing. It prints the policy it would replace (the group's own or\n"
      "inherited), a line diff against it, and every present device on the\n"
      "group's terminals (and those of subgroups without a policy of their own)\n"
      "whose decision would change.\n\n" +
      connection;
  apply.run = RunPolicyApply;
  commands.push_back(apply);

  Command history;
  history.name = "policy history";
  history.summary = "versions applied to a group: who applied what, when";
  history.options = WithConnection({
      {"group", "G", "the group (required)", false},
      {"limit", "N", "at most N versions, newest first (default 50, max 1000)", false},
      OutputOption(),
  });
  history.details =
      "Lists the group's own versions only; a group without a policy of its own\n"
      "inherits its parent's (see 'policy show'). 'policy show --version N'\n"
      "prints any listed version in full.\n\n" +
      connection;
  history.run = RunPolicyHistory;
  commands.push_back(history);

  const std::string user_help =
      "Dashboard accounts (the collector's web section). Passwords are stored as\n"
      "scrypt hashes; every login also needs the TOTP code of the account's\n"
      "authenticator. Five failed logins in a row lock the account for 15 minutes.\n\n" +
      connection;
  Command user_add;
  user_add.name = "user add";
  user_add.args = "NAME";
  user_add.min_positionals = 1;
  user_add.max_positionals = 1;
  user_add.summary =
      "create a dashboard user; prints a one-time password and the otpauth URI with its QR code";
  user_add.options =
      WithConnection({{"role", "R", "viewer (default), operator or admin", false},
                      {"no-qr", "", "do not draw the otpauth URI as a QR code", false}});
  user_add.details = user_help;
  user_add.run = RunUserAdd;
  commands.push_back(user_add);

  Command user_reset;
  user_reset.name = "user reset";
  user_reset.args = "NAME";
  user_reset.min_positionals = 1;
  user_reset.max_positionals = 1;
  user_reset.summary = "new password and TOTP secret for a user; unlocks and re-enables";
  user_reset.options =
      WithConnection({{"no-qr", "", "do not draw the otpauth URI as a QR code", false}});
  user_reset.details = user_help;
  user_reset.run = RunUserReset;
  commands.push_back(user_reset);

  Command user_disable;
  user_disable.name = "user disable";
  user_disable.args = "NAME";
  user_disable.min_positionals = 1;
  user_disable.max_positionals = 1;
  user_disable.summary = "refuse further logins of a user and end their sessions";
  user_disable.options = WithConnection({});
  user_disable.details = user_help;
  user_disable.run = RunUserDisable;
  commands.push_back(user_disable);

  return commands;
}

}  // namespace mamori::ctl
