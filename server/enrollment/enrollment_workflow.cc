#include "server/enrollment/enrollment_workflow.h"

#include <algorithm>

#include "common/base/file_io.h"
#include "common/base/logging.h"
#include "common/base/sanitize.h"
#include "common/crypto/identity.h"
#include "server/enrollment/enroll_token.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("enrollment");
  return log;
}

// The one answer to every token failure: a guess learns nothing.
constexpr std::string_view kBadToken =
    "enrollment token is not valid (unknown, used up, expired or revoked)";

constexpr std::size_t kMaxHostnameBytes = 255;
constexpr std::size_t kMaxAgentVersionBytes = 64;
constexpr std::size_t kMaxOsBytes = 256;
constexpr std::size_t kMaxNoteBytes = 256;

std::string_view TokenRefusalName(TokenRefusal r) {
  switch (r) {
    case TokenRefusal::kNone:
      return "ok";
    case TokenRefusal::kUnknown:
      return "unknown token";
    case TokenRefusal::kUsedUp:
      return "token used up";
    case TokenRefusal::kExpired:
      return "token expired";
    case TokenRefusal::kRevoked:
      return "token revoked";
  }
  return "?";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

Status CheckLength(std::string_view field, std::string_view value, std::size_t max) {
  if (value.size() <= max) return Status::Ok();
  return MakeError(ErrorCode::kInvalidArgument, std::string(field) + " is " +
                                                    std::to_string(value.size()) +
                                                    " bytes, at most " + std::to_string(max));
}

// Valid from a little before now (clocks differ a little) until
// now + lifetime: the lifetime an operator configured is what the holder gets.
constexpr int64_t kBackdateMs = 5 * 60'000;
void SetLifetime(int64_t now_ms, int64_t lifetime_ms, IssueRequest* request) {
  request->not_before_ms = now_ms - kBackdateMs;
  request->validity_seconds = (lifetime_ms + kBackdateMs) / 1000;
}

std::string RoleName(PeerRole role) { return std::string(PeerRoleName(role)); }

}  // namespace

std::vector<std::string> SplitListenAddresses(std::string_view listen) {
  std::vector<std::string> out;
  while (!listen.empty()) {
    const auto comma = listen.find(',');
    std::string_view part = listen.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    listen.remove_prefix(comma + 1);
  }
  return out;
}

Result<KeyAndCert> LoadIssuingCa(const EnrollmentSettings& settings, std::string_view root_ca_pem,
                                 int64_t now_ms) {
  auto cert = ReadFileToString(settings.issuing_ca_cert_file);
  if (!cert) {
    return MakeError(cert.error().code, "enrollment.issuing_ca_cert_file: " + cert.error().message);
  }
  auto key = ReadFileToString(settings.issuing_ca_key_file);
  if (!key) {
    return MakeError(key.error().code, "enrollment.issuing_ca_key_file: " + key.error().message);
  }
  const std::string where = "enrollment.issuing_ca_cert_file " + settings.issuing_ca_cert_file;
  auto info = InspectCertificate(*cert);
  if (!info) return MakeError(ErrorCode::kInvalidArgument, where + ": " + info.error().message);
  if (!info->is_ca) {
    return MakeError(ErrorCode::kInvalidArgument, where + ": not a CA certificate (CA:FALSE)");
  }
  if (Status s = CheckKeyMatchesCertificate(*key, *cert); !s) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment.issuing_ca_key_file " +
                                                      settings.issuing_ca_key_file + ": " +
                                                      s.error().message + " " + where);
  }
  if (info->not_after_ms <= now_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     where + ": expired (not after " + FormatUtc(info->not_after_ms) + ")");
  }
  // What matters is that certificates it signs are accepted by the root
  // that agents and the collector trust: prove it with a throwaway leaf.
  KeyAndCert issuer{*key, *cert};
  IssueRequest probe;
  probe.kind = CertKind::kTerminal;
  probe.id = "issuing-ca-probe";
  probe.validity_seconds = 3600;
  auto leaf = IssueCertificate(issuer, probe);
  if (!leaf) return MakeError(ErrorCode::kInvalidArgument, where + ": " + leaf.error().message);
  std::string chain = leaf->cert_pem + *cert;
  if (Status s = VerifyCertificate(root_ca_pem, chain, now_ms, CertPurpose::kClient); !s) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        where + ": certificates it signs do not verify against tls.ca_file: " + s.error().message);
  }
  return KeyAndCert{std::move(*key), std::move(*cert)};
}

