#include "server/ctl/admin_client.h"

#include <chrono>
#include <utility>

#include "common/crypto/credentials.h"
#include "common/crypto/identity.h"

namespace mamori::ctl {

Result<std::unique_ptr<AdminClient>> AdminClient::Connect(const ConnectionSettings& settings,
                                                          int64_t now_ms) {
  Result<TlsMaterial> tls = LoadTlsMaterial(settings.tls, now_ms);
  if (!tls) return tls.error();
  // The collector would refuse anything else with PERMISSION_DENIED; saying
  // so here names the file that needs replacing.
  bool is_admin = false;
  for (const std::string& uri : tls->cert.uris) {
    const std::optional<PeerIdentity> id = ParseIdentityUri(uri);
    is_admin = is_admin || (id && id->role == PeerRole::kAdmin);
  }
  if (!is_admin) {
    const std::string has =
        tls->cert.uris.empty() ? "no mamori:// identity" : "identity " + tls->cert.uris.front();
    return MakeError(ErrorCode::kPermissionDenied,
                     "tls.cert_file " + settings.tls.cert_file + ": not an admin certificate (" +
                         has + "); issue one with 'mamorictl pki issue admin'");
  }
  Result<HostPort> hp = ParseHostPort(settings.address);
  if (!hp) return hp.error();

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls->ca_pem;
  ssl.pem_private_key = tls->key_pem;
  ssl.pem_cert_chain = tls->cert_pem;
  grpc::ChannelArguments channel_args;
  // Lets an administrator dial an IP or a tunnel while still verifying the
  // collector by the name in its certificate.
  if (settings.server_name != hp->host) channel_args.SetSslTargetNameOverride(settings.server_name);
  channel_args.SetString(GRPC_ARG_PRIMARY_USER_AGENT_STRING, "mamorictl/" MAMORI_VERSION);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(settings.address, grpc::SslCredentials(ssl), channel_args);
  return std::make_unique<AdminClient>(v1::AdminService::NewStub(channel), settings.address,
                                       settings.timeout_ms);
}

AdminClient::AdminClient(std::unique_ptr<v1::AdminService::StubInterface> stub, std::string address,
                         int64_t timeout_ms)
    : stub_(std::move(stub)), address_(std::move(address)), timeout_ms_(timeout_ms) {}

template <typename Request, typename Response>
Status AdminClient::Call(grpc::Status (v1::AdminService::StubInterface::*method)(
                             grpc::ClientContext*, const Request&, Response*),
                         const Request& request, Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
  const grpc::Status status = ((*stub_).*method)(&context, request, response);
  if (status.ok()) return Status::Ok();
  return DescribeRpcFailure(status, address_, timeout_ms_);
}

Status AdminClient::ListTerminals(const v1::ListTerminalsRequest& request,
                                  v1::ListTerminalsResponse* response) {
  return Call(&v1::AdminService::StubInterface::ListTerminals, request, response);
}

Status AdminClient::GetTerminal(const v1::GetTerminalRequest& request,
                                v1::TerminalDetail* response) {
  return Call(&v1::AdminService::StubInterface::GetTerminal, request, response);
}

Status AdminClient::GroupSummaries(const v1::GroupSummariesRequest& request,
                                   v1::GroupSummariesResponse* response) {
  return Call(&v1::AdminService::StubInterface::GroupSummaries, request, response);
}

Status AdminClient::QueryEvents(const v1::QueryEventsRequest& request,
                                v1::QueryEventsResponse* response) {
  return Call(&v1::AdminService::StubInterface::QueryEvents, request, response);
}

Status AdminClient::GetPolicy(const v1::GetPolicyRequest& request,
                              v1::GetPolicyResponse* response) {
  return Call(&v1::AdminService::StubInterface::GetPolicy, request, response);
}

Status AdminClient::ApplyPolicy(const v1::ApplyPolicyRequest& request,
                                v1::ApplyPolicyResponse* response) {
  return Call(&v1::AdminService::StubInterface::ApplyPolicy, request, response);
}

Status AdminClient::PolicyHistory(const v1::PolicyHistoryRequest& request,
                                  v1::PolicyHistoryResponse* response) {
  return Call(&v1::AdminService::StubInterface::PolicyHistory, request, response);
}

Status AdminClient::ComplianceTrend(const v1::ComplianceTrendRequest& request,
                                    v1::ComplianceTrendResponse* response) {
  return Call(&v1::AdminService::StubInterface::ComplianceTrend, request, response);
}

Status AdminClient::AddUser(const v1::AddUserRequest& request, v1::UserCredentials* response) {
  return Call(&v1::AdminService::StubInterface::AddUser, request, response);
}

Status AdminClient::ResetUser(const v1::ResetUserRequest& request, v1::UserCredentials* response) {
  return Call(&v1::AdminService::StubInterface::ResetUser, request, response);
}

Status AdminClient::DisableUser(const v1::DisableUserRequest& request,
                                v1::DisableUserResponse* response) {
  return Call(&v1::AdminService::StubInterface::DisableUser, request, response);
}

Status AdminClient::ListMedia(const v1::ListMediaRequest& request,
                              v1::ListMediaResponse* response) {
  return Call(&v1::AdminService::StubInterface::ListMedia, request, response);
}

Status AdminClient::AddMedium(const v1::AddMediumRequest& request,
                              v1::LedgerChangeResponse* response) {
  return Call(&v1::AdminService::StubInterface::AddMedium, request, response);
}

Status AdminClient::RetireMedium(const v1::RetireMediumRequest& request,
                                 v1::LedgerChangeResponse* response) {
  return Call(&v1::AdminService::StubInterface::RetireMedium, request, response);
}

Status AdminClient::ImportMedia(const v1::ImportMediaRequest& request,
                                v1::ImportMediaResponse* response) {
  return Call(&v1::AdminService::StubInterface::ImportMedia, request, response);
}

Status AdminClient::ExportMedia(const v1::ExportMediaRequest& request,
                                v1::ExportMediaResponse* response) {
  return Call(&v1::AdminService::StubInterface::ExportMedia, request, response);
}

Status AdminClient::UnregisteredDevices(const v1::UnregisteredDevicesRequest& request,
                                        v1::UnregisteredDevicesResponse* response) {
  return Call(&v1::AdminService::StubInterface::UnregisteredDevices, request, response);
}

Status AdminClient::QueryAudit(const v1::QueryAuditRequest& request,
                               v1::QueryAuditResponse* response) {
  return Call(&v1::AdminService::StubInterface::QueryAudit, request, response);
}

Status AdminClient::RequestException(const v1::RequestExceptionRequest& request,
                                     v1::ExceptionChangeResponse* response) {
  return Call(&v1::AdminService::StubInterface::RequestException, request, response);
}

Status AdminClient::ApproveException(const v1::DecideExceptionRequest& request,
                                     v1::ExceptionChangeResponse* response) {
  return Call(&v1::AdminService::StubInterface::ApproveException, request, response);
}

Status AdminClient::RefuseException(const v1::DecideExceptionRequest& request,
                                    v1::ExceptionChangeResponse* response) {
  return Call(&v1::AdminService::StubInterface::RefuseException, request, response);
}

Status AdminClient::CancelException(const v1::DecideExceptionRequest& request,
                                    v1::ExceptionChangeResponse* response) {
  return Call(&v1::AdminService::StubInterface::CancelException, request, response);
}

Status AdminClient::ListExceptions(const v1::ListExceptionsRequest& request,
                                   v1::ListExceptionsResponse* response) {
  return Call(&v1::AdminService::StubInterface::ListExceptions, request, response);
}

Error DescribeRpcFailure(const grpc::Status& status, std::string_view address, int64_t timeout_ms) {
  const std::string where = "cannot reach collector at " + std::string(address) + ": ";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return MakeError(ErrorCode::kUnavailable, where + status.error_message());
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return MakeError(
          ErrorCode::kUnavailable,
          where + "no answer within " + std::to_string(timeout_ms / 1000) + " s (--timeout)");
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return MakeError(ErrorCode::kPermissionDenied,
                       "collector refused: " + std::string(GrpcCodeName(status.error_code())) +
                           ": " + status.error_message());
    case grpc::StatusCode::NOT_FOUND:
      return MakeError(ErrorCode::kNotFound,
                       "collector refused: NOT_FOUND: " + status.error_message());
    default:
      return MakeError(ErrorCode::kFailedPrecondition,
                       "collector refused: " + std::string(GrpcCodeName(status.error_code())) +
                           ": " + status.error_message());
  }
}

