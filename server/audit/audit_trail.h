#pragma once

#include <string>
#include <string_view>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "mamori/v1/admin.pb.h"
#include "server/store/audit_repository.h"

namespace mamori {

// Stable action identifiers of the audit log.
namespace audit {
inline constexpr std::string_view kPolicyApply = "policy.apply";
inline constexpr std::string_view kLedgerAdd = "ledger.add";
inline constexpr std::string_view kLedgerRetire = "ledger.retire";
inline constexpr std::string_view kLedgerImport = "ledger.import";
inline constexpr std::string_view kUnlockIssue = "unlock.issue";
inline constexpr std::string_view kUserAdd = "user.add";
inline constexpr std::string_view kUserReset = "user.reset";
inline constexpr std::string_view kUserDisable = "user.disable";
inline constexpr std::string_view kUserRole = "user.role";
inline constexpr std::string_view kLoginOk = "login.ok";
inline constexpr std::string_view kLoginFail = "login.fail";
inline constexpr std::string_view kLogout = "logout";
}  // namespace audit

enum class AuditOutcome { kOk, kDenied, kFailed };
std::string_view AuditOutcomeName(AuditOutcome outcome);  // "ok", "denied", "failed"

// Who acted: "web:<user>" for a dashboard session, "cert:<identity URI>"
// for an admin certificate (mamorictl).
std::string WebActor(std::string_view user);
std::string CertActor(std::string_view identity_uri);

// Records every administrative action, wherever it happens (admin gRPC
// service, dashboard API, login), in one append-only log. Implementations
// are thread-safe.
class AuditTrail {
 public:
  virtual ~AuditTrail() = default;

  // Texts are made printable and bounded (actor and target 256 bytes,
  // detail 1024) before they are stored: a login name comes straight from
  // whoever typed it. A failure to record is logged and returned. Called
  // inside a store transaction (Store::WithTransaction), the record commits
  // or rolls back with the action.
  virtual Status Record(std::string_view actor, std::string_view action, std::string_view target,
                        std::string_view detail, AuditOutcome outcome) = 0;
  // Newest first; limit default 100, max 1000.
  virtual Status Query(const v1::QueryAuditRequest& request,
                       v1::QueryAuditResponse* response) const = 0;
};

// The audit log in the collector's store, each record also written to the
// "audit" log.
class StoreAuditTrail final : public AuditTrail {
 public:
  StoreAuditTrail(AuditRepository* store, const Clock* clock);

  Status Record(std::string_view actor, std::string_view action, std::string_view target,
                std::string_view detail, AuditOutcome outcome) override;
  Status Query(const v1::QueryAuditRequest& request,
               v1::QueryAuditResponse* response) const override;

 private:
  AuditRepository* store_;
  const Clock* clock_;
};

}  // namespace mamori
