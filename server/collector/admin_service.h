#pragma once

#include "common/clock.h"
#include "mamori/v1/admin.grpc.pb.h"
#include "server/collector/admin_queries.h"
#include "server/collector/compliance_engine.h"
#include "server/collector/policy_hub.h"
#include "server/store/store.h"
#include "server/web/auth.h"

namespace mamori {

// The admin-facing service (mamorictl, dashboard). Requires an admin
// certificate; agent certificates are refused. Every state-changing call is
// logged with the admin's identity.
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  // `auth` manages dashboard accounts (AddUser, ResetUser, DisableUser).
  AdminServiceImpl(Store* store, PolicyHub* hub, const Clock* clock, ComplianceConfig config,
                   web::AuthService* auth);

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

  grpc::ServerUnaryReactor* AddUser(grpc::CallbackServerContext* ctx,
                                    const v1::AddUserRequest* request,
                                    v1::UserCredentials* response) override;
  grpc::ServerUnaryReactor* ResetUser(grpc::CallbackServerContext* ctx,
                                      const v1::ResetUserRequest* request,
                                      v1::UserCredentials* response) override;
  grpc::ServerUnaryReactor* DisableUser(grpc::CallbackServerContext* ctx,
                                        const v1::DisableUserRequest* request,
                                        v1::DisableUserResponse* response) override;

 private:
  Store* store_;
  PolicyHub* hub_;
  const Clock* clock_;
  AdminQueries queries_;
  web::AuthService* auth_;
};

}  // namespace mamori
