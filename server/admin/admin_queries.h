#pragma once

#include "common/base/clock.h"
#include "common/base/result.h"
#include "mamori/v1/admin.pb.h"
#include "server/audit/audit_trail.h"
#include "server/compliance/compliance_engine.h"
#include "server/compliance/compliance_index.h"
#include "server/compliance/terminal_standing.h"
#include "server/policy/policy_hub.h"
#include "server/store/store.h"

namespace mamori {

// The admin API's work, shared by the gRPC AdminService and the
// dashboard's JSON API so both answer with the same messages computed the
// same way, and a policy applied from either is validated, signed, stored
// and pushed to agents by the same code. Callers check who may ask.
class AdminQueries {
 public:
  // Listings and group counts come from `index` when given (the running
  // collector's, kept current by the ingest path); without one each call
  // builds a temporary index from the store.
  // `standings` (may be null: every terminal active) marks revoked and
  // retired terminals in every view.
  AdminQueries(Store* store, PolicyHub* hub, const Clock* clock, ComplianceConfig config,
               const ComplianceIndex* index = nullptr, AuditTrail* audit = nullptr,
               const TerminalStandings* standings = nullptr);

  // Filtered by group, status, failing check and a search over id and host
  // name; kInvalidArgument for an unknown check or a bad search text.
  Status ListTerminals(const v1::ListTerminalsRequest& request,
                       v1::ListTerminalsResponse* response) const;
  // kNotFound when the terminal never reported.
  Status GetTerminal(const v1::GetTerminalRequest& request, v1::TerminalDetail* response) const;
  Status GroupSummaries(const v1::GroupSummariesRequest& request,
                        v1::GroupSummariesResponse* response) const;

  // Newest first, a page of at most `limit` (default 100, max 10000), with
  // next_cursor set when the page is full. kInvalidArgument for a bad cursor,
  // text or kind.
  Status QueryEvents(const v1::QueryEventsRequest& request,
                     v1::QueryEventsResponse* response) const;
  // The policy in force for a group (its own or inherited), or one of its
  // own earlier versions.
  Status GetPolicy(const v1::GetPolicyRequest& request, v1::GetPolicyResponse* response) const;
  Status PolicyHistory(const v1::PolicyHistoryRequest& request,
                       v1::PolicyHistoryResponse* response) const;
  // Line diff between two of a group's own versions.
  Status PolicyDiff(const v1::PolicyDiffRequest& request, v1::PolicyDiffResponse* response) const;
  // Dry run, or validate, sign, store and push a new version. `applied_by`
  // is recorded with the version ("mamori://admin/alice", "web:bob").
  Status ApplyPolicy(const v1::ApplyPolicyRequest& request, std::string_view applied_by,
                     v1::ApplyPolicyResponse* response) const;

  // The recorded daily counts of a group, oldest first.
  Status ComplianceTrend(const v1::ComplianceTrendRequest& request,
                         v1::ComplianceTrendResponse* response) const;
  // Records today's (JST) counts of every group, replacing today's earlier
  // record: the rows the trend shows.
  Status RecordComplianceSnapshot() const;

 private:
  struct Evaluated {
    TerminalState state;
    TerminalCompliance compliance;
    uint64_t assigned_version = 0;
    TerminalStanding standing = TerminalStanding::kActive;
  };
  Evaluated Evaluate(TerminalState state, int64_t now) const;
  void FillSummary(const Evaluated& e, v1::TerminalSummary* out) const;
  // index_, or one loaded from the store into `loaded` for `group`.
  Result<const ComplianceIndex*> IndexFor(std::string_view group,
                                          std::unique_ptr<ComplianceIndex>* loaded) const;

  Store* store_;
  PolicyHub* hub_;
  const Clock* clock_;
  ComplianceConfig config_;
  const ComplianceIndex* index_;
  AuditTrail* audit_;  // records applied policies (policy.apply); may be null
  const TerminalStandings* standings_;
};

}  // namespace mamori
