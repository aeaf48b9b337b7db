#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/crypto/identity.h"

namespace mamori {

// Who a client certificate says its holder is, once the certificate has
// passed CheckClientIdentity.
struct ClientIdentity {
  PeerIdentity identity;
  std::string group;        // terminals: their group; empty for admins and collectors
  std::string cert_sha256;  // lower-case hex SHA-256 of the leaf's DER
};

// The one rule for what a client certificate must look like to be let in,
// applied by the collector's TLS verifier at the handshake and by the
// services when they read the caller of an RPC, so the two cannot disagree.
// Looks at the leaf alone (the chain is VerifyCertificate's business) and
// refuses, naming the reason:
//   - a CA certificate (basicConstraints CA:TRUE);
//   - no extendedKeyUsage clientAuth (an absent extension counts as absent);
//   - a key other than EC P-256 / P-384 or RSA of at least 2048 bits;
//   - a SHA-1 or MD5 (or weaker) signature;
//   - no mamori:// identity URI SAN, or more than one;
//   - a mamori:// URI that is neither an identity nor a group;
//   - a terminal without exactly one group URI; an admin or collector with one;
//   - a terminal id, admin name or group that is not valid (IsValidId,
//     IsValidGroup).
// `leaf_pem` holds the leaf first; anything after it is ignored. Strings from
// the certificate are sanitized before they appear in the message.
Result<ClientIdentity> CheckClientIdentity(std::string_view leaf_pem);

}  // namespace mamori
