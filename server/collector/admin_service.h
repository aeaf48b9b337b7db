#pragma once

#include "common/clock.h"
#include "mamori/v1/admin.grpc.pb.h"
#include "server/collector/compliance_engine.h"
#include "server/collector/policy_hub.h"
#include "server/store/store.h"

namespace mamori {

// The admin-facing service (mamorictl, dashboard). Requires an admin
// certificate; agent certificates are refused. Every state-changing call is
// logged with the admin's identity.
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(Store* store, PolicyHub* hub, const Clock* clock, ComplianceConfig config);

  grpc::ServerUnaryReactor* ListTerminals(grpc::CallbackServerContext* ctx,
                                          const v1::ListTerminalsRequest* request,
                                          v1::ListTerminalsResponse* response) override;
  grpc::ServerUnaryReactor* GetTerminal(grpc::CallbackServerContext* ctx,
                                        const v1::GetTerminalRequest* request,
                                        v1::TerminalDetail* response) override;
  grpc::ServerUnaryReactor* GroupSummaries(grpc::CallbackServerContext* ctx,
                                           const v1::GroupSummariesRequest* request,
                                           v1::GroupSummariesResponse* response) override;
  grpc::ServerUnaryReactor* QueryEvents(grpc::CallbackServerContext* ctx,
                                        const v1::QueryEventsRequest* request,
                                        v1::QueryEventsResponse* response) override;
  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* ctx,
                                      const v1::GetPolicyRequest* request,
                                      v1::GetPolicyResponse* response) override;
  grpc::ServerUnaryReactor* ApplyPolicy(grpc::CallbackServerContext* ctx,
                                        const v1::ApplyPolicyRequest* request,
                                        v1::ApplyPolicyResponse* response) override;
  grpc::ServerUnaryReactor* PolicyHistory(grpc::CallbackServerContext* ctx,
                                          const v1::PolicyHistoryRequest* request,
                                          v1::PolicyHistoryResponse* response) override;

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
