#include "server/enrollment/enrollment_service.h"

#include <algorithm>
#include <climits>

#include "proto/wire/convert.h"
#include "server/tls/peer_auth.h"

namespace mamori {
namespace {

uint32_t Clamp32(int64_t v) { return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, UINT32_MAX)); }

}  // namespace

void ToProto(const EnrollToken& t, v1::EnrollTokenView* out) {
  out->set_id(t.id);
  out->set_group(t.group);
  out->set_uses_left(Clamp32(t.uses_left));
  out->set_uses_total(Clamp32(t.uses_total));
  SetMs(t.created_ms, out->mutable_created_at());
  SetMs(t.expires_ms, out->mutable_expires_at());
  out->set_revoked(t.revoked_ms != 0);
  if (t.revoked_ms != 0) SetMs(t.revoked_ms, out->mutable_revoked_at());
  out->set_note(t.note);
  out->set_created_by(t.created_by);
  if (t.last_used_ms != 0) SetMs(t.last_used_ms, out->mutable_last_used_at());
}

void ToProto(const EnrollmentRecord& e, v1::EnrollmentView* v) {
  v->set_id(static_cast<uint64_t>(e.id));
  v->set_terminal_id(e.terminal_id);
  v->set_group(e.group);
  v->set_source_address(e.source_address);
  v->set_serial(e.serial_hex);
  SetMs(e.at_ms, v->mutable_at());
  v->set_token_id(e.token_id);
  v->set_hostname(e.hostname);
  v->set_agent_version(e.agent_version);
  v->set_os(e.os);
}

grpc::ServerUnaryReactor* EnrollmentServiceImpl::Enroll(grpc::CallbackServerContext* ctx,
                                                        const v1::EnrollRequest* request,
                                                        v1::IssuedCertificate* response) {
  auto* reactor = ctx->DefaultReactor();
  EnrollInput in;
  in.token = request->token();
  in.csr_pem = request->csr_pem();
  in.hostname = request->hostname();
  in.terminal_id = request->terminal_id();
  in.agent_version = request->agent_version();
  in.os = request->os();
  in.peer = ctx->peer();
  Result<IssuedCredential> issued = workflow_->Enroll(in);
  if (!issued) {
    const Error& e = issued.error();
    // The caller is unauthenticated: internal details stay in the log.
    if (e.code == ErrorCode::kInternal || e.code == ErrorCode::kIo) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::INTERNAL, "enrollment failed on the collector"));
    } else {
      reactor->Finish(ToGrpcStatus(e));
    }
    return reactor;
  }
  ToProto(*issued, response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mamori
