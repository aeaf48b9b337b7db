#pragma once

#include <cstdint>
#include <string_view>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "mamori/v1/admin.pb.h"
#include "server/audit/audit_trail.h"
#include "server/policy/policy_hub.h"
#include "server/store/store.h"

namespace mamori {

// What a deployment decides about exceptions (collector configuration).
struct ExceptionSettings {
  // The longest window a request may ask for.
  int64_t max_window_ms = int64_t{7} * 86'400'000;
  // When set, an exception is approved by someone other than its requester.
  bool two_person_rule = false;
};

// Time-limited exceptions as the admin API and the dashboard see them: a
// request, its approval, refusal or cancellation. Both call these with the
// admin service's messages. Callers decide who may ask (a viewer may not
// request; only admins approve or refuse) and name the actor; these check
// the input, the state and the two-person rule, store the change, put an
// approved exception into the policies that reach it through the hub
// (exception_policy.h) and record every action, refused ones too, in the
// audit log.
class ExceptionWorkflow {
 public:
  ExceptionWorkflow(Store* store, PolicyHub* hub, AuditTrail* audit, const Clock* clock,
                    ExceptionSettings settings);

  // kInvalidArgument names the bad field; kNotFound for an unknown
  // terminal or source event.
  Status Request(std::string_view actor, const v1::RequestExceptionRequest& request,
                 v1::ExceptionChangeResponse* response);
  // kPermissionDenied under the two-person rule when `actor` requested it;
  // kFailedPrecondition when it is not waiting or its window has ended.
  Status Approve(std::string_view actor, const v1::DecideExceptionRequest& request,
                 v1::ExceptionChangeResponse* response);
  // A note is required.
  Status Refuse(std::string_view actor, const v1::DecideExceptionRequest& request,
                v1::ExceptionChangeResponse* response);
  // A waiting request, or an approved exception (which then leaves the
  // policies). A note is required. Unless `may_cancel_others`, only the
  // requester may cancel (kPermissionDenied).
  Status Cancel(std::string_view actor, bool may_cancel_others,
                const v1::DecideExceptionRequest& request, v1::ExceptionChangeResponse* response);
  Status List(const v1::ListExceptionsRequest& request, v1::ListExceptionsResponse* response) const;

  const ExceptionSettings& settings() const { return settings_; }

 private:
  Status Decide(std::string_view actor, std::string_view action, const ExceptionRequest& current,
                const std::vector<ExceptionRequestState>& from, ExceptionRequestState to,
                std::string_view note, bool changes_policy, v1::ExceptionChangeResponse* response);
  Result<ExceptionRequest> Find(std::string_view actor, std::string_view action, uint64_t id);

  Store* store_;
  PolicyHub* hub_;
  AuditTrail* audit_;
  const Clock* clock_;
  const ExceptionSettings settings_;
};

// The request as the API shows it; pending/active/ended judged at `now_ms`.
void ToProto(const ExceptionRequest& request, int64_t now_ms, v1::DeviceExceptionView* out);
// "requested", "refused", "cancelled"; an approved one: "approved" before
// its window, "active" inside it, "ended" after it.
std::string ExceptionViewState(const ExceptionRequest& request, int64_t now_ms);

}  // namespace mamori