EnrollmentWorkflow::EnrollmentWorkflow(Store* store, AuditTrail* audit,
                                       const RevocationList* revocations, const Clock* clock,
                                       EnrollmentSettings settings, KeyAndCert issuer,
                                       std::string root_ca_pem)
    : store_(store),
      audit_(audit),
      revocations_(revocations),
      clock_(clock),
      settings_(std::move(settings)),
      issuer_(std::move(issuer)),
      root_ca_pem_(std::move(root_ca_pem)),
      limiter_(clock, settings_.max_attempts_per_minute, settings_.max_tracked_addresses) {}

Result<std::string> EnrollmentWorkflow::ChooseTerminalId(const EnrollInput& in) const {
  std::string id;
  std::string_view from = "hostname";
  if (settings_.terminal_id_rule == TerminalIdRule::kRequest && !in.terminal_id.empty()) {
    id = in.terminal_id;
    from = "terminal_id";
  } else {
    id = Lower(in.hostname);
  }
  if (id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "hostname is empty: the terminal id is made from it");
  }
  if (!IsValidId(id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(from) + " \"" + SanitizeDeviceString(id, 128) +
                         "\" is not a valid terminal id: use 1 to 128 characters of A-Z a-z "
                         "0-9 . _ -");
  }
  return id;
}

Result<bool> EnrollmentWorkflow::IsActive(std::string_view terminal_id, int64_t now_ms) {
  Result<int64_t> expiry = store_->LatestCertificateExpiry("terminal", terminal_id);
  if (!expiry) return expiry.error();
  if (*expiry > now_ms) return true;
  auto state = store_->GetTerminal(terminal_id);
  if (!state) return state.error();
  return *state && (*state)->last_report_ms > now_ms - settings_.active_window_ms;
}

IssuedCredential EnrollmentWorkflow::Credential(const std::string& id, const std::string& group,
                                                SignedCertificate&& cert) const {
  IssuedCredential out;
  out.id = id;
  out.group = group;
  out.cert_pem = std::move(cert.cert_pem);
  out.chain_pem = std::move(cert.chain_pem);
  out.ca_pem = root_ca_pem_;
  out.serial_hex = std::move(cert.serial_hex);
  out.not_before_ms = cert.not_before_ms;
  out.not_after_ms = cert.not_after_ms;
  return out;
}

