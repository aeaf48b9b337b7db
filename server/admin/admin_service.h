#pragma once

#include "common/base/clock.h"
#include "mamori/v1/admin.grpc.pb.h"
#include "server/accounts/auth.h"
#include "server/admin/admin_queries.h"
#include "server/admin/unlock_issuer.h"
#include "server/audit/audit_trail.h"
#include "server/compliance/compliance_engine.h"
#include "server/enrollment/enrollment_workflow.h"
#include "server/exceptions/exception_workflow.h"
#include "server/ledger/media_ledger.h"
#include "server/policy/policy_hub.h"
#include "server/store/store.h"

namespace mamori {

// The admin-facing service (mamorictl, dashboard). Requires an admin
// certificate; agent certificates are refused. Every state-changing call is
// logged with the admin's identity.
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  // `auth` manages dashboard accounts (AddUser, ResetUser, DisableUser).
  // `index`, when given, answers listings and group counts (see AdminQueries).
  AdminServiceImpl(Store* store, PolicyHub* hub, const Clock* clock, ComplianceConfig config,
                   web::AuthService* auth, const ComplianceIndex* index = nullptr,
                   MediaLedger* ledger = nullptr, AuditTrail* audit = nullptr,
                   ExceptionWorkflow* exceptions = nullptr, UnlockIssuer* unlock = nullptr,
                   EnrollmentWorkflow* enrollment = nullptr);

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
  grpc::ServerUnaryReactor* ComplianceTrend(grpc::CallbackServerContext* ctx,
                                            const v1::ComplianceTrendRequest* request,
                                            v1::ComplianceTrendResponse* response) override;

  grpc::ServerUnaryReactor* AddUser(grpc::CallbackServerContext* ctx,
                                    const v1::AddUserRequest* request,
                                    v1::UserCredentials* response) override;
  grpc::ServerUnaryReactor* ResetUser(grpc::CallbackServerContext* ctx,
                                      const v1::ResetUserRequest* request,
                                      v1::UserCredentials* response) override;
  grpc::ServerUnaryReactor* DisableUser(grpc::CallbackServerContext* ctx,
                                        const v1::DisableUserRequest* request,
                                        v1::DisableUserResponse* response) override;

  // The media ledger and the audit log (admin_service_ledger.cc).
  grpc::ServerUnaryReactor* ListMedia(grpc::CallbackServerContext* ctx,
                                      const v1::ListMediaRequest* request,
                                      v1::ListMediaResponse* response) override;
  grpc::ServerUnaryReactor* AddMedium(grpc::CallbackServerContext* ctx,
                                      const v1::AddMediumRequest* request,
                                      v1::LedgerChangeResponse* response) override;
  grpc::ServerUnaryReactor* RetireMedium(grpc::CallbackServerContext* ctx,
                                         const v1::RetireMediumRequest* request,
                                         v1::LedgerChangeResponse* response) override;
  grpc::ServerUnaryReactor* ImportMedia(grpc::CallbackServerContext* ctx,
                                        const v1::ImportMediaRequest* request,
                                        v1::ImportMediaResponse* response) override;
  grpc::ServerUnaryReactor* ExportMedia(grpc::CallbackServerContext* ctx,
                                        const v1::ExportMediaRequest* request,
                                        v1::ExportMediaResponse* response) override;
  grpc::ServerUnaryReactor* UnregisteredDevices(grpc::CallbackServerContext* ctx,
                                                const v1::UnregisteredDevicesRequest* request,
                                                v1::UnregisteredDevicesResponse* response) override;
  grpc::ServerUnaryReactor* QueryAudit(grpc::CallbackServerContext* ctx,
                                       const v1::QueryAuditRequest* request,
                                       v1::QueryAuditResponse* response) override;
  grpc::ServerUnaryReactor* IssueUnlockCode(grpc::CallbackServerContext* ctx,
                                            const v1::IssueUnlockCodeRequest* request,
                                            v1::IssueUnlockCodeResponse* response) override;
  grpc::ServerUnaryReactor* ListUnlockCodes(grpc::CallbackServerContext* ctx,
                                            const v1::ListUnlockCodesRequest* request,
                                            v1::ListUnlockCodesResponse* response) override;

  // Time-limited exceptions (admin_service_exceptions.cc). Every caller
  // holds an admin certificate, so every call is an admin's.
  grpc::ServerUnaryReactor* RequestException(grpc::CallbackServerContext* ctx,
                                             const v1::RequestExceptionRequest* request,
                                             v1::ExceptionChangeResponse* response) override;
  grpc::ServerUnaryReactor* ApproveException(grpc::CallbackServerContext* ctx,
                                             const v1::DecideExceptionRequest* request,
                                             v1::ExceptionChangeResponse* response) override;
  grpc::ServerUnaryReactor* RefuseException(grpc::CallbackServerContext* ctx,
                                            const v1::DecideExceptionRequest* request,
                                            v1::ExceptionChangeResponse* response) override;
  grpc::ServerUnaryReactor* CancelException(grpc::CallbackServerContext* ctx,
                                            const v1::DecideExceptionRequest* request,
                                            v1::ExceptionChangeResponse* response) override;
  grpc::ServerUnaryReactor* ListExceptions(grpc::CallbackServerContext* ctx,
                                           const v1::ListExceptionsRequest* request,
                                           v1::ListExceptionsResponse* response) override;

  // Enrollment tokens, enrollments, admin renewal (admin_service_enrollment.cc).
  grpc::ServerUnaryReactor* CreateEnrollToken(grpc::CallbackServerContext* ctx,
                                              const v1::CreateEnrollTokenRequest* request,
                                              v1::CreateEnrollTokenResponse* response) override;
  grpc::ServerUnaryReactor* ListEnrollTokens(grpc::CallbackServerContext* ctx,
                                             const v1::ListEnrollTokensRequest* request,
                                             v1::ListEnrollTokensResponse* response) override;
  grpc::ServerUnaryReactor* RevokeEnrollToken(grpc::CallbackServerContext* ctx,
                                              const v1::RevokeEnrollTokenRequest* request,
                                              v1::RevokeEnrollTokenResponse* response) override;
  grpc::ServerUnaryReactor* ListEnrollments(grpc::CallbackServerContext* ctx,
                                            const v1::ListEnrollmentsRequest* request,
                                            v1::ListEnrollmentsResponse* response) override;
  grpc::ServerUnaryReactor* AllowReenrollment(grpc::CallbackServerContext* ctx,
                                              const v1::AllowReenrollmentRequest* request,
                                              v1::AllowReenrollmentResponse* response) override;
  grpc::ServerUnaryReactor* RenewAdminCertificate(grpc::CallbackServerContext* ctx,
                                                  const v1::RenewCertificateRequest* request,
                                                  v1::IssuedCertificate* response) override;

 private:
  Store* store_;
  PolicyHub* hub_;
  const Clock* clock_;
  AdminQueries queries_;
  web::AuthService* auth_;
  MediaLedger* ledger_;
  AuditTrail* audit_;
  ExceptionWorkflow* exceptions_;
  UnlockIssuer* unlock_;
  EnrollmentWorkflow* enrollment_;
};

}  // namespace mamori
