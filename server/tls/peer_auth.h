#pragma once

#include <grpcpp/security/auth_context.h>
#include <grpcpp/support/status.h>

#include <string>

#include "common/base/result.h"
#include "common/crypto/identity.h"
#include "server/tls/revocation_list.h"

namespace mamori {

// The authenticated caller of an RPC.
struct AuthenticatedPeer {
  PeerIdentity identity;
  std::string group;     // terminals only; from mamori://group/<g>, may be empty
  std::string address;   // transport peer, for logs
  std::string cert_pem;  // the verified client certificate (PEM)
};

// Reads the caller's identity from the URI SANs of its verified certificate.
// The certificate chain itself was verified during the handshake
// (PeerCertificateVerifier); this only interprets it.
Result<AuthenticatedPeer> IdentifyPeer(const grpc::AuthContext* auth, std::string peer_address);

// Requires the given role; otherwise PERMISSION_DENIED (or UNAUTHENTICATED
// when no identity could be read), and the refusal is logged by the caller.
grpc::Status RequireRole(const Result<AuthenticatedPeer>& peer, PeerRole role);

// The check every handler makes after RequireRole: PERMISSION_DENIED,
// naming the revocation, when the caller's identity or certificate is on
// the deny list (`list` may be null: nothing is revoked). A connection
// opened before a revocation is refused on its next call this way; the
// caller logs the refusal.
grpc::Status RequireNotRevoked(const RevocationList* list, const AuthenticatedPeer& peer);

// Maps an Error to a gRPC status.
grpc::Status ToGrpcStatus(const Error& e);

}  // namespace mamori