Result<IssuedCredential> EnrollmentWorkflow::Enroll(const EnrollInput& in) {
  const std::string address = PeerHost(in.peer);
  if (!limiter_.Allow(address)) {
    Log()->warn("enrollment from {} refused: more than {} attempts a minute", address,
                settings_.max_attempts_per_minute);
    return MakeError(ErrorCode::kResourceExhausted,
                     "too many enrollment attempts from this address; wait a minute");
  }
  const int64_t now = clock_->NowMs();

  // The token: the precise reason goes to the log only.
  std::optional<std::string> token_id;
  if (in.token.size() <= kMaxEnrollTokenBytes) token_id = EnrollTokenId(in.token);
  TokenRefusal refusal = TokenRefusal::kUnknown;
  std::optional<EnrollToken> token;
  if (token_id) {
    auto stored = store_->GetEnrollToken(*token_id);
    if (!stored) return stored.error();
    if (*stored && EnrollTokenMatches(in.token, (*stored)->secret_sha256)) {
      token = std::move(**stored);
      if (token->revoked_ms != 0) {
        refusal = TokenRefusal::kRevoked;
      } else if (token->expires_ms <= now) {
        refusal = TokenRefusal::kExpired;
      } else if (token->uses_left <= 0) {
        refusal = TokenRefusal::kUsedUp;
      } else {
        refusal = TokenRefusal::kNone;
      }
    }
  }
  if (refusal != TokenRefusal::kNone) {
    Log()->warn("enrollment from {} refused: {}{}", address, TokenRefusalName(refusal),
                token_id ? " (id " + *token_id + ")" : std::string(" (malformed)"));
    return MakeError(ErrorCode::kUnauthenticated, std::string(kBadToken));
  }

  for (auto [field, value, max] : {std::tuple<std::string_view, std::string_view, std::size_t>{
                                       "hostname", in.hostname, kMaxHostnameBytes},
                                   {"terminal_id", in.terminal_id, 128},
                                   {"agent_version", in.agent_version, kMaxAgentVersionBytes},
                                   {"os", in.os, kMaxOsBytes}}) {
    if (Status s = CheckLength(field, value, max); !s) {
      Log()->warn("enrollment from {} with token {} refused: {}", address, token->id,
                  s.error().message);
      return s.error();
    }
  }
  Result<CsrInfo> csr = ParseCsr(in.csr_pem);
  if (!csr) {
    Log()->warn("enrollment from {} with token {} refused: csr_pem: {}", address, token->id,
                csr.error().message);
    return MakeError(ErrorCode::kInvalidArgument, "csr_pem: " + csr.error().message);
  }
  Result<std::string> id = ChooseTerminalId(in);
  if (!id) {
    Log()->warn("enrollment from {} with token {} refused: {}", address, token->id,
                id.error().message);
    return id.error();
  }
  if (revocations_ != nullptr) {
    if (auto reason = revocations_->RevokedReason(PeerRole::kTerminal, *id, "")) {
      Log()->warn("enrollment of '{}' from {} with token {} refused: terminal id revoked ({})", *id,
                  address, token->id, *reason);
      (void)audit_->Record("token:" + token->id, "terminal.enroll", *id,
                           "revoked id; address " + address, AuditOutcome::kDenied);
      return MakeError(ErrorCode::kPermissionDenied,
                       "terminal id '" + *id + "' was revoked and may not enroll");
    }
  }

  IssueRequest request;
  request.kind = CertKind::kTerminal;
  request.id = *id;
  request.group = token->group;
  SetLifetime(now, settings_.certificate_lifetime_ms, &request);
  Result<SignedCertificate> cert = SignCsr(issuer_, in.csr_pem, request);
  if (!cert) {
    Log()->error("enrollment of '{}' from {}: cannot sign: {}", *id, address, cert.error().message);
    return MakeError(ErrorCode::kInternal, "cannot sign the certificate");
  }

  // Token use, clash check and records in one transaction: concurrent
  // enrollments with a token of N uses issue exactly N certificates, and
  // two enrollments of one id cannot both pass the clash check.
  TokenRefusal late = TokenRefusal::kNone;
  bool clash = false;
  bool reenrolled = false;
  Status st = store_->WithTransaction([&]() -> Status {
    Result<TokenRefusal> taken = store_->TakeEnrollTokenUse(token->id, now);
    if (!taken) return taken.error();
    if (*taken != TokenRefusal::kNone) {
      late = *taken;
      return MakeError(ErrorCode::kUnauthenticated, std::string(kBadToken));
    }
    Result<bool> active = IsActive(*id, now);
    if (!active) return active.error();
    if (*active) {
      Result<bool> allowed = store_->TakeReenrollment(*id, now);
      if (!allowed) return allowed.error();
      if (!*allowed) {
        clash = true;
        return MakeError(ErrorCode::kAlreadyExists, "clash");
      }
      reenrolled = true;
    }
    IssuedCertificateRecord rec;
    rec.serial_hex = cert->serial_hex;
    rec.sha256_fingerprint = cert->sha256_fingerprint;
    rec.role = "terminal";
    rec.subject_id = *id;
    rec.group = token->group;
    rec.not_before_ms = cert->not_before_ms;
    rec.not_after_ms = cert->not_after_ms;
    rec.reason = "enroll";
    rec.token_id = token->id;
    rec.source_address = address;
    rec.issued_ms = now;
    if (Status s = store_->AddIssuedCertificate(rec); !s) return s;
    EnrollmentRecord e;
    e.terminal_id = *id;
    e.group = token->group;
    e.token_id = token->id;
    e.source_address = address;
    e.serial_hex = cert->serial_hex;
    e.hostname = SanitizeDeviceString(in.hostname, kMaxHostnameBytes);
    e.agent_version = SanitizeDeviceString(in.agent_version, kMaxAgentVersionBytes);
    e.os = SanitizeDeviceString(in.os, kMaxOsBytes);
    e.at_ms = now;
    if (auto added = store_->AddEnrollment(e); !added) return added.error();
    return audit_->Record("token:" + token->id, "terminal.enroll", *id,
                          "group " + token->group + ", serial " + cert->serial_hex + ", address " +
                              address + (reenrolled ? ", re-enrollment" : ""),
                          AuditOutcome::kOk);
  });
  if (late != TokenRefusal::kNone) {
    Log()->warn("enrollment of '{}' from {} refused: {} (id {})", *id, address,
                TokenRefusalName(late), token->id);
    return MakeError(ErrorCode::kUnauthenticated, std::string(kBadToken));
  }
  if (clash) {
    Log()->warn("enrollment of '{}' from {} with token {} refused: an active terminal has this id",
                *id, address, token->id);
    (void)audit_->Record("token:" + token->id, "terminal.enroll", *id,
                         "id in use by an active terminal; address " + address,
                         AuditOutcome::kDenied);
    return MakeError(ErrorCode::kAlreadyExists,
                     "terminal id '" + *id +
                         "' belongs to an active terminal; an administrator can allow "
                         "re-enrollment with 'mamorictl enroll allow-reenroll " +
                         *id + "'");
  }
  if (!st) {
    Log()->error("enrollment of '{}' from {}: {}", *id, address, st.error().message);
    return st.error();
  }
  Log()->info("enrolled terminal '{}' in group '{}' from {} with token {}: serial {}, until {}",
              *id, token->group, address, token->id, cert->serial_hex,
              FormatUtc(cert->not_after_ms));
  return Credential(*id, token->group, std::move(*cert));
}

