#include "server/enrollment/enrollment_service.h"

#include "server/tls/peer_auth.h"

namespace mamori {

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
