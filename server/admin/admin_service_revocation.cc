// AdminServiceImpl: revocation and retirement of terminals and admins.

#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "server/admin/admin_call.h"
#include "server/admin/admin_service.h"
#include "server/revocation/revocation_wire.h"

namespace mamori {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = GetLogger("admin-service");
  return log;
}

// Finishes the call with the outcome of a revocation or retirement.
void Answer(grpc::ServerUnaryReactor* reactor, std::string_view method, std::string_view actor,
            const Result<RevocationRegistry::Outcome>& outcome, v1::RevocationView* response) {
  if (!outcome.ok()) {
    Log()->warn("{} by {} refused: {}", method, actor, outcome.error().message);
    reactor->Finish(ToGrpcStatus(outcome.error()));
    return;
  }
  ToProto(outcome->record, response);
  response->set_streams_closed(static_cast<uint32_t>(outcome->streams_closed));
  reactor->Finish(grpc::Status::OK);
}

grpc::Status NoRegistry() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this collector keeps no deny list");
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeTerminal(grpc::CallbackServerContext* ctx,
                                                           const v1::RevokeTerminalRequest* request,
                                                           v1::RevocationView* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "RevokeTerminal");
  if (!actor) return reactor;
  if (revocations_ == nullptr) {
    reactor->Finish(NoRegistry());
    return reactor;
  }
  Answer(reactor, "RevokeTerminal", *actor,
         revocations_->Revoke(PeerRole::kTerminal, request->terminal_id(), request->cert_sha256(),
                              request->reason(), *actor),
         response);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::RetireTerminal(grpc::CallbackServerContext* ctx,
                                                           const v1::RetireTerminalRequest* request,
                                                           v1::RevocationView* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "RetireTerminal");
  if (!actor) return reactor;
  if (revocations_ == nullptr) {
    reactor->Finish(NoRegistry());
    return reactor;
  }
  Answer(reactor, "RetireTerminal", *actor,
         revocations_->Retire(request->terminal_id(), request->reason(), *actor), response);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeAdmin(grpc::CallbackServerContext* ctx,
                                                        const v1::RevokeAdminRequest* request,
                                                        v1::RevocationView* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "RevokeAdmin");
  if (!actor) return reactor;
  if (revocations_ == nullptr) {
    reactor->Finish(NoRegistry());
    return reactor;
  }
  Answer(reactor, "RevokeAdmin", *actor,
         revocations_->Revoke(PeerRole::kAdmin, request->name(), request->cert_sha256(),
                              request->reason(), *actor),
         response);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListRevocations(
    grpc::CallbackServerContext* ctx, const v1::ListRevocationsRequest* /*request*/,
    v1::ListRevocationsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "ListRevocations")) return reactor;
  if (revocations_ != nullptr) {
    for (const RevocationRecord& r : revocations_->List()) ToProto(r, response->add_revocations());
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mamori
