// AdminService: enrollment tokens, enrollments and admin certificate renewal.

#include <algorithm>

#include "common/base/logging.h"
#include "proto/wire/convert.h"
#include "server/admin/admin_call.h"
#include "server/admin/admin_service.h"
#include "server/enrollment/enrollment_service.h"
#include "server/tls/peer_auth.h"

namespace mamori {
namespace {

grpc::Status NoIssuingCa() {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "enrollment is not configured on this collector (set "
                      "enrollment.issuing_ca_cert_file and issuing_ca_key_file)");
}

// Seconds from the wire, as ms; `fallback` for 0, and values too large to
// be meant are passed on as too large (the workflow names the bound).
int64_t SecondsToMs(uint64_t seconds, int64_t fallback_ms) {
  if (seconds == 0) return fallback_ms;
  return static_cast<int64_t>(std::min<uint64_t>(seconds, 1ULL << 40)) * 1000;
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::CreateEnrollToken(
    grpc::CallbackServerContext* ctx, const v1::CreateEnrollTokenRequest* request,
    v1::CreateEnrollTokenResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "CreateEnrollToken");
  if (!actor) return reactor;
  if (enrollment_ == nullptr) {
    reactor->Finish(NoIssuingCa());
    return reactor;
  }
  TokenSpec spec;
  spec.group = request->group();
  spec.uses = request->uses() == 0 ? 1 : request->uses();
  spec.expires_in_ms = SecondsToMs(request->expires_in_seconds(), 7 * kDayMs);
  spec.note = request->note();
  auto created = enrollment_->CreateToken(*actor, spec);
  if (!created) {
    reactor->Finish(ToGrpcStatus(created.error()));
    return reactor;
  }
  ToProto(created->first, response->mutable_token());
  response->set_token_text(created->second);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListEnrollTokens(
    grpc::CallbackServerContext* ctx, const v1::ListEnrollTokensRequest* /*request*/,
    v1::ListEnrollTokensResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "ListEnrollTokens")) return reactor;
  if (enrollment_ == nullptr) {
    reactor->Finish(NoIssuingCa());
    return reactor;
  }
  auto tokens = enrollment_->ListTokens();
  if (!tokens) {
    reactor->Finish(ToGrpcStatus(tokens.error()));
    return reactor;
  }
  for (const EnrollToken& t : *tokens) ToProto(t, response->add_tokens());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeEnrollToken(
    grpc::CallbackServerContext* ctx, const v1::RevokeEnrollTokenRequest* request,
    v1::RevokeEnrollTokenResponse* /*response*/) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "RevokeEnrollToken");
  if (!actor) return reactor;
  if (enrollment_ == nullptr) {
    reactor->Finish(NoIssuingCa());
    return reactor;
  }
  reactor->Finish(Done(enrollment_->RevokeToken(*actor, request->id())));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListEnrollments(
    grpc::CallbackServerContext* ctx, const v1::ListEnrollmentsRequest* request,
    v1::ListEnrollmentsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "ListEnrollments")) return reactor;
  if (enrollment_ == nullptr) {
    reactor->Finish(NoIssuingCa());
    return reactor;
  }
  auto list = enrollment_->ListEnrollments(request->limit());
  if (!list) {
    reactor->Finish(ToGrpcStatus(list.error()));
    return reactor;
  }
  for (const EnrollmentRecord& e : *list) ToProto(e, response->add_enrollments());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::AllowReenrollment(
    grpc::CallbackServerContext* ctx, const v1::AllowReenrollmentRequest* request,
    v1::AllowReenrollmentResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "AllowReenrollment");
  if (!actor) return reactor;
  if (enrollment_ == nullptr) {
    reactor->Finish(NoIssuingCa());
    return reactor;
  }
  const int64_t valid_for = SecondsToMs(request->expires_in_seconds(), kDayMs);
  Status s = enrollment_->AllowReenrollment(*actor, request->terminal_id(), valid_for);
  if (s.ok()) SetMs(clock_->NowMs() + valid_for, response->mutable_until());
  reactor->Finish(Done(s));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::RenewAdminCertificate(
    grpc::CallbackServerContext* ctx, const v1::RenewCertificateRequest* request,
    v1::IssuedCertificate* response) {
  auto* reactor = ctx->DefaultReactor();
  // A revoked admin certificate renews nothing: AdmitAdmin consults the
  // deny list like every other admin call.
  auto peer = AdmitAdmin(ctx, reactor, revocations_, "RenewAdminCertificate");
  if (!peer) return reactor;
  if (enrollment_ == nullptr) {
    reactor->Finish(NoIssuingCa());
    return reactor;
  }
  RenewalCaller caller;
  caller.role = PeerRole::kAdmin;
  caller.id = peer->identity.id;
  caller.cert_pem = peer->cert_pem;
  caller.address = peer->address;
  auto issued = enrollment_->Renew(caller, request->csr_pem());
  if (!issued) {
    reactor->Finish(ToGrpcStatus(issued.error()));
    return reactor;
  }
  ToProto(*issued, response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mamori
