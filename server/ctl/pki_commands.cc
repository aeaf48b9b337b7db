// mamorictl pki init / pki issue: the deployment's own small CA, run on an
// administrator's workstation. Files only; no network.

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "common/crypto/credentials.h"
#include "common/crypto/pki.h"
#include "common/crypto/unlock_key.h"
#include "common/policy/policy_signing.h"
#include "server/ctl/command.h"
#include "server/ctl/display_text.h"

namespace mamori::ctl {
namespace {

constexpr int64_t kMaxDays = 36500;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Creates `dir` (and parents) if missing; a new leaf directory is 0700 since
// it is about to hold private keys.
Status EnsureDirectory(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Status::Ok();
  if (Exists(dir)) return MakeError(ErrorCode::kIo, dir + ": exists and is not a directory");
  std::filesystem::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, dir + ": cannot create directory: " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0) {
    return MakeError(ErrorCode::kIo, dir + ": cannot set permissions");
  }
  return Status::Ok();
}

// Key first: a certificate without its key is useless, a key without its
// certificate is merely re-issued.
Status WritePair(const KeyAndCert& material, const std::string& cert_path,
                 const std::string& key_path) {
  if (Status s = WriteFileAtomic(key_path, material.key_pem, 0600); !s) return s;
  return WriteFileAtomic(cert_path, material.cert_pem, 0644);
}

void PrintCertificate(const CertInfo& info, const CommandContext& ctx) {
  ctx.out << "  subject:     " << TerminalSafe(info.subject) << '\n';
  for (const std::string& uri : info.uris)
    ctx.out << "  URI:         " << TerminalSafe(uri) << '\n';
  for (const std::string& dns : info.dns_names) {
    ctx.out << "  DNS:         " << TerminalSafe(dns) << '\n';
  }
  for (const std::string& ip : info.ip_addresses) ctx.out << "  IP:          " << ip << '\n';
  ctx.out << "  valid:       " << FormatUtc(info.not_before_ms) << " to "
          << FormatUtc(info.not_after_ms) << '\n';
  ctx.out << "  sha256:      " << info.sha256_fingerprint << '\n';
}

std::string Join(const std::string& dir, std::string_view name) {
  if (dir.empty() || dir.back() == '/') return dir + std::string(name);
  return dir + "/" + std::string(name);
}

int RunPkiInit(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> dir = args.Get("dir");
  if (!dir) return ctx.Usage("--dir DIR is required");
  Result<int64_t> days = ParseIntOption("days", args.GetOr("days", "3650"), 1, kMaxDays);
  if (!days) return ctx.Report(days.error());
  const std::string name = args.GetOr("name", "Mamori CA");

  const std::string cert_path = Join(*dir, "ca.pem");
  const std::string key_path = Join(*dir, "ca.key");
  if (!args.Has("force")) {
    for (const std::string& path : {cert_path, key_path}) {
      if (Exists(path)) {
        return ctx.Fail(path +
                        " already exists; refusing to replace the CA (certificates it issued "
                        "would no longer verify). Use --force to replace it.");
      }
    }
  }
  if (Status s = EnsureDirectory(*dir); !s) return ctx.Report(s.error());

  Result<KeyAndCert> ca = CreateCa(name, *days);
  if (!ca) return ctx.Report(ca.error());
  if (Status s = WritePair(*ca, cert_path, key_path); !s) return ctx.Report(s.error());
  Result<CertInfo> info = InspectCertificate(ca->cert_pem);
  if (!info) return ctx.Report(info.error());

  ctx.out << "Created CA \"" << TerminalSafe(name) << "\"\n";
  PrintCertificate(*info, ctx);
  ctx.out << "  certificate: " << cert_path << "  (distribute to agents and the collector)\n";
  ctx.out << "  private key: " << key_path
          << "  (mode 0600; keep it offline: whoever holds it can issue certificates)\n";
  return kExitOk;
}

int RunPkiIssue(const ParsedArgs& args, const CommandContext& ctx) {
  const std::string kind_word = args.positionals()[0];
  CertKind kind;
  if (kind_word == "agent" || kind_word == "terminal") {
    kind = CertKind::kTerminal;
  } else if (kind_word == "admin") {
    kind = CertKind::kAdmin;
  } else if (kind_word == "server") {
    kind = CertKind::kServer;
  } else {
    return ctx.Usage("unknown certificate kind \"" + TerminalSafe(kind_word) +
                     "\" (expected agent, admin or server)");
  }
  const std::optional<std::string> issuer_dir = args.Get("issuer");
  const std::optional<std::string> dir = args.Get("dir");
  if (!dir && !issuer_dir) {
    return ctx.Usage(
        "--dir DIR (holding ca.pem and ca.key) or --issuer DIR (holding issuing-ca.pem and "
        "issuing-ca.key) is required");
  }
  if (dir && issuer_dir) return ctx.Usage("give either --dir or --issuer, not both");
  const std::optional<std::string> id = args.Get("id");
  if (!id) return ctx.Usage("--id ID is required");
  if (args.Has("group") && kind != CertKind::kTerminal) {
    return ctx.Usage("--group applies to agent certificates only");
  }
  if ((args.Has("dns") || args.Has("ip")) && kind != CertKind::kServer) {
    return ctx.Usage("--dns and --ip apply to server certificates only");
  }
  if (kind == CertKind::kServer && !args.Has("dns") && !args.Has("ip")) {
    return ctx.Usage(
        "a server certificate needs at least one --dns NAME or --ip ADDR: clients verify the "
        "collector by that name");
  }
  const int64_t default_days =
      kind == CertKind::kServer ? kDefaultServerCertDays : kDefaultClientCertDays;
  Result<int64_t> days =
      ParseIntOption("days", args.GetOr("days", std::to_string(default_days)), 1, kMaxDays);
  if (!days) return ctx.Report(days.error());

  const std::string& ca_dir = issuer_dir ? *issuer_dir : *dir;
  const std::string ca_cert_path = Join(ca_dir, issuer_dir ? "issuing-ca.pem" : "ca.pem");
  const std::string ca_key_path = Join(ca_dir, issuer_dir ? "issuing-ca.key" : "ca.key");
  Result<std::string> ca_cert = ReadFileToString(ca_cert_path);
  if (!ca_cert) {
    return ctx.Fail(ca_cert.error().message + (issuer_dir
                                                   ? " (run 'mamorictl pki intermediate' first?)"
                                                   : " (run 'mamorictl pki init' first?)"));
  }
  Result<std::string> ca_key = ReadFileToString(ca_key_path);
  if (!ca_key) return ctx.Fail(ca_key.error().message);
  Result<CertInfo> ca_info = InspectCertificate(*ca_cert);
  if (!ca_info) return ctx.Fail(ca_cert_path + ": " + ca_info.error().message);
  const int64_t now = ctx.NowMs();
  if (now > ca_info->not_after_ms) {
    return ctx.Fail(ca_cert_path + ": CA certificate expired on " +
                    FormatUtc(ca_info->not_after_ms));
  }

  IssueRequest request;
  request.kind = kind;
  request.id = *id;
  request.group = args.GetOr("group", "");
  request.dns_names = args.GetAll("dns");
  request.ip_addresses = args.GetAll("ip");
  request.validity_days = *days;

  const std::string prefix = args.GetOr("out", Join(ca_dir, kind_word + "-" + *id));
  const std::string cert_path = prefix + ".pem";
  const std::string key_path = prefix + ".key";
  if (!args.Has("force")) {
    for (const std::string& path : {cert_path, key_path}) {
      if (Exists(path)) return ctx.Fail(path + " already exists; use --force to replace it");
    }
  }

  Result<KeyAndCert> issued = IssueCertificate(KeyAndCert{*ca_key, *ca_cert}, request);
  if (!issued) return ctx.Fail(issued.error().message);
  Result<CertInfo> info = InspectCertificate(issued->cert_pem);
  if (!info) return ctx.Report(info.error());
  if (Status s = WritePair(*issued, cert_path, key_path); !s) return ctx.Report(s.error());

  ctx.out << "Issued " << kind_word << " certificate for \"" << TerminalSafe(*id) << "\"\n";
  PrintCertificate(*info, ctx);
  ctx.out << "  certificate: " << cert_path << '\n';
  ctx.out << "  private key: " << key_path << "  (mode 0600)\n";
  ctx.out << "  CA:          " << ca_cert_path << '\n';
  if (issuer_dir) {
    ctx.out << "  chain:       the certificate file holds the certificate followed by the "
               "issuing CA's; peers trust the root CA (ca.pem)\n";
  }
  if (kind == CertKind::kTerminal && request.group.empty()) {
    ctx.err << "warning: no --group: the collector refuses terminal certificates that do not "
               "carry exactly one group\n";
  }
  if (info->not_after_ms > ca_info->not_after_ms) {
    ctx.err << "warning: the CA expires on " << FormatUtc(ca_info->not_after_ms)
            << ", before this certificate; it stops verifying then\n";
  }
  return kExitOk;
}

int RunPkiIntermediate(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> root_dir = args.Get("dir");
  if (!root_dir)
    return ctx.Usage("--dir ROOTDIR is required (the directory holding ca.pem and ca.key)");
  const std::optional<std::string> out_dir = args.Get("out");
  if (!out_dir)
    return ctx.Usage("--out DIR is required (where issuing-ca.pem and issuing-ca.key go)");
  Result<int64_t> days = ParseIntOption(
      "days", args.GetOr("days", std::to_string(kDefaultIssuingCaDays)), 1, kMaxDays);
  if (!days) return ctx.Report(days.error());
  const std::string name = args.GetOr("name", "Mamori Issuing CA");

  const std::string root_cert_path = Join(*root_dir, "ca.pem");
  const std::string root_key_path = Join(*root_dir, "ca.key");
  Result<std::string> root_cert = ReadFileToString(root_cert_path);
  if (!root_cert) {
    return ctx.Fail(root_cert.error().message + " (run 'mamorictl pki init' first?)");
  }
  Result<std::string> root_key = ReadFileToString(root_key_path);
  if (!root_key) return ctx.Fail(root_key.error().message);
  Result<CertInfo> root_info = InspectCertificate(*root_cert);
  if (!root_info) return ctx.Fail(root_cert_path + ": " + root_info.error().message);
  if (ctx.NowMs() > root_info->not_after_ms) {
    return ctx.Fail(root_cert_path + ": root CA certificate expired on " +
                    FormatUtc(root_info->not_after_ms));
  }

  const std::string cert_path = Join(*out_dir, "issuing-ca.pem");
  const std::string key_path = Join(*out_dir, "issuing-ca.key");
  if (!args.Has("force")) {
    for (const std::string& path : {cert_path, key_path}) {
      if (Exists(path)) {
        return ctx.Fail(path +
                        " already exists; refusing to replace the issuing CA (the collector may "
                        "be using it). Use --force to replace it, or choose another --out "
                        "directory for the new one.");
      }
    }
  }
  Result<KeyAndCert> issuing = CreateIssuingCa(KeyAndCert{*root_key, *root_cert}, name, *days);
  if (!issuing) return ctx.Fail(root_cert_path + ": " + issuing.error().message);
  if (Status s = EnsureDirectory(*out_dir); !s) return ctx.Report(s.error());
  if (::chmod(out_dir->c_str(), 0700) != 0) {
    return ctx.Fail(*out_dir + ": cannot set permissions to 0700");
  }
  if (Status s = WritePair(*issuing, cert_path, key_path); !s) return ctx.Report(s.error());
  Result<CertInfo> info = InspectCertificate(issuing->cert_pem);
  if (!info) return ctx.Report(info.error());

  ctx.out << "Created issuing CA \"" << TerminalSafe(name) << "\" signed by "
          << TerminalSafe(root_info->subject) << '\n';
  PrintCertificate(*info, ctx);
  ctx.out << "  certificate: " << cert_path << '\n';
  ctx.out << "  private key: " << key_path << "  (mode 0600; the collector signs with it)\n";
  ctx.out << "\nNext:\n"
          << "  1. Copy " << *out_dir << " to the collector and point it at issuing-ca.pem and\n"
          << "     issuing-ca.key; agents and the collector keep trusting the root (ca.pem).\n"
          << "  2. Issue certificates with 'mamorictl pki issue ... --issuer " << *out_dir << "'.\n"
          << "  3. Take " << root_key_path << " offline: it is needed again only to make the\n"
          << "     next issuing CA. Certificates from an older issuing CA stay valid until\n"
          << "     they expire, since they chain to the same root.\n";
  return kExitOk;
}

int RunPkiPolicyKey(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> dir = args.Get("dir");
  if (!dir) return ctx.Usage("--dir DIR is required");
  const std::string key_path = Join(*dir, "policy-signing.key");
  const std::string pub_path = Join(*dir, "policy-signing.pub");
  if (!args.Has("force")) {
    for (const std::string& path : {key_path, pub_path}) {
      if (Exists(path)) {
        return ctx.Fail(path +
                        " already exists; refusing to replace the policy key (agents pinning "
                        "it would refuse every new policy). Use --force to replace it.");
      }
    }
  }
  if (Status s = EnsureDirectory(*dir); !s) return ctx.Report(s.error());

  Result<PolicySigningKey> key = PolicySigningKey::Generate();
  if (!key) return ctx.Report(key.error());
  Result<std::string> key_pem = key->PrivateKeyPem();
  if (!key_pem) return ctx.Report(key_pem.error());
  Result<std::string> pub_pem = key->public_key().ToPem();
  if (!pub_pem) return ctx.Report(pub_pem.error());
  // Private key first: a public key without its private key is useless.
  if (Status s = WriteFileAtomic(key_path, *key_pem, 0600); !s) return ctx.Report(s.error());
  if (Status s = WriteFileAtomic(pub_path, *pub_pem, 0644); !s) return ctx.Report(s.error());

  ctx.out << "Created Ed25519 policy signing key " << key->key_id() << '\n';
  ctx.out << "  private key: " << key_path
          << "  (mode 0600; the collector's policy.signing_key_file)\n";
  ctx.out << "  public key:  " << pub_path
          << "  (every agent's policy.public_key_file: agents accept only policies it signed)\n";
  return kExitOk;
}

int RunPkiUnlockKey(const ParsedArgs& args, const CommandContext& ctx) {
  const std::optional<std::string> dir = args.Get("dir");
  if (!dir) return ctx.Usage("--dir DIR is required");
  const std::string key_path = Join(*dir, "unlock.key");
  const std::string pub_path = Join(*dir, "unlock.pub");
  if (!args.Has("force")) {
    for (const std::string& path : {key_path, pub_path}) {
      if (Exists(path)) {
        return ctx.Fail(path +
                        " already exists; refusing to replace the unlock key (codes would no "
                        "longer verify on agents holding the old public key). Use --force.");
      }
    }
  }
  if (Status s = EnsureDirectory(*dir); !s) return ctx.Report(s.error());
  Result<UnlockKeyPair> pair = CreateUnlockKeyPair();
  if (!pair) return ctx.Report(pair.error());
  if (Status s = WriteFileAtomic(key_path, pair->private_pem, 0600); !s)
    return ctx.Report(s.error());
  if (Status s = WriteFileAtomic(pub_path, pair->public_pem, 0644); !s)
    return ctx.Report(s.error());
  ctx.out << "Created P-256 unlock key\n";
  ctx.out << "  private key: " << key_path << "  (mode 0600; the collector's unlock.key_file)\n";
  ctx.out << "  public key:  " << pub_path
          << "  (every agent's unlock.public_key_file: offline unlock codes)\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> PkiCommands() {
  Command init;
  init.name = "pki init";
  init.summary = "create the deployment's CA (ca.pem, ca.key)";
  init.options = {
      {"dir", "DIR", "directory for ca.pem and ca.key (created 0700 if missing)", false},
      {"name", "NAME", "CA common name (default \"Mamori CA\")", false},
      {"days", "N", "validity in days (default 3650)", false},
      {"force", "", "replace an existing CA (invalidates every certificate it issued)", false},
  };
  init.details =
      "Creates an ECDSA P-256 CA. The private key is written with mode 0600; keep\n"
      "it offline. Refuses to overwrite an existing ca.pem or ca.key.\n\n"
      "Example:\n  mamorictl pki init --dir /etc/mamori/pki --name \"Suita City Mamori CA\"\n";
  init.run = RunPkiInit;

  Command issue;
  issue.name = "pki issue";
  issue.args = "agent|admin|server";
  issue.min_positionals = 1;
  issue.max_positionals = 1;
  issue.summary = "issue an agent, admin or collector certificate";
  issue.options = {
      {"dir", "DIR", "directory holding the root's ca.pem and ca.key", false},
      {"id", "ID", "terminal id, admin name or collector name ([A-Za-z0-9._-], 1-128)", false},
      {"group", "G", "agent only: the terminal's group, e.g. osaka/suita/hoken", false},
      {"dns", "NAME", "server only: DNS name clients connect to (repeatable)", true},
      {"ip", "ADDR", "server only: IP address clients connect to (repeatable)", true},
      {"issuer", "DIR", "sign with DIR/issuing-ca.pem and .key instead of the root", false},
      {"days", "N", "validity in days (default 30; server certificates 397)", false},
      {"out", "PREFIX", "write PREFIX.pem and PREFIX.key (default DIR/<kind>-<id>)", false},
      {"force", "", "replace existing files", false},
  };
  issue.details =
      "Agent certificates carry URI SANs mamori://terminal/<id> and, with --group,\n"
      "mamori://group/<group>; the collector takes the terminal's identity from them.\n"
      "Admin certificates carry mamori://admin/<id>, server certificates\n"
      "mamori://collector/<id> plus the DNS and IP names clients dial.\n"
      "With --issuer the issuing CA signs, and the certificate file holds the\n"
      "certificate followed by the issuing CA's certificate.\n\n"
      "Examples:\n"
      "  mamorictl pki issue agent --issuer issuing --id t-0002 --group osaka/suita\n"
      "  mamorictl pki issue server --dir pki --id collector-1 --dns collector.example.lg.jp\n"
      "  mamorictl pki issue agent --dir pki --id t-0001 --group osaka/suita/hoken\n"
      "  mamorictl pki issue admin --dir pki --id alice\n";
  issue.run = RunPkiIssue;

  Command intermediate;
  intermediate.name = "pki intermediate";
  intermediate.summary = "create an issuing CA signed by the root (issuing-ca.pem, .key)";
  intermediate.options = {
      {"dir", "ROOTDIR", "directory holding the root's ca.pem and ca.key", false},
      {"out", "DIR", "directory for issuing-ca.pem and issuing-ca.key (made 0700)", false},
      {"name", "NAME", "issuing CA common name (default \"Mamori Issuing CA\")", false},
      {"days", "N", "validity in days (default 1095)", false},
      {"force", "", "replace an existing issuing CA in DIR", false},
  };
  intermediate.details =
      "Creates an ECDSA P-256 issuing CA (pathlen:0) signed by the root, so the\n"
      "collector can sign terminal certificates while the root key stays offline.\n"
      "Rotation: make a new one in a new directory and point the collector at it;\n"
      "certificates from the old one stay valid until they expire.\n\n"
      "Example:\n  mamorictl pki intermediate --dir /media/offline/pki --out /etc/mamori/issuing\n";
  intermediate.run = RunPkiIntermediate;

  Command policy_key;
  policy_key.name = "pki policy-key";
  policy_key.summary = "create the collector's policy signing key (Ed25519)";
  policy_key.options = {
      {"dir", "DIR", "directory for policy-signing.key and .pub (created 0700 if missing)", false},
      {"force", "", "replace an existing key (agents must then pin the new public key)", false},
  };
  policy_key.details =
      "Creates an Ed25519 key pair: policy-signing.key (mode 0600) for the collector's\n"
      "policy.signing_key_file, policy-signing.pub for every agent's\n"
      "policy.public_key_file. The collector signs every policy it sends; agents\n"
      "refuse policies not signed by the key they pin. Refuses to overwrite an\n"
      "existing key.\n\n"
      "Example:\n  mamorictl pki policy-key --dir /etc/mamori/pki\n";
  policy_key.run = RunPkiPolicyKey;

  Command unlock_key;
  unlock_key.name = "pki unlock-key";
  unlock_key.summary = "create the collector's offline unlock key (P-256)";
  unlock_key.options = {
      {"dir", "DIR", "directory for unlock.key and unlock.pub (created 0700 if missing)", false},
      {"force", "", "replace an existing key (agents must then get the new public key)", false},
  };
  unlock_key.details =
      "Creates a P-256 key pair: unlock.key (mode 0600) for the collector's\n"
      "unlock.key_file, unlock.pub for every agent's unlock.public_key_file.\n"
      "Each terminal's unlock key is derived from it and the terminal's own key\n"
      "(ECDH), so no secret is sent to terminals. Refuses to overwrite a key.\n\n"
      "Example:\n  mamorictl pki unlock-key --dir /etc/mamori/pki\n";
  unlock_key.run = RunPkiUnlockKey;

  return {init, intermediate, issue, policy_key, unlock_key};
}

}  // namespace mamori::ctl
