// mamorictl terminal revoke/retire, pki revoke-admin, pki revocations: the
// collector's deny list.

#include <string>

#include "common/base/file_io.h"
#include "common/base/jst_time.h"
#include "common/crypto/identity.h"
#include "common/crypto/pki.h"
#include "server/ctl/command_support.h"
#include "server/ctl/ctl_config.h"
#include "server/ctl/table.h"

namespace mamori::ctl {
namespace {

std::string Jst(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  const std::string iso = JstIso8601(t.seconds() * 1000 + t.nanos() / 1'000'000);
  return iso.substr(0, 10) + " " + iso.substr(11, 8) + " JST";
}

// --reason, required and not blank.
std::optional<std::string> Reason(const ParsedArgs& args) {
  std::optional<std::string> reason = args.Get("reason");
  if (!reason || reason->find_first_not_of(" \t") == std::string::npos) return std::nullopt;
  return reason;
}

int PrintOutcome(const v1::RevocationView& v, bool json, const CommandContext& ctx) {
  if (json) return PrintJson(v, ctx);
  const bool retire = v.kind() == "retire";
  ctx.out << (retire ? "Retired " : "Revoked ") << v.role() << " '" << v.subject() << "'";
  if (!v.cert_sha256().empty()) ctx.out << " (certificate sha256 " << v.cert_sha256() << ")";
  ctx.out << " at " << Jst(v.at()) << " (record #" << v.id() << ").\n";
  if (v.role() == "terminal") {
    ctx.out << "Policy streams ended: " << v.streams_closed()
            << ". Every further connection and call of the terminal is refused.\n";
  } else {
    ctx.out << "Every further admin call with this identity is refused.\n";
  }
  return kExitOk;
}

int RunTerminalRevoke(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> reason = Reason(args);
  if (!reason) return ctx.Usage("--reason TEXT is required (kept in the audit log)");
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::RevokeTerminalRequest request;
  request.set_terminal_id(args.positionals()[0]);
  request.set_reason(*reason);
  request.set_cert_sha256(args.GetOr("cert-sha256", ""));
  v1::RevocationView response;
  rc = CallCollector(args, ctx, &AdminClient::RevokeTerminal, request, &response);
  if (rc != kExitOk) return rc;
  return PrintOutcome(response, *json, ctx);
}

int RunTerminalRetire(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> reason = Reason(args);
  if (!reason) return ctx.Usage("--reason TEXT is required (kept in the audit log)");
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::RetireTerminalRequest request;
  request.set_terminal_id(args.positionals()[0]);
  request.set_reason(*reason);
  v1::RevocationView response;
  rc = CallCollector(args, ctx, &AdminClient::RetireTerminal, request, &response);
  if (rc != kExitOk) return rc;
  return PrintOutcome(response, *json, ctx);
}

// The admin name of the certificate mamorictl connects with, if it can be read.
std::optional<std::string> OwnAdminName(const ParsedArgs& args, const CommandContext& ctx) {
  Result<ConnectionSettings> settings = ResolveConnection(args, ctx.env.config_path);
  if (!settings) return std::nullopt;
  Result<std::string> pem = ReadFileToString(settings->tls.cert_file);
  if (!pem) return std::nullopt;
  Result<CertInfo> info = InspectCertificate(*pem);
  if (!info) return std::nullopt;
  for (const std::string& uri : info->uris) {
    if (auto id = ParseIdentityUri(uri); id && id->role == PeerRole::kAdmin) return id->id;
  }
  return std::nullopt;
}

int RunRevokeAdmin(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> reason = Reason(args);
  if (!reason) return ctx.Usage("--reason TEXT is required (kept in the audit log)");
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  const std::string& name = args.positionals()[0];
  if (!args.Has("force") && OwnAdminName(args, ctx) == name) {
    return ctx.Fail("'" + name +
                    "' is the identity this mamorictl connects with: revoking it locks this "
                    "certificate out of every admin call. Add --force if that is meant.");
  }
  v1::RevokeAdminRequest request;
  request.set_name(name);
  request.set_reason(*reason);
  request.set_cert_sha256(args.GetOr("cert-sha256", ""));
  v1::RevocationView response;
  rc = CallCollector(args, ctx, &AdminClient::RevokeAdmin, request, &response);
  if (rc != kExitOk) return rc;
  return PrintOutcome(response, *json, ctx);
}

int RunRevocations(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ListRevocationsResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ListRevocations, v1::ListRevocationsRequest(),
                     &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table({"ID", "KIND", "ROLE", "SUBJECT", "CERTIFICATE", "AT", "BY", "REASON"});
  table.SetRightAligned(0).SetMaxWidth(7, 60);
  for (const v1::RevocationView& v : response.revocations()) {
    table.AddRow({std::to_string(v.id()), v.kind(), v.role(), v.subject(),
                  v.cert_sha256().empty() ? "(all)" : v.cert_sha256().substr(0, 16) + "…",
                  Jst(v.at()), v.actor(), v.reason()});
  }
  if (table.rows() == 0) {
    ctx.out << "(nothing revoked or retired)\n";
  } else {
    table.Render(ctx.out);
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> RevocationCommands() {
  const std::string connection(kConnectionHelp);
  const OptionSpec reason{"reason", "TEXT", "why (required; kept in the audit log)", false};
  const OptionSpec cert{"cert-sha256", "HEX",
                        "revoke only the certificate with this SHA-256 fingerprint (of its "
                        "DER, as 'pki inspect' shows it), not the identity",
                        false};

  Command revoke;
  revoke.name = "terminal revoke";
  revoke.args = "ID";
  revoke.min_positionals = revoke.max_positionals = 1;
  revoke.summary = "revoke a terminal: refuse its certificates and end its connections now";
  revoke.options = WithConnection({reason, cert, OutputOption()});
  revoke.details =
      "Every certificate ever issued to the terminal id is refused from now on,\n"
      "including ones issued offline with 'pki issue'; its policy streams end\n"
      "within a second and every later call, even on a connection opened\n"
      "before, is refused. The terminal stays in every view, shown as revoked\n"
      "(失効) and non-compliant (check not_revoked). Revocation is permanent and\n"
      "recorded in the audit log (terminal.revoke).\n\n" +
      connection;
  revoke.run = RunTerminalRevoke;

  Command retire;
  retire.name = "terminal retire";
  retire.args = "ID";
  retire.min_positionals = retire.max_positionals = 1;
  retire.summary = "retire (decommission) a terminal: out of lists and counts, may not connect";
  retire.options = WithConnection({reason, OutputOption()});
  retire.details =
      "For a terminal taken out of service. It can no longer connect (as if\n"
      "revoked), and leaves the terminal list and the compliance counts;\n"
      "'terminals --standing retired' lists it, and its events, device history\n"
      "and audit records stay queryable. Recorded in the audit log\n"
      "(terminal.retire).\n\n" +
      connection;
  retire.run = RunTerminalRetire;

  Command admin;
  admin.name = "pki revoke-admin";
  admin.args = "NAME";
  admin.min_positionals = admin.max_positionals = 1;
  admin.summary = "revoke an admin identity (mamori://admin/NAME) on every admin call";
  admin.options = WithConnection(
      {reason,
       cert,
       {"force", "", "allow revoking the identity this mamorictl connects with", false},
       OutputOption()});
  admin.details =
      "Every admin call with a certificate of this identity is refused from now\n"
      "on, on new and already open connections alike. Refuses to revoke the\n"
      "identity of its own certificate unless --force. Recorded in the audit log\n"
      "(admin.revoke).\n\n" +
      connection;
  admin.run = RunRevokeAdmin;

  Command list;
  list.name = "pki revocations";
  list.summary = "every revocation and retirement, oldest first";
  list.options = WithConnection({OutputOption()});
  list.details = connection;
  list.run = RunRevocations;
  return {revoke, retire, admin, list};
}

}  // namespace mamori::ctl