Result<IssuedCredential> EnrollmentWorkflow::Renew(const RenewalCaller& caller,
                                                   std::string_view csr_pem) {
  const std::string who = RoleName(caller.role) + " '" + caller.id + "'";
  const std::string address = PeerHost(caller.address);
  if (caller.role != PeerRole::kTerminal && caller.role != PeerRole::kAdmin) {
    return MakeError(ErrorCode::kPermissionDenied, "only terminals and admins renew certificates");
  }
  Result<std::string> current_key = CertificatePublicKeySha256(caller.cert_pem);
  if (!current_key) return current_key.error();
  if (revocations_ != nullptr) {
    Result<CertInfo> info = InspectCertificate(caller.cert_pem);
    const std::string fp = info ? info->sha256_fingerprint : std::string();
    if (auto reason = revocations_->RevokedReason(caller.role, caller.id, fp)) {
      Log()->warn("renewal for {} from {} refused: revoked ({})", who, address, *reason);
      return MakeError(ErrorCode::kPermissionDenied, who + " was revoked and may not renew");
    }
  }
  Result<CsrInfo> csr = ParseCsr(csr_pem);
  if (!csr) {
    Log()->warn("renewal for {} from {} refused: csr_pem: {}", who, address, csr.error().message);
    return MakeError(ErrorCode::kInvalidArgument, "csr_pem: " + csr.error().message);
  }
  if (csr->public_key_sha256 == *current_key) {
    Log()->warn("renewal for {} from {} refused: the CSR reuses the current key", who, address);
    return MakeError(ErrorCode::kInvalidArgument,
                     "csr_pem: the request reuses the current certificate's key; renewal needs a "
                     "freshly made key");
  }
  IssueRequest request;
  request.kind = caller.role == PeerRole::kAdmin ? CertKind::kAdmin : CertKind::kTerminal;
  request.id = caller.id;
  request.group = caller.role == PeerRole::kTerminal ? caller.group : "";
  const int64_t now = clock_->NowMs();
  SetLifetime(now, settings_.certificate_lifetime_ms, &request);
  Result<SignedCertificate> cert = SignCsr(issuer_, csr_pem, request);
  if (!cert) {
    Log()->error("renewal for {}: cannot sign: {}", who, cert.error().message);
    return MakeError(ErrorCode::kInternal, "cannot sign the certificate");
  }
  Status st = store_->WithTransaction([&]() -> Status {
    IssuedCertificateRecord rec;
    rec.serial_hex = cert->serial_hex;
    rec.sha256_fingerprint = cert->sha256_fingerprint;
    rec.role = RoleName(caller.role);
    rec.subject_id = caller.id;
    rec.group = request.group;
    rec.not_before_ms = cert->not_before_ms;
    rec.not_after_ms = cert->not_after_ms;
    rec.reason = "renew";
    rec.source_address = address;
    rec.issued_ms = now;
    if (Status s = store_->AddIssuedCertificate(rec); !s) return s;
    return audit_->Record(CertActor(FormatIdentityUri(caller.role, caller.id)), "certificate.renew",
                          caller.id,
                          "serial " + cert->serial_hex + ", until " +
                              FormatUtc(cert->not_after_ms) + ", address " + address,
                          AuditOutcome::kOk);
  });
  if (!st) {
    Log()->error("renewal for {} from {}: {}", who, address, st.error().message);
    return st.error();
  }
  Log()->info("renewed certificate of {}: serial {}, until {}", who, cert->serial_hex,
              FormatUtc(cert->not_after_ms));
  return Credential(caller.id, request.group, std::move(*cert));
}

