#pragma once

#include <grpcpp/security/auth_context.h>
#include <grpcpp/support/status.h>

#include <string>

#include "common/base/result.h"
#include "common/crypto/identity.h"

namespace mamori {

// The authenticated caller of an RPC.
struct AuthenticatedPeer {
  PeerIdentity identity;
  std::string group;        // terminals only; from mamori://group/<g>
  std::string address;      // transport peer, for logs
  std::string cert_pem;     // the verified client certificate (PEM)
  std::string cert_sha256;  // lower-case hex SHA-256 of its DER
};

// Reads the caller's identity from its verified certificate with
// CheckClientIdentity, the same rule PeerCertificateVerifier applied at the
// handshake. The certificate chain itself was verified there; this only
// interprets the leaf.
Result<AuthenticatedPeer> IdentifyPeer(const grpc::AuthContext* auth, std::string peer_address);

// Requires the given role; otherwise PERMISSION_DENIED (or UNAUTHENTICATED
// when no identity could be read), and the refusal is logged by the caller.
grpc::Status RequireRole(const Result<AuthenticatedPeer>& peer, PeerRole role);

// Maps an Error to a gRPC status.
grpc::Status ToGrpcStatus(const Error& e);

}  // namespace mamori
