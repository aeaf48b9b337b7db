#include "server/admin/admin_service.h"

#include <algorithm>

#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "common/policy/policy.h"
#include "proto/wire/convert.h"
#include "server/policy/policy_dry_run.h"
#include "server/tls/peer_auth.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("admin-service");
  return log;
}

// Returns true (and finishes the call) when the caller is not an admin.
bool Refuse(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
            std::string_view method, AuthenticatedPeer* admin) {
  auto peer = IdentifyPeer(ctx->auth_context().get(), ctx->peer());
  grpc::Status s = RequireRole(peer, PeerRole::kAdmin);
  if (!s.ok()) {
    Log()->warn("{} from {} refused: {}", method, ctx->peer(), s.error_message());
    reactor->Finish(s);
    return true;
  }
  *admin = std::move(peer).value();
  return false;
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(Store* store, PolicyHub* hub, const Clock* clock,
                                   ComplianceConfig config, web::AuthService* auth,
                                   const ComplianceIndex* index, MediaLedger* ledger,
                                   AuditTrail* audit, ExceptionWorkflow* exceptions,
                                   UnlockIssuer* unlock, EnrollmentWorkflow* enrollment)
    : store_(store),
      hub_(hub),
      clock_(clock),
      queries_(store, hub, clock, config, index, audit),
      auth_(auth),
      ledger_(ledger),
      audit_(audit),
      exceptions_(exceptions),
      unlock_(unlock),
      enrollment_(enrollment) {}

grpc::ServerUnaryReactor* AdminServiceImpl::ListTerminals(grpc::CallbackServerContext* ctx,
                                                          const v1::ListTerminalsRequest* request,
                                                          v1::ListTerminalsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "ListTerminals", &admin)) return reactor;
  Status s = queries_.ListTerminals(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetTerminal(grpc::CallbackServerContext* ctx,
                                                        const v1::GetTerminalRequest* request,
                                                        v1::TerminalDetail* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "GetTerminal", &admin)) return reactor;
  Status s = queries_.GetTerminal(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::GroupSummaries(grpc::CallbackServerContext* ctx,
                                                           const v1::GroupSummariesRequest* request,
                                                           v1::GroupSummariesResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "GroupSummaries", &admin)) return reactor;
  Status s = queries_.GroupSummaries(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::QueryEvents(grpc::CallbackServerContext* ctx,
                                                        const v1::QueryEventsRequest* request,
                                                        v1::QueryEventsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "QueryEvents", &admin)) return reactor;
  Status s = queries_.QueryEvents(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetPolicy(grpc::CallbackServerContext* ctx,
                                                      const v1::GetPolicyRequest* request,
                                                      v1::GetPolicyResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "GetPolicy", &admin)) return reactor;
  Status s = queries_.GetPolicy(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ApplyPolicy(grpc::CallbackServerContext* ctx,
                                                        const v1::ApplyPolicyRequest* request,
                                                        v1::ApplyPolicyResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "ApplyPolicy", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  // The dashboard applies through the same call, so both paths validate,
  // sign, store and push alike.
  Status s = queries_.ApplyPolicy(*request, by, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::PolicyHistory(grpc::CallbackServerContext* ctx,
                                                          const v1::PolicyHistoryRequest* request,
                                                          v1::PolicyHistoryResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "PolicyHistory", &admin)) return reactor;
  Status s = queries_.PolicyHistory(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ComplianceTrend(
    grpc::CallbackServerContext* ctx, const v1::ComplianceTrendRequest* request,
    v1::ComplianceTrendResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "ComplianceTrend", &admin)) return reactor;
  Status s = queries_.ComplianceTrend(*request, response);
  reactor->Finish(s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()));
  return reactor;
}

namespace {

void ToProto(const web::NewCredentials& creds, v1::UserCredentials* out) {
  out->set_name(creds.name);
  out->set_role(std::string(web::RoleName(creds.role)));
  out->set_password(creds.password);
  out->set_otpauth_uri(creds.otpauth_uri);
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::AddUser(grpc::CallbackServerContext* ctx,
                                                    const v1::AddUserRequest* request,
                                                    v1::UserCredentials* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "AddUser", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  const std::optional<web::Role> role = web::ParseRole(request->role());
  if (!role) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     "role must be viewer, operator or admin, not '" + request->role() + "'"));
    return reactor;
  }
  auto creds = auth_->AddUser(request->name(), *role);
  if (!creds.ok()) {
    Log()->warn("AddUser '{}' by {} refused: {}", request->name(), by, creds.error().message);
    reactor->Finish(ToGrpcStatus(creds.error()));
    return reactor;
  }
  Log()->info("dashboard user '{}' ({}) added by {}", creds->name, web::RoleName(creds->role), by);
  if (audit_ != nullptr) {
    (void)audit_->Record(CertActor(by), audit::kUserAdd, creds->name,
                         "role " + std::string(web::RoleName(creds->role)), AuditOutcome::kOk);
  }
  ToProto(*creds, response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ResetUser(grpc::CallbackServerContext* ctx,
                                                      const v1::ResetUserRequest* request,
                                                      v1::UserCredentials* response) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "ResetUser", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  auto creds = auth_->ResetUser(request->name());
  if (!creds.ok()) {
    reactor->Finish(ToGrpcStatus(creds.error()));
    return reactor;
  }
  Log()->info("dashboard user '{}' reset (new password and TOTP secret) by {}", creds->name, by);
  if (audit_ != nullptr) {
    (void)audit_->Record(CertActor(by), audit::kUserReset, creds->name,
                         "new password and TOTP secret", AuditOutcome::kOk);
  }
  ToProto(*creds, response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::DisableUser(grpc::CallbackServerContext* ctx,
                                                        const v1::DisableUserRequest* request,
                                                        v1::DisableUserResponse* /*response*/) {
  auto* reactor = ctx->DefaultReactor();
  AuthenticatedPeer admin;
  if (Refuse(ctx, reactor, "DisableUser", &admin)) return reactor;
  const std::string by = FormatIdentityUri(admin.identity.role, admin.identity.id);
  if (Status s = auth_->DisableUser(request->name()); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s.error()));
    return reactor;
  }
  Log()->info("dashboard user '{}' disabled by {}", request->name(), by);
  if (audit_ != nullptr) {
    (void)audit_->Record(CertActor(by), audit::kUserDisable, request->name(), "",
                         AuditOutcome::kOk);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mamori