Result<std::pair<EnrollToken, std::string>> EnrollmentWorkflow::CreateToken(std::string_view actor,
                                                                            const TokenSpec& spec) {
  if (!IsValidGroup(spec.group)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid group \"" + SanitizeDeviceString(spec.group, 255) +
                         "\": use segments of a-z 0-9 _ - separated by '/', e.g. osaka/suita");
  }
  if (spec.uses < 1 || spec.uses > kMaxTokenUses) {
    return MakeError(ErrorCode::kInvalidArgument, "uses must be between 1 and " +
                                                      std::to_string(kMaxTokenUses) + ", got " +
                                                      std::to_string(spec.uses));
  }
  if (spec.expires_in_ms < 60'000 || spec.expires_in_ms > kMaxTokenLifetimeMs) {
    return MakeError(ErrorCode::kInvalidArgument, "expires must be between 1m and 365d");
  }
  if (Status s = CheckLength("note", spec.note, kMaxNoteBytes); !s) return s.error();
  Result<NewEnrollToken> fresh = MakeEnrollToken();
  if (!fresh) return fresh.error();
  const int64_t now = clock_->NowMs();
  EnrollToken t;
  t.id = fresh->id;
  t.secret_sha256 = fresh->secret_sha256;
  t.group = spec.group;
  t.uses_total = spec.uses;
  t.uses_left = spec.uses;
  t.created_ms = now;
  t.expires_ms = now + spec.expires_in_ms;
  t.created_by = std::string(actor);
  t.note = SanitizeDeviceString(spec.note, kMaxNoteBytes);
  Status st = store_->WithTransaction([&]() -> Status {
    if (Status s = store_->AddEnrollToken(t); !s) return s;
    return audit_->Record(actor, "enroll.token.create", t.id,
                          "group " + t.group + ", uses " + std::to_string(t.uses_total) +
                              ", until " + FormatUtc(t.expires_ms),
                          AuditOutcome::kOk);
  });
  if (!st) return st.error();
  return std::make_pair(std::move(t), std::move(fresh->text));
}

Result<std::vector<EnrollToken>> EnrollmentWorkflow::ListTokens() {
  return store_->ListEnrollTokens();
}

Status EnrollmentWorkflow::RevokeToken(std::string_view actor, std::string_view id) {
  bool found = false;
  Status st = store_->WithTransaction([&]() -> Status {
    Result<bool> revoked = store_->RevokeEnrollToken(id, actor, clock_->NowMs());
    if (!revoked) return revoked.error();
    found = *revoked;
    if (!found)
      return MakeError(ErrorCode::kNotFound,
                       "no enrollment token with id '" + SanitizeDeviceString(id, 64) + "'");
    return audit_->Record(actor, "enroll.token.revoke", id, "", AuditOutcome::kOk);
  });
  return st;
}

Result<std::vector<EnrollmentRecord>> EnrollmentWorkflow::ListEnrollments(uint32_t limit) {
  return store_->ListEnrollments(limit);
}

Status EnrollmentWorkflow::AllowReenrollment(std::string_view actor, std::string_view terminal_id,
                                             int64_t valid_for_ms) {
  if (!IsValidId(terminal_id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid terminal id \"" + SanitizeDeviceString(terminal_id, 128) + "\"");
  }
  if (valid_for_ms < 60'000 || valid_for_ms > 30 * kDayMs) {
    return MakeError(ErrorCode::kInvalidArgument, "expires must be between 1m and 30d");
  }
  const int64_t until = clock_->NowMs() + valid_for_ms;
  return store_->WithTransaction([&]() -> Status {
    if (Status s = store_->AllowReenrollment(terminal_id, actor, until); !s) return s;
    return audit_->Record(actor, "enroll.allow_reenroll", terminal_id, "until " + FormatUtc(until),
                          AuditOutcome::kOk);
  });
}

}  // namespace mamori
