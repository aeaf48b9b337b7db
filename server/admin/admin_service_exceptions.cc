// AdminServiceImpl: time-limited exceptions.

#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "server/admin/admin_call.h"
#include "server/admin/admin_service.h"
#include "server/tls/peer_auth.h"

namespace mamori {
namespace {

grpc::Status NoExceptions() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this collector has no exception workflow");
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::RequestException(
    grpc::CallbackServerContext* ctx, const v1::RequestExceptionRequest* request,
    v1::ExceptionChangeResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "RequestException");
  if (!actor) return reactor;
  reactor->Finish(exceptions_ == nullptr ? NoExceptions()
                                         : Done(exceptions_->Request(*actor, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ApproveException(
    grpc::CallbackServerContext* ctx, const v1::DecideExceptionRequest* request,
    v1::ExceptionChangeResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "ApproveException");
  if (!actor) return reactor;
  reactor->Finish(exceptions_ == nullptr ? NoExceptions()
                                         : Done(exceptions_->Approve(*actor, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::RefuseException(
    grpc::CallbackServerContext* ctx, const v1::DecideExceptionRequest* request,
    v1::ExceptionChangeResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "RefuseException");
  if (!actor) return reactor;
  reactor->Finish(exceptions_ == nullptr ? NoExceptions()
                                         : Done(exceptions_->Refuse(*actor, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::CancelException(
    grpc::CallbackServerContext* ctx, const v1::DecideExceptionRequest* request,
    v1::ExceptionChangeResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "CancelException");
  if (!actor) return reactor;
  reactor->Finish(
      exceptions_ == nullptr
          ? NoExceptions()
          : Done(exceptions_->Cancel(*actor, /*may_cancel_others=*/true, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListExceptions(grpc::CallbackServerContext* ctx,
                                                           const v1::ListExceptionsRequest* request,
                                                           v1::ListExceptionsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "ListExceptions")) return reactor;
  reactor->Finish(exceptions_ == nullptr ? NoExceptions()
                                         : Done(exceptions_->List(*request, response)));
  return reactor;
}

}  // namespace mamori
