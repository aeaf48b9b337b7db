// mamorictl media ... (the media ledger) and mamorictl audit.

#include <fstream>
#include <memory>

#include "common/base/jst_time.h"
#include "common/crypto/credentials.h"
#include "server/ctl/command_support.h"
#include "server/ctl/render.h"
#include "server/ctl/table.h"

namespace mamori::ctl {
namespace {

// "2026-11-22 12:04 JST": the ledger and the audit log are read in Japan.
std::string Jst(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  // "YYYY-MM-DDTHH:MM:SS+09:00"
  const std::string iso = JstIso8601(t.seconds() * 1000 + t.nanos() / 1'000'000);
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " JST";
}

// "YYYY-MM-DD" (00:00 JST that day) or "Nd"/"Nh" ago.
std::optional<int64_t> ParseWhen(std::string_view text, int64_t now_ms) {
  if (text.size() >= 2 && (text.back() == 'd' || text.back() == 'h')) {
    auto n = ParseIntOption("", text.substr(0, text.size() - 1), 0, 3660);
    if (!n) return std::nullopt;
    return now_ms - *n * (text.back() == 'd' ? kDayMs : 3'600'000);
  }
  return ParseJstDate(text);
}

void PrintChange(const v1::LedgerChangeResponse& r, std::ostream& out) {
  if (r.policies().empty()) {
    out << "No policy changed.\n";
  } else {
    out << "New policy versions:";
    for (const v1::PolicyUpdate& p : r.policies()) out << ' ' << p.group() << " v" << p.version();
    out << '\n';
  }
  for (const std::string& w : r.warnings()) out << "warning: " << w << '\n';
}

std::string State(const v1::Medium& m) {
  if (m.has_retired_at()) return "retired";
  return m.expired() ? "expired" : "active";
}

int RunMediaList(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ListMediaRequest request;
  request.set_include_retired(args.Has("retired"));
  v1::ListMediaResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ListMedia, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table(
      {"ID", "SERIAL", "VID:PID", "OWNER", "DEPARTMENT", "GROUP", "EXPIRES", "STATE", "ADDED BY"});
  table.SetRightAligned(0).SetMaxWidth(1, 32).SetMaxWidth(3, 20).SetMaxWidth(4, 20);
  for (const v1::Medium& m : response.media()) {
    table.AddRow({std::to_string(m.id()), m.serial(), m.vid_pid(), m.owner(), m.department(),
                  m.group().empty() ? "(all)" : m.group(), m.expires().empty() ? "-" : m.expires(),
                  State(m), m.added_by()});
  }
  if (table.rows() == 0) {
    ctx.out << "(the ledger is empty)\n";
  } else {
    table.Render(ctx.out);
  }
  return kExitOk;
}

int RunMediaAdd(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> serial = args.Get("serial");
  const std::optional<std::string> vid_pid = args.Get("vid-pid");
  if (!serial || !vid_pid) return ctx.Usage("--serial and --vid-pid are required");
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::AddMediumRequest request;
  v1::Medium* m = request.mutable_medium();
  m->set_serial(*serial);
  m->set_vid_pid(*vid_pid);
  m->set_owner(args.GetOr("owner", ""));
  m->set_department(args.GetOr("department", ""));
  m->set_group(args.GetOr("group", ""));
  m->set_expires(args.GetOr("expires", ""));
  m->set_note(args.GetOr("note", ""));
  v1::LedgerChangeResponse response;
  rc = CallCollector(args, ctx, &AdminClient::AddMedium, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  ctx.out << "Added ledger entry #" << response.medium().id() << " (" << response.medium().serial()
          << ", " << response.medium().vid_pid() << ").\n";
  PrintChange(response, ctx.out);
  return kExitOk;
}

int RunMediaRetire(const ParsedArgs& args, const CommandContext& ctx) {
  Result<int64_t> id = ParseIntOption("ID", args.positionals()[0], 1, INT64_MAX);
  if (!id) return ctx.Report(id.error());
  const std::optional<std::string> reason = args.Get("reason");
  if (!reason || reason->empty()) return ctx.Usage("--reason is required (e.g. lost, broken)");
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::RetireMediumRequest request;
  request.set_id(static_cast<uint64_t>(*id));
  request.set_reason(*reason);
  v1::LedgerChangeResponse response;
  rc = CallCollector(args, ctx, &AdminClient::RetireMedium, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  ctx.out << "Retired ledger entry #" << *id << ".\n";
  PrintChange(response, ctx.out);
  return kExitOk;
}

int RunMediaImport(const ParsedArgs& args, const CommandContext& ctx) {
  const std::string& file = args.positionals()[0];
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  Result<std::string> text = ReadFileToString(file);
  if (!text) return ctx.Fail(text.error().message);
  v1::ImportMediaRequest request;
  request.set_csv(*text);
  v1::ImportMediaResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ImportMedia, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) {
    if (int r = PrintJson(response, ctx); r != kExitOk) return r;
    return response.errors().empty() ? kExitOk : kExitFailure;
  }
  if (!response.errors().empty()) {
    for (const v1::CsvLineError& e : response.errors()) {
      ctx.err << file << ':' << e.line() << ": " << e.message() << '\n';
    }
    return ctx.Fail(std::to_string(response.errors_size()) + " bad line(s); nothing was imported");
  }
  ctx.out << "Imported " << response.imported() << " ledger entries from " << file << ".\n";
  v1::LedgerChangeResponse change;
  *change.mutable_policies() = response.policies();
  *change.mutable_warnings() = response.warnings();
  PrintChange(change, ctx.out);
  return kExitOk;
}

int RunMediaExport(const ParsedArgs& args, const CommandContext& ctx) {
  v1::ExportMediaResponse response;
  const int rc =
      CallCollector(args, ctx, &AdminClient::ExportMedia, v1::ExportMediaRequest(), &response);
  if (rc != kExitOk) return rc;
  if (args.positionals().empty()) {
    ctx.out << response.csv();
    return kExitOk;
  }
  const std::string& file = args.positionals()[0];
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << response.csv();
  out.close();
  if (!out) return ctx.Fail("cannot write " + file);
  ctx.out << "Wrote the media ledger to " << file << ".\n";
  return kExitOk;
}

int RunMediaUnregistered(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::UnregisteredDevicesRequest request;
  request.set_group(args.GetOr("group", ""));
  Result<int64_t> days = IntOption(args, "days", 1, 366);
  if (!days) return ctx.Report(days.error());
  request.set_days(static_cast<uint32_t>(*days));
  v1::UnregisteredDevicesResponse response;
  rc = CallCollector(args, ctx, &AdminClient::UnregisteredDevices, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table({"TERMINAL", "GROUP", "VID:PID", "SERIAL", "PRODUCT", "LAST SEEN", "PRESENT"});
  table.SetMaxWidth(3, 32).SetMaxWidth(4, 32);
  for (const v1::UnregisteredDevice& d : response.devices()) {
    table.AddRow({d.terminal_id(), d.group(), d.device().vid_pid(), d.device().serial(),
                  d.device().product(), Jst(d.last_seen()), d.present() ? "yes" : "no"});
  }
  if (table.rows() == 0) {
    ctx.out << "(no unregistered removable storage seen)\n";
  } else {
    table.Render(ctx.out);
  }
  return kExitOk;
}

int RunAudit(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::QueryAuditRequest request;
  request.set_action(args.GetOr("action", ""));
  request.set_actor(args.GetOr("actor", ""));
  for (const char* name : {"since", "until"}) {
    if (std::optional<std::string> text = args.Get(name)) {
      std::optional<int64_t> ms = ParseWhen(*text, ctx.NowMs());
      if (!ms) {
        return ctx.Usage("--" + std::string(name) +
                         " must be YYYY-MM-DD (JST) or Nd / Nh ago, not \"" + *text + "\"");
      }
      google::protobuf::Timestamp* t =
          std::string_view(name) == "since" ? request.mutable_since() : request.mutable_until();
      t->set_seconds(*ms / 1000);
    }
  }
  Result<int64_t> limit = IntOption(args, "limit", 1, 1000);
  if (!limit) return ctx.Report(limit.error());
  request.set_limit(static_cast<uint32_t>(*limit));
  v1::QueryAuditResponse response;
  rc = CallCollector(args, ctx, &AdminClient::QueryAudit, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table({"ID", "AT", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAIL"});
  table.SetRightAligned(0).SetMaxWidth(2, 40).SetMaxWidth(4, 32).SetMaxWidth(6, 80);
  for (const v1::AuditEntry& e : response.entries()) {
    table.AddRow({std::to_string(e.id()), Jst(e.at()), e.actor(), e.action(), e.target(),
                  e.outcome(), e.detail()});
  }
  if (table.rows() == 0) {
    ctx.out << "(no matching audit entries)\n";
  } else {
    table.Render(ctx.out);
  }
  if (response.next_before_id() != 0) {
    ctx.out << "(more entries are older than #" << response.next_before_id()
            << "; narrow with --since/--until or raise --limit)\n";
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> LedgerCommands() {
  const std::string connection(kConnectionHelp);
  const std::string ledger_help =
      "The media ledger (外部記録媒体管理台帳) lists the removable media allowed on\n"
      "terminals. An entry applies to its --group and the group's descendants\n"
      "(no --group: the whole deployment). Every change stores a new signed policy\n"
      "version for each group whose policy carries the entry, and agents pick it\n"
      "up at once; a group without a policy of its own uses its parent's, which\n"
      "does not carry entries registered for the subgroup only (a warning says\n"
      "so). Expiry dates are JST; the entry is valid through that day.\n\n" +
      connection;
  std::vector<Command> commands;

  Command list;
  list.name = "media list";
  list.summary = "the media ledger (registered USB media)";
  list.options =
      WithConnection({{"retired", "", "also list retired entries", false}, OutputOption()});
  list.details = ledger_help;
  list.run = RunMediaList;
  commands.push_back(list);

  Command add;
  add.name = "media add";
  add.summary = "register a medium in the ledger";
  add.options = WithConnection({
      {"serial", "S", "serial number as the agent reports it (required)", false},
      {"vid-pid", "VVVV:PPPP", "vendor and product id, hex (required)", false},
      {"owner", "NAME", "who holds it", false},
      {"department", "NAME", "the holder's department", false},
      {"group", "G", "scope: this group and its descendants (default: all)", false},
      {"expires", "YYYY-MM-DD", "last valid day, JST (default: never)", false},
      {"note", "TEXT", "free text", false},
      OutputOption(),
  });
  add.details = ledger_help;
  add.run = RunMediaAdd;
  commands.push_back(add);

  Command retire;
  retire.name = "media retire";
  retire.args = "ID";
  retire.min_positionals = 1;
  retire.max_positionals = 1;
  retire.summary = "take a medium out of service (lost, broken, owner left)";
  retire.options = WithConnection({{"reason", "TEXT", "why (required)", false}, OutputOption()});
  retire.details =
      "The entry stays in the ledger with who retired it, when and why; agents\n"
      "stop allowing the medium with the next policy version.\n\n" +
      ledger_help;
  retire.run = RunMediaRetire;
  commands.push_back(retire);

  Command import;
  import.name = "media import";
  import.args = "FILE";
  import.min_positionals = 1;
  import.max_positionals = 1;
  import.summary = "add ledger entries from a CSV file (all or nothing)";
  import.options = WithConnection({OutputOption()});
  import.details =
      "FILE is UTF-8 CSV (RFC 4180; a BOM as written by Excel is fine) with the\n"
      "header row\n"
      "  serial,vendor_id,product_id,owner,department,group,expires,note\n"
      "vendor_id and product_id are 4 hex digits, expires is YYYY-MM-DD (JST) or\n"
      "empty. When any line is bad nothing is imported and every bad line is\n"
      "reported as FILE:LINE: message.\n\n" +
      ledger_help;
  import.run = RunMediaImport;
  commands.push_back(import);

  Command exp;
  exp.name = "media export";
  exp.args = "[FILE]";
  exp.max_positionals = 1;
  exp.summary = "write the active ledger entries as CSV (to FILE or stdout)";
  exp.options = WithConnection({});
  exp.details =
      "The CSV opens in Excel as is: UTF-8 with a BOM, CRLF line ends, the import\n"
      "header. Cells starting with = + - @ get a leading ' so that a spreadsheet\n"
      "shows them as text instead of running them; import removes it again.\n\n" +
      connection;
  exp.run = RunMediaExport;
  commands.push_back(exp);

  Command unregistered;
  unregistered.name = "media unregistered";
  unregistered.summary = "removable storage seen on terminals that the ledger does not register";
  unregistered.options = WithConnection({
      {"group", "G", "only terminals in this group and its descendants", false},
      {"days", "N", "how far back events count (default 30, max 366)", false},
      OutputOption(),
  });
  unregistered.details =
      "Devices present at the terminals' last reports and devices in their events,\n"
      "that match no active, unexpired ledger entry whose scope holds the\n"
      "terminal's group. Register one with 'media add' using its serial and\n"
      "VID:PID.\n\n" +
      connection;
  unregistered.run = RunMediaUnregistered;
  commands.push_back(unregistered);

  Command audit;
  audit.name = "audit";
  audit.summary = "the audit log of administrative actions, newest first";
  audit.options = WithConnection({
      {"action", "X", "only this action, e.g. ledger.add, policy.apply, login.fail", false},
      {"actor", "A", "only this actor, e.g. web:alice or cert:mamori://admin/ops", false},
      {"since", "WHEN", "YYYY-MM-DD (JST) or Nd / Nh ago", false},
      {"until", "WHEN", "YYYY-MM-DD (JST, exclusive) or Nd / Nh ago", false},
      {"limit", "N", "at most N entries (default 100, max 1000)", false},
      OutputOption(),
  });
  audit.details =
      "Actions: policy.apply, ledger.add, ledger.retire, ledger.import, user.add,\n"
      "user.reset, user.disable, user.role, login.ok, login.fail, logout.\n"
      "Outcomes: ok, denied (refused for the role or credentials), failed.\n"
      "The log is append-only; nothing deletes from it.\n\n" +
      connection;
  audit.run = RunAudit;
  commands.push_back(audit);

  return commands;
}

}  // namespace mamori::ctl
