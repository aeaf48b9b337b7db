// AdminServiceImpl: the media ledger, the audit log and offline unlock codes.

#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "server/admin/admin_call.h"
#include "server/admin/admin_service.h"
#include "server/tls/peer_auth.h"

namespace mamori {
namespace {

grpc::Status NoLedger() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this collector has no media ledger");
}

grpc::Status NoUnlockKey() {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "this collector issues no unlock codes: set unlock.key_file in its "
                      "configuration (mamorictl pki unlock-key)");
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::ListMedia(grpc::CallbackServerContext* ctx,
                                                      const v1::ListMediaRequest* request,
                                                      v1::ListMediaResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "ListMedia")) return reactor;
  reactor->Finish(ledger_ == nullptr ? NoLedger() : Done(ledger_->List(*request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::AddMedium(grpc::CallbackServerContext* ctx,
                                                      const v1::AddMediumRequest* request,
                                                      v1::LedgerChangeResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "AddMedium");
  if (!actor) return reactor;
  reactor->Finish(ledger_ == nullptr ? NoLedger() : Done(ledger_->Add(*actor, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::RetireMedium(grpc::CallbackServerContext* ctx,
                                                         const v1::RetireMediumRequest* request,
                                                         v1::LedgerChangeResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "RetireMedium");
  if (!actor) return reactor;
  reactor->Finish(ledger_ == nullptr ? NoLedger()
                                     : Done(ledger_->Retire(*actor, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ImportMedia(grpc::CallbackServerContext* ctx,
                                                        const v1::ImportMediaRequest* request,
                                                        v1::ImportMediaResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "ImportMedia");
  if (!actor) return reactor;
  reactor->Finish(ledger_ == nullptr ? NoLedger()
                                     : Done(ledger_->Import(*actor, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ExportMedia(grpc::CallbackServerContext* ctx,
                                                        const v1::ExportMediaRequest* request,
                                                        v1::ExportMediaResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "ExportMedia")) return reactor;
  reactor->Finish(ledger_ == nullptr ? NoLedger() : Done(ledger_->Export(*request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::UnregisteredDevices(
    grpc::CallbackServerContext* ctx, const v1::UnregisteredDevicesRequest* request,
    v1::UnregisteredDevicesResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "UnregisteredDevices")) return reactor;
  reactor->Finish(ledger_ == nullptr ? NoLedger()
                                     : Done(ledger_->Unregistered(*request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::QueryAudit(grpc::CallbackServerContext* ctx,
                                                       const v1::QueryAuditRequest* request,
                                                       v1::QueryAuditResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "QueryAudit")) return reactor;
  reactor->Finish(audit_ == nullptr ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                   "this collector has no audit log")
                                    : Done(audit_->Query(*request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::IssueUnlockCode(
    grpc::CallbackServerContext* ctx, const v1::IssueUnlockCodeRequest* request,
    v1::IssueUnlockCodeResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto actor = AdminActor(ctx, reactor, revocations_, "IssueUnlockCode");
  if (!actor) return reactor;
  reactor->Finish(unlock_ == nullptr ? NoUnlockKey()
                                     : Done(unlock_->Issue(*actor, *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListUnlockCodes(
    grpc::CallbackServerContext* ctx, const v1::ListUnlockCodesRequest* request,
    v1::ListUnlockCodesResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!AdminActor(ctx, reactor, revocations_, "ListUnlockCodes")) return reactor;
  reactor->Finish(unlock_ == nullptr ? NoUnlockKey() : Done(unlock_->List(*request, response)));
  return reactor;
}

}  // namespace mamori
