#pragma once

#include <string_view>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "mamori/v1/admin.pb.h"
#include "server/audit/audit_trail.h"
#include "server/policy/policy_hub.h"
#include "server/store/store.h"

namespace mamori {

// The media ledger (外部記録媒体管理台帳) as the admin API and the dashboard
// see it: both call these with the admin service's messages, so mamorictl,
// the JSON API and the pages share one definition. Callers decide who may
// ask and name the actor; these check the input, change the ledger, put the
// change into every affected policy through the hub (ledger_policy.h has
// the rules) and record it in the audit log, all in one transaction.
class MediaLedger {
 public:
  MediaLedger(Store* store, PolicyHub* hub, AuditTrail* audit, const Clock* clock);

  Status List(const v1::ListMediaRequest& request, v1::ListMediaResponse* response) const;
  // kInvalidArgument names the bad field; kAlreadyExists when an active
  // entry registers the same medium in the same scope.
  Status Add(std::string_view actor, const v1::AddMediumRequest& request,
             v1::LedgerChangeResponse* response);
  // kNotFound, or kFailedPrecondition when already retired; a reason is
  // required.
  Status Retire(std::string_view actor, const v1::RetireMediumRequest& request,
                v1::LedgerChangeResponse* response);
  // All or nothing: when any line is bad, every bad line is in
  // response->errors, nothing is stored and the call still succeeds.
  Status Import(std::string_view actor, const v1::ImportMediaRequest& request,
                v1::ImportMediaResponse* response);
  Status Export(const v1::ExportMediaRequest& request, v1::ExportMediaResponse* response) const;
  Status Unregistered(const v1::UnregisteredDevicesRequest& request,
                      v1::UnregisteredDevicesResponse* response) const;

 private:
  void Warn(std::string_view scope, google::protobuf::RepeatedPtrField<std::string>* out) const;

  Store* store_;
  PolicyHub* hub_;
  AuditTrail* audit_;
  const Clock* clock_;
};

// The entry as the API shows it; `expired` is judged at `now_ms`.
void ToProto(const LedgerEntry& entry, int64_t now_ms, v1::Medium* out);

}  // namespace mamori
