#include "server/revocation/revocation_registry.h"

#include "common/base/logging.h"
#include "common/base/sanitize.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("revocation");
  return log;
}

std::string IdentityKey(std::string_view role, std::string_view id) {
  std::string key(role);
  key += '/';
  key += id;
  return key;
}

bool IsFingerprint(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckReason(std::string_view reason) {
  if (reason.find_first_not_of(" \t") == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a reason is required (it is kept in the audit log and shown with the "
                     "terminal)");
  }
  if (reason.size() > RevocationRegistry::kMaxReasonBytes) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "reason is longer than " + std::to_string(RevocationRegistry::kMaxReasonBytes) + " bytes");
  }
  if (NeedsSanitizing(reason, RevocationRegistry::kMaxReasonBytes)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "reason must be valid UTF-8 without control or invisible characters");
  }
  return Status::Ok();
}

std::string Describe(const RevocationRecord& r) {
  std::string out = r.kind == RevocationKind::kRetire ? "retired" : "revoked";
  if (!r.cert_sha256.empty()) out = "certificate " + r.cert_sha256.substr(0, 16) + "… " + out;
  return out + " by " + r.actor + ": " + r.reason;
}

}  // namespace

void RevocationRegistry::Snapshot::Add(RevocationRecord record) {
  const std::size_t at = records.size();
  if (!record.cert_sha256.empty()) {
    certificates.emplace(record.cert_sha256, at);
  } else {
    identities.emplace(IdentityKey(record.role, record.subject), at);
    if (record.role == PeerRoleName(PeerRole::kTerminal)) {
      auto& by_terminal = record.kind == RevocationKind::kRetire ? retired : revoked_terminals;
      by_terminal.emplace(record.subject, at);
    }
  }
  records.push_back(std::move(record));
}

RevocationRegistry::RevocationRegistry(Store* store, PolicyHub* hub, AuditTrail* audit,
                                       const Clock* clock)
    : store_(store),
      hub_(hub),
      audit_(audit),
      clock_(clock),
      snapshot_(std::make_shared<const Snapshot>()) {}

Status RevocationRegistry::Load() {
  auto records = store_->ListRevocations();
  if (!records.ok()) return records.error();
  auto fresh = std::make_shared<Snapshot>();
  for (RevocationRecord& r : *records) fresh->Add(std::move(r));
  Log()->info("deny list: {} revocation(s) and retirement(s) loaded", fresh->records.size());
  std::unique_lock lock(mu_);
  snapshot_ = std::move(fresh);
  return Status::Ok();
}

void RevocationRegistry::AddObserver(StandingObserver* observer) { observers_.push_back(observer); }

std::shared_ptr<const RevocationRegistry::Snapshot> RevocationRegistry::Current() const {
  std::shared_lock lock(mu_);
  return snapshot_;
}

std::optional<std::string> RevocationRegistry::RevokedReason(PeerRole role, std::string_view id,
                                                             std::string_view cert_sha256) const {
  const std::shared_ptr<const Snapshot> s = Current();
  if (!s->identities.empty()) {
    if (auto it = s->identities.find(IdentityKey(PeerRoleName(role), id));
        it != s->identities.end()) {
      return Describe(s->records[it->second]);
    }
  }
  if (!cert_sha256.empty() && !s->certificates.empty()) {
    if (auto it = s->certificates.find(std::string(cert_sha256)); it != s->certificates.end()) {
      return Describe(s->records[it->second]);
    }
  }
  return std::nullopt;
}

StandingInfo RevocationRegistry::StandingOf(std::string_view terminal_id) const {
  const std::shared_ptr<const Snapshot> s = Current();
  StandingInfo out;
  const RevocationRecord* r = nullptr;
  if (auto it = s->retired.find(std::string(terminal_id)); it != s->retired.end()) {
    out.standing = TerminalStanding::kRetired;
    r = &s->records[it->second];
  } else if (auto rit = s->revoked_terminals.find(std::string(terminal_id));
             rit != s->revoked_terminals.end()) {
    out.standing = TerminalStanding::kRevoked;
    r = &s->records[rit->second];
  }
  if (r != nullptr) {
    out.reason = r->reason;
    out.actor = r->actor;
    out.at_ms = r->at_ms;
  }
  return out;
}

