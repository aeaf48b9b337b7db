#pragma once

#include <grpcpp/support/status.h>

#include "server/tls/peer_auth.h"
#include "server/tls/revocation_list.h"

namespace mamori {

// The per-call half of the deny list: the handshake refuses a revoked
// certificate, but a connection opened before the revocation stays up, so a
// service calls this with the caller of every RPC. OK when `revocations` is
// null or neither the identity nor the certificate is revoked; otherwise
// UNAUTHENTICATED naming the identity and the recorded reason, and the
// refusal is logged with the peer's address.
grpc::Status CheckNotRevoked(const RevocationList* revocations, const AuthenticatedPeer& peer);

}  // namespace mamori
