#include "server/tls/peer_auth.h"

#include <grpc/grpc_security_constants.h>

#include "common/crypto/client_identity.h"

namespace mamori {

Result<AuthenticatedPeer> IdentifyPeer(const grpc::AuthContext* auth, std::string peer_address) {
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return MakeError(ErrorCode::kUnauthenticated, "no verified client certificate");
  }
  std::string cert_pem;
  for (const auto& value : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
    cert_pem.assign(value.data(), value.size());
  }
  if (cert_pem.empty()) return MakeError(ErrorCode::kUnauthenticated, "no client certificate");
  Result<ClientIdentity> checked = CheckClientIdentity(cert_pem);
  if (!checked) return checked.error();
  AuthenticatedPeer peer;
  peer.identity = std::move(checked->identity);
  peer.group = std::move(checked->group);
  peer.cert_sha256 = std::move(checked->cert_sha256);
  peer.address = std::move(peer_address);
  peer.cert_pem = std::move(cert_pem);
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
