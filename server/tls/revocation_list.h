#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/crypto/identity.h"

namespace mamori {

// The collector's deny list. The TLS verifier consults it on every
// handshake and the services on every call (a connection opened before a
// revocation must not outlive it), so an implementation answers from memory,
// is safe to call from any thread, and never blocks on the store.
class RevocationList {
 public:
  virtual ~RevocationList() = default;

  // The reason recorded when the identity (role + id) or the certificate
  // (lower-case hex SHA-256 of its DER; may be empty when unknown) was
  // revoked, or nullopt when neither is.
  virtual std::optional<std::string> RevokedReason(PeerRole role, std::string_view id,
                                                   std::string_view cert_sha256) const = 0;
};

}  // namespace mamori
