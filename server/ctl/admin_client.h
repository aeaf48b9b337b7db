#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "mamori/v1/admin.grpc.pb.h"
#include "proto/wire/grpc_status.h"
#include "server/ctl/ctl_config.h"

namespace mamori::ctl {

// The collector's AdminService as mamorictl uses it: one call at a time,
// each with the configured deadline, failures turned into messages an
// administrator can act on.
class AdminClient {
 public:
  // Loads and checks the TLS files first (LoadTlsMaterial), so an expired
  // admin certificate or a wrong key is reported by file name rather than
  // as a failed handshake. The channel connects on the first call.
  static Result<std::unique_ptr<AdminClient>> Connect(const ConnectionSettings& settings,
                                                      int64_t now_ms);

  AdminClient(std::unique_ptr<v1::AdminService::StubInterface> stub, std::string address,
              int64_t timeout_ms);

  Status ListTerminals(const v1::ListTerminalsRequest& request,
                       v1::ListTerminalsResponse* response);
  Status GetTerminal(const v1::GetTerminalRequest& request, v1::TerminalDetail* response);
  Status GroupSummaries(const v1::GroupSummariesRequest& request,
                        v1::GroupSummariesResponse* response);
  Status QueryEvents(const v1::QueryEventsRequest& request, v1::QueryEventsResponse* response);
  Status GetPolicy(const v1::GetPolicyRequest& request, v1::GetPolicyResponse* response);
  Status ApplyPolicy(const v1::ApplyPolicyRequest& request, v1::ApplyPolicyResponse* response);
  Status PolicyHistory(const v1::PolicyHistoryRequest& request,
                       v1::PolicyHistoryResponse* response);
  Status ComplianceTrend(const v1::ComplianceTrendRequest& request,
                         v1::ComplianceTrendResponse* response);
  Status AddUser(const v1::AddUserRequest& request, v1::UserCredentials* response);
  Status ResetUser(const v1::ResetUserRequest& request, v1::UserCredentials* response);
  Status DisableUser(const v1::DisableUserRequest& request, v1::DisableUserResponse* response);
  Status ListMedia(const v1::ListMediaRequest& request, v1::ListMediaResponse* response);
  Status AddMedium(const v1::AddMediumRequest& request, v1::LedgerChangeResponse* response);
  Status RetireMedium(const v1::RetireMediumRequest& request, v1::LedgerChangeResponse* response);
  Status ImportMedia(const v1::ImportMediaRequest& request, v1::ImportMediaResponse* response);
  Status ExportMedia(const v1::ExportMediaRequest& request, v1::ExportMediaResponse* response);
  Status UnregisteredDevices(const v1::UnregisteredDevicesRequest& request,
                             v1::UnregisteredDevicesResponse* response);
  Status QueryAudit(const v1::QueryAuditRequest& request, v1::QueryAuditResponse* response);
  Status RequestException(const v1::RequestExceptionRequest& request,
                          v1::ExceptionChangeResponse* response);
  Status ApproveException(const v1::DecideExceptionRequest& request,
                          v1::ExceptionChangeResponse* response);
  Status RefuseException(const v1::DecideExceptionRequest& request,
                         v1::ExceptionChangeResponse* response);
  Status CancelException(const v1::DecideExceptionRequest& request,
                         v1::ExceptionChangeResponse* response);
  Status ListExceptions(const v1::ListExceptionsRequest& request,
                        v1::ListExceptionsResponse* response);
  Status IssueUnlockCode(const v1::IssueUnlockCodeRequest& request,
                         v1::IssueUnlockCodeResponse* response);
  Status ListUnlockCodes(const v1::ListUnlockCodesRequest& request,
                         v1::ListUnlockCodesResponse* response);
  Status CreateEnrollToken(const v1::CreateEnrollTokenRequest& request,
                           v1::CreateEnrollTokenResponse* response);
  Status ListEnrollTokens(const v1::ListEnrollTokensRequest& request,
                          v1::ListEnrollTokensResponse* response);
  Status RevokeEnrollToken(const v1::RevokeEnrollTokenRequest& request,
                           v1::RevokeEnrollTokenResponse* response);
  Status ListEnrollments(const v1::ListEnrollmentsRequest& request,
                         v1::ListEnrollmentsResponse* response);
  Status AllowReenrollment(const v1::AllowReenrollmentRequest& request,
                           v1::AllowReenrollmentResponse* response);
  Status RenewAdminCertificate(const v1::RenewCertificateRequest& request,
                               v1::IssuedCertificate* response);

 private:
  template <typename Request, typename Response>
  Status Call(grpc::Status (v1::AdminService::StubInterface::*method)(grpc::ClientContext*,
                                                                      const Request&, Response*),
              const Request& request, Response* response);

  std::unique_ptr<v1::AdminService::StubInterface> stub_;
  std::string address_;
  int64_t timeout_ms_;
};

// "cannot reach collector at ADDRESS: ..." when the call never got an answer
// (UNAVAILABLE, DEADLINE_EXCEEDED), "collector refused: CODE: message"
// otherwise.
Error DescribeRpcFailure(const grpc::Status& status, std::string_view address, int64_t timeout_ms);

}  // namespace mamori::ctl
