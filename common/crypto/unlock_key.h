#pragma once

// The per-terminal key of offline unlock codes (common/policy/unlock_code.h),
// derived on both sides without any secret ever being sent:
//
//   K_T = HKDF-SHA256(ikm  = ECDH(own private key, peer public key),
//                     salt = "mamori-unlock-key-v1",
//                     info = deployment id | 0x00 | terminal id)
//
// The collector holds the unlock key pair (P-256) and uses the public key of
// the terminal's certificate; the agent uses its own mTLS private key and the
// collector's unlock public key, provisioned with its configuration like the
// policy key. ECDH gives both the same shared secret.

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace mamori {

// The deployment id: lower-case hex SHA-256 of the CA certificate's DER.
// Each deployment has its own CA, so a code from another one never verifies.
Result<std::string> DeploymentIdFromCa(std::string_view ca_pem);

// A new P-256 unlock key pair: PKCS#8 private PEM and SubjectPublicKeyInfo PEM.
struct UnlockKeyPair {
  std::string private_pem;
  std::string public_pem;
};
Result<UnlockKeyPair> CreateUnlockKeyPair();

// The public PEM of a private key PEM.
Result<std::string> UnlockPublicKeyPem(std::string_view private_pem);

// K_T (32 bytes). `own_private_pem` is a P-256 private key; `peer_pem` is
// either a certificate or a public key PEM of a P-256 key.
Result<std::string> DeriveUnlockKey(std::string_view own_private_pem, std::string_view peer_pem,
                                    std::string_view deployment_id, std::string_view terminal_id);

}  // namespace mamori
