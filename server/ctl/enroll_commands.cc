// mamorictl enroll ...: enrollment tokens, enrollments, re-enrollment; and
// mamorictl pki renew: a new key and certificate for mamorictl itself.

#include <filesystem>
#include <sstream>
#include <string>

#include "common/base/file_io.h"
#include "common/base/jst_time.h"
#include "common/base/yaml_reader.h"
#include "common/crypto/csr.h"
#include "server/ctl/command_support.h"
#include "server/ctl/ctl_config.h"
#include "server/ctl/table.h"

namespace mamori::ctl {
namespace {

constexpr int64_t kDaySeconds = 86'400;

std::string Jst(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  const std::string iso = JstIso8601(t.seconds() * 1000 + t.nanos() / 1'000'000);
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " JST";
}

// --`name` as a duration ("7d", "24h", "30m") in seconds within [min, max];
// `fallback` when absent.
Result<int64_t> DurationOption(const ParsedArgs& args, std::string_view name, int64_t fallback,
                               int64_t min_s, int64_t max_s, std::string_view bounds) {
  const std::optional<std::string> text = args.Get(std::string(name));
  if (!text) return fallback;
  const std::optional<int64_t> ms = ParseDurationMs(*text);
  if (!ms || *ms / 1000 < min_s || *ms / 1000 > max_s) {
    return MakeError(ErrorCode::kInvalidArgument, "--" + std::string(name) + " '" + *text +
                                                      "': expected a duration " +
                                                      std::string(bounds) + ", e.g. 7d or 24h");
  }
  return *ms / 1000;
}

int RunTokenCreate(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> group = args.Get("group");
  if (!group) return ctx.Usage("--group is required");
  Result<int64_t> uses = IntOption(args, "uses", 1, 100'000);
  if (!uses) return ctx.Report(uses.error());
  Result<int64_t> expires =
      DurationOption(args, "expires", 7 * kDaySeconds, 60, 365 * kDaySeconds, "of 1m to 365d");
  if (!expires) return ctx.Report(expires.error());
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::CreateEnrollTokenRequest request;
  request.set_group(*group);
  request.set_uses(static_cast<uint32_t>(*uses == 0 ? 1 : *uses));
  request.set_expires_in_seconds(static_cast<uint64_t>(*expires));
  request.set_note(args.GetOr("note", ""));
  v1::CreateEnrollTokenResponse response;
  rc = CallCollector(args, ctx, &AdminClient::CreateEnrollToken, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  const v1::EnrollTokenView& t = response.token();
  ctx.out << "Enrollment token " << t.id() << " for group " << t.group() << ", " << t.uses_total()
          << (t.uses_total() == 1 ? " use" : " uses") << ", valid until " << Jst(t.expires_at())
          << ":\n\n    " << response.token_text() << "\n\n"
          << "It is shown this once; the collector keeps only its hash. Give it to the\n"
          << "installer (MSI property or .deb prompt), or revoke it with\n"
          << "    mamorictl enroll token revoke " << t.id() << "\n";
  return kExitOk;
}

int RunTokenList(const ParsedArgs& args, const CommandContext& ctx) {
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ListEnrollTokensResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ListEnrollTokens, v1::ListEnrollTokensRequest(),
                     &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table({"ID", "GROUP", "USES LEFT", "EXPIRES", "STATE", "LAST USED", "CREATED BY", "NOTE"});
  table.SetMaxWidth(7, 40);
  const int64_t now_s = ctx.NowMs() / 1000;
  for (const v1::EnrollTokenView& t : response.tokens()) {
    std::string state = "active";
    if (t.revoked()) {
      state = "revoked";
    } else if (t.expires_at().seconds() <= now_s) {
      state = "expired";
    } else if (t.uses_left() == 0) {
      state = "used up";
    }
    table.AddRow({t.id(), t.group(),
                  std::to_string(t.uses_left()) + "/" + std::to_string(t.uses_total()),
                  Jst(t.expires_at()), state, Jst(t.last_used_at()), t.created_by(), t.note()});
  }
  if (table.rows() == 0) {
    ctx.out << "(no enrollment tokens)\n";
  } else {
    table.Render(ctx.out);
  }
  return kExitOk;
}

int RunTokenRevoke(const ParsedArgs& args, const CommandContext& ctx) {
  v1::RevokeEnrollTokenRequest request;
  request.set_id(args.positionals().at(0));
  v1::RevokeEnrollTokenResponse response;
  const int rc = CallCollector(args, ctx, &AdminClient::RevokeEnrollToken, request, &response);
  if (rc != kExitOk) return rc;
  ctx.out << "Enrollment token " << request.id() << " revoked.\n";
  return kExitOk;
}

int RunEnrollList(const ParsedArgs& args, const CommandContext& ctx) {
  Result<int64_t> limit = IntOption(args, "limit", 1, 10'000);
  if (!limit) return ctx.Report(limit.error());
  int rc = kExitOk;
  const std::optional<bool> json = WantsJson(args, ctx, &rc);
  if (!json) return rc;
  v1::ListEnrollmentsRequest request;
  request.set_limit(static_cast<uint32_t>(*limit));
  v1::ListEnrollmentsResponse response;
  rc = CallCollector(args, ctx, &AdminClient::ListEnrollments, request, &response);
  if (rc != kExitOk) return rc;
  if (*json) return PrintJson(response, ctx);
  Table table({"TIME", "TERMINAL", "GROUP", "ADDRESS", "TOKEN", "SERIAL"});
  for (const v1::EnrollmentView& e : response.enrollments()) {
    table.AddRow(
        {Jst(e.at()), e.terminal_id(), e.group(), e.source_address(), e.token_id(), e.serial()});
  }
  if (table.rows() == 0) {
    ctx.out << "(no enrollments)\n";
  } else {
    table.Render(ctx.out);
  }
  return kExitOk;
}

int RunAllowReenroll(const ParsedArgs& args, const CommandContext& ctx) {
  Result<int64_t> expires =
      DurationOption(args, "expires", kDaySeconds, 60, 30 * kDaySeconds, "of 1m to 30d");
  if (!expires) return ctx.Report(expires.error());
  v1::AllowReenrollmentRequest request;
  request.set_terminal_id(args.positionals().at(0));
  request.set_expires_in_seconds(static_cast<uint64_t>(*expires));
  v1::AllowReenrollmentResponse response;
  const int rc = CallCollector(args, ctx, &AdminClient::AllowReenrollment, request, &response);
  if (rc != kExitOk) return rc;
  ctx.out << "Terminal id " << request.terminal_id() << " may enroll once more until "
          << Jst(response.until()) << ".\n";
  return kExitOk;
}

// Renews mamorictl's own certificate in place. The old key and certificate
// stay as *.prev until a call with the new ones succeeded, and come back if
// it fails.
int RunPkiRenew(const ParsedArgs& args, const CommandContext& ctx) {
  Result<ConnectionSettings> settings = ResolveConnection(args, ctx.env.config_path);
  if (!settings) return ctx.Report(settings.error());
  const std::string cert_file = settings->tls.cert_file;
  const std::string key_file = settings->tls.key_file;
  Result<std::string> old_cert = ReadFileToString(cert_file);
  if (!old_cert) return ctx.Fail(old_cert.error().message);
  Result<std::string> old_key = ReadFileToString(key_file);
  if (!old_key) return ctx.Fail(old_key.error().message);
  Result<CertInfo> info = InspectCertificate(*old_cert);
  if (!info) return ctx.Fail(cert_file + ": " + info.error().message);

  Result<KeyAndCsr> fresh = MakeKeyAndCsr(info->common_name.empty() ? "admin" : info->common_name);
  if (!fresh) return ctx.Fail(fresh.error().message);
  v1::RenewCertificateRequest request;
  request.set_csr_pem(fresh->csr_pem);
  v1::IssuedCertificate issued;
  int rc = CallCollector(args, ctx, &AdminClient::RenewAdminCertificate, request, &issued);
  if (rc != kExitOk) return rc;
  if (Status s = CheckKeyMatchesCertificate(fresh->key_pem, issued.certificate_pem()); !s) {
    return ctx.Fail("the collector answered with a certificate for another key: " +
                    s.error().message);
  }

  const std::string key_prev = key_file + ".prev";
  const std::string cert_prev = cert_file + ".prev";
  const auto restore = [&]() {
    (void)WriteFileAtomic(key_file, *old_key, 0600);
    (void)WriteFileAtomic(cert_file, *old_cert, 0644);
  };
  for (const auto& [path, data, mode] :
       {std::tuple<const std::string&, const std::string&, unsigned>{key_prev, *old_key, 0600},
        {cert_prev, *old_cert, 0644}}) {
    if (Status s = WriteFileAtomic(path, data, mode); !s) return ctx.Fail(s.error().message);
  }
  if (Status s = WriteFileAtomic(key_file, fresh->key_pem, 0600); !s) {
    return ctx.Fail(s.error().message);
  }
  if (Status s = WriteFileAtomic(cert_file, issued.certificate_pem() + issued.chain_pem(), 0644);
      !s) {
    restore();
    return ctx.Fail(s.error().message);
  }
  // Proof: one call with the new key and certificate.
  v1::QueryAuditRequest probe;
  probe.set_limit(1);
  v1::QueryAuditResponse ignored;
  std::ostringstream quiet;
  CommandContext probe_ctx{ctx.out, quiet, ctx.env, ctx.command};
  rc = CallCollector(args, probe_ctx, &AdminClient::QueryAudit, probe, &ignored);
  if (rc != kExitOk) {
    restore();
    return ctx.Fail("the renewed certificate did not work (" + quiet.str() +
                    "); the previous key and certificate were put back");
  }
  std::error_code ec;
  std::filesystem::remove(key_prev, ec);
  std::filesystem::remove(cert_prev, ec);
  ctx.out << "Renewed " << cert_file << " (serial " << issued.serial() << ", valid until "
          << Jst(issued.not_after()) << ") with a new key in " << key_file << ".\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> EnrollCommands() {
  const std::string connection(kConnectionHelp);
  Command create;
  create.name = "enroll token create";
  create.summary = "make an enrollment token for a group (shown once)";
  create.options = WithConnection({
      {"group", "G", "the group enrolled terminals join, e.g. osaka/suita/hoken (required)", false},
      {"uses", "N", "how many terminals may enroll with it, 1..100000 (default 1)", false},
      {"expires", "DURATION", "valid for this long, up to 365d (default 7d)", false},
      {"note", "TEXT", "shown in 'enroll token list'", false},
      OutputOption(),
  });
  create.details =
      "Prints the token once: mt_<id>_<secret>. The collector keeps only its\n"
      "SHA-256. Terminals installed with it make their own key and enroll\n"
      "into the group. Needs enrollment.issuing_ca_* on the collector.\n\n" +
      connection;
  create.run = RunTokenCreate;

  Command list;
  list.name = "enroll token list";
  list.summary = "enrollment tokens with uses left, expiry and state";
  list.options = WithConnection({OutputOption()});
  list.details = connection;
  list.run = RunTokenList;

  Command revoke;
  revoke.name = "enroll token revoke";
  revoke.args = "ID";
  revoke.summary = "revoke an enrollment token (terminals already enrolled keep working)";
  revoke.min_positionals = revoke.max_positionals = 1;
  revoke.options = WithConnection({});
  revoke.details = connection;
  revoke.run = RunTokenRevoke;

  Command enrollments;
  enrollments.name = "enroll list";
  enrollments.summary = "recent enrollments, newest first";
  enrollments.options = WithConnection({
      {"limit", "N", "at most N (default 100, max 10000)", false},
      OutputOption(),
  });
  enrollments.details = connection;
  enrollments.run = RunEnrollList;

  Command allow;
  allow.name = "enroll allow-reenroll";
  allow.args = "ID";
  allow.summary = "let an id in use enroll once more (a reinstalled terminal)";
  allow.min_positionals = allow.max_positionals = 1;
  allow.options = WithConnection({
      {"expires", "DURATION", "the allowance lasts this long, up to 30d (default 24h)", false},
  });
  allow.details =
      "An id that holds an unexpired certificate or reported recently is refused\n"
      "at enrollment (ALREADY_EXISTS), so a stolen token cannot take over a\n"
      "working terminal's identity. This allows one enrollment of ID.\n\n" +
      connection;
  allow.run = RunAllowReenroll;

  Command renew;
  renew.name = "pki renew";
  renew.summary = "renew mamorictl's own admin certificate with a new key, in place";
  renew.options = WithConnection({});
  renew.details =
      "Makes a new key, asks the collector's issuing CA for a certificate of\n"
      "the same admin identity, and writes key and certificate over the ones in\n"
      "use (tls.key_file, tls.cert_file). The old ones are kept as *.prev until a\n"
      "call with the new ones succeeds, and are put back if it fails.\n\n" +
      connection;
  renew.run = RunPkiRenew;
  return {create, list, revoke, enrollments, allow, renew};
}

}  // namespace mamori::ctl
