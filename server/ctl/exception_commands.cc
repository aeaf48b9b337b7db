// mamorictl exception ... (time-limited exceptions).

#include "common/base/jst_time.h"
#include "server/ctl/command_support.h"
#include "server/ctl/render.h"
#include "server/ctl/table.h"

namespace mamori::ctl {
namespace {

// "2026-11-22 12:04 JST".
std::string Jst(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  const std::string iso = JstIso8601(t.seconds() * 1000 + t.nanos() / 1'000'000);
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " JST";
}

// "now", "+30s" / "+90m" / "+2h" / "+1d" from now, "YYYY-MM-DD" (00:00 JST)
// or RFC 3339.
std::optional<int64_t> ParseInstantOption(std::string_view text, int64_t now_ms) {
  if (text == "now") return now_ms;
  if (text.size() >= 3 && text[0] == '+') {
    int64_t unit_ms = 0;
    switch (text.back()) {
      case 's':
        unit_ms = 1000;
        break;
      case 'm':
        unit_ms = 60'000;
        break;
      case 'h':
        unit_ms = 3'600'000;
        break;
      case 'd':
        unit_ms = 86'400'000;
        break;
      default:
        return std::nullopt;
    }
    auto n = ParseIntOption("", text.substr(1, text.size() - 2), 0, 10'000'000);
    if (!n) return std::nullopt;
    return now_ms + *n * unit_ms;
  }
  return ParseTimeOrJstDate(text);
}

void PrintChange(const v1::ExceptionChangeResponse& r, std::ostream& out) {
  const v1::DeviceExceptionView& e = r.exception();
  out << "EX-" << e.id() << " is " << e.state() << ": " << e.vid_pid() << " serial '" << e.serial()
      << "' on " << (e.terminal_id().empty() ? "group " + e.group() : "terminal " + e.terminal_id())
      << ", " << Jst(e.from()) << " until " << Jst(e.until()) << ".\n";
  if (!r.policies().empty()) {
    out << "New policy versions:";
    for (const v1::PolicyUpdate& p : r.policies()) out << ' ' << p.group() << " v" << p.version();
    out << '\n';
  }
  for (const std::string& w : r.warnings()) out << "warning: " << w << '\n';
}

int RunRequest(const ParsedArgs& args, const CommandContext& ctx) {
  const auto from = args.Get("from");
  const auto until = args.Get("until");
  const auto reason = args.Get("reason");
  const auto for_whom = args.Get("for");
  if (!until || !reason || !for_whom) {
    return ctx.Usage("--until, --reason and --for are required");
  }
  const bool by_event = args.Has("event");
  if (!by_event && (!args.Has("serial") || !args.Has("vid-pid"))) {
    return ctx.Usage("name the device: --event TERMINAL#SEQ, or --serial and --vid-pid");
  }
  if (!by_event && !args.Has("terminal") && !args.Has("group")) {
    return ctx.Usage("--terminal or --group is required");
  }
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::RequestExceptionRequest request;
  request.set_terminal_id(args.GetOr("terminal", ""));
  request.set_group(args.GetOr("group", ""));
  request.set_vid_pid(args.GetOr("vid-pid", ""));
  request.set_serial(args.GetOr("serial", ""));
  request.set_source_event(args.GetOr("event", ""));
  const std::string from_text = from.value_or("now");
  const auto from_ms = ParseInstantOption(from_text, ctx.NowMs());
  if (!from_ms) {
    return ctx.Usage("--from must be now, +N[s|m|h|d], YYYY-MM-DD (JST) or RFC 3339, not \"" +
                     from_text + "\"");
  }
  const auto until_ms = ParseInstantOption(*until, ctx.NowMs());
  if (!until_ms) {
    return ctx.Usage("--until must be +N[s|m|h|d], YYYY-MM-DD (JST) or RFC 3339, not \"" + *until +
                     "\"");
  }
  request.mutable_from()->set_seconds(*from_ms / 1000);
  request.mutable_until()->set_seconds(*until_ms / 1000);
  request.set_reason(*reason);
  request.set_requested_for(*for_whom);
  v1::ExceptionChangeResponse response;
  rc = CallCollector(args, ctx, &AdminClient::RequestException, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  PrintChange(response, ctx.out);
  return kExitOk;
}

using DecideMethod = Status (AdminClient::*)(const v1::DecideExceptionRequest&,
                                             v1::ExceptionChangeResponse*);

int RunDecide(const ParsedArgs& args, const CommandContext& ctx, DecideMethod method,
              bool note_required) {
  std::string text = args.positionals()[0];
  if (text.starts_with("EX-") || text.starts_with("ex-")) text = text.substr(3);
  Result<int64_t> id = ParseIntOption("ID", text, 1, INT64_MAX);
  if (!id) return ctx.Report(id.error());
  const std::string note = args.GetOr("note", "");
  if (note_required && note.empty()) return ctx.Usage("--note is required (why)");
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::DecideExceptionRequest request;
  request.set_id(static_cast<uint64_t>(*id));
  request.set_note(note);
  v1::ExceptionChangeResponse response;
  rc = CallCollector(args, ctx, method, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  PrintChange(response, ctx.out);
  return kExitOk;
}

int RunApprove(const ParsedArgs& args, const CommandContext& ctx) {
  return RunDecide(args, ctx, &AdminClient::ApproveException, /*note_required=*/false);
}
int RunRefuse(const ParsedArgs& args, const CommandContext& ctx) {
  return RunDecide(args, ctx, &AdminClient::RefuseException, /*note_required=*/true);
}
int RunCancel(const ParsedArgs& args, const CommandContext& ctx) {
  return RunDecide(args, ctx, &AdminClient::CancelException, /*note_required=*/true);
}

int RunList(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ListExceptionsRequest request;
  request.set_terminal_id(args.GetOr("terminal", ""));
  if (auto state = args.Get("state")) request.add_states(*state);
  v1::ListExceptionsResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ListExceptions, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table({"ID", "STATE", "TERMINAL/GROUP", "VID:PID", "SERIAL", "FROM", "UNTIL", "FOR",
               "REQUESTED BY", "DECIDED BY"});
  table.SetMaxWidth(4, 32).SetMaxWidth(7, 20);
  for (const v1::DeviceExceptionView& e : response.exceptions()) {
    table.AddRow({"EX-" + std::to_string(e.id()), e.state(),
                  e.terminal_id().empty() ? "group " + e.group() : e.terminal_id(), e.vid_pid(),
                  e.serial(), Jst(e.from()), Jst(e.until()), e.requested_for(), e.requested_by(),
                  e.decided_by().empty() ? "-" : e.decided_by()});
  }
  if (table.rows() == 0) {
    ctx.out << "(no exceptions)\n";
  } else {
    table.Render(ctx.out);
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> ExceptionCommands() {
  const std::string help =
      "A time-limited exception allows one device (VID:PID and serial) on one\n"
      "terminal, or on every terminal of a group, from --from until --until (the\n"
      "collector's clock). A request waits for an admin's approval (by someone\n"
      "else when the collector sets exceptions.two_person_rule); once approved it\n"
      "reaches the agents in a new signed policy version and ends by itself: the\n"
      "device is de-authorized at the end of the window even if still plugged.\n"
      "Requests, approvals, refusals and cancellations are in the audit log.\n\n" +
      std::string(kConnectionHelp);
  std::vector<Command> commands;

  Command request;
  request.name = "exception request";
  request.summary = "ask for a time-limited exception for one device";
  request.options = WithConnection({
      {"terminal", "ID", "the terminal (or --group)", false},
      {"group", "G", "every terminal of this group and its descendants", false},
      {"vid-pid", "VVVV:PPPP", "the device's vendor and product id, hex", false},
      {"serial", "S", "the device's serial as the agent reports it", false},
      {"event", "TERMINAL#SEQ", "take device and terminal from this block event", false},
      {"from", "WHEN", "now (default), +N[s|m|h|d], YYYY-MM-DD (JST) or RFC 3339", false},
      {"until", "WHEN", "end of the window, exclusive (required)", false},
      {"reason", "TEXT", "why the device is needed (required)", false},
      {"for", "NAME", "who will use it (required)", false},
      OutputOption(),
  });
  request.details = help;
  request.run = RunRequest;
  commands.push_back(request);

  struct Decide {
    const char* name;
    const char* summary;
    int (*run)(const ParsedArgs&, const CommandContext&);
    bool note_required;
  };
  for (const Decide& d : {
           Decide{"exception approve", "approve a waiting request (admins)", RunApprove, false},
           Decide{"exception refuse", "refuse a waiting request", RunRefuse, true},
           Decide{"exception cancel", "withdraw a request, or end an approved exception early",
                  RunCancel, true},
       }) {
    Command c;
    c.name = d.name;
    c.args = "ID";
    c.min_positionals = 1;
    c.max_positionals = 1;
    c.summary = d.summary;
    c.options = WithConnection(
        {{"note", "TEXT", d.note_required ? "why (required)" : "a note for the record", false},
         OutputOption()});
    c.details = "ID is the request's number, with or without EX-.\n\n" + help;
    c.run = d.run;
    commands.push_back(c);
  }

  Command list;
  list.name = "exception list";
  list.summary = "requests for time-limited exceptions, newest first";
  list.options = WithConnection({
      {"terminal", "ID", "only those reaching this terminal", false},
      {"state", "S", "requested, approved, active, ended, refused or cancelled", false},
      OutputOption(),
  });
  list.details = help;
  list.run = RunList;
  commands.push_back(list);
  return commands;
}

}  // namespace mamori::ctl