Status AdminClient::IssueUnlockCode(const v1::IssueUnlockCodeRequest& request,
                                    v1::IssueUnlockCodeResponse* response) {
  return Call(&v1::AdminService::StubInterface::IssueUnlockCode, request, response);
}

Status AdminClient::ListUnlockCodes(const v1::ListUnlockCodesRequest& request,
                                    v1::ListUnlockCodesResponse* response) {
  return Call(&v1::AdminService::StubInterface::ListUnlockCodes, request, response);
}

Status AdminClient::CreateEnrollToken(const v1::CreateEnrollTokenRequest& request,
                                      v1::CreateEnrollTokenResponse* response) {
  return Call(&v1::AdminService::StubInterface::CreateEnrollToken, request, response);
}

Status AdminClient::ListEnrollTokens(const v1::ListEnrollTokensRequest& request,
                                     v1::ListEnrollTokensResponse* response) {
  return Call(&v1::AdminService::StubInterface::ListEnrollTokens, request, response);
}

Status AdminClient::RevokeEnrollToken(const v1::RevokeEnrollTokenRequest& request,
                                      v1::RevokeEnrollTokenResponse* response) {
  return Call(&v1::AdminService::StubInterface::RevokeEnrollToken, request, response);
}

Status AdminClient::ListEnrollments(const v1::ListEnrollmentsRequest& request,
                                    v1::ListEnrollmentsResponse* response) {
  return Call(&v1::AdminService::StubInterface::ListEnrollments, request, response);
}

Status AdminClient::AllowReenrollment(const v1::AllowReenrollmentRequest& request,
                                      v1::AllowReenrollmentResponse* response) {
  return Call(&v1::AdminService::StubInterface::AllowReenrollment, request, response);
}

Status AdminClient::RenewAdminCertificate(const v1::RenewCertificateRequest& request,
                                          v1::IssuedCertificate* response) {
  return Call(&v1::AdminService::StubInterface::RenewAdminCertificate, request, response);
}

}  // namespace mamori::ctl
