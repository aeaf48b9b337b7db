#include "server/tls/revocation_check.h"

#include "common/base/logging.h"
#include "common/base/sanitize.h"

namespace mamori {

grpc::Status CheckNotRevoked(const RevocationList* revocations, const AuthenticatedPeer& peer) {
  if (revocations == nullptr) return grpc::Status::OK;
  const std::optional<std::string> reason =
      revocations->RevokedReason(peer.identity.role, peer.identity.id, peer.cert_sha256);
  if (!reason) return grpc::Status::OK;
  static const auto log = GetLogger("tls");
  const std::string uri = FormatIdentityUri(peer.identity.role, peer.identity.id);
  const std::string why = SanitizeDeviceString(*reason, 200);
  log->warn("call from {} refused: {} sha256={} is revoked: {}", peer.address, uri,
            peer.cert_sha256, why);
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, uri + " is revoked: " + why);
}

}  // namespace mamori
