#pragma once

#include "common/clock.h"
#include "common/result.h"
#include "mamori/v1/admin.pb.h"
#include "server/collector/compliance_engine.h"
#include "server/collector/policy_hub.h"
#include "server/store/store.h"

namespace mamori {

// The read side of the admin API, shared by the gRPC AdminService and the
// dashboard's JSON API so both answer with the same messages computed the
// same way. Callers check who may ask; these only compute.
class AdminQueries {
 public:
  AdminQueries(Store* store, PolicyHub* hub, const Clock* clock, ComplianceConfig config);

  Status ListTerminals(const v1::ListTerminalsRequest& request,
                       v1::ListTerminalsResponse* response) const;
  // kNotFound when the terminal never reported.
  Status GetTerminal(const v1::GetTerminalRequest& request, v1::TerminalDetail* response) const;
  Status GroupSummaries(const v1::GroupSummariesRequest& request,
                        v1::GroupSummariesResponse* response) const;

 private:
  struct Evaluated {
    TerminalState state;
    TerminalCompliance compliance;
    uint64_t assigned_version = 0;
  };
  Evaluated Evaluate(TerminalState state, int64_t now) const;
  void FillSummary(const Evaluated& e, v1::TerminalSummary* out) const;

  Store* store_;
  PolicyHub* hub_;
  const Clock* clock_;
  ComplianceConfig config_;
};

}  // namespace mamori
