#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "mamori/v1/admin.pb.h"
#include "server/audit/audit_trail.h"
#include "server/store/store.h"

namespace mamori {

// Issues offline unlock codes (common/policy/unlock_code.h) with the
// collector's unlock key, stores each in the issued codes table, audits
// the attempt, and reconciles uses the terminals report.
class UnlockIssuer {
 public:
  // `unlock_key_pem`: the collector's P-256 unlock private key; `ca_pem`:
  // the deployment's CA (its fingerprint is the deployment id, and a
  // certificate given in a request must be issued by it).
  static Result<std::unique_ptr<UnlockIssuer>> Create(Store* store, AuditTrail* audit,
                                                      const Clock* clock,
                                                      std::string unlock_key_pem,
                                                      std::string ca_pem);

  Status Issue(std::string_view actor, const v1::IssueUnlockCodeRequest& request,
               v1::IssueUnlockCodeResponse* response);
  Status List(const v1::ListUnlockCodesRequest& request, v1::ListUnlockCodesResponse* response);

  // A terminal reported that it accepted `code`: marks it used, and returns
  // false when this collector never issued it for that terminal (an alert:
  // a forged or replayed code, or another collector's).
  Result<bool> ReconcileUse(std::string_view terminal_id, std::string_view code, int64_t used_at_ms,
                            std::string_view used_by);

 private:
  UnlockIssuer(Store* store, AuditTrail* audit, const Clock* clock, std::string key_pem,
               std::string ca_pem, std::string deployment_id);
  Status IssueLocked(const v1::IssueUnlockCodeRequest& request, IssuedUnlockCode& out);

  Store* store_;
  AuditTrail* audit_;
  const Clock* clock_;
  const std::string key_pem_;
  const std::string ca_pem_;
  const std::string deployment_id_;
};

void ToUnlockCodeView(const IssuedUnlockCode& code, v1::UnlockCodeView* view);

}  // namespace mamori
