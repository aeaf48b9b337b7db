#include "server/admin/admin_call.h"

#include "common/base/logging.h"
#include "common/crypto/identity.h"
#include "server/audit/audit_trail.h"
#include "server/tls/revocation_check.h"

namespace mamori {

std::optional<AuthenticatedPeer> AdmitAdmin(grpc::CallbackServerContext* ctx,
                                            grpc::ServerUnaryReactor* reactor,
                                            const RevocationList* revocations,
                                            std::string_view method) {
  static const auto log = GetLogger("admin-service");
  auto peer = IdentifyPeer(ctx->auth_context().get(), ctx->peer());
  grpc::Status s = RequireRole(peer, PeerRole::kAdmin);
  if (s.ok()) s = CheckNotRevoked(revocations, *peer);
  if (!s.ok()) {
    log->warn("{} from {} refused: {}", method, ctx->peer(), s.error_message());
    reactor->Finish(s);
    return std::nullopt;
  }
  return std::move(peer).value();
}

std::optional<std::string> AdminActor(grpc::CallbackServerContext* ctx,
                                      grpc::ServerUnaryReactor* reactor,
                                      const RevocationList* revocations, std::string_view method) {
  auto peer = AdmitAdmin(ctx, reactor, revocations, method);
  if (!peer) return std::nullopt;
  return CertActor(FormatIdentityUri(peer->identity.role, peer->identity.id));
}

grpc::Status Done(const Status& s) { return s.ok() ? grpc::Status::OK : ToGrpcStatus(s.error()); }

}  // namespace mamori