Result<RevocationRegistry::Outcome> RevocationRegistry::Revoke(PeerRole role, std::string_view id,
                                                               std::string_view cert_sha256,
                                                               std::string_view reason,
                                                               std::string_view actor) {
  if (role != PeerRole::kTerminal && role != PeerRole::kAdmin) {
    return MakeError(ErrorCode::kInvalidArgument, "only terminals and admins can be revoked");
  }
  if (!IsValidId(id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(role == PeerRole::kAdmin ? "admin name" : "terminal id") +
                         " must be 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  if (!cert_sha256.empty() && !IsFingerprint(cert_sha256)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cert_sha256 must be 64 lower-case hex digits (SHA-256 of the DER)");
  }
  if (Status s = CheckReason(reason); !s.ok()) return s.error();
  RevocationRecord r;
  r.kind = RevocationKind::kRevoke;
  r.role = std::string(PeerRoleName(role));
  r.subject = std::string(id);
  r.cert_sha256 = std::string(cert_sha256);
  r.reason = std::string(reason);
  r.actor = std::string(actor);
  return Record(std::move(r));
}

Result<RevocationRegistry::Outcome> RevocationRegistry::Retire(std::string_view terminal_id,
                                                               std::string_view reason,
                                                               std::string_view actor) {
  if (!IsValidId(terminal_id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "terminal id must be 1-128 characters of A-Z a-z 0-9 . _ -");
  }
  if (Status s = CheckReason(reason); !s.ok()) return s.error();
  RevocationRecord r;
  r.kind = RevocationKind::kRetire;
  r.role = std::string(PeerRoleName(PeerRole::kTerminal));
  r.subject = std::string(terminal_id);
  r.reason = std::string(reason);
  r.actor = std::string(actor);
  return Record(std::move(r));
}

Result<RevocationRegistry::Outcome> RevocationRegistry::Record(RevocationRecord r) {
  std::lock_guard write_lock(write_mu_);
  const std::shared_ptr<const Snapshot> before = Current();
  const bool is_terminal = r.role == PeerRoleName(PeerRole::kTerminal);
  // Already in force: say since when and why instead of a second record.
  const auto& index = r.kind == RevocationKind::kRetire ? before->retired
                      : r.cert_sha256.empty()
                          ? (is_terminal ? before->revoked_terminals : before->identities)
                          : before->certificates;
  const std::string key = r.kind == RevocationKind::kRetire ? r.subject
                          : !r.cert_sha256.empty()          ? r.cert_sha256
                          : is_terminal                     ? r.subject
                                                            : IdentityKey(r.role, r.subject);
  if (auto it = index.find(key); it != index.end()) {
    const RevocationRecord& old = before->records[it->second];
    return MakeError(ErrorCode::kAlreadyExists, r.role + " '" + r.subject + "' was " +
                                                    Describe(old) + " (record " +
                                                    std::to_string(old.id) + ")");
  }

  r.at_ms = clock_->NowMs();
  const std::string_view action = r.kind == RevocationKind::kRetire ? audit::kTerminalRetire
                                  : is_terminal                     ? audit::kTerminalRevoke
                                                                    : audit::kAdminRevoke;
  Status st = store_->WithTransaction([&]() -> Status {
    auto id = store_->AddRevocation(r);
    if (!id.ok()) return id.error();
    r.id = *id;
    if (audit_ == nullptr) return Status::Ok();
    std::string detail = r.reason;
    if (!r.cert_sha256.empty()) detail = "certificate sha256 " + r.cert_sha256 + ": " + detail;
    return audit_->Record(r.actor, action, r.role + ":" + r.subject, detail, AuditOutcome::kOk);
  });
  if (!st.ok()) return st.error();

  // In force from here on: the next handshake or call is refused.
  auto next = std::make_shared<Snapshot>(*before);
  next->Add(r);
  {
    std::unique_lock lock(mu_);
    snapshot_ = std::move(next);
  }
  Outcome out;
  if (is_terminal) {
    const TerminalStanding standing = StandingOf(r.subject).standing;
    for (StandingObserver* o : observers_) o->OnStandingChanged(r.subject, standing);
    if (hub_ != nullptr) {
      out.streams_closed = hub_->CloseTerminal(
          r.subject,
          MakeError(ErrorCode::kPermissionDenied, "terminal '" + r.subject + "' " + Describe(r)));
    }
  }
  Log()->warn("{} '{}' {}; {} policy stream(s) ended", r.role, r.subject, Describe(r),
              out.streams_closed);
  out.record = std::move(r);
  return out;
}

std::vector<RevocationRecord> RevocationRegistry::List() const { return Current()->records; }

}  // namespace mamori
