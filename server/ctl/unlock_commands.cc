// mamorictl unlock ...: offline unlock codes.

#include <string>

#include "common/base/file_io.h"
#include "common/base/jst_time.h"
#include "server/ctl/command_support.h"
#include "server/ctl/table.h"

namespace mamori::ctl {
namespace {

std::string Jst(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  const std::string iso = JstIso8601(t.seconds() * 1000 + t.nanos() / 1'000'000);
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " JST";
}

int RunUnlockIssue(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> terminal = args.Get("terminal");
  if (!terminal) return ctx.Usage("--terminal is required");
  const std::optional<std::string> device = args.Get("device");
  const std::optional<std::string> serial = args.Get("serial");
  const std::optional<std::string> event = args.Get("from-event");
  if (event && (device || serial))
    return ctx.Usage("give --from-event or --device and --serial, not both");
  if (!event && (!device || !serial)) {
    return ctx.Usage("--device VID:PID and --serial S are required (or --from-event SEQ)");
  }
  Result<int64_t> hours = IntOption(args, "hours", 1, 24);
  if (!hours) return ctx.Report(hours.error());
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;

  v1::IssueUnlockCodeRequest request;
  request.set_terminal_id(*terminal);
  if (event) {
    Result<int64_t> seq = ParseIntOption("--from-event", *event, 1, INT64_MAX);
    if (!seq) return ctx.Report(seq.error());
    request.set_from_event_seq(static_cast<uint64_t>(*seq));
  } else {
    request.set_vid_pid(*device);
    request.set_serial(*serial);
  }
  request.set_hours(static_cast<uint32_t>(*hours));
  request.set_reason(args.GetOr("reason", ""));
  if (const std::optional<std::string> cert = args.Get("terminal-cert")) {
    Result<std::string> pem = ReadFileToString(*cert);
    if (!pem) return ctx.Report(pem.error());
    request.set_terminal_certificate_pem(*pem);
  }
  v1::IssueUnlockCodeResponse response;
  rc = CallCollector(args, ctx, &AdminClient::IssueUnlockCode, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  const v1::UnlockCodeView& c = response.code();
  ctx.out << "Unlock code #" << c.id() << " for terminal " << c.terminal_id() << ", device "
          << c.vid_pid() << " serial '" << c.serial() << "', valid until " << Jst(c.expires())
          << ", once:\n\n    " << c.code() << "\n\n"
          << "Read it out to the person at the terminal, who types:\n"
          << "    mamori-agent unlock " << c.code() << "\n";
  return kExitOk;
}

int RunUnlockList(const ParsedArgs& args, const CommandContext& ctx) {
  Result<int64_t> limit = IntOption(args, "limit", 1, 1000);
  if (!limit) return ctx.Report(limit.error());
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ListUnlockCodesRequest request;
  request.set_terminal_id(args.GetOr("terminal", ""));
  request.set_limit(static_cast<uint32_t>(*limit));
  v1::ListUnlockCodesResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ListUnlockCodes, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table(
      {"ID", "TERMINAL", "VID:PID", "SERIAL", "ISSUED", "BY", "EXPIRES", "USED", "USED BY"});
  table.SetRightAligned(0).SetMaxWidth(3, 32);
  for (const v1::UnlockCodeView& c : response.codes()) {
    table.AddRow({std::to_string(c.id()), c.terminal_id(), c.vid_pid(), c.serial(),
                  Jst(c.issued_at()), c.issued_by(), Jst(c.expires()),
                  c.has_used_at() ? Jst(c.used_at()) : "-",
                  c.used_by().empty() ? "-" : c.used_by()});
  }
  if (table.rows() == 0) {
    ctx.out << "(no unlock codes issued)\n";
  } else {
    table.Render(ctx.out);
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> UnlockCommands() {
  const std::string connection(kConnectionHelp);
  Command issue;
  issue.name = "unlock issue";
  issue.summary = "issue a one-time offline unlock code for one device on one terminal";
  issue.options = WithConnection({
      {"terminal", "T", "the terminal id (required)", false},
      {"device", "VID:PID", "the device's ids, e.g. 0781:5581", false},
      {"serial", "S", "the device's serial number", false},
      {"from-event", "SEQ",
       "instead of --device/--serial: the device of this event of the terminal", false},
      {"hours", "H", "valid for H hours, 1..24 (default 4)", false},
      {"reason", "TEXT", "why, for the audit log (who approved, what for)", false},
      {"terminal-cert", "FILE",
       "the terminal's certificate, if it never connected to the collector", false},
      OutputOption(),
  });
  issue.details =
      "For a terminal that cannot reach the collector: the user reads out the\n"
      "device the agent blocked (VID:PID and serial, from its notice), you read\n"
      "the 20-character code back, the user types 'mamori-agent unlock CODE'. The\n"
      "code works once, only on that terminal, only for that device, until it\n"
      "expires. Issuing is recorded in the audit log (unlock.issue); the\n"
      "terminal's use is reported when its link is back and shown by\n"
      "'unlock list'. Needs unlock.key_file on the collector.\n\n" +
      connection;
  issue.run = RunUnlockIssue;

  Command list;
  list.name = "unlock list";
  list.summary = "issued unlock codes and their reported use, newest first";
  list.options = WithConnection({
      {"terminal", "T", "only this terminal", false},
      {"limit", "N", "at most N (default 100, max 1000)", false},
      OutputOption(),
  });
  list.details = connection;
  list.run = RunUnlockList;
  return {issue, list};
}

}  // namespace mamori::ctl
