#include "server/tls/peer_auth.h"

#include <grpc/grpc_security_constants.h>

#include "common/crypto/pki.h"

namespace mamori {

Result<AuthenticatedPeer> IdentifyPeer(const grpc::AuthContext* auth, std::string peer_address) {
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return MakeError(ErrorCode::kUnauthenticated, "no verified client certificate");
  }
  AuthenticatedPeer peer;
  peer.address = std::move(peer_address);
  bool have_identity = false;
  for (const auto& value : auth->FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    const std::string_view uri(value.data(), value.size());
    if (auto id = ParseIdentityUri(uri)) {
      if (have_identity) {
        return MakeError(ErrorCode::kUnauthenticated,
                         "client certificate carries more than one identity URI");
      }
      peer.identity = *id;
      have_identity = true;
    } else if (auto group = ParseGroupUri(uri)) {
      peer.group = *group;
    }
  }
  if (!have_identity) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "client certificate has no mamori:// identity URI SAN");
  }
  for (const auto& value : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
    peer.cert_pem.assign(value.data(), value.size());
  }
  return peer;
}

grpc::Status RequireRole(const Result<AuthenticatedPeer>& peer, PeerRole role) {
  if (!peer.ok()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, peer.error().message);
  if (peer->identity.role != role) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        std::string(PeerRoleName(peer->identity.role)) + " certificate '" +
                            peer->identity.id + "' may not call this service (requires a " +
                            std::string(PeerRoleName(role)) + " certificate)");
  }
  return grpc::Status::OK;
}

grpc::Status RequireNotRevoked(const RevocationList* list, const AuthenticatedPeer& peer) {
  if (list == nullptr) return grpc::Status::OK;
  std::string fingerprint;
  if (!peer.cert_pem.empty()) {
    if (auto info = InspectCertificate(peer.cert_pem); info.ok()) {
      fingerprint = std::move(info->sha256_fingerprint);
    }
  }
  auto reason = list->RevokedReason(peer.identity.role, peer.identity.id, fingerprint);
  if (!reason) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      std::string(PeerRoleName(peer.identity.role)) + " '" + peer.identity.id +
                          "' is revoked: " + *reason);
}

grpc::Status ToGrpcStatus(const Error& e) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case ErrorCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case ErrorCode::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case ErrorCode::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case ErrorCode::kUnauthenticated:
      code = grpc::StatusCode::UNAUTHENTICATED;
      break;
    case ErrorCode::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case ErrorCode::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case ErrorCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case ErrorCode::kInternal:
    case ErrorCode::kIo:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  return grpc::Status(code, e.message);
}

}  // namespace mamori
